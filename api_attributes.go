package stevedore

import (
	"context"

	"github.com/stevedore-io/stevedore/api"
)

// TargetTypeContainerInstance is the only target type of ECS's attributes.
const TargetTypeContainerInstance = api.TargetTypeContainerInstance

// MaxPutAttributes is the most attributes one PutAttributes or DeleteAttributes names.
const MaxPutAttributes = api.MaxPutAttributes

// Attribute is api.Attribute.
type Attribute = api.Attribute

// PutAttributesInput sets attributes of a cluster's instances, as ECS PutAttributes.
type PutAttributesInput = api.PutAttributesInput

// PutAttributesOutput is the attributes set, their targets as ARNs.
type PutAttributesOutput = api.PutAttributesOutput

// DeleteAttributesInput removes attributes of a cluster's instances, as ECS DeleteAttributes.
type DeleteAttributesInput = api.DeleteAttributesInput

// DeleteAttributesOutput is the attributes removed.
type DeleteAttributesOutput = api.DeleteAttributesOutput

// ListAttributesInput is api.ListAttributesInput.
type ListAttributesInput = api.ListAttributesInput

// ListAttributesOutput is api.ListAttributesOutput.
type ListAttributesOutput = api.ListAttributesOutput

// PutAttributes sets attributes of container instances. A request with an
// invalid attribute or an unknown target changes nothing.
func (o *Orchestrator) PutAttributes(ctx context.Context, in *PutAttributesInput) (*PutAttributesOutput, error) {
	return o.actions.PutAttributes(ctx, value(in))
}

// DeleteAttributes removes custom attributes of container instances; the
// ecs.* attributes the instance registered with cannot be removed.
func (o *Orchestrator) DeleteAttributes(ctx context.Context, in *DeleteAttributesInput) (*DeleteAttributesOutput, error) {
	return o.actions.DeleteAttributes(ctx, value(in))
}

// ListAttributes lists the attributes of the instances of a cluster that
// are not INACTIVE.
func (o *Orchestrator) ListAttributes(ctx context.Context, in *ListAttributesInput) (*ListAttributesOutput, error) {
	return o.actions.ListAttributes(ctx, value(in))
}
