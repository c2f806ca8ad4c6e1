package actions

import (
	"context"
	"errors"
	"fmt"
	goruntime "runtime"
	"slices"
	"time"

	"github.com/stevedore-io/stevedore/api"
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/placement/query"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

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
	if _, ok := inst.Attribute(cluster.AttributeCPUArchitecture); !ok {
		inst.SetAttribute(cluster.AttributeCPUArchitecture, hostArchitecture())
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
			next.UpdatedAt = inst.RegisteredAt // registered anew
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
			if _, ok := next.Attribute(cluster.AttributeCPUArchitecture); !ok {
				next.SetAttribute(cluster.AttributeCPUArchitecture, hostArchitecture())
			}
			next.CapacityProvider = in.CapacityProvider
			next.TaskPolicy = inst.TaskPolicy.Clone()
			next.AgentConnected = inst.AgentConnected
			next.AgentVersion = inst.AgentVersion
			next.DateChange(&existing.ContainerInstance, inst.RegisteredAt)
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
		var err error
		out.Failures, err = a.eachInstance(tx, clusterName, in.ContainerInstances, func(inst *state.Instance) error {
			next := inst.Copy()
			if next.Status != in.Status {
				next.Status = in.Status
				next.StatusReason = ""
				next.DateChange(&inst.ContainerInstance, a.now())
				if err := tx.Update(next); err != nil {
					return err
				}
			}
			out.ContainerInstances = append(out.ContainerInstances, next.Clone())
			return nil
		})
		return err
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
			var err error
			out.Failures, err = a.eachInstance(tx, clusterName, in.ContainerInstances, func(inst *state.Instance) error {
				out.ContainerInstances = append(out.ContainerInstances, inst.Clone())
				return nil
			})
			return err
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

// eachInstance calls fn with each instance of clusterName that refs name
// (by ID or ARN), in order, and returns a MISSING failure for each that
// names none, as ECS's calls on several instances do.
func (a *Actions) eachInstance(tx store.ReadTx, clusterName string, refs []string, fn func(*state.Instance) error) ([]api.Failure, error) {
	var failures []api.Failure
	for _, arg := range refs {
		id := lastSegment(arg)
		inst, err := a.getInstance(tx, clusterName, id)
		if errors.Is(err, api.ErrNotFound) {
			failures = append(failures, missing(a.ContainerInstanceARN(clusterName, id)))
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := fn(inst); err != nil {
			return nil, err
		}
	}
	return failures, nil
}

func (a *Actions) getInstance(tx store.ReadTx, clusterName, id string) (*state.Instance, error) {
	inst, err := store.Get[*state.Instance](tx, state.KindInstances, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && inst.Cluster != clusterName) {
		return nil, notFound("container instance", clusterName+"/"+id)
	}
	return inst, err
}

// ListContainerInstances lists the instances of a cluster.
func (a *Actions) ListContainerInstances(ctx context.Context, in api.ListContainerInstancesInput) (*api.ListContainerInstancesOutput, error) {
	clusterName := clusterName(in.Cluster)
	var filter *query.Expr
	if in.Filter != "" {
		var err error
		if filter, err = query.Parse(in.Filter); err != nil {
			return nil, invalid("filter", "%v", err)
		}
	}
	var ids []string
	err := a.store.View(ctx, func(tx store.ReadTx) error {
		ids = nil
		if _, err := a.getCluster(tx, clusterName); err != nil {
			return err
		}
		all, err := store.List[*state.Instance](tx, state.KindInstances)
		if err != nil {
			return err
		}
		for _, inst := range all {
			switch {
			case inst.Cluster != clusterName,
				in.Status == "" && inst.Status == cluster.StatusInactive,
				in.Status != "" && inst.Status != in.Status,
				filter != nil && !filter.Eval(instanceTarget{&inst.ContainerInstance}):
				continue
			}
			ids = append(ids, inst.ID)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	page, next, err := paginate(ids, in.MaxResults, 100, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &api.ListContainerInstancesOutput{NextToken: next}
	for _, id := range page {
		out.ContainerInstanceArns = append(out.ContainerInstanceArns, a.ContainerInstanceARN(clusterName, id))
	}
	return out, nil
}

// instanceTarget is a container instance as the cluster query language
// sees it.
type instanceTarget struct{ *cluster.ContainerInstance }

var _ query.Target = instanceTarget{}

func (t instanceTarget) InstanceID() string { return t.ID }

func (t instanceTarget) Attribute(name string) (string, bool) {
	return t.ContainerInstance.Attribute(name)
}

func (t instanceTarget) RegisteredAt() time.Time { return t.ContainerInstance.RegisteredAt }

func (t instanceTarget) RunningTasksCount() int { return t.ContainerInstance.RunningTasksCount }

func (t instanceTarget) AgentConnected() bool { return t.ContainerInstance.AgentConnected }

func (t instanceTarget) AgentVersion() string { return t.ContainerInstance.AgentVersion }

func (t instanceTarget) HasTaskGroup(match func(string) bool) bool {
	for g, n := range t.TaskGroups {
		if n > 0 && match(g) {
			return true
		}
	}
	return false
}

// hostArchitecture is the ecs.cpu-architecture an instance registers with
// when it names none: this host's, in ECS's words (x86_64, arm64), as the
// agents of this process run on it.
func hostArchitecture() string {
	switch goruntime.GOARCH {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "arm64"
	}
	return goruntime.GOARCH
}
