package task_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/task"
)

// TestUpdatedAtDatesEveryChange: every change made through a method that
// takes the time dates the task with it, so that an event about the change
// carries the time it happened: a health change at 01:00:05 of a task that
// started at 01:00:00 is dated 01:00:05.
func TestUpdatedAtDatesEveryChange(t *testing.T) {
	t.Parallel()
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	tk := newWebTask(t)
	assert.Equal(t, t0, tk.UpdatedAt, "created")
	steps := []struct {
		name   string
		change func(now time.Time) error
	}{
		{"pull started", func(now time.Time) error { tk.MarkPullStarted(now); return nil }},
		{"pull stopped", func(now time.Time) error { tk.MarkPullStopped(now); return nil }},
		{"PENDING", func(now time.Time) error { return tk.SetLastStatus(task.Pending, now) }},
		{"RUNNING", func(now time.Time) error { return tk.SetLastStatus(task.Running, now) }},
		{"HEALTHY", func(now time.Time) error { return tk.SetContainerHealthAt("app", task.Healthy, now) }},
		{"sidecar exited", func(now time.Time) error { return tk.SetContainerStopped("sidecar", nil, "done", now) }},
		{"desired STOPPED", func(now time.Time) error {
			assert.True(t, tk.Stop(task.UserInitiated, "bye", now))
			return nil
		}},
		{"STOPPED", func(now time.Time) error { return tk.SetLastStatus(task.Stopped, now) }},
	}
	for i, step := range steps {
		now := at(5 * (i + 1))
		require.NoError(t, step.change(now), step.name)
		assert.Equal(t, now, tk.UpdatedAt, step.name)
	}
	assert.Equal(t, at(20), tk.StartedAt, "the lifecycle timestamps keep their own times")
	assert.Equal(t, task.Healthy, tk.HealthStatus)

	// What changes nothing dates nothing.
	before := tk.UpdatedAt
	require.NoError(t, tk.SetContainerHealthAt("app", task.Healthy, at(100)))
	assert.False(t, tk.Stop(task.UserInitiated, "again", at(100)))
	assert.Equal(t, before, tk.UpdatedAt)
}
