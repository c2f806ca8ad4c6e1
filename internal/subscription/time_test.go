package subscription_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/internal/subscription"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

// TestTaskEventsCarryTheTimeOfTheirChange: Subscribe's task events carry
// the time their change happened, not the task's latest lifecycle
// timestamp: a task RUNNING at 00:00:00 that turns HEALTHY at 00:00:05 is
// reported HEALTHY at 00:00:05, and asked to stop at 00:01:05 at that time,
// whenever the events are read.
func TestTaskEventsCarryTheTimeOfTheirChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o, err := stevedore.New(stevedore.WithSeed(1))
		require.NoError(t, err)
		t.Cleanup(func() { o.Close() })
		events, err := o.Subscribe(t.Context())
		require.NoError(t, err)

		// The writes an agent makes (no agent runs: the instance is not
		// registered), each dated when it happens.
		td, _, err := task.ParseDefinition([]byte(`{"family": "web", "containerDefinitions": [{"name": "app", "image": "web", "memory": 64,
			"healthCheck": {"command": ["CMD", "true"]}}]}`))
		require.NoError(t, err)
		td.Revision = 1
		write := func(change func(tk *task.Task, now time.Time) error) time.Time {
			now := time.Now()
			require.NoError(t, o.Store().Update(t.Context(), func(tx store.Tx) error {
				cur, err := store.Get[*state.Task](tx, state.KindTasks, "t1")
				if err != nil {
					return err
				}
				next := cur.Copy()
				if err := change(next.Task, now); err != nil {
					return err
				}
				return tx.Update(next)
			}))
			return now
		}
		created := time.Now()
		tk, err := task.NewTask("arn:stevedore:ecs:local:task/test/t1", td, nil, created)
		require.NoError(t, err)
		tk.ClusterARN, tk.ContainerInstanceARN = "test", "i-1"
		require.NoError(t, o.Store().Update(t.Context(), func(tx store.Tx) error { return tx.Create(&state.Task{Task: tk}) }))
		running := write(func(tk *task.Task, now time.Time) error {
			for _, st := range []task.Status{task.Pending, task.Activating, task.Running} {
				if err := tk.SetLastStatus(st, now); err != nil {
					return err
				}
			}
			return nil
		})
		time.Sleep(5 * time.Second)
		healthy := write(func(tk *task.Task, now time.Time) error { return tk.SetContainerHealthAt("app", task.Healthy, now) })
		time.Sleep(time.Minute)
		stopping := write(func(tk *task.Task, now time.Time) error {
			tk.Stop(task.UserInitiated, "bye", now)
			return nil
		})
		time.Sleep(time.Hour) // read late: the times are those of the changes
		want := []struct {
			at     time.Time
			last   task.Status
			health task.HealthStatus
		}{
			{created, task.Provisioning, task.HealthUnknown},
			{running, task.Running, task.HealthUnknown},
			{healthy, task.Running, task.Healthy},
			{stopping, task.Running, task.Healthy},
		}
		for _, w := range want {
			ev := <-events
			require.Equal(t, stevedore.EventTaskStateChange, ev.Type)
			assert.Equal(t, w.last, ev.Task.LastStatus)
			assert.Equal(t, w.health, ev.Task.HealthStatus)
			assert.Equal(t, w.at, ev.Time, "%s %s", w.last, w.health)
		}
	})
}

// TestTaskTimeOfUndatedTasks: a task stored before tasks were dated falls
// back on its latest lifecycle timestamp.
func TestTaskTimeOfUndatedTasks(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC)
	tk := &task.Task{CreatedAt: t0, StartedAt: t0.Add(time.Minute)}
	assert.Equal(t, t0.Add(time.Minute), subscription.TaskTime(tk))
	tk.UpdatedAt = t0.Add(2 * time.Minute)
	assert.Equal(t, t0.Add(2*time.Minute), subscription.TaskTime(tk))
}
