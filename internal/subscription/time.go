package subscription

import (
	"time"

	"github.com/stevedore-io/stevedore/cluster"
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

// InstanceTime is the time of the change an instance state-change event
// reports: when the instance's status or agent connection last changed
// (cluster.ContainerInstance.UpdatedAt, dated by the writer of the
// change). An instance stored before instances were dated has none; the
// time of the translation stands in.
func InstanceTime(ci *cluster.ContainerInstance) time.Time {
	if !ci.UpdatedAt.IsZero() {
		return ci.UpdatedAt
	}
	return time.Now()
}
