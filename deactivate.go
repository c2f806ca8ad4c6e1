package stevedore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/lb"
)

// drainSlack is how much longer than the longest deregistration delay of
// its target groups a stopping task waits for them to drain it: the groups
// remove a target when its delay is over, so waiting longer means a group
// that does not answer, and the task stops anyway.
const drainSlack = 5 * time.Second

// deactivator is the agents' Deactivate hook, or nil when the Orchestrator
// has neither target groups nor service discovery: with nothing to drain,
// tasks stop at once.
func (o *Orchestrator) deactivator() func(context.Context, *state.Task) error {
	if len(o.targetGroups) == 0 && o.discovery == nil {
		return nil
	}
	return o.deactivate
}

// deactivate takes a DEACTIVATING task out of service discovery and out of
// every target group it is in (as the load-balancing loop does when the
// task is asked to stop; whichever comes first, the other finds nothing to
// do, and neither takes the task back in: see leaving), then waits until the groups have drained it: no request or
// connection in flight, or the deregistration delay over. The wait is
// bounded by the longest delay of those groups plus drainSlack.
func (o *Orchestrator) deactivate(ctx context.Context, t *state.Task) error {
	id := t.ID()
	o.leaving.Store(id, struct{}{})
	if o.discovery != nil {
		o.discovery.reg.DeregisterID(id)
	}
	var draining []TargetGroup
	var longest time.Duration
	var errs []error
	for _, g := range o.targetGroups {
		if g.Health(id).State == lb.StateUnused {
			continue
		}
		if err := g.Deregister(id); err != nil && !errors.Is(err, lb.ErrNotFound) {
			errs = append(errs, fmt.Errorf("deregister task %s from target group %s: %w", id, g.Name(), err))
			continue
		}
		draining = append(draining, g)
		longest = max(longest, g.DeregistrationDelay())
	}
	if len(draining) > 0 {
		ctx, cancel := context.WithTimeout(ctx, longest+drainSlack)
		defer cancel()
		for _, g := range draining {
			if _, err := g.WaitState(ctx, id, lb.StateUnused); err != nil {
				errs = append(errs, err)
				if ctx.Err() != nil {
					break // the others have had as long
				}
			}
		}
	}
	return errors.Join(errs...)
}

// isLeaving reports whether task id is being deactivated.
func (o *Orchestrator) isLeaving(id string) bool {
	_, ok := o.leaving.Load(id)
	return ok
}
