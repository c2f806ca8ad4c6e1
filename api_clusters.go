package stevedore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
	"github.com/stevedore-io/stevedore/task/policy"
)

// DefaultCluster is the cluster of the calls that name none, as in ECS.
// CreateCluster without a name creates it, and so does the first
// RegisterContainerInstance into it; other calls find it or fail with
// ErrNotFound.
const DefaultCluster = "default"

// clusterName is the cluster a request names, by name or ARN:
// DefaultCluster when it names none.
func clusterName(s string) string {
	if s == "" {
		return DefaultCluster
	}
	if strings.HasPrefix(s, "arn:") {
		if i := strings.LastIndex(s, ":cluster/"); i >= 0 {
			return s[i+len(":cluster/"):]
		}
	}
	return s
}

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

// CreateCluster creates a cluster. Creating an existing ACTIVE cluster
// returns it unchanged, as ECS does.
func (o *Orchestrator) CreateCluster(ctx context.Context, in CreateClusterInput) (*cluster.Cluster, error) {
	if err := o.checkOpen(); err != nil {
		return nil, err
	}
	in.ClusterName = clusterName(in.ClusterName)
	c := cluster.Cluster{Name: in.ClusterName, Status: cluster.ClusterActive, DefaultCapacityProviderStrategy: slices.Clone(in.DefaultCapacityProviderStrategy)}
	for _, cp := range in.CapacityProviders {
		c.CapacityProviders = append(c.CapacityProviders, cp.Name)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
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
	err := o.store.Update(ctx, func(tx store.Tx) error {
		var err error
		out, err = o.putCluster(tx, c, in)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// putCluster creates cluster c of request in, or returns it as it is when
// it exists and is ACTIVE.
func (o *Orchestrator) putCluster(tx store.Tx, c cluster.Cluster, in CreateClusterInput) (cluster.Cluster, error) {
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
		next.CreatedAt = o.now()
		next.Tags = slices.Clone(in.Tags)
		return c, tx.Update(next)
	case errors.Is(err, store.ErrNotFound):
		return c, tx.Create(&state.Cluster{Cluster: c, Providers: slices.Clone(in.CapacityProviders), TaskPolicy: in.TaskPolicy.Clone(),
			CreatedAt: o.now(), Tags: slices.Clone(in.Tags)})
	default:
		return cluster.Cluster{}, err
	}
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

// DescribeClusters describes clusters with their counters. A cluster that
// does not exist is reported in Failures; the others are still described.
func (o *Orchestrator) DescribeClusters(ctx context.Context, in DescribeClustersInput) (*DescribeClustersOutput, error) {
	names := in.Clusters
	if len(names) == 0 {
		names = []string{DefaultCluster}
	}
	if len(names) > MaxDescribeClusters {
		return nil, invalid("clusters", "must name at most %d clusters, got %d", MaxDescribeClusters, len(names))
	}
	out := &DescribeClustersOutput{}
	err := o.store.View(ctx, func(tx store.ReadTx) error {
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
				out.Failures = append(out.Failures, missing(o.ClusterARN(name)))
				continue
			}
			if err != nil {
				return err
			}
			d := ClusterDescription{Cluster: c.Clone(), TaskPolicy: o.taskPolicyOf(c), CapacityProviderDetails: slices.Clone(c.Providers), Tags: slices.Clone(c.Tags)}
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

// ListClusters lists the ARNs of the ACTIVE clusters.
func (o *Orchestrator) ListClusters(ctx context.Context, in ListClustersInput) (*ListClustersOutput, error) {
	var names []string
	err := o.store.View(ctx, func(tx store.ReadTx) error {
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
	out := &ListClustersOutput{NextToken: next}
	for _, n := range page {
		out.ClusterArns = append(out.ClusterArns, o.ClusterARN(n))
	}
	return out, nil
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

// DeleteCluster marks a cluster INACTIVE. It fails with ErrInUse while
// container instances are registered or services are active in it.
func (o *Orchestrator) DeleteCluster(ctx context.Context, in DeleteClusterInput) (*DeleteClusterOutput, error) {
	name := clusterName(in.Cluster)
	err := o.store.Update(ctx, func(tx store.Tx) error {
		c, err := o.getCluster(tx, name)
		if err != nil {
			return err
		}
		instances, err := store.List[*state.Instance](tx, state.KindInstances)
		if err != nil {
			return err
		}
		for _, inst := range instances {
			if inst.Cluster == name && inst.Status != cluster.StatusInactive {
				return fmt.Errorf("%w: cluster %q still has container instance %s", ErrInUse, name, inst.ID)
			}
		}
		services, err := store.List[*state.Service](tx, state.KindServices)
		if err != nil {
			return err
		}
		for _, s := range services {
			if s.Cluster == name && s.Status != "INACTIVE" {
				return fmt.Errorf("%w: cluster %q still has service %s", ErrInUse, name, s.Name)
			}
		}
		next := c.Copy()
		next.Status = cluster.ClusterInactive
		return tx.Update(next)
	})
	if err != nil {
		return nil, err
	}
	described, err := o.DescribeClusters(ctx, DescribeClustersInput{Clusters: []string{name}})
	if err != nil {
		return nil, err
	}
	if len(described.Clusters) == 0 {
		return nil, notFound("cluster", name)
	}
	return &DeleteClusterOutput{Cluster: described.Clusters[0]}, nil
}

func (o *Orchestrator) getCluster(tx store.ReadTx, name string) (*state.Cluster, error) {
	c, err := store.Get[*state.Cluster](tx, state.KindClusters, name)
	if errors.Is(err, store.ErrNotFound) || (err == nil && c.Status != cluster.ClusterActive) {
		return nil, notFound("cluster", name)
	}
	return c, err
}

// RegisterInstanceInput describes a host joining a cluster.
type RegisterInstanceInput struct {
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
	Secrets SecretResolver
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
	ImageCleanup ImageCleanup
	// VerifyImageAccess makes the agent check, before a container uses an
	// image already on the host, that the container's own credentials could
	// pull it (see agent.Config.VerifyImageAccess).
	VerifyImageAccess bool
}

// RegisterContainerInstance adds a container instance to a cluster and
// starts its agent. Registering an instance that is already registered in
// the same cluster with the same resources (the same host coming back, for
// example after the orchestrator restarted on a durable store) keeps its
// tasks: its new agent adopts the containers that still run.
func (o *Orchestrator) RegisterContainerInstance(ctx context.Context, in RegisterInstanceInput) (*cluster.ContainerInstance, error) {
	if err := o.checkOpen(); err != nil {
		return nil, err
	}
	in.Cluster = clusterName(in.Cluster)
	if (in.Runtime == nil) != (in.Network == nil) {
		return nil, invalid("runtime", "Runtime and Network must be given together")
	}
	id := in.InstanceID
	if id == "" {
		id = "i-" + o.launcher.NewID(17)
	}
	inst, err := cluster.NewContainerInstance(id, in.Resources, o.now())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := validTaskPolicy("taskPolicy", in.TaskPolicy); err != nil {
		return nil, err
	}
	inst.Cluster = in.Cluster
	inst.CapacityProvider = in.CapacityProvider
	inst.TaskPolicy = in.TaskPolicy.Clone()
	inst.AgentConnected = in.Runtime != nil
	inst.AgentVersion = AgentVersion
	for k, v := range in.Attributes {
		inst.SetAttribute(k, v)
	}
	if _, ok := inst.Attribute(cluster.AttributeOSType); !ok {
		inst.SetAttribute(cluster.AttributeOSType, "linux")
	}
	if err := inst.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	err = o.store.Update(ctx, func(tx store.Tx) error {
		c, err := o.getCluster(tx, in.Cluster)
		if errors.Is(err, ErrNotFound) && in.Cluster == DefaultCluster {
			// As in ECS, the first instance to join the default cluster
			// creates it.
			if _, err := o.putCluster(tx, cluster.Cluster{Name: DefaultCluster, Status: cluster.ClusterActive}, CreateClusterInput{}); err != nil {
				return err
			}
			c, err = o.getCluster(tx, in.Cluster)
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
			return fmt.Errorf("%w: container instance %q is registered in cluster %q", ErrAlreadyExists, id, existing.Cluster)
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
		if err := o.startAgent(in.Cluster, id, in); err != nil {
			return nil, err
		}
	}
	return &inst, nil
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

// DeregisterContainerInstance removes an instance from its cluster. Without
// Force it fails with ErrInUse while tasks still run there.
func (o *Orchestrator) DeregisterContainerInstance(ctx context.Context, in DeregisterContainerInstanceInput) (*DeregisterContainerInstanceOutput, error) {
	clusterName, id := clusterName(in.Cluster), lastSegment(in.ContainerInstance)
	if err := o.deregister(ctx, clusterName, id, in.Force, task.TerminationNotice, "Container instance deregistered", "deregistered"); err != nil {
		return nil, err
	}
	var out cluster.ContainerInstance
	err := o.store.View(ctx, func(tx store.ReadTx) error {
		inst, err := o.getInstance(tx, clusterName, id)
		if err != nil {
			return err
		}
		out = inst.Clone()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &DeregisterContainerInstanceOutput{ContainerInstance: out}, nil
}

// deregister makes an instance INACTIVE for instReason; with force, the
// tasks still there stop with code and reason (otherwise they make it fail
// with ErrInUse).
func (o *Orchestrator) deregister(ctx context.Context, clusterArg, id string, force bool, code task.StopCode, reason, instReason string) error {
	clusterName := clusterName(clusterArg)
	err := o.store.Update(ctx, func(tx store.Tx) error {
		inst, err := o.getInstance(tx, clusterName, id)
		if err != nil {
			return err
		}
		tasks, err := state.TasksOn(tx, id)
		if err != nil {
			return err
		}
		if len(tasks) > 0 && !force {
			return fmt.Errorf("%w: container instance %s has %d tasks; drain it or force", ErrInUse, id, len(tasks))
		}
		return state.Deregister(tx, inst, tasks, code, reason, instReason, o.now())
	})
	return err
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

// UpdateContainerInstancesState sets instances ACTIVE or DRAINING. A
// DRAINING instance receives no new tasks, and the services replace the
// tasks running there within their minimum healthy bound.
func (o *Orchestrator) UpdateContainerInstancesState(ctx context.Context, in UpdateContainerInstancesStateInput) (*UpdateContainerInstancesStateOutput, error) {
	clusterName := clusterName(in.Cluster)
	if in.Status != cluster.StatusActive && in.Status != cluster.StatusDraining {
		return nil, invalid("status", "must be ACTIVE or DRAINING, got %q", in.Status)
	}
	if len(in.ContainerInstances) == 0 || len(in.ContainerInstances) > MaxDescribeContainerInstances {
		return nil, invalid("containerInstances", "must name 1 to %d instances, got %d", MaxDescribeContainerInstances, len(in.ContainerInstances))
	}
	out := &UpdateContainerInstancesStateOutput{}
	err := o.store.Update(ctx, func(tx store.Tx) error {
		out.ContainerInstances, out.Failures = nil, nil
		if _, err := o.getCluster(tx, clusterName); err != nil {
			return err
		}
		for _, arg := range in.ContainerInstances {
			id := lastSegment(arg)
			inst, err := o.getInstance(tx, clusterName, id)
			if errors.Is(err, ErrNotFound) {
				out.Failures = append(out.Failures, missing(o.ContainerInstanceARN(clusterName, id)))
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

// DescribeContainerInstances describes instances of a cluster. It fails
// with ErrNotFound when the cluster does not exist; an instance that does
// not is reported in Failures.
func (o *Orchestrator) DescribeContainerInstances(ctx context.Context, in DescribeContainerInstancesInput) (*DescribeContainerInstancesOutput, error) {
	clusterName := clusterName(in.Cluster)
	if len(in.ContainerInstances) > MaxDescribeContainerInstances {
		return nil, invalid("containerInstances", "must name at most %d instances, got %d", MaxDescribeContainerInstances, len(in.ContainerInstances))
	}
	out := &DescribeContainerInstancesOutput{}
	err := o.store.View(ctx, func(tx store.ReadTx) error {
		out.ContainerInstances, out.Failures = nil, nil
		if _, err := o.getCluster(tx, clusterName); err != nil {
			return err
		}
		if len(in.ContainerInstances) > 0 {
			for _, arg := range in.ContainerInstances {
				id := lastSegment(arg)
				inst, err := o.getInstance(tx, clusterName, id)
				if errors.Is(err, ErrNotFound) {
					out.Failures = append(out.Failures, missing(o.ContainerInstanceARN(clusterName, id)))
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

func (o *Orchestrator) getInstance(tx store.ReadTx, clusterName, id string) (*state.Instance, error) {
	inst, err := store.Get[*state.Instance](tx, state.KindInstances, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && inst.Cluster != clusterName) {
		return nil, notFound("container instance", clusterName+"/"+id)
	}
	return inst, err
}
