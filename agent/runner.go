package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/stevedore-io/stevedore/health"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

// lifecycle lists the task statuses in order.
var lifecycle = []task.Status{task.Provisioning, task.Pending, task.Activating, task.Running,
	task.Deactivating, task.Stopping, task.Deprovisioning, task.Stopped}

func rank(s task.Status) int { return slices.Index(lifecycle, s) }

// startFailure is a reason a task cannot start: it stops with
// TaskFailedToStart and the reason.
type startFailure struct {
	container string // the container at fault; empty for the task
	reason    string
}

func (f *startFailure) Error() string { return f.reason }

func failure(container, format string, args ...any) error {
	return &startFailure{container: container, reason: fmt.Sprintf(format, args...)}
}

// event is news from a helper goroutine: a container exited, or its health
// changed.
type event struct {
	name   string
	exit   *runtime.ExitStatus
	health health.Status
}

// runner drives one task. Its run method is the only goroutine that acts on
// the task; waiters and health monitors report to it through events.
type runner struct {
	a   *Agent
	w   *writer
	id  string
	log *slog.Logger

	mu          sync.Mutex
	latest      *state.Task // the newest version seen or written
	gone        bool        // the task was deleted from the store
	wake        chan struct{}
	startCtx    context.Context // cancelled when the task must stop
	cancelStart context.CancelFunc

	events    chan event
	helperCtx context.Context
	helpers   sync.WaitGroup

	// Owned by the run goroutine.
	adopted map[string]runtime.ContainerInfo
	// halfCreated: the task had got as far as PENDING when this agent
	// found it, so an earlier agent's process may have died creating a
	// container, leaving its writable layer (cleanup).
	halfCreated bool
	def         *task.TaskDefinition
	ctrs        map[string]*ctr
	names       []string // containers in definition order
	stopOrder   [][]string
	att         *network.Attachment
	ingress     ingressState // the task's ingress policy in its network (ingress.go)
	// later holds changes to the task that nobody needs to see on their
	// own (timestamps, runtime IDs, a container that started while others
	// are still to start). They go into the store with the runner's next
	// write, and before it waits (flush): a task that comes up in one go
	// costs three writes (PENDING, ACTIVATING, RUNNING), not eight.
	later []func(t *state.Task) error
}

func newRunner(ctx context.Context, a *Agent, w *writer, t *state.Task, adopted map[string]runtime.ContainerInfo) *runner {
	r := &runner{
		a:       a,
		w:       w,
		id:      t.ID(),
		log:     a.log.With("task", t.ID()),
		latest:  t,
		wake:    make(chan struct{}, 1),
		events:  make(chan event),
		adopted: adopted,
	}
	r.startCtx, r.cancelStart = context.WithCancel(ctx)
	if t.DesiredStatus == task.Stopped {
		r.cancelStart()
	}
	return r
}

// deliver records a newer version of the task and wakes the runner. It is
// called by the session.
func (r *runner) deliver(t *state.Task) {
	if r.record(t) {
		r.poke()
	}
}

// record records a newer version of the task and reports whether it was
// news: the versions the runner wrote itself come back from the watch, and
// waking the runner for them would only cost a turn of its loop.
func (r *runner) record(t *state.Task) bool {
	r.mu.Lock()
	news := t.ModRevision > r.latest.ModRevision
	if news {
		r.latest = t
	}
	stop := r.latest.DesiredStatus == task.Stopped
	r.mu.Unlock()
	if stop {
		r.cancelStart()
	}
	return news
}

// markGone records that the task was deleted from the store: its
// containers are stopped and removed without further writes.
func (r *runner) markGone() {
	r.mu.Lock()
	r.gone = true
	r.mu.Unlock()
	r.cancelStart()
	r.poke()
}

func (r *runner) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *runner) current() *state.Task {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.latest
}

func (r *runner) isGone() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.gone
}

// stopWanted reports whether the task must stop.
func (r *runner) stopWanted() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.gone || r.latest.DesiredStatus == task.Stopped
}

// update changes the stored task with fn, compare-and-swap: fn gets a copy
// of the latest stored version and reports whether it changed it. The
// changes kept for later are applied first, in the same transaction. A task
// that is gone from the store is not written.
func (r *runner) update(ctx context.Context, fn func(tx store.Tx, t *state.Task) (bool, error)) error {
	return r.change(ctx, fn, nil)
}

// change is update with either fn (which needs the transaction) or taskFn
// (which needs only the task): modify passes its function as it is, with
// no closure to wrap it.
func (r *runner) change(ctx context.Context, fn func(tx store.Tx, t *state.Task) (bool, error), taskFn func(t *state.Task) (bool, error)) error {
	if r.isGone() {
		r.later = nil
		return nil
	}
	var written *state.Task
	err := r.w.update(ctx, func(tx store.Tx) error {
		written = nil
		cur, err := store.Get[*state.Task](tx, state.KindTasks, r.id)
		if err != nil {
			return err
		}
		next := copyTask(cur)
		for _, change := range r.later {
			if err := change(next); err != nil {
				return err
			}
		}
		var changed bool
		if fn != nil {
			changed, err = fn(tx, next)
		} else {
			changed, err = taskFn(next)
		}
		if err != nil || (!changed && len(r.later) == 0) {
			return err
		}
		if err := tx.Update(next); err != nil {
			return err
		}
		written = next
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		r.later = nil
		r.markGone()
		return nil
	}
	if err != nil {
		return fmt.Errorf("update task %s: %w", r.id, err)
	}
	r.later = nil
	if written != nil {
		r.record(written)
	}
	return nil
}

// copyTask returns a copy of a stored task for the runner to change. It
// copies what the runner's changes write to, the task's own fields and its
// containers, and shares the rest (overrides, tags, attachments, network
// bindings, exit codes, the network attachment, the reservation) with the
// stored task: stored tasks are read-only, and the runner and the task
// methods it calls replace those values, never change them in place. A
// deep Copy would cost several times more on every write.
func copyTask(t *state.Task) *state.Task {
	next := *t
	tk := *t.Task
	tk.Containers = slices.Clone(t.Containers)
	next.Task = &tk
	return &next
}

// keep records a change to be written with the runner's next write.
func (r *runner) keep(change func(t *state.Task) error) {
	r.later = append(r.later, change)
}

// flush writes the changes kept for later, if any.
func (r *runner) flush(ctx context.Context) error {
	if len(r.later) == 0 {
		return nil
	}
	return r.modify(ctx, func(*state.Task) (bool, error) { return false, nil })
}

// modify is update for changes that need only the task.
func (r *runner) modify(ctx context.Context, fn func(t *state.Task) (bool, error)) error {
	return r.change(ctx, nil, fn)
}

// advanceStatus moves t forward to s; a status already reached is kept.
func advanceStatus(t *state.Task, s task.Status, now time.Time) (bool, error) {
	if rank(t.LastStatus) >= rank(s) {
		return false, nil
	}
	return true, t.SetLastStatus(s, now)
}

func (r *runner) setStatus(ctx context.Context, s task.Status) error {
	if rank(r.current().LastStatus) >= rank(s) {
		return nil
	}
	return r.modify(ctx, func(t *state.Task) (bool, error) { return advanceStatus(t, s, time.Now()) })
}

// run drives the task until it is STOPPED (nil), ctx ends (ctx's error) or
// the store fails.
func (r *runner) run(ctx context.Context) error {
	var cancelHelpers context.CancelFunc
	r.helperCtx, cancelHelpers = context.WithCancel(ctx)
	defer func() {
		cancelHelpers()
		r.cancelStart()
		r.helpers.Wait()
	}()
	if r.current().LastStatus == task.Stopped {
		return nil
	}
	if err := r.start(ctx); err != nil {
		var f *startFailure
		if !errors.As(err, &f) {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err() // the agent is going away: not the task's fault
		}
		if err := r.fail(ctx, f); err != nil {
			return err
		}
	}
	return r.stop(ctx)
}

// offStack runs f on a goroutine of its own and waits for it to return.
// The calls it wraps, the network provider's Setup and the runtime's
// Create, are the deepest a runner makes (the fakes' validation and copying
// included). Made on the runner's goroutine, they would leave it, for the
// task's whole life, with a stack twice the size it otherwise needs: the Go
// runtime grows a stack by doubling it, and shrinks it back only when a
// collection finds it mostly unused. That is 40 MB more for 10,000 tasks,
// and fresh memory costs a page fault per page. A short-lived goroutine's
// stack goes back to the runtime's pool when it ends, for the next one.
func offStack(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	<-done
}
