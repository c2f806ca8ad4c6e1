package state

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/stevedore-io/stevedore/store"
)

// Drainers: the loops that take a task out of service before its
// containers stop.
const (
	// DrainTargets is the target-group loop: it deregisters the task
	// from its target groups and marks it drained once they have drained
	// it (no request in flight, or the deregistration delay over).
	DrainTargets = "targets"
	// DrainDNS is the service discovery loop: it removes the task's
	// records and marks it drained at once.
	DrainDNS = "dns"
)

// Drain is a task's way out of service, kept in the store so that the
// agent stopping the task and the loops draining it meet there only:
//
//   - the launch names the drainers (By) when it creates the task;
//   - the agent moves the task to DEACTIVATING and then waits, before
//     SIGTERM, until Done holds every drainer of By or Deadline has passed;
//   - each drainer sees the task DEACTIVATING, takes it out of service and
//     adds itself to Done; one that must wait for traffic to end first sets
//     Deadline, which bounds the agent's wait.
//
// A restarted agent or drainer finds the drain where it was.
type Drain struct {
	// By names the drainers (DrainTargets, DrainDNS). Written by the launch.
	By []string `json:"by,omitempty"`
	// Done names the drainers finished with the task. Each drainer writes
	// its own name.
	Done []string `json:"done,omitempty"`
	// Deadline is when the agent stops waiting for the drainers; zero
	// until a drainer sets it. Written by the drainer that waits.
	Deadline time.Time `json:"deadline,omitzero"`
}

// Copy returns a deep copy.
func (d *Drain) Copy() *Drain {
	out := *d
	out.By = slices.Clone(d.By)
	out.Done = slices.Clone(d.Done)
	return &out
}

// Wants reports whether drainer still has to drain the task.
func (d *Drain) Wants(drainer string) bool {
	return d != nil && slices.Contains(d.By, drainer) && !slices.Contains(d.Done, drainer)
}

// Holds reports whether the drain still holds the task's stop at now: a
// drainer of By is not done, and Deadline (when set) has not passed.
func (d *Drain) Holds(now time.Time) bool {
	if d == nil {
		return false
	}
	if !d.Deadline.IsZero() && !now.Before(d.Deadline) {
		return false
	}
	for _, by := range d.By {
		if !slices.Contains(d.Done, by) {
			return true
		}
	}
	return false
}

// MarkDone returns a copy of t whose drain lists drainer as done, or nil
// when there is nothing to change.
func MarkDone(t *Task, drainer string) *Task {
	if !t.Drain.Wants(drainer) {
		return nil
	}
	next := t.Copy()
	next.Drain.Done = append(next.Drain.Done, drainer)
	return next
}

// MarkDrained records in s that drainer is done with task id (nothing when
// the task is gone or its drain does not wait for drainer).
func MarkDrained(ctx context.Context, s store.Store, id, drainer string) error {
	return s.Update(ctx, func(tx store.Tx) error {
		t, err := store.Get[*Task](tx, KindTasks, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		next := MarkDone(t, drainer)
		if next == nil {
			return nil
		}
		return tx.Update(next)
	})
}
