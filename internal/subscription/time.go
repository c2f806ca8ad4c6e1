package subscription

import (
	"time"

	"github.com/stevedore-io/stevedore/task"
)

// TaskTime is the time of the change a task state change event reports:
// when the task last changed (task.Task.UpdatedAt, dated by the writer of
// the change: a health change at the health check that found it, a status
// change at the transition). A task stored before tasks were dated has
// none; its latest lifecycle timestamp stands in.
func TaskTime(t *task.Task) time.Time {
	if !t.UpdatedAt.IsZero() {
		return t.UpdatedAt
	}
	latest := t.CreatedAt
	for _, ts := range []time.Time{t.PullStartedAt, t.PullStoppedAt, t.ConnectivityAt, t.StartedAt,
		t.StoppingAt, t.ExecutionStoppedAt, t.StoppedAt} {
		if ts.After(latest) {
			latest = ts
		}
	}
	return latest
}
