package agent

import "context"

// deactivate calls the Deactivate hook of a DEACTIVATING task, before its
// containers get SIGTERM. Only the end of ctx (the agent going away) stops
// the task's stop; the hook's own failure is logged.
func (r *runner) deactivate(ctx context.Context) error {
	hook := r.a.cfg.Deactivate
	if hook == nil {
		return nil
	}
	err := hook(ctx, r.current())
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		r.log.Warn("agent: deactivation failed; stopping the task anyway", "err", err)
	}
	return nil
}
