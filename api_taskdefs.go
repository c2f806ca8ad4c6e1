package stevedore

import (
	"context"

	"github.com/stevedore-io/stevedore/api"
)

// RegisterTaskDefinitionInput is api.RegisterTaskDefinitionInput.
type RegisterTaskDefinitionInput = api.RegisterTaskDefinitionInput

// RegisterTaskDefinitionOutput is api.RegisterTaskDefinitionOutput.
type RegisterTaskDefinitionOutput = api.RegisterTaskDefinitionOutput

// DeregisterTaskDefinitionInput names a task definition revision, as ECS DeregisterTaskDefinition.
type DeregisterTaskDefinitionInput = api.DeregisterTaskDefinitionInput

// DeregisterTaskDefinitionOutput is the task definition, INACTIVE.
type DeregisterTaskDefinitionOutput = api.DeregisterTaskDefinitionOutput

// DescribeTaskDefinitionInput names a task definition, as ECS DescribeTaskDefinition.
type DescribeTaskDefinitionInput = api.DescribeTaskDefinitionInput

// DescribeTaskDefinitionOutput is the task definition.
type DescribeTaskDefinitionOutput = api.DescribeTaskDefinitionOutput

// ListTaskDefinitionFamiliesInput filters and pages the families, as ECS ListTaskDefinitionFamilies.
type ListTaskDefinitionFamiliesInput = api.ListTaskDefinitionFamiliesInput

// ListTaskDefinitionFamiliesOutput is api.ListTaskDefinitionFamiliesOutput.
type ListTaskDefinitionFamiliesOutput = api.ListTaskDefinitionFamiliesOutput

// ListTaskDefinitionsInput filters and pages task definitions, as ECS ListTaskDefinitions.
type ListTaskDefinitionsInput = api.ListTaskDefinitionsInput

// ListTaskDefinitionsOutput is a page of task definition ARNs; NextToken is empty on the last page.
type ListTaskDefinitionsOutput = api.ListTaskDefinitionsOutput

// RegisterTaskDefinition validates the definition and stores it as the next
// revision of its family (family:N, N counting from 1 and never reused).
// The output's copy carries Revision, Status ACTIVE and RegisteredAt. Validation errors
// are *task.ValidationError (errors.Is(err, task.ErrInvalid)) listing every
// problem with its field path.
func (o *Orchestrator) RegisterTaskDefinition(ctx context.Context, in *RegisterTaskDefinitionInput) (*RegisterTaskDefinitionOutput, error) {
	return o.actions.RegisterTaskDefinition(ctx, value(in))
}

// DeregisterTaskDefinition marks family:N INACTIVE. Running tasks and
// services keep using it; new ones cannot.
func (o *Orchestrator) DeregisterTaskDefinition(ctx context.Context, in *DeregisterTaskDefinitionInput) (*DeregisterTaskDefinitionOutput, error) {
	return o.actions.DeregisterTaskDefinition(ctx, value(in))
}

// DescribeTaskDefinition describes a task definition.
func (o *Orchestrator) DescribeTaskDefinition(ctx context.Context, in *DescribeTaskDefinitionInput) (*DescribeTaskDefinitionOutput, error) {
	return o.actions.DescribeTaskDefinition(ctx, value(in))
}

// ListTaskDefinitionFamilies lists the families of the task definitions.
func (o *Orchestrator) ListTaskDefinitionFamilies(ctx context.Context, in *ListTaskDefinitionFamiliesInput) (*ListTaskDefinitionFamiliesOutput, error) {
	return o.actions.ListTaskDefinitionFamilies(ctx, value(in))
}

// ListTaskDefinitions lists task definitions in family then revision
// order.
func (o *Orchestrator) ListTaskDefinitions(ctx context.Context, in *ListTaskDefinitionsInput) (*ListTaskDefinitionsOutput, error) {
	return o.actions.ListTaskDefinitions(ctx, value(in))
}
