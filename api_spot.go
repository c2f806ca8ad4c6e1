package stevedore

import (
	"context"

	"github.com/stevedore-io/stevedore/api"
)

// DefaultSpotNotice is api.DefaultSpotNotice.
const DefaultSpotNotice = api.DefaultSpotNotice

// MaxSpotNotice bounds the notice InterruptSpotInstance accepts.
const MaxSpotNotice = api.MaxSpotNotice

// InterruptSpotInstanceInput is api.InterruptSpotInstanceInput.
type InterruptSpotInstanceInput = api.InterruptSpotInstanceInput

// InterruptSpotInstanceOutput is api.InterruptSpotInstanceOutput.
type InterruptSpotInstanceOutput = api.InterruptSpotInstanceOutput

// InterruptSpotInstance tells the Orchestrator that the capacity of a Spot
// instance is being taken back, as an EC2 Spot interruption notice does
// (the ECS agent's ECS_ENABLE_SPOT_INSTANCE_DRAINING): the instance goes
// DRAINING at once, so it takes no new task and the services start
// replacements on the cluster's other capacity, within their deployment
// bounds, while the notice runs; when notice is over, the tasks still on
// the instance stop with stop code SpotInterruption and the instance is
// deregistered (INACTIVE). A Notice of 0 means DefaultSpotNotice; it is at most
// MaxSpotNotice.
//
// The instance must belong to a SPOT capacity provider of its cluster.
// Errors wrap ErrNotFound or ErrInvalid (a *FieldError naming the field).
// The end of the notice is kept in the store (the reaper acts on it): an
// Orchestrator started again on a durable store reclaims the instance when
// the notice is over, as this one would have.
func (o *Orchestrator) InterruptSpotInstance(ctx context.Context, in *InterruptSpotInstanceInput) (*InterruptSpotInstanceOutput, error) {
	return o.actions.InterruptSpotInstance(ctx, value(in))
}
