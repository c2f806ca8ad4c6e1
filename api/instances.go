package api

import (
	"github.com/stevedore-io/stevedore/agent"
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/task/policy"
)

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

// RegisterContainerInstanceOutput is the instance as registered, as ECS
// RegisterContainerInstance.
type RegisterContainerInstanceOutput struct {
	ContainerInstance cluster.ContainerInstance
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
