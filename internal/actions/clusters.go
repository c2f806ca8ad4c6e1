package actions

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/stevedore-io/stevedore/api"
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/store"
)

// clusterName is the cluster a request names, by name or ARN:
// DefaultCluster when it names none.
func clusterName(s string) string {
	if s == "" {
		return api.DefaultCluster
	}
	if strings.HasPrefix(s, "arn:") {
		if i := strings.LastIndex(s, ":cluster/"); i >= 0 {
			return s[i+len(":cluster/"):]
		}
	}
	return s
}

// CreateCluster creates a cluster. Creating an existing ACTIVE cluster
// returns it unchanged, as ECS does.
func (a *Actions) CreateCluster(ctx context.Context, in api.CreateClusterInput) (*api.CreateClusterOutput, error) {
	if err := a.checkOpen(); err != nil {
		return nil, err
	}
	in.ClusterName = clusterName(in.ClusterName)
	c := cluster.Cluster{Name: in.ClusterName, Status: cluster.ClusterActive, DefaultCapacityProviderStrategy: slices.Clone(in.DefaultCapacityProviderStrategy)}
	for _, cp := range in.CapacityProviders {
		c.CapacityProviders = append(c.CapacityProviders, cp.Name)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", api.ErrInvalid, err)
	}
	for i, cp := range in.CapacityProviders {
		if err := cp.Validate(); err != nil {
			return nil, invalid(fmt.Sprintf("capacityProviders[%d]", i), "%v", err)
		}
	}
	if err := validTaskPolicy("taskPolicy", in.TaskPolicy); err != nil {
		return nil, err
	}
	if err := validTags(in.Tags); err != nil {
		return nil, err
	}
	var out cluster.Cluster
	err := a.store.Update(ctx, func(tx store.Tx) error {
		var err error
		out, err = a.putCluster(tx, c, in)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &api.CreateClusterOutput{Cluster: out}, nil
}

// putCluster creates cluster c of request in, or returns it as it is when
// it exists and is ACTIVE.
func (a *Actions) putCluster(tx store.Tx, c cluster.Cluster, in api.CreateClusterInput) (cluster.Cluster, error) {
	existing, err := store.Get[*state.Cluster](tx, state.KindClusters, c.Name)
	switch {
	case err == nil && existing.Status == cluster.ClusterActive:
		return existing.Clone(), nil
	case err == nil:
		// An INACTIVE cluster of the same name comes back to life.
		next := existing.Copy()
		next.Cluster = c
		next.Providers = slices.Clone(in.CapacityProviders)
		next.TaskPolicy = in.TaskPolicy.Clone()
		next.CreatedAt = a.now()
		next.Tags = slices.Clone(in.Tags)
		return c, tx.Update(next)
	case errors.Is(err, store.ErrNotFound):
		return c, tx.Create(&state.Cluster{Cluster: c, Providers: slices.Clone(in.CapacityProviders), TaskPolicy: in.TaskPolicy.Clone(),
			CreatedAt: a.now(), Tags: slices.Clone(in.Tags)})
	default:
		return cluster.Cluster{}, err
	}
}

// DescribeClusters describes clusters with their counters. A cluster that
// does not exist is reported in Failures; the others are still described.
func (a *Actions) DescribeClusters(ctx context.Context, in api.DescribeClustersInput) (*api.DescribeClustersOutput, error) {
	names := in.Clusters
	if len(names) == 0 {
		names = []string{api.DefaultCluster}
	}
	if len(names) > api.MaxDescribeClusters {
		return nil, invalid("clusters", "must name at most %d clusters, got %d", api.MaxDescribeClusters, len(names))
	}
	out := &api.DescribeClustersOutput{}
	err := a.store.View(ctx, func(tx store.ReadTx) error {
		out.Clusters, out.Failures = nil, nil
		instances, err := store.List[*state.Instance](tx, state.KindInstances)
		if err != nil {
			return err
		}
		services, err := store.List[*state.Service](tx, state.KindServices)
		if err != nil {
			return err
		}
		for _, arg := range names {
			name := clusterName(arg)
			c, err := store.Get[*state.Cluster](tx, state.KindClusters, name)
			if errors.Is(err, store.ErrNotFound) {
				out.Failures = append(out.Failures, missing(a.ClusterARN(name)))
				continue
			}
			if err != nil {
				return err
			}
			d := api.ClusterDescription{Cluster: c.Clone(), TaskPolicy: a.taskPolicyOf(c), CapacityProviderDetails: slices.Clone(c.Providers), Tags: slices.Clone(c.Tags)}
			for _, inst := range instances {
				if inst.Cluster != name || inst.Status == cluster.StatusInactive {
					continue
				}
				d.RegisteredContainerInstancesCount++
				d.RunningTasksCount += inst.RunningTasksCount
				d.PendingTasksCount += inst.PendingTasksCount
			}
			for _, s := range services {
				if s.Cluster == name && s.Status == service.StatusActive {
					d.ActiveServicesCount++
				}
			}
			out.Clusters = append(out.Clusters, d)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListClusters lists the ARNs of the ACTIVE clusters.
func (a *Actions) ListClusters(ctx context.Context, in api.ListClustersInput) (*api.ListClustersOutput, error) {
	var names []string
	err := a.store.View(ctx, func(tx store.ReadTx) error {
		names = nil
		all, err := store.List[*state.Cluster](tx, state.KindClusters)
		if err != nil {
			return err
		}
		for _, c := range all {
			if c.Status == cluster.ClusterActive {
				names = append(names, c.Name)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	page, next, err := paginate(names, in.MaxResults, 100, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &api.ListClustersOutput{NextToken: next}
	for _, n := range page {
		out.ClusterArns = append(out.ClusterArns, a.ClusterARN(n))
	}
	return out, nil
}

// DeleteCluster marks a cluster INACTIVE. It fails with ErrInUse while
// container instances are registered or services are active in it.
func (a *Actions) DeleteCluster(ctx context.Context, in api.DeleteClusterInput) (*api.DeleteClusterOutput, error) {
	name := clusterName(in.Cluster)
	err := a.store.Update(ctx, func(tx store.Tx) error {
		c, err := a.getCluster(tx, name)
		if err != nil {
			return err
		}
		instances, err := store.List[*state.Instance](tx, state.KindInstances)
		if err != nil {
			return err
		}
		for _, inst := range instances {
			if inst.Cluster == name && inst.Status != cluster.StatusInactive {
				return fmt.Errorf("%w: cluster %q still has container instance %s", api.ErrInUse, name, inst.ID)
			}
		}
		services, err := store.List[*state.Service](tx, state.KindServices)
		if err != nil {
			return err
		}
		for _, s := range services {
			if s.Cluster == name && s.Status != "INACTIVE" {
				return fmt.Errorf("%w: cluster %q still has service %s", api.ErrInUse, name, s.Name)
			}
		}
		next := c.Copy()
		next.Status = cluster.ClusterInactive
		return tx.Update(next)
	})
	if err != nil {
		return nil, err
	}
	described, err := a.describeCluster(ctx, name)
	if err != nil {
		return nil, err
	}
	return &api.DeleteClusterOutput{Cluster: described}, nil
}

func (a *Actions) getCluster(tx store.ReadTx, name string) (*state.Cluster, error) {
	c, err := store.Get[*state.Cluster](tx, state.KindClusters, name)
	if errors.Is(err, store.ErrNotFound) || (err == nil && c.Status != cluster.ClusterActive) {
		return nil, notFound("cluster", name)
	}
	return c, err
}
