package agent

import (
	"context"
	"time"
)

// MaxDrainWait bounds how long a DEACTIVATING task waits for drainers that
// set no deadline in the task's stored drain, counted from when it was
// asked to stop:
// a drainer named when the task was created but no longer running (an
// Orchestrator restarted with other options) holds no task forever.
const MaxDrainWait = 10 * time.Minute

// drain waits, before the task's containers get SIGTERM, while the task's
// drain holds its stop (state.Drain.Holds): until every loop that takes it
// out of service (target groups, service discovery) has marked it drained
// in the store, or the drain's deadline has passed. Only the end of ctx
// (the agent going away: the next agent waits again, from the stored
// drain) ends it early.
func (r *runner) drain(ctx context.Context) error {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		t := r.current()
		now := time.Now()
		if r.isGone() || !t.Drain.Holds(now) {
			return nil
		}
		until := t.Drain.Deadline
		if until.IsZero() {
			until = t.StoppingAt.Add(MaxDrainWait)
			if !now.Before(until) {
				r.log.Warn("agent: drainers did not answer; stopping the task anyway", "drainers", t.Drain.By, "done", t.Drain.Done)
				return nil
			}
		}
		if timer == nil {
			timer = time.NewTimer(until.Sub(now))
		} else {
			timer.Reset(until.Sub(now))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.wake:
		case <-timer.C:
		}
	}
}
