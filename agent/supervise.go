package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stevedore-io/stevedore/health"
	"github.com/stevedore-io/stevedore/health/probe"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/task"
)

// watch reports the exit of c's main process as an event.
func (r *runner) watch(_ context.Context, c *ctr) error {
	var ch <-chan runtime.ExitStatus
	err := r.a.untilAvailable(r.helperCtx, func() (err error) {
		ch, err = r.a.cfg.Runtime.Wait(r.helperCtx, c.id)
		return err
	})
	if err != nil {
		return fmt.Errorf("wait for container %s: %w", c.id, err)
	}
	c.exit, c.stopWait = ch, nil
	return nil
}

// forwardExits starts a forward goroutine for each container whose exit
// the runner waits for itself. next waits for one exit channel in its own
// select (a task has one container, often: no goroutine then); with more,
// each gets a goroutine.
func (r *runner) forwardExits() (c *ctr) {
	n := 0
	for _, name := range r.names {
		if r.ctrs[name].exit != nil {
			n++
			c = r.ctrs[name]
		}
	}
	if n <= 1 {
		return c
	}
	for _, name := range r.names {
		if c := r.ctrs[name]; c.exit != nil {
			done := c.stopWait
			if done == nil {
				done = func() {}
			}
			r.forward(c.name, c.exit, done)
			c.exit, c.stopWait = nil, nil
		}
	}
	return nil
}

// onExit handles what c's exit channel gave. (Apart from next, whose
// variables would otherwise be allocated on every call.)
func (r *runner) onExit(ctx context.Context, c *ctr, st runtime.ExitStatus, ok bool) error {
	if ev, ok := r.exited(c, st, ok); ok {
		return r.handle(ctx, ev)
	}
	return nil
}

// exited turns what an exit channel gave into the exit event of c.
func (r *runner) exited(c *ctr, st runtime.ExitStatus, ok bool) (event, bool) {
	c.exit = nil
	if c.stopWait != nil {
		c.stopWait()
		c.stopWait = nil
	}
	if !ok {
		st = runtime.ExitStatus{Err: errors.New("exit status channel closed")}
	}
	if r.helperCtx.Err() != nil {
		return event{}, false // the status says the wait was cancelled
	}
	return event{name: c.name, exit: &st}, true
}

// forward passes the exit status from ch to the run goroutine, then calls
// done.
func (r *runner) forward(name string, ch <-chan runtime.ExitStatus, done func()) {
	r.helpers.Go(func() {
		defer done()
		var st runtime.ExitStatus
		select {
		case s, ok := <-ch:
			if !ok {
				s = runtime.ExitStatus{Err: errors.New("exit status channel closed")}
			}
			st = s
		case <-r.helperCtx.Done():
			return
		}
		if r.helperCtx.Err() != nil {
			return // the status says the wait was cancelled
		}
		select {
		case r.events <- event{name: name, exit: &st}:
		case <-r.helperCtx.Done():
		}
	})
}

// monitor starts c's health monitor, if it has a health check. resume
// starts it from the stored status (adoption).
func (r *runner) monitor(c *ctr, resume bool) {
	hc := c.healthCheck()
	if hc == nil || c.stopMonitor != nil {
		return
	}
	cfg := health.Config{Interval: hc.Interval(), Timeout: hc.Timeout(), Retries: hc.Retries(), StartPeriod: hc.StartPeriod()}
	prober := r.healthProber(c, hc.Command)
	ctx, cancel := context.WithCancel(r.helperCtx)
	opts := []probe.MonitorOption{probe.OnStatusChange(func(_, next health.State) {
		select {
		case r.events <- event{name: c.name, health: next.Status}:
		case <-ctx.Done():
		}
	})}
	if resume {
		opts = append(opts, probe.WithState(health.State{Status: c.health, Started: c.startedAt}))
	}
	m, err := probe.NewMonitor(cfg, prober, c.startedAt, opts...)
	if err != nil {
		cancel()
		r.log.Warn("agent: health check not run", "container", c.name, "err", err)
		return
	}
	c.stopMonitor = cancel
	r.helpers.Go(func() { _ = m.Run(ctx) })
}

// supervise starts the containers in dependency order, moves the task to
// RUNNING once every essential container runs, and records exits and
// health until the task must stop.
func (r *runner) supervise(ctx context.Context) error {
	for !r.stopWanted() {
		deadline, err := r.advance(ctx)
		if err != nil {
			return err
		}
		if r.stopWanted() {
			return nil
		}
		r.syncIngress(ctx)
		if err := r.next(ctx, deadline); err != nil {
			return err
		}
	}
	return nil
}

// next waits for an event, a poke or the deadline (zero: none) and
// handles what came.
func (r *runner) next(ctx context.Context, deadline time.Time) error {
	if err := r.flush(ctx); err != nil {
		return err
	}
	var timeout <-chan time.Time
	if !deadline.IsZero() {
		timer := time.NewTimer(time.Until(deadline))
		defer timer.Stop()
		timeout = timer.C
	}
	var exit <-chan runtime.ExitStatus
	waiting := r.forwardExits()
	if waiting != nil {
		exit = waiting.exit
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-r.wake:
	case ev := <-r.events:
		return r.handle(ctx, ev)
	case st, ok := <-exit:
		return r.onExit(ctx, waiting, st, ok)
	case <-timeout:
	}
	return nil
}

// advance starts every container whose dependencies are met, gives up on
// the ones whose dependencies can never be, and moves the task to RUNNING
// when it is. It returns when it next has to look again by the clock.
func (r *runner) advance(ctx context.Context) (time.Time, error) {
	var deadline time.Time
	for progress := true; progress && !r.stopWanted(); {
		progress, deadline = false, time.Time{}
		for _, name := range r.names {
			c := r.ctrs[name]
			if !c.created || c.started || c.exited {
				continue
			}
			v, why, at := checkDependencies(c, r.ctrs, time.Now(), r.a.startTimeout)
			switch v {
			case ready:
				if err := r.startContainer(ctx, c); err != nil {
					return time.Time{}, err
				}
				progress = true
			case never:
				reason := fmt.Sprintf("DependencyError: container %s: %s", c.name, why)
				if c.essential() {
					return time.Time{}, failure(c.name, "%s", reason)
				}
				if err := r.abandon(ctx, c, reason); err != nil {
					return time.Time{}, err
				}
				progress = true
			case wait:
				if !at.IsZero() && (deadline.IsZero() || at.Before(deadline)) {
					deadline = at
				}
			}
		}
	}
	if r.stopWanted() || rank(r.current().LastStatus) >= rank(task.Running) {
		return deadline, nil
	}
	for _, name := range r.names {
		if c := r.ctrs[name]; c.essential() && !c.running() {
			return deadline, nil
		}
	}
	if err := r.setStatus(ctx, task.Activating); err != nil {
		return time.Time{}, err
	}
	return deadline, r.setStatus(ctx, task.Running)
}

// abandon records that a non-essential container will never start.
func (r *runner) abandon(ctx context.Context, c *ctr, reason string) error {
	r.log.Warn("agent: container will not start", "container", c.name, "reason", reason)
	c.abandoned, c.exited = true, true
	return r.modify(ctx, func(t *state.Task) (bool, error) {
		return true, t.SetContainerStopped(c.name, nil, reason, time.Now())
	})
}

// startContainer starts c and records it RUNNING.
func (r *runner) startContainer(ctx context.Context, c *ctr) error {
	rt := r.a.cfg.Runtime
	// Wait before Start, so that an exit right after the start is seen.
	// The wait lasts as long as the runner's helpers (a container that
	// fails to start is deleted with the task, which ends it), so it needs
	// no context of its own: one per container would cost as much memory
	// as the rest of its bookkeeping.
	var ch <-chan runtime.ExitStatus
	err := r.a.untilAvailable(r.startCtx, func() (err error) {
		ch, err = rt.Wait(r.helperCtx, c.id)
		return err
	})
	if err != nil {
		return r.startError(ctx, c, err)
	}
	if err := r.a.untilAvailable(r.startCtx, func() error { return rt.Start(r.startCtx, c.id) }); err != nil {
		return r.startError(ctx, c, err)
	}
	c.started, c.startedAt = true, time.Now()
	c.exit, c.stopWait = ch, nil
	r.monitor(c, false)
	r.log.Info("agent: started container", "container", c.name)
	r.keep(func(t *state.Task) error {
		sc := t.Container(c.name)
		if sc == nil || sc.LastStatus != task.ContainerPending {
			return nil
		}
		sc.RuntimeID = c.id
		return t.SetContainerRunning(c.name)
	})
	return nil
}

// startError handles a failed start: the task fails before RUNNING or when
// the container is essential; a non-essential container is given up.
func (r *runner) startError(ctx context.Context, c *ctr, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if r.stopWanted() {
		return nil
	}
	reason := fmt.Sprintf("CannotStartContainerError: %v", err)
	if c.essential() || rank(r.current().LastStatus) < rank(task.Running) {
		return failure(c.name, "%s", reason)
	}
	return r.abandon(ctx, c, reason)
}

// handle records an event from a helper.
func (r *runner) handle(ctx context.Context, ev event) error {
	c := r.ctrs[ev.name]
	if c == nil || !c.started || c.exited {
		return nil
	}
	if ev.exit == nil {
		if ev.health == c.health {
			return nil
		}
		c.health = ev.health
		r.log.Info("agent: container health changed", "container", c.name, "health", ev.health)
		return r.modify(ctx, func(t *state.Task) (bool, error) {
			return true, t.SetContainerHealthAt(c.name, task.HealthStatus(ev.health), time.Now())
		})
	}
	c.exited = true
	if c.stopMonitor != nil {
		c.stopMonitor()
	}
	var code *int
	reason := ""
	if ev.exit.Err != nil {
		reason = fmt.Sprintf("exit status unknown: %v", ev.exit.Err)
	} else {
		code = &ev.exit.Code
	}
	c.exitCode = code
	r.log.Info("agent: container exited", "container", c.name, "exitCode", codeString(code), "essential", c.essential())
	return r.modify(ctx, func(t *state.Task) (bool, error) {
		sc := t.Container(c.name)
		if sc == nil || sc.LastStatus == task.ContainerStopped {
			return false, nil
		}
		return true, t.SetContainerStopped(c.name, code, reason, time.Now())
	})
}
