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
	"github.com/stevedore-io/stevedore/task"
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
	described, err := a.DescribeClusters(ctx, api.DescribeClustersInput{Clusters: []string{name}})
	if err != nil {
		return nil, err
	}
	if len(described.Clusters) == 0 {
		return nil, notFound("cluster", name)
	}
	return &api.DeleteClusterOutput{Cluster: described.Clusters[0]}, nil
}

func (a *Actions) getCluster(tx store.ReadTx, name string) (*state.Cluster, error) {
	c, err := store.Get[*state.Cluster](tx, state.KindClusters, name)
	if errors.Is(err, store.ErrNotFound) || (err == nil && c.Status != cluster.ClusterActive) {
		return nil, notFound("cluster", name)
	}
	return c, err
}

// RegisterContainerInstance adds a container instance to a cluster and
// starts its agent. Orchestrator.RegisterContainerInstance documents it.
func (a *Actions) RegisterContainerInstance(ctx context.Context, in api.RegisterContainerInstanceInput) (*api.RegisterContainerInstanceOutput, error) {
	if err := a.checkOpen(); err != nil {
		return nil, err
	}
	in.Cluster = clusterName(in.Cluster)
	if (in.Runtime == nil) != (in.Network == nil) {
		return nil, invalid("runtime", "Runtime and Network must be given together")
	}
	id := in.InstanceID
	if id == "" {
		id = "i-" + a.launcher.NewID(17)
	}
	inst, err := cluster.NewContainerInstance(id, in.Resources, a.now())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", api.ErrInvalid, err)
	}
	if err := validTaskPolicy("taskPolicy", in.TaskPolicy); err != nil {
		return nil, err
	}
	inst.Cluster = in.Cluster
	inst.CapacityProvider = in.CapacityProvider
	inst.TaskPolicy = in.TaskPolicy.Clone()
	inst.AgentConnected = in.Runtime != nil
	inst.AgentVersion = api.AgentVersion
	for k, v := range in.Attributes {
		inst.SetAttribute(k, v)
	}
	if _, ok := inst.Attribute(cluster.AttributeOSType); !ok {
		inst.SetAttribute(cluster.AttributeOSType, "linux")
	}
	if err := inst.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", api.ErrInvalid, err)
	}
	err = a.store.Update(ctx, func(tx store.Tx) error {
		c, err := a.getCluster(tx, in.Cluster)
		if errors.Is(err, api.ErrNotFound) && in.Cluster == api.DefaultCluster {
			// As in ECS, the first instance to join the default cluster
			// creates it.
			if _, err := a.putCluster(tx, cluster.Cluster{Name: api.DefaultCluster, Status: cluster.ClusterActive}, api.CreateClusterInput{}); err != nil {
				return err
			}
			c, err = a.getCluster(tx, in.Cluster)
		}
		if err != nil {
			return err
		}
		if in.CapacityProvider != "" && !slices.Contains(c.CapacityProviders, in.CapacityProvider) {
			return invalid("capacityProvider", "%q is not associated with cluster %q", in.CapacityProvider, in.Cluster)
		}
		existing, err := store.Get[*state.Instance](tx, state.KindInstances, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return tx.Create(&state.Instance{ContainerInstance: inst.Clone()})
		case err != nil:
			return err
		case existing.Cluster != in.Cluster:
			return fmt.Errorf("%w: container instance %q is registered in cluster %q", api.ErrAlreadyExists, id, existing.Cluster)
		case existing.Status == cluster.StatusInactive:
			// A deregistered instance comes back as new.
			next := &state.Instance{Meta: existing.Meta, ContainerInstance: inst.Clone()}
			return tx.Update(next)
		default:
			// The same host registering again (for example after the
			// orchestrator restarted): keep its tasks and what they
			// reserved, take the new attributes, and let its agent adopt
			// what runs there.
			if existing.Registered.CPU != inst.Registered.CPU || existing.Registered.Memory != inst.Registered.Memory ||
				existing.Registered.NetworkSlots != inst.Registered.NetworkSlots {
				return invalid("resources", "instance %s is registered with other resources; deregister it first", id)
			}
			next := existing.Copy()
			for k, v := range in.Attributes {
				next.SetAttribute(k, v)
			}
			next.CapacityProvider = in.CapacityProvider
			next.TaskPolicy = inst.TaskPolicy.Clone()
			next.AgentConnected = inst.AgentConnected
			next.AgentVersion = inst.AgentVersion
			inst = next.Clone()
			return tx.Update(next)
		}
	})
	if err != nil {
		return nil, err
	}
	if in.Runtime != nil {
		if err := a.startAgent(in.Cluster, id, in); err != nil {
			return nil, err
		}
	}
	return &api.RegisterContainerInstanceOutput{ContainerInstance: inst}, nil
}

// DeregisterContainerInstance removes an instance from its cluster. Without
// Force it fails with ErrInUse while tasks still run there.
func (a *Actions) DeregisterContainerInstance(ctx context.Context, in api.DeregisterContainerInstanceInput) (*api.DeregisterContainerInstanceOutput, error) {
	if in.ContainerInstance == "" {
		return nil, invalid("containerInstance", "is required")
	}
	clusterName, id := clusterName(in.Cluster), lastSegment(in.ContainerInstance)
	if err := a.deregister(ctx, clusterName, id, in.Force, task.TerminationNotice, "Container instance deregistered", "deregistered"); err != nil {
		return nil, err
	}
	var out cluster.ContainerInstance
	err := a.store.View(ctx, func(tx store.ReadTx) error {
		inst, err := a.getInstance(tx, clusterName, id)
		if err != nil {
			return err
		}
		out = inst.Clone()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &api.DeregisterContainerInstanceOutput{ContainerInstance: out}, nil
}

// deregister makes an instance INACTIVE for instReason; with force, the
// tasks still there stop with code and reason (otherwise they make it fail
// with ErrInUse).
func (a *Actions) deregister(ctx context.Context, clusterArg, id string, force bool, code task.StopCode, reason, instReason string) error {
	clusterName := clusterName(clusterArg)
	err := a.store.Update(ctx, func(tx store.Tx) error {
		inst, err := a.getInstance(tx, clusterName, id)
		if err != nil {
			return err
		}
		tasks, err := state.TasksOn(tx, id)
		if err != nil {
			return err
		}
		if len(tasks) > 0 && !force {
			return fmt.Errorf("%w: container instance %s has %d tasks; drain it or force", api.ErrInUse, id, len(tasks))
		}
		return state.Deregister(tx, inst, tasks, code, reason, instReason, a.now())
	})
	return err
}

// UpdateContainerInstancesState sets instances ACTIVE or DRAINING.
// Orchestrator.UpdateContainerInstancesState documents it.
func (a *Actions) UpdateContainerInstancesState(ctx context.Context, in api.UpdateContainerInstancesStateInput) (*api.UpdateContainerInstancesStateOutput, error) {
	clusterName := clusterName(in.Cluster)
	if in.Status != cluster.StatusActive && in.Status != cluster.StatusDraining {
		return nil, invalid("status", "must be ACTIVE or DRAINING, got %q", in.Status)
	}
	if len(in.ContainerInstances) == 0 || len(in.ContainerInstances) > api.MaxDescribeContainerInstances {
		return nil, invalid("containerInstances", "must name 1 to %d instances, got %d", api.MaxDescribeContainerInstances, len(in.ContainerInstances))
	}
	out := &api.UpdateContainerInstancesStateOutput{}
	err := a.store.Update(ctx, func(tx store.Tx) error {
		out.ContainerInstances, out.Failures = nil, nil
		if _, err := a.getCluster(tx, clusterName); err != nil {
			return err
		}
		for _, arg := range in.ContainerInstances {
			id := lastSegment(arg)
			inst, err := a.getInstance(tx, clusterName, id)
			if errors.Is(err, api.ErrNotFound) {
				out.Failures = append(out.Failures, missing(a.ContainerInstanceARN(clusterName, id)))
				continue
			}
			if err != nil {
				return err
			}
			next := inst.Copy()
			if next.Status != in.Status {
				next.Status = in.Status
				next.StatusReason = ""
				if err := tx.Update(next); err != nil {
					return err
				}
			}
			out.ContainerInstances = append(out.ContainerInstances, next.Clone())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DescribeContainerInstances describes instances of a cluster.
// Orchestrator.DescribeContainerInstances documents it.
func (a *Actions) DescribeContainerInstances(ctx context.Context, in api.DescribeContainerInstancesInput) (*api.DescribeContainerInstancesOutput, error) {
	clusterName := clusterName(in.Cluster)
	if len(in.ContainerInstances) > api.MaxDescribeContainerInstances {
		return nil, invalid("containerInstances", "must name at most %d instances, got %d", api.MaxDescribeContainerInstances, len(in.ContainerInstances))
	}
	out := &api.DescribeContainerInstancesOutput{}
	err := a.store.View(ctx, func(tx store.ReadTx) error {
		out.ContainerInstances, out.Failures = nil, nil
		if _, err := a.getCluster(tx, clusterName); err != nil {
			return err
		}
		if len(in.ContainerInstances) > 0 {
			for _, arg := range in.ContainerInstances {
				id := lastSegment(arg)
				inst, err := a.getInstance(tx, clusterName, id)
				if errors.Is(err, api.ErrNotFound) {
					out.Failures = append(out.Failures, missing(a.ContainerInstanceARN(clusterName, id)))
					continue
				}
				if err != nil {
					return err
				}
				out.ContainerInstances = append(out.ContainerInstances, inst.Clone())
			}
			return nil
		}
		all, err := store.List[*state.Instance](tx, state.KindInstances)
		if err != nil {
			return err
		}
		for _, inst := range all {
			if inst.Cluster == clusterName && inst.Status != cluster.StatusInactive {
				out.ContainerInstances = append(out.ContainerInstances, inst.Clone())
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (a *Actions) getInstance(tx store.ReadTx, clusterName, id string) (*state.Instance, error) {
	inst, err := store.Get[*state.Instance](tx, state.KindInstances, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && inst.Cluster != clusterName) {
		return nil, notFound("container instance", clusterName+"/"+id)
	}
	return inst, err
}
