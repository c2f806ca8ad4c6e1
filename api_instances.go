package stevedore

import (
	"context"

	"github.com/stevedore-io/stevedore/api"
)

// ListContainerInstancesInput filters and pages a cluster's instances, as ECS ListContainerInstances.
type ListContainerInstancesInput = api.ListContainerInstancesInput

// ListContainerInstancesOutput is api.ListContainerInstancesOutput.
type ListContainerInstancesOutput = api.ListContainerInstancesOutput

// ListContainerInstances lists the instances of a cluster.
func (o *Orchestrator) ListContainerInstances(ctx context.Context, in *ListContainerInstancesInput) (*ListContainerInstancesOutput, error) {
	return o.actions.ListContainerInstances(ctx, value(in))
}
