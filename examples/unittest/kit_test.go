package unittest_test

import (
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/stevedoretest"
	"github.com/stevedore-io/stevedore/task"
)

// TestWithTheKit is TestScaleToQueue's set-up done by package
// stevedoretest: three fake instances over three zones and the worker
// definition in one line, waits that run on the bubble's fake clock.
func TestWithTheKit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := stevedoretest.New(t, stevedoretest.WithDefinitions(workerDef))
		env.CreateService(stevedore.CreateServiceInput{ServiceName: "workers", TaskDefinition: "worker", DesiredCount: 3,
			DeploymentConfiguration: service.DeploymentConfiguration{CircuitBreaker: &service.CircuitBreaker{Enable: true, Rollback: true}}})
		env.WaitSteady("workers")
		assert.Equal(t, map[string]int{"zone-a": 1, "zone-b": 1, "zone-c": 1}, env.CountByZone(env.Tasks("workers", task.Running)))

		// Version 2 never passes its health checks: the circuit breaker
		// rolls the service back to version 1.
		env.FailHealthChecks("worker:2")
		v2 := env.Register(`{"family": "worker", "containerDefinitions": [{"name": "worker", "image": "worker:2", "memory": 128,
		  "command": ["sleep", "infinity"], "healthCheck": {"command": ["CMD", "true"], "interval": 10}}]}`)
		ref := v2.Ref()
		env.UpdateService(stevedore.UpdateServiceInput{Service: "workers", TaskDefinition: &ref})
		svc := env.WaitRollout("workers", service.RolloutCompleted)
		assert.Equal(t, "worker:1", svc.TaskDefinition)
	})
}
