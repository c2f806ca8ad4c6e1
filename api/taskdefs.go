package api

import (
	"github.com/stevedore-io/stevedore/task"
)

// RegisterTaskDefinitionInput is a task definition to register, as ECS
// RegisterTaskDefinition: the definition's members (Family,
// ContainerDefinitions, ..., Tags); the ones the API sets (Revision,
// Status, RegisteredAt, ...) are ignored.
type RegisterTaskDefinitionInput struct {
	task.TaskDefinition
}

// RegisterTaskDefinitionOutput is the definition as registered, with its
// revision, and its tags, as ECS RegisterTaskDefinition.
type RegisterTaskDefinitionOutput struct {
	TaskDefinition *task.TaskDefinition
	Tags           []Tag
}

// DeregisterTaskDefinitionInput names a task definition revision, as ECS
// DeregisterTaskDefinition.
type DeregisterTaskDefinitionInput struct {
	// TaskDefinition is "family:N" or its ARN.
	TaskDefinition string
}

// DeregisterTaskDefinitionOutput is the task definition, INACTIVE.
type DeregisterTaskDefinitionOutput struct {
	TaskDefinition *task.TaskDefinition
}

// DescribeTaskDefinitionInput names a task definition, as ECS
// DescribeTaskDefinition.
type DescribeTaskDefinitionInput struct {
	// TaskDefinition is "family" (its latest ACTIVE revision), "family:N"
	// or an ARN ending in either.
	TaskDefinition string
}

// DescribeTaskDefinitionOutput is the task definition.
type DescribeTaskDefinitionOutput struct {
	TaskDefinition *task.TaskDefinition
}

// ListTaskDefinitionFamiliesInput filters and pages the families, as ECS
// ListTaskDefinitionFamilies.
type ListTaskDefinitionFamiliesInput struct {
	// FamilyPrefix keeps the families whose name begins with it.
	FamilyPrefix string
	// Status ACTIVE keeps the families with an ACTIVE revision, INACTIVE
	// those without; empty (or ALL) keeps all.
	Status task.DefinitionStatus
	// MaxResults is 1 to 100 (0 means 100).
	MaxResults int
	// NextToken continues a previous call's listing.
	NextToken string
}

// ListTaskDefinitionFamiliesOutput is a page of family names, sorted;
// NextToken is empty on the last page.
type ListTaskDefinitionFamiliesOutput struct {
	Families  []string
	NextToken string
}

// ListTaskDefinitionsInput filters and pages task definitions, as ECS
// ListTaskDefinitions.
type ListTaskDefinitionsInput struct {
	// FamilyPrefix keeps the revisions of one family (ECS's name for it).
	FamilyPrefix string
	// Status is ACTIVE (the default) or INACTIVE.
	Status task.DefinitionStatus
	// Sort is ASC (the default: family, then revision) or DESC.
	Sort string
	// MaxResults is 1 to 100 (0 means 100).
	MaxResults int
	// NextToken continues a previous call's listing.
	NextToken string
}

// ListTaskDefinitionsOutput is a page of task definition ARNs; NextToken
// is empty on the last page.
type ListTaskDefinitionsOutput struct {
	TaskDefinitionArns []string
	NextToken          string
}
