package controller_test

import (
	"strings"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/stevedoretest"
)

// countEvents counts the service's events that contain substr.
func countEvents(svc service.Service, substr string) int {
	n := 0
	for _, e := range svc.Events {
		if strings.Contains(e.Message, substr) {
			n++
		}
	}
	return n
}

// TestThrottledServiceEvent: a service whose tasks keep failing to start
// says so in ECS's words when the start throttle engages, once for the
// episode, however many retries follow.
func TestThrottledServiceEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := stevedoretest.New(t, stevedoretest.WithDefinitions(webDef))
		env.FailStarts("web")
		env.CreateService(stevedore.CreateServiceInput{ServiceName: "web", TaskDefinition: "web", DesiredCount: 1})
		const msg = "(service web) is unable to consistently start tasks successfully."
		env.WaitFor("the throttle event", func() bool { return countEvents(env.Service("web"), msg) > 0 })
		// Several retries later (after 5 s, 10 s, 20 s, 40 s, ...).
		env.WaitFor("5 launches", func() bool { return countEvents(env.Service("web"), "has started 1 tasks") >= 5 })
		assert.Equal(t, 1, countEvents(env.Service("web"), msg), "once per episode")
	})
}

// TestNoCapacityEventNamesTheClosestInstance: a service whose task fits
// nowhere says so in ECS's words, naming the closest matching instance and
// what it lacks, with Stevedore's account of every instance after them.
func TestNoCapacityEventNamesTheClosestInstance(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := stevedoretest.New(t, stevedoretest.WithInstances(0), stevedoretest.WithDefinitions(
			`{"family": "big", "containerDefinitions": [{"name": "app", "image": "big", "memory": 4096}]}`))
		env.AddInstance("a", cluster.Resources{CPU: 4096, Memory: 2048})
		env.AddInstance("b", cluster.Resources{CPU: 4096, Memory: 1024})
		env.CreateService(stevedore.CreateServiceInput{ServiceName: "big", TaskDefinition: "big", DesiredCount: 1})
		const want = "(service big) was unable to place a task because no container instance met all of its requirements. " +
			"The closest matching container-instance " + "i-00000000000000001" + " has insufficient memory available. " +
			"(2 instances: RESOURCE:MEMORY)"
		env.WaitFor("the no-capacity event", func() bool { return countEvents(env.Service("big"), "unable to place") > 0 })
		assert.Equal(t, want, env.Service("big").Events[0].Message)
	})
}
