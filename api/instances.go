package api

import (
	"github.com/stevedore-io/stevedore/cluster"
)

// ListContainerInstancesInput filters and pages a cluster's instances, as
// ECS ListContainerInstances.
type ListContainerInstancesInput struct {
	// Cluster is a name or ARN; empty means DefaultCluster.
	Cluster string
	// Filter keeps the instances that match a cluster query, such as
	// "attribute:ecs.availability-zone == zone-a" (at most 2000
	// characters, as placement constraints).
	Filter string
	// Status keeps the instances of one status (ACTIVE, DRAINING,
	// INACTIVE, ...); empty keeps every one that is not INACTIVE.
	Status cluster.InstanceStatus
	// MaxResults is 1 to 100 (0 means 100).
	MaxResults int
	// NextToken continues a previous call's listing.
	NextToken string
}

// ListContainerInstancesOutput is a page of container instance ARNs,
// sorted by ID; NextToken is empty on the last page.
type ListContainerInstancesOutput struct {
	ContainerInstanceArns []string
	NextToken             string
}
