package actions

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/stevedore-io/stevedore/api"
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/store"
)

// CapacityProviderARN is the ARN of a capacity provider (named by name or
// ARN), in ECS's form.
func (a *Actions) CapacityProviderARN(name string) string {
	return a.arnPrefix + "capacity-provider/" + lastSegment(name)
}

func (a *Actions) describeProvider(clusterName string, p cluster.CapacityProvider) api.CapacityProviderDescription {
	return api.CapacityProviderDescription{CapacityProvider: p, Cluster: clusterName, CapacityProviderArn: a.CapacityProviderARN(p.Name)}
}

// CreateCapacityProvider adds a capacity provider to a cluster, associated
// with it at once. Orchestrator.CreateCapacityProvider documents it.
func (a *Actions) CreateCapacityProvider(ctx context.Context, in api.CreateCapacityProviderInput) (*api.CreateCapacityProviderOutput, error) {
	if err := a.checkOpen(); err != nil {
		return nil, err
	}
	name := clusterName(in.Cluster)
	p := cluster.CapacityProvider{Name: in.Name, Kind: in.Kind, Status: cluster.CapacityProviderActive}
	if p.Kind == "" {
		p.Kind = cluster.OnDemand
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", api.ErrInvalid, err)
	}
	err := a.store.Update(ctx, func(tx store.Tx) error {
		c, err := a.getCluster(tx, name)
		if err != nil {
			return err
		}
		if slices.Contains(c.CapacityProviders, p.Name) {
			return fmt.Errorf("%w: capacity provider %q exists in cluster %q", api.ErrAlreadyExists, p.Name, name)
		}
		next := c.Copy()
		next.CapacityProviders = append(next.CapacityProviders, p.Name)
		next.Providers = append(next.Providers, p)
		return tx.Update(next)
	})
	if err != nil {
		return nil, err
	}
	return &api.CreateCapacityProviderOutput{CapacityProvider: a.describeProvider(name, p)}, nil
}

// PutClusterCapacityProviders sets a cluster's capacity providers and its
// default strategy. Orchestrator.PutClusterCapacityProviders documents it.
func (a *Actions) PutClusterCapacityProviders(ctx context.Context, in api.PutClusterCapacityProvidersInput) (*api.PutClusterCapacityProvidersOutput, error) {
	if err := a.checkOpen(); err != nil {
		return nil, err
	}
	name := clusterName(in.Cluster)
	err := a.store.Update(ctx, func(tx store.Tx) error {
		c, err := a.getCluster(tx, name)
		if err != nil {
			return err
		}
		next := c.Copy()
		next.CapacityProviders = slices.Clone(in.CapacityProviders)
		next.DefaultCapacityProviderStrategy = slices.Clone(in.DefaultCapacityProviderStrategy)
		next.Providers = nil
		for i, pname := range in.CapacityProviders {
			p := cluster.CapacityProvider{Name: pname, Kind: cluster.OnDemand, Status: cluster.CapacityProviderActive}
			if j := slices.IndexFunc(c.Providers, func(p cluster.CapacityProvider) bool { return p.Name == pname }); j >= 0 {
				p = c.Providers[j]
			} else if err := p.Validate(); err != nil {
				return invalid(fmt.Sprintf("capacityProviders[%d]", i), "%v", err)
			}
			next.Providers = append(next.Providers, p)
		}
		if err := next.Cluster.Validate(); err != nil {
			return fmt.Errorf("%w: %w", api.ErrInvalid, err)
		}
		for _, p := range c.Providers {
			if !slices.Contains(in.CapacityProviders, p.Name) {
				if err := providerInUse(tx, name, p.Name); err != nil {
					return err
				}
			}
		}
		return tx.Update(next)
	})
	if err != nil {
		return nil, err
	}
	described, err := a.describeCluster(ctx, name)
	if err != nil {
		return nil, err
	}
	return &api.PutClusterCapacityProvidersOutput{Cluster: described}, nil
}

// describeCluster is DescribeClusters of one cluster, after a change.
func (a *Actions) describeCluster(ctx context.Context, name string) (api.ClusterDescription, error) {
	out, err := a.DescribeClusters(ctx, api.DescribeClustersInput{Clusters: []string{name}})
	if err != nil {
		return api.ClusterDescription{}, err
	}
	if len(out.Clusters) == 0 {
		return api.ClusterDescription{}, notFound("cluster", name)
	}
	return out.Clusters[0], nil
}

// providerInUse fails with ErrInUse when a service's strategy or an
// instance of cluster names provider.
func providerInUse(tx store.ReadTx, clusterName, provider string) error {
	services, err := store.List[*state.Service](tx, state.KindServices)
	if err != nil {
		return err
	}
	for _, s := range services {
		if s.Cluster != clusterName || s.Status == service.StatusInactive {
			continue
		}
		if slices.ContainsFunc(s.CapacityProviders, func(i cluster.CapacityProviderStrategyItem) bool { return i.CapacityProvider == provider }) {
			return fmt.Errorf("%w: capacity provider %q is in use by service %s", api.ErrInUse, provider, s.Name)
		}
	}
	instances, err := store.List[*state.Instance](tx, state.KindInstances)
	if err != nil {
		return err
	}
	for _, inst := range instances {
		if inst.Cluster == clusterName && inst.Status != cluster.StatusInactive && inst.CapacityProvider == provider {
			return fmt.Errorf("%w: capacity provider %q is in use by container instance %s", api.ErrInUse, provider, inst.ID)
		}
	}
	return nil
}

// DescribeCapacityProviders describes capacity providers.
// Orchestrator.DescribeCapacityProviders documents it.
func (a *Actions) DescribeCapacityProviders(ctx context.Context, in api.DescribeCapacityProvidersInput) (*api.DescribeCapacityProvidersOutput, error) {
	if len(in.CapacityProviders) > api.MaxDescribeCapacityProviders {
		return nil, invalid("capacityProviders", "must name at most %d capacity providers, got %d", api.MaxDescribeCapacityProviders, len(in.CapacityProviders))
	}
	var found []api.CapacityProviderDescription
	err := a.store.View(ctx, func(tx store.ReadTx) error {
		found = nil
		var clusters []*state.Cluster
		if in.Cluster != "" {
			c, err := a.getCluster(tx, clusterName(in.Cluster))
			if err != nil {
				return err
			}
			clusters = []*state.Cluster{c}
		} else {
			all, err := store.List[*state.Cluster](tx, state.KindClusters)
			if err != nil {
				return err
			}
			for _, c := range all {
				if c.Status == cluster.ClusterActive {
					clusters = append(clusters, c)
				}
			}
		}
		for _, c := range clusters {
			for _, p := range c.Providers {
				found = append(found, a.describeProvider(c.Name, p))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(found, func(x, y api.CapacityProviderDescription) int {
		return cmp.Or(strings.Compare(x.Cluster, y.Cluster), strings.Compare(x.Name, y.Name))
	})
	out := &api.DescribeCapacityProvidersOutput{}
	if len(in.CapacityProviders) > 0 {
		for _, arg := range in.CapacityProviders {
			name, n := lastSegment(arg), len(out.CapacityProviders)
			for _, d := range found {
				if d.Name == name {
					out.CapacityProviders = append(out.CapacityProviders, d)
				}
			}
			if len(out.CapacityProviders) == n {
				out.Failures = append(out.Failures, missing(a.CapacityProviderARN(name)))
			}
		}
		return out, nil
	}
	keys := make([]string, len(found))
	for i, d := range found {
		keys[i] = d.Cluster + "/" + d.Name
	}
	page, next, err := paginate(keys, in.MaxResults, 10, in.NextToken)
	if err != nil {
		return nil, err
	}
	out.NextToken = next
	for _, d := range found {
		if slices.Contains(page, d.Cluster+"/"+d.Name) {
			out.CapacityProviders = append(out.CapacityProviders, d)
		}
	}
	return out, nil
}

// DeleteCapacityProvider removes a capacity provider from its cluster.
// Orchestrator.DeleteCapacityProvider documents it.
func (a *Actions) DeleteCapacityProvider(ctx context.Context, in api.DeleteCapacityProviderInput) (*api.DeleteCapacityProviderOutput, error) {
	if err := a.checkOpen(); err != nil {
		return nil, err
	}
	if in.CapacityProvider == "" {
		return nil, invalid("capacityProvider", "is required")
	}
	name, pname := clusterName(in.Cluster), lastSegment(in.CapacityProvider)
	var gone cluster.CapacityProvider
	err := a.store.Update(ctx, func(tx store.Tx) error {
		c, err := a.getCluster(tx, name)
		if err != nil {
			return err
		}
		j := slices.IndexFunc(c.Providers, func(p cluster.CapacityProvider) bool { return p.Name == pname })
		if j < 0 {
			return notFound("capacity provider", pname)
		}
		gone = c.Providers[j]
		if slices.ContainsFunc(c.DefaultCapacityProviderStrategy, func(i cluster.CapacityProviderStrategyItem) bool { return i.CapacityProvider == pname }) {
			return fmt.Errorf("%w: capacity provider %q is in cluster %q's default capacity provider strategy", api.ErrInUse, pname, name)
		}
		if err := providerInUse(tx, name, pname); err != nil {
			return err
		}
		next := c.Copy()
		next.Providers = slices.Delete(next.Providers, j, j+1)
		next.CapacityProviders = slices.DeleteFunc(next.CapacityProviders, func(n string) bool { return n == pname })
		return tx.Update(next)
	})
	if err != nil {
		return nil, err
	}
	gone.Status = cluster.CapacityProviderInactive
	return &api.DeleteCapacityProviderOutput{CapacityProvider: a.describeProvider(name, gone)}, nil
}
