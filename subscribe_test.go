package stevedore_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/cluster"
	netfake "github.com/stevedore-io/stevedore/network/fake"
	"github.com/stevedore-io/stevedore/runtime/fake"
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

// TestInstanceEventsCarryTheTimeOfTheirChange: an instance's state-change
// events are dated when its status or agent connection changed (its
// UpdatedAt, as DescribeContainerInstances shows it), however late they are
// read; the agent's heartbeats (every 10 s) neither emit an event nor move
// that time.
func TestInstanceEventsCarryTheTimeOfTheirChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o, err := stevedore.New(stevedore.WithSeed(1))
		require.NoError(t, err)
		t.Cleanup(func() { o.Close() })
		events, err := o.Subscribe(t.Context())
		require.NoError(t, err)
		_, err = o.CreateCluster(t.Context(), &stevedore.CreateClusterInput{ClusterName: "test"})
		require.NoError(t, err)
		rt := fake.New()
		t.Cleanup(rt.Close)
		registered := time.Now()
		_, err = o.RegisterContainerInstance(t.Context(), &stevedore.RegisterContainerInstanceInput{Cluster: "test", InstanceID: "i-1",
			Resources: cluster.Resources{CPU: 1024, Memory: 1024}, StateDir: t.TempDir(), Runtime: rt, Network: netfake.New()})
		require.NoError(t, err)
		time.Sleep(time.Minute) // six heartbeats
		describe := func() cluster.ContainerInstance {
			out, err := stevedoretest.InstancesOf(o.DescribeContainerInstances(t.Context(), &stevedore.DescribeContainerInstancesInput{Cluster: "test"}))
			require.NoError(t, err)
			require.Len(t, out, 1)
			return out[0]
		}
		assert.Equal(t, registered, describe().UpdatedAt, "heartbeats move no change time")
		drained := time.Now()
		_, err = o.UpdateContainerInstancesState(t.Context(), &stevedore.UpdateContainerInstancesStateInput{Cluster: "test",
			ContainerInstances: []string{"i-1"}, Status: cluster.StatusDraining})
		require.NoError(t, err)
		assert.Equal(t, drained, describe().UpdatedAt)
		time.Sleep(time.Hour)
		synctest.Wait()
		var got []time.Time
		for len(events) > 0 {
			if ev := <-events; ev.Type == stevedore.EventInstanceStateChange {
				assert.Equal(t, ev.Instance.UpdatedAt, ev.Time)
				got = append(got, ev.Time)
			}
		}
		assert.Equal(t, []time.Time{registered, drained}, got, "registered, then DRAINING; no heartbeat")
	})
}
