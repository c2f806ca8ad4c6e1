package agent

import (
	"context"
	"errors"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

// Timing of the stop path beyond the containers' stop timeouts.
const (
	// killGrace is how long the runner waits for a container to exit
	// after SIGKILL before it moves on (deleting it kills it anyway).
	killGrace = 10 * time.Second
	// cleanupAttempts bounds the retries of Delete and Teardown; the
	// first retry waits cleanupBackoff, each next one twice as long.
	cleanupAttempts = 4
	cleanupBackoff  = time.Second
)

// stop takes the task down: DEACTIVATING (the drain), STOPPING
// (SIGTERM, SIGKILL after the stop timeout, in reverse dependency order),
// DEPROVISIONING (delete the containers, tear the network down) and
// STOPPED, giving the reservation back in the same transaction.
func (r *runner) stop(ctx context.Context) error {
	r.cancelStart()
	for _, name := range r.names {
		if c := r.ctrs[name]; c.stopMonitor != nil {
			c.stopMonitor()
		}
	}
	t := r.current()
	created := slices.ContainsFunc(r.names, func(n string) bool { return r.ctrs[n].created })
	if s := t.LastStatus; s == task.Activating || s == task.Running || s == task.Deactivating {
		if err := r.setStatus(ctx, task.Deactivating); err != nil {
			return err
		}
		if err := r.drain(ctx); err != nil {
			return err
		}
	}
	if created {
		if err := r.setStatus(ctx, task.Stopping); err != nil {
			return err
		}
		if err := r.stopContainers(ctx); err != nil {
			return err
		}
	}
	if created || r.att != nil {
		if err := r.modify(ctx, func(t *state.Task) (bool, error) {
			changed := r.recordNeverStarted(t)
			moved, err := advanceStatus(t, task.Deprovisioning, time.Now())
			return changed || moved, err
		}); err != nil {
			return err
		}
	}
	if err := r.cleanup(ctx); err != nil {
		return err
	}
	err := r.update(ctx, func(tx store.Tx, t *state.Task) (bool, error) {
		r.recordNeverStarted(t)
		if !t.Released {
			if err := r.release(tx, t); err != nil {
				return false, err
			}
			t.Released = true
		}
		_, err := advanceStatus(t, task.Stopped, time.Now())
		return true, err
	})
	if err == nil {
		r.log.Info("agent: task stopped", "stopCode", r.current().StopCode, "reason", r.current().StoppedReason)
	}
	return err
}

// release gives the task's reservation back to its instance.
func (r *runner) release(tx store.Tx, t *state.Task) error {
	inst, err := store.Get[*state.Instance](tx, state.KindInstances, t.ContainerInstanceID())
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	next := inst.Copy()
	if err := next.RemoveTask(t.Group, t.Reserved); err != nil {
		if errors.Is(err, cluster.ErrNotReserved) || errors.Is(err, cluster.ErrInvalid) {
			r.log.Warn("agent: reservation could not be given back", "err", err)
			return nil
		}
		return err
	}
	return tx.Update(next)
}

// recordNeverStarted marks STOPPED the containers the store still shows
// PENDING or RUNNING whose exit will never be reported.
func (r *runner) recordNeverStarted(t *state.Task) bool {
	changed := false
	now := time.Now()
	for _, sc := range t.Containers {
		if sc.LastStatus == task.ContainerStopped {
			continue
		}
		c := r.ctrs[sc.Name]
		var code *int
		reason := ""
		if c != nil {
			code = c.exitCode
			if c.started && code == nil {
				reason = "exit status unknown"
			}
		}
		if err := t.SetContainerStopped(sc.Name, code, reason, now); err == nil {
			changed = true
		}
	}
	return changed
}

// stopContainers stops the running containers, stage by stage in reverse
// dependency order, and records their exits.
func (r *runner) stopContainers(ctx context.Context) error {
	for _, stage := range r.stopOrder {
		if err := r.stopStage(ctx, stage); err != nil {
			return err
		}
	}
	return nil
}

// stopStage sends SIGTERM to the stage's running containers, SIGKILL to
// those still running after their stop timeout, and waits for their exits.
func (r *runner) stopStage(ctx context.Context, stage []string) error {
	rt := r.a.cfg.Runtime
	type stopping struct {
		c        *ctr
		deadline time.Time // SIGKILL at; after the kill: give up at
		killed   bool
	}
	var pending []*stopping
	for _, name := range stage {
		c := r.ctrs[name]
		if c == nil || !c.running() {
			continue
		}
		// An engine that is away is waited for: its containers run on.
		err := r.a.untilAvailable(ctx, func() error { return rt.Signal(ctx, c.id, syscall.SIGTERM) })
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil && !errors.Is(err, runtime.ErrNotRunning) {
			r.log.Warn("agent: SIGTERM failed", "container", name, "err", err)
		}
		now := time.Now()
		pending = append(pending, &stopping{c: c, deadline: now.Add(c.stopTimeout())})
	}
	for {
		pending = slices.DeleteFunc(pending, func(s *stopping) bool { return s.c.exited })
		if len(pending) == 0 {
			return nil
		}
		next := pending[0].deadline
		for _, s := range pending[1:] {
			if s.deadline.Before(next) {
				next = s.deadline
			}
		}
		if err := r.next(ctx, next); err != nil {
			return err
		}
		now := time.Now()
		for _, s := range pending {
			if now.Before(s.deadline) {
				continue
			}
			if s.killed {
				r.log.Warn("agent: container did not exit after SIGKILL; moving on", "container", s.c.name)
				s.c.exited = true
				continue
			}
			r.log.Info("agent: container ignored SIGTERM; sending SIGKILL", "container", s.c.name, "stopTimeout", s.c.stopTimeout())
			err := r.a.untilAvailable(ctx, func() error { return rt.Signal(ctx, s.c.id, syscall.SIGKILL) })
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil && !errors.Is(err, runtime.ErrNotRunning) {
				r.log.Warn("agent: SIGKILL failed", "container", s.c.name, "err", err)
			}
			s.killed, s.deadline = true, time.Now().Add(killGrace)
		}
	}
}

// cleanup deletes the task's containers, tears its network down and
// removes its directory. Failures are retried a few times, then logged: the
// next agent's adoption removes what is left.
func (r *runner) cleanup(ctx context.Context) error {
	rt := r.a.cfg.Runtime
	for _, name := range r.names {
		c := r.ctrs[name]
		if !c.created {
			// A create cut short by the death of an earlier agent's
			// process may have left the container's writable layer:
			// the runtime removes it (and finds no container).
			if !r.halfCreated {
				continue
			}
			if err := rt.Delete(ctx, c.id); err != nil && !errors.Is(err, runtime.ErrNotFound) {
				r.log.Warn("agent: could not delete what a container never created left", "container", name, "err", err)
			}
			continue
		}
		err := retry(ctx, func() error {
			// An engine that is away is waited for, and costs no attempt.
			err := r.a.untilAvailable(ctx, func() error { return rt.Delete(ctx, c.id) })
			if errors.Is(err, runtime.ErrNotFound) {
				return nil
			}
			return err
		})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r.log.Error("agent: could not delete container", "container", name, "err", err)
			continue
		}
		c.created = false
	}
	err := retry(ctx, func() error { return r.a.cfg.Network.Teardown(ctx, r.id) })
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.log.Error("agent: could not tear the task network down", "err", err)
	}
	if dir := r.taskDir(); dir != "" {
		if err := os.RemoveAll(dir); err != nil {
			r.log.Warn("agent: could not remove task directory", "err", err)
		}
	}
	return nil
}

// retry runs fn up to cleanupAttempts times with growing pauses.
func retry(ctx context.Context, fn func() error) error {
	backoff := cleanupBackoff
	var err error
	for attempt := 1; ; attempt++ {
		if err = fn(); err == nil || attempt == cleanupAttempts {
			return err
		}
		timer := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			timer.Stop()
			return errors.Join(err, ctx.Err())
		case <-timer.C:
		}
		backoff *= 2
	}
}
