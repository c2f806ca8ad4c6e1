package subscription_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/api"
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/internal/subscription"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

// TestInstanceEventsAreDatedByTheirChange: an instance event carries the
// time its writer dated the change (UpdatedAt), not the time it is
// translated; a change of the heartbeat alone is no event.
func TestInstanceEventsAreDatedByTheirChange(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC)
	ci, err := cluster.NewContainerInstance("i-1", cluster.Resources{CPU: 1024, Memory: 1024}, t0)
	require.NoError(t, err)
	prev := &state.Instance{ContainerInstance: ci, HeartbeatAt: t0, HeartbeatInterval: 10 * time.Second}

	beat := prev.Copy()
	beat.HeartbeatAt = t0.Add(10 * time.Second)
	assert.Empty(t, subscription.Translator{}.Translate(store.Event{Object: beat, Prev: prev}), "a heartbeat is no event")

	drained := beat.Copy()
	drained.Status = cluster.StatusDraining
	drained.DateChange(&beat.ContainerInstance, t0.Add(time.Minute))
	evs := subscription.Translator{}.Translate(store.Event{Object: drained, Prev: beat, Revision: 7})
	require.Len(t, evs, 1)
	assert.Equal(t, api.EventInstanceStateChange, evs[0].Type)
	assert.Equal(t, t0.Add(time.Minute), evs[0].Time)
	assert.Equal(t, cluster.StatusDraining, evs[0].Instance.Status)

	created := subscription.Translator{}.Translate(store.Event{Object: prev})
	require.Len(t, created, 1)
	assert.Equal(t, t0, created[0].Time, "registered at t0")
}

// TestTaskEventsShowTheDescribedTask: the translator shows a task as its
// DescribeTask does.
func TestTaskEventsShowTheDescribedTask(t *testing.T) {
	t.Parallel()
	stored := &state.Task{Task: &task.Task{TaskARN: "arn:stevedore:ecs:local:task/test/t1", ClusterARN: "test",
		LastStatus: task.Provisioning, DesiredStatus: task.Running}}
	tr := subscription.Translator{DescribeTask: func(t *state.Task) *task.Task {
		out := t.Task.Clone()
		out.TaskARN, out.ClusterARN = "arn:aws:ecs:r:1:task/test/t1", "arn:aws:ecs:r:1:cluster/test"
		return out
	}}
	evs := tr.Translate(store.Event{Object: stored})
	require.Len(t, evs, 1)
	assert.Equal(t, "arn:aws:ecs:r:1:task/test/t1", evs[0].Task.TaskARN)
	assert.Equal(t, "arn:aws:ecs:r:1:cluster/test", evs[0].Task.ClusterARN)
	assert.Equal(t, "arn:stevedore:ecs:local:task/test/t1", stored.TaskARN, "the stored task is left as it is")
}
