package stevedore

import (
	"context"

	"github.com/stevedore-io/stevedore/api"
)

// DefaultCluster is the cluster of the calls that name none, as in ECS.
const DefaultCluster = api.DefaultCluster

// CreateClusterInput describes a new cluster.
type CreateClusterInput = api.CreateClusterInput

// ClusterDescription is a cluster with its counters, as ECS DescribeClusters.
type ClusterDescription = api.ClusterDescription

// DescribeClustersInput names the clusters to describe, as ECS DescribeClusters.
type DescribeClustersInput = api.DescribeClustersInput

// DescribeClustersOutput is api.DescribeClustersOutput.
type DescribeClustersOutput = api.DescribeClustersOutput

// MaxDescribeClusters is the most clusters one DescribeClusters names.
const MaxDescribeClusters = api.MaxDescribeClusters

// ListClustersInput pages through the clusters, as ECS ListClusters.
type ListClustersInput = api.ListClustersInput

// ListClustersOutput is a page of cluster ARNs, sorted by name; NextToken is empty on the last page.
type ListClustersOutput = api.ListClustersOutput

// DeleteClusterInput names a cluster to delete, as ECS DeleteCluster.
type DeleteClusterInput = api.DeleteClusterInput

// DeleteClusterOutput is the cluster as it is once deleted (INACTIVE).
type DeleteClusterOutput = api.DeleteClusterOutput

// RegisterContainerInstanceInput describes a host joining a cluster.
type RegisterContainerInstanceInput = api.RegisterContainerInstanceInput

// DeregisterContainerInstanceInput is api.DeregisterContainerInstanceInput.
type DeregisterContainerInstanceInput = api.DeregisterContainerInstanceInput

// DeregisterContainerInstanceOutput is the instance as it is once deregistered (INACTIVE).
type DeregisterContainerInstanceOutput = api.DeregisterContainerInstanceOutput

// UpdateContainerInstancesStateInput is api.UpdateContainerInstancesStateInput.
type UpdateContainerInstancesStateInput = api.UpdateContainerInstancesStateInput

// UpdateContainerInstancesStateOutput is api.UpdateContainerInstancesStateOutput.
type UpdateContainerInstancesStateOutput = api.UpdateContainerInstancesStateOutput

// DescribeContainerInstancesInput names instances of a cluster, as ECS DescribeContainerInstances.
type DescribeContainerInstancesInput = api.DescribeContainerInstancesInput

// DescribeContainerInstancesOutput is api.DescribeContainerInstancesOutput.
type DescribeContainerInstancesOutput = api.DescribeContainerInstancesOutput

// MaxDescribeContainerInstances is the most instances one DescribeContainerInstances names.
const MaxDescribeContainerInstances = api.MaxDescribeContainerInstances

// CreateClusterOutput is api.CreateClusterOutput.
type CreateClusterOutput = api.CreateClusterOutput

// RegisterContainerInstanceOutput is the instance as registered, as ECS RegisterContainerInstance.
type RegisterContainerInstanceOutput = api.RegisterContainerInstanceOutput

// CreateCluster creates a cluster. Creating an existing ACTIVE cluster
// returns it unchanged, as ECS does.
func (o *Orchestrator) CreateCluster(ctx context.Context, in *CreateClusterInput) (*CreateClusterOutput, error) {
	return o.actions.CreateCluster(ctx, value(in))
}

// DescribeClusters describes clusters with their counters. A cluster that
// does not exist is reported in Failures; the others are still described.
func (o *Orchestrator) DescribeClusters(ctx context.Context, in *DescribeClustersInput) (*DescribeClustersOutput, error) {
	return o.actions.DescribeClusters(ctx, value(in))
}

// ListClusters lists the ARNs of the ACTIVE clusters.
func (o *Orchestrator) ListClusters(ctx context.Context, in *ListClustersInput) (*ListClustersOutput, error) {
	return o.actions.ListClusters(ctx, value(in))
}

// DeleteCluster marks a cluster INACTIVE. It fails with ErrInUse while
// container instances are registered or services are active in it.
func (o *Orchestrator) DeleteCluster(ctx context.Context, in *DeleteClusterInput) (*DeleteClusterOutput, error) {
	return o.actions.DeleteCluster(ctx, value(in))
}

// RegisterContainerInstance adds a container instance to a cluster and
// starts its agent. Registering an instance that is already registered in
// the same cluster with the same resources (the same host coming back, for
// example after the orchestrator restarted on a durable store) keeps its
// tasks: its new agent adopts the containers that still run.
func (o *Orchestrator) RegisterContainerInstance(ctx context.Context, in *RegisterContainerInstanceInput) (*RegisterContainerInstanceOutput, error) {
	return o.actions.RegisterContainerInstance(ctx, value(in))
}

// DeregisterContainerInstance removes an instance from its cluster. Without
// Force it fails with ErrInUse while tasks still run there.
func (o *Orchestrator) DeregisterContainerInstance(ctx context.Context, in *DeregisterContainerInstanceInput) (*DeregisterContainerInstanceOutput, error) {
	return o.actions.DeregisterContainerInstance(ctx, value(in))
}

// UpdateContainerInstancesState sets instances ACTIVE or DRAINING. A
// DRAINING instance receives no new tasks, and the services replace the
// tasks running there within their minimum healthy bound.
func (o *Orchestrator) UpdateContainerInstancesState(ctx context.Context, in *UpdateContainerInstancesStateInput) (*UpdateContainerInstancesStateOutput, error) {
	return o.actions.UpdateContainerInstancesState(ctx, value(in))
}

// DescribeContainerInstances describes instances of a cluster. It fails
// with ErrNotFound when the cluster does not exist; an instance that does
// not is reported in Failures.
func (o *Orchestrator) DescribeContainerInstances(ctx context.Context, in *DescribeContainerInstancesInput) (*DescribeContainerInstancesOutput, error) {
	return o.actions.DescribeContainerInstances(ctx, value(in))
}
