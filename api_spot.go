package stevedore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

// DefaultSpotNotice is the warning a Spot interruption gives before the
// capacity goes: EC2's two minutes.
const DefaultSpotNotice = 2 * time.Minute

// MaxSpotNotice bounds the notice InterruptSpotInstance accepts.
const MaxSpotNotice = time.Hour

// spotStoppedReason is ECS's stoppedReason for tasks on reclaimed Spot
// capacity.
const spotStoppedReason = "Your Spot Task was interrupted."

// InterruptSpotInstance tells the Orchestrator that the capacity of a Spot
// instance is being taken back, as an EC2 Spot interruption notice does
// (the ECS agent's ECS_ENABLE_SPOT_INSTANCE_DRAINING): the instance goes
// DRAINING at once, so it takes no new task and the services start
// replacements on the cluster's other capacity, within their deployment
// bounds, while the notice runs; when notice is over, the tasks still on
// the instance stop with stop code SpotInterruption and the instance is
// deregistered (INACTIVE). notice 0 means DefaultSpotNotice; it is at most
// MaxSpotNotice.
//
// The instance must belong to a SPOT capacity provider of its cluster.
// Errors wrap ErrNotFound or ErrInvalid (a *FieldError naming the field).
// The end of the notice is kept in memory: an Orchestrator closed before
// it leaves the instance DRAINING, not deregistered.
func (o *Orchestrator) InterruptSpotInstance(ctx context.Context, clusterName, instanceID string, notice time.Duration) error {
	if err := o.checkOpen(); err != nil {
		return err
	}
	switch {
	case notice == 0:
		notice = DefaultSpotNotice
	case notice < 0 || notice > MaxSpotNotice:
		return invalid("notice", "must be between 0 and %s, got %s", MaxSpotNotice, notice)
	}
	deadline := o.now().Add(notice)
	err := o.store.Update(ctx, func(tx store.Tx) error {
		c, err := o.getCluster(tx, clusterName)
		if err != nil {
			return err
		}
		inst, err := o.getInstance(tx, clusterName, instanceID)
		if err != nil {
			return err
		}
		if inst.Status == cluster.StatusInactive {
			return invalid("containerInstance", "%s is already deregistered", instanceID)
		}
		if !isSpot(c, inst.CapacityProvider) {
			return invalid("containerInstance", "%s is not in a SPOT capacity provider (capacity provider %q)", instanceID, inst.CapacityProvider)
		}
		next := inst.Copy()
		next.Status = cluster.StatusDraining
		next.StatusReason = "Spot interruption: capacity reclaimed at " + deadline.UTC().Format(time.RFC3339)
		return tx.Update(next)
	})
	if err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return ErrClosed
	}
	o.wg.Go(func() {
		timer := time.NewTimer(notice)
		defer timer.Stop()
		select {
		case <-o.ctx.Done():
			return
		case <-timer.C:
		}
		if err := o.reclaimSpot(o.ctx, clusterName, instanceID); err != nil && o.ctx.Err() == nil {
			o.log.Warn("spot interruption: cannot reclaim the instance", "instance", instanceID, "err", err)
		}
	})
	return nil
}

// isSpot reports whether provider is a SPOT capacity provider of c.
func isSpot(c *state.Cluster, provider string) bool {
	for _, p := range c.Providers {
		if p.Name == provider {
			return p.Kind == cluster.Spot
		}
	}
	return false
}

// reclaimSpot ends a Spot interruption: the tasks left on the instance stop
// with stop code SpotInterruption, and the instance is deregistered.
func (o *Orchestrator) reclaimSpot(ctx context.Context, clusterName, instanceID string) error {
	err := o.deregister(ctx, clusterName, instanceID, true, task.SpotInterruption, spotStoppedReason, "Spot capacity reclaimed")
	if errors.Is(err, ErrNotFound) {
		return nil // deregistered meanwhile
	}
	if err != nil {
		return fmt.Errorf("reclaim spot instance %s: %w", instanceID, err)
	}
	return nil
}
