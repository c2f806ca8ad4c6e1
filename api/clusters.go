package api

import (
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/task/policy"
)

// DefaultCluster is the cluster of the calls that name none, as in ECS.
// CreateCluster without a name creates it, and so does the first
// RegisterContainerInstance into it; other calls find it or fail with
// ErrNotFound.
const DefaultCluster = "default"

// CreateClusterInput describes a new cluster.
type CreateClusterInput struct {
	// ClusterName is the cluster's name; empty means DefaultCluster.
	ClusterName string
	// CapacityProviders associated with the cluster.
	CapacityProviders []cluster.CapacityProvider
	// DefaultCapacityProviderStrategy is used by tasks and services that name
	// no strategy of their own.
	DefaultCapacityProviderStrategy cluster.CapacityProviderStrategy
	// TaskPolicy decides which task definitions may run in the cluster;
	// nil means the Orchestrator's (see WithTaskPolicy).
	TaskPolicy *policy.Policy
	// Tags are the cluster's tags (see TagResource).
	Tags []Tag
}

// CreateClusterOutput is the cluster created, or the ACTIVE cluster of that
// name, as ECS CreateCluster.
type CreateClusterOutput struct {
	Cluster cluster.Cluster
}

// ClusterDescription is a cluster with its counters, as ECS DescribeClusters.
type ClusterDescription struct {
	cluster.Cluster
	// TaskPolicy is the task policy in force: the cluster's, or the
	// Orchestrator's default.
	TaskPolicy                        policy.Policy
	CapacityProviderDetails           []cluster.CapacityProvider
	RegisteredContainerInstancesCount int
	RunningTasksCount                 int
	PendingTasksCount                 int
	ActiveServicesCount               int
	// Tags are the cluster's tags.
	Tags []Tag
}

// DescribeClustersInput names the clusters to describe, as ECS
// DescribeClusters.
type DescribeClustersInput struct {
	// Clusters are up to MaxDescribeClusters names or ARNs; none means
	// DefaultCluster.
	Clusters []string
}

// DescribeClustersOutput is the clusters found, and a Failure (reason
// "MISSING") for each one that does not exist.
type DescribeClustersOutput struct {
	Clusters []ClusterDescription
	Failures []Failure
}

// MaxDescribeClusters is the most clusters one DescribeClusters names.
const MaxDescribeClusters = 100

// ListClustersInput pages through the clusters, as ECS ListClusters.
type ListClustersInput struct {
	// MaxResults is 1 to 100 (0 means 100).
	MaxResults int
	// NextToken continues a previous call's listing.
	NextToken string
}

// ListClustersOutput is a page of cluster ARNs, sorted by name; NextToken
// is empty on the last page.
type ListClustersOutput struct {
	ClusterArns []string
	NextToken   string
}

// DeleteClusterInput names a cluster to delete, as ECS DeleteCluster.
type DeleteClusterInput struct {
	// Cluster is a name or ARN; empty means DefaultCluster.
	Cluster string
}

// DeleteClusterOutput is the cluster as it is once deleted (INACTIVE).
type DeleteClusterOutput struct {
	Cluster ClusterDescription
}
