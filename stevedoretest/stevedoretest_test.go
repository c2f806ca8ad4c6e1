package stevedoretest_test

import (
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/stevedoretest"
	"github.com/stevedore-io/stevedore/task"
)

func web(version string) string {
	return `{"family": "web", "containerDefinitions": [{"name": "web", "image": "web:` + version + `", "memory": 128,
	  "healthCheck": {"command": ["CMD", "true"], "interval": 5, "retries": 2}}]}`
}

func ptr[T any](v T) *T { return &v }

// The kit's promise: "my service rolls back when v2 fails its health
// checks" in at most 20 lines, deterministic, in well under 100 ms.
func TestServiceRollsBackWhenV2FailsItsHealthChecks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := stevedoretest.New(t, stevedoretest.WithDefinitions(web("1")))
		env.CreateService(stevedore.CreateServiceInput{ServiceName: "web", TaskDefinition: "web", DesiredCount: 3,
			DeploymentConfiguration: service.DeploymentConfiguration{CircuitBreaker: &service.CircuitBreaker{Enable: true, Rollback: true}}})
		env.WaitSteady("web")

		env.FailHealthChecks("web:2")
		env.Register(web("2"))
		env.UpdateService(stevedore.UpdateServiceInput{Service: "web", TaskDefinition: ptr("web:2")})
		svc := env.WaitRollout("web", service.RolloutCompleted)

		assert.Equal(t, "web:1", svc.TaskDefinition, "rolled back to v1")
		// The rollback's tasks were spread while v1's old ones still ran:
		// once those stop, the service may rebalance over the zones (a
		// fourth task for a while), as ECS does.
		env.WaitSteady("web")
		assert.Len(t, env.Tasks("web", task.Running), 3)
	})
}

func TestInstancesSpreadOverZonesAndServicesSpreadOverThem(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := stevedoretest.New(t, stevedoretest.WithInstances(6), stevedoretest.WithZones("a", "b", "c"), stevedoretest.WithDefinitions(web("1")))
		require.Len(t, env.Instances, 6)
		assert.Equal(t, "i-00000000000000001", env.Instances[0].ID)
		assert.Equal(t, []string{"a", "b", "c", "a", "b", "c"}, []string{env.Instances[0].Zone, env.Instances[1].Zone,
			env.Instances[2].Zone, env.Instances[3].Zone, env.Instances[4].Zone, env.Instances[5].Zone})
		env.CreateService(stevedore.CreateServiceInput{ServiceName: "web", TaskDefinition: "web", DesiredCount: 6})
		env.WaitSteady("web")
		assert.Equal(t, map[string]int{"a": 2, "b": 2, "c": 2}, env.CountByZone(env.Tasks("web", task.Running)))
	})
}

func TestCrashedTaskIsReplaced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := stevedoretest.New(t, stevedoretest.WithDefinitions(web("1")))
		env.CreateService(stevedore.CreateServiceInput{ServiceName: "web", TaskDefinition: "web", DesiredCount: 2})
		env.WaitSteady("web")
		victim := env.Tasks("web", task.Running)[0]
		env.CrashTask(victim.ID(), 137)
		env.WaitFor("a replacement", func() bool {
			running := env.Tasks("web", task.Running)
			return len(running) == 2 && running[0].ID() != victim.ID() && running[1].ID() != victim.ID()
		})
		env.WaitSteady("web")
		stopped := env.Tasks("web", task.Stopped)
		require.Len(t, stopped, 1)
		assert.Equal(t, task.EssentialContainerExited, stopped[0].StopCode)
	})
}

func TestDrainedInstanceIsEmptied(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := stevedoretest.New(t, stevedoretest.WithDefinitions(web("1")))
		env.CreateService(stevedore.CreateServiceInput{ServiceName: "web", TaskDefinition: "web", DesiredCount: 3})
		env.WaitSteady("web")
		env.DrainInstance(0)
		env.WaitFor("instance 0 empty", func() bool {
			for _, tk := range env.Tasks("web", task.Running) {
				if tk.ContainerInstanceID() == env.Instances[0].ID {
					return false
				}
			}
			return true
		})
		env.WaitSteady("web")
		assert.Len(t, env.Tasks("web", task.Running), 3)
	})
}

// Two runs of one scenario give the same placements: everything the
// scheduler decides is reproducible in the kit.
func TestRunsAreReproducible(t *testing.T) {
	place := func() map[string]int {
		var out map[string]int
		synctest.Test(t, func(t *testing.T) {
			env := stevedoretest.New(t, stevedoretest.WithInstances(5), stevedoretest.WithDefinitions(web("1")))
			env.CreateService(stevedore.CreateServiceInput{ServiceName: "web", TaskDefinition: "web", DesiredCount: 7})
			env.WaitSteady("web")
			out = map[string]int{}
			for _, tk := range env.Tasks("web", task.Running) {
				out[tk.ContainerInstanceID()]++
			}
		})
		return out
	}
	assert.Equal(t, place(), place())
}
