package stevedore

import (
	"context"

	"github.com/stevedore-io/stevedore/api"
)

// DefaultCluster is the cluster of the calls that name none, as in ECS.
const DefaultCluster = api.DefaultCluster

// CreateClusterInput describes a new cluster.
type CreateClusterInput = api.CreateClusterInput

// CreateClusterOutput is api.CreateClusterOutput.
type CreateClusterOutput = api.CreateClusterOutput

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
