package api

// TargetTypeContainerInstance is the only target type of ECS's attributes.
const TargetTypeContainerInstance = "container-instance"

// MaxPutAttributes is the most attributes one PutAttributes or
// DeleteAttributes names.
const MaxPutAttributes = 10

// Attribute is an attribute of a container instance, as ECS's Attribute:
// placement constraints and ListContainerInstances' filter match them
// ("attribute:stack == prod").
type Attribute struct {
	Name  string
	Value string
	// TargetType is TargetTypeContainerInstance (the default when empty).
	TargetType string
	// TargetID is the container instance's ID or ARN.
	TargetID string
}

// PutAttributesInput sets attributes of a cluster's instances, as ECS
// PutAttributes.
type PutAttributesInput struct {
	// Cluster is a name or ARN; empty means DefaultCluster.
	Cluster string
	// Attributes are 1 to MaxPutAttributes attributes, each with its
	// TargetID.
	Attributes []Attribute
}

// PutAttributesOutput is the attributes set, their targets as ARNs.
type PutAttributesOutput struct {
	Attributes []Attribute
}

// DeleteAttributesInput removes attributes of a cluster's instances, as
// ECS DeleteAttributes.
type DeleteAttributesInput struct {
	// Cluster is a name or ARN; empty means DefaultCluster.
	Cluster string
	// Attributes are 1 to MaxPutAttributes names, each with its TargetID
	// (values are ignored).
	Attributes []Attribute
}

// DeleteAttributesOutput is the attributes removed.
type DeleteAttributesOutput struct {
	Attributes []Attribute
}

// ListAttributesInput filters and pages the attributes of a cluster's
// instances, as ECS ListAttributes.
type ListAttributesInput struct {
	// Cluster is a name or ARN; empty means DefaultCluster.
	Cluster string
	// TargetType is TargetTypeContainerInstance (the default when empty).
	TargetType string
	// AttributeName keeps the attributes of that name; AttributeValue,
	// with it, those of that value too.
	AttributeName  string
	AttributeValue string
	// MaxResults is 1 to 100 (0 means 100).
	MaxResults int
	// NextToken continues a previous call's listing.
	NextToken string
}

// ListAttributesOutput is a page of attributes, by instance then name;
// NextToken is empty on the last page.
type ListAttributesOutput struct {
	Attributes []Attribute
	NextToken  string
}
