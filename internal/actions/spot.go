package actions

import (
	"context"
	"time"

	"github.com/stevedore-io/stevedore/api"
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/store"
)

// InterruptSpotInstance tells the Orchestrator that the capacity of a Spot
// instance is being taken back, as an EC2 Spot interruption notice does (the
// ECS agent's ECS_ENABLE_SPOT_INSTANCE_DRAINING): the instance goes DRAINING
// at once, so it takes no new task and the services start replacements on
// the cluster's other capacity, within their deployment bounds, while the
// notice runs; when notice is over, the tasks still on the instance stop
// with stop code SpotInterruption and the instance is deregistered
// (INACTIVE). Orchestrator.InterruptSpotInstance documents it.
func (a *Actions) InterruptSpotInstance(ctx context.Context, in api.InterruptSpotInstanceInput) (*api.InterruptSpotInstanceOutput, error) {
	if in.ContainerInstance == "" {
		return nil, invalid("containerInstance", "is required")
	}
	clusterName, instanceID, notice := clusterName(in.Cluster), lastSegment(in.ContainerInstance), in.Notice
	if err := a.checkOpen(); err != nil {
		return nil, err
	}
	switch {
	case notice == 0:
		notice = api.DefaultSpotNotice
	case notice < 0 || notice > api.MaxSpotNotice:
		return nil, invalid("notice", "must be between 0 and %s, got %s", api.MaxSpotNotice, notice)
	}
	deadline := a.now().Add(notice)
	err := a.store.Update(ctx, func(tx store.Tx) error {
		c, err := a.getCluster(tx, clusterName)
		if err != nil {
			return err
		}
		inst, err := a.getInstance(tx, clusterName, instanceID)
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
		next.ReclaimAt = deadline
		next.DateChange(&inst.ContainerInstance, a.now())
		return tx.Update(next)
	})
	if err != nil {
		return nil, err
	}
	return &api.InterruptSpotInstanceOutput{}, nil
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
