package api

import (
	"github.com/stevedore-io/stevedore/agent"
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/runtime"
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

// RegisterContainerInstanceInput describes a host joining a cluster.
type RegisterContainerInstanceInput struct {
	Cluster string
	// InstanceID names the instance; empty picks one ("i-" and 17 hex digits).
	InstanceID string
	// Resources the instance offers to tasks: cpu units, memory MiB,
	// task-network slots, and host ports reserved for other uses.
	Resources cluster.Resources
	// Attributes such as ecs.availability-zone and ecs.instance-type;
	// ecs.os-type defaults to linux.
	Attributes map[string]string
	// CapacityProvider the instance belongs to (optional).
	CapacityProvider string
	// Runtime runs the instance's containers; Network sets up its tasks'
	// networks. With both set, the Orchestrator runs the instance's agent
	// in this process. Without them, the instance is only registered and an
	// agent elsewhere (or a test) must drive its tasks.
	Runtime runtime.Runtime
	Network network.Provider
	// Secrets resolves secrets[].valueFrom for the instance's tasks.
	Secrets agent.SecretResolver
	// StateDir is the instance's agent directory (agent.Config.StateDir):
	// its tasks' volumes. Empty: <WithDataDir>/agents/<instance> with a
	// data directory, else agent.DefaultStateDir(InstanceID).
	StateDir string
	// TaskPolicy, when set, is the instance's own task policy, on top of
	// the cluster's: placement keeps the task definitions it refuses off
	// the instance (they fail to place with reason TaskPolicy).
	TaskPolicy *policy.Policy
	// ImageCleanup configures the agent's removal of images no task has
	// used for a while (the ECS agent's defaults when zero; Disabled turns
	// it off, for images that cannot be pulled again).
	ImageCleanup agent.ImageCleanup
	// VerifyImageAccess makes the agent check, before a container uses an
	// image already on the host, that the container's own credentials could
	// pull it (see agent.Config.VerifyImageAccess).
	VerifyImageAccess bool
}

// DeregisterContainerInstanceInput names an instance to deregister, as ECS
// DeregisterContainerInstance.
type DeregisterContainerInstanceInput struct {
	// Cluster is a name or ARN; empty means DefaultCluster.
	Cluster string
	// ContainerInstance is the instance's ID or ARN.
	ContainerInstance string
	// Force deregisters an instance that still has tasks: they are
	// stopped, and the services place them elsewhere.
	Force bool
}

// DeregisterContainerInstanceOutput is the instance as it is once
// deregistered (INACTIVE).
type DeregisterContainerInstanceOutput struct {
	ContainerInstance cluster.ContainerInstance
}

// UpdateContainerInstancesStateInput sets the status of instances, as ECS
// UpdateContainerInstancesState.
type UpdateContainerInstancesStateInput struct {
	// Cluster is a name or ARN; empty means DefaultCluster.
	Cluster string
	// ContainerInstances are up to MaxDescribeContainerInstances IDs or
	// ARNs.
	ContainerInstances []string
	// Status is ACTIVE or DRAINING.
	Status cluster.InstanceStatus
}

// UpdateContainerInstancesStateOutput is the instances as they are now,
// and a Failure (reason "MISSING") for each one that is not in the
// cluster.
type UpdateContainerInstancesStateOutput struct {
	ContainerInstances []cluster.ContainerInstance
	Failures           []Failure
}

// DescribeContainerInstancesInput names instances of a cluster, as ECS
// DescribeContainerInstances.
type DescribeContainerInstancesInput struct {
	// Cluster is a name or ARN; empty means DefaultCluster.
	Cluster string
	// ContainerInstances are up to MaxDescribeContainerInstances IDs or
	// ARNs. None means every instance of the cluster that is not INACTIVE
	// (an extension: ECS requires at least one).
	ContainerInstances []string
}

// DescribeContainerInstancesOutput is the instances found, and a Failure
// (reason "MISSING") for each one that is not in the cluster.
type DescribeContainerInstancesOutput struct {
	ContainerInstances []cluster.ContainerInstance
	Failures           []Failure
}

// MaxDescribeContainerInstances is the most instances one
// DescribeContainerInstances names.
const MaxDescribeContainerInstances = 100

// AgentVersion is reported by the agents this Orchestrator runs.
const AgentVersion = "stevedore-agent/0.1.0"

// CreateClusterOutput is the cluster created, or the ACTIVE cluster of that
// name, as ECS CreateCluster.
type CreateClusterOutput struct {
	Cluster cluster.Cluster
}

// RegisterContainerInstanceOutput is the instance as registered, as ECS
// RegisterContainerInstance.
type RegisterContainerInstanceOutput struct {
	ContainerInstance cluster.ContainerInstance
}
