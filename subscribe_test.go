package stevedore_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/stevedoretest"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

func TestSubscriptionEndsWithTheOrchestrator(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o, err := stevedore.New()
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, o.Close()) })
		ch, err := o.Subscribe(t.Context())
		require.NoError(t, err)
		_, err = o.CreateCluster(t.Context(), &stevedore.CreateClusterInput{ClusterName: "test"})
		require.NoError(t, err)
		_, err = o.RegisterContainerInstance(t.Context(), &stevedore.RegisterContainerInstanceInput{Cluster: "test", InstanceID: "i-1"})
		require.NoError(t, err)
		synctest.Wait()
		ev := <-ch
		assert.Equal(t, stevedore.EventInstanceStateChange, ev.Type)

		require.NoError(t, o.Close())
		select {
		case _, open := <-ch:
			assert.False(t, open, "the channel closes with the Orchestrator")
		case <-time.After(time.Minute):
			t.Fatal("the subscription outlived Close")
		}
		_, err = o.Subscribe(t.Context())
		assert.ErrorIs(t, err, store.ErrClosed, "its store is closed")
	})
}

// TestTaskEventsShowTheTaskAsDescribeTasksDoes: a task event carries the
// task as DescribeTasks shows it (the API's ARNs, ECS's shape), not the
// stored task with its internal references.
func TestTaskEventsShowTheTaskAsDescribeTasksDoes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := stevedoretest.New(t, stevedoretest.WithInstances(1),
			stevedoretest.WithOrchestratorOptions(stevedore.WithARNs("aws", "eu-west-1", "123456789012")),
			stevedoretest.WithDefinitions(`{"family": "web", "containerDefinitions": [{"name": "web", "image": "web", "memory": 64}]}`))
		events, err := env.O.Subscribe(t.Context())
		require.NoError(t, err)
		env.CreateService(stevedore.CreateServiceInput{ServiceName: "web", TaskDefinition: "web", DesiredCount: 1})
		env.WaitSteady("web")
		synctest.Wait()
		var last *task.Task
		for len(events) > 0 {
			if ev := <-events; ev.Type == stevedore.EventTaskStateChange {
				last = ev.Task
			}
		}
		require.NotNil(t, last, "a task event")
		described := env.Tasks("web", task.Running)
		require.Len(t, described, 1)
		assert.Equal(t, described[0], last)
		assert.Equal(t, "arn:aws:ecs:eu-west-1:123456789012:task/test/"+described[0].ID(), last.TaskARN)
		assert.Equal(t, "arn:aws:ecs:eu-west-1:123456789012:cluster/test", last.ClusterARN)
		assert.Equal(t, "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:1", last.TaskDefinitionARN)
	})
}
