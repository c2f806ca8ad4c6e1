package stevedore

import (
	"context"

	"github.com/stevedore-io/stevedore/api"
)

// CapacityProviderDescription is a capacity provider as ECS DescribeCapacityProviders shows it.
type CapacityProviderDescription = api.CapacityProviderDescription

// CreateCapacityProviderInput is api.CreateCapacityProviderInput.
type CreateCapacityProviderInput = api.CreateCapacityProviderInput

// CreateCapacityProviderOutput is api.CreateCapacityProviderOutput.
type CreateCapacityProviderOutput = api.CreateCapacityProviderOutput

// PutClusterCapacityProvidersInput is api.PutClusterCapacityProvidersInput.
type PutClusterCapacityProvidersInput = api.PutClusterCapacityProvidersInput

// PutClusterCapacityProvidersOutput is api.PutClusterCapacityProvidersOutput.
type PutClusterCapacityProvidersOutput = api.PutClusterCapacityProvidersOutput

// DescribeCapacityProvidersInput is api.DescribeCapacityProvidersInput.
type DescribeCapacityProvidersInput = api.DescribeCapacityProvidersInput

// DescribeCapacityProvidersOutput is api.DescribeCapacityProvidersOutput.
type DescribeCapacityProvidersOutput = api.DescribeCapacityProvidersOutput

// MaxDescribeCapacityProviders is the most providers one DescribeCapacityProviders names.
const MaxDescribeCapacityProviders = api.MaxDescribeCapacityProviders

// DeleteCapacityProviderInput is api.DeleteCapacityProviderInput.
type DeleteCapacityProviderInput = api.DeleteCapacityProviderInput

// DeleteCapacityProviderOutput is api.DeleteCapacityProviderOutput.
type DeleteCapacityProviderOutput = api.DeleteCapacityProviderOutput

// CreateCapacityProvider adds a capacity provider (ON_DEMAND or SPOT) to a
// cluster, associated with it at once. Stevedore's providers belong to a
// cluster, as ECS Managed Instances' do. Errors wrap ErrNotFound (the
// cluster), ErrAlreadyExists or ErrInvalid.
func (o *Orchestrator) CreateCapacityProvider(ctx context.Context, in *CreateCapacityProviderInput) (*CreateCapacityProviderOutput, error) {
	return o.actions.CreateCapacityProvider(ctx, value(in))
}

// PutClusterCapacityProviders sets a cluster's capacity providers and its
// default strategy, as ECS does: a new name is an ON_DEMAND provider, one
// left out is removed unless a service or an instance uses it (ErrInUse).
func (o *Orchestrator) PutClusterCapacityProviders(ctx context.Context, in *PutClusterCapacityProvidersInput) (*PutClusterCapacityProvidersOutput, error) {
	return o.actions.PutClusterCapacityProviders(ctx, value(in))
}

// DescribeCapacityProviders describes the capacity providers of a cluster
// (or of every cluster). A provider named that does not exist is reported
// in Failures; the others are still described.
func (o *Orchestrator) DescribeCapacityProviders(ctx context.Context, in *DescribeCapacityProvidersInput) (*DescribeCapacityProvidersOutput, error) {
	return o.actions.DescribeCapacityProviders(ctx, value(in))
}

// DeleteCapacityProvider removes a capacity provider from its cluster,
// unless the cluster's default strategy, a service or an instance uses it
// (ErrInUse).
func (o *Orchestrator) DeleteCapacityProvider(ctx context.Context, in *DeleteCapacityProviderInput) (*DeleteCapacityProviderOutput, error) {
	return o.actions.DeleteCapacityProvider(ctx, value(in))
}

// CapacityProviderARN is the ARN of a capacity provider.
func (o *Orchestrator) CapacityProviderARN(name string) string {
	return o.actions.CapacityProviderARN(name)
}
