package stevedore

import (
	"context"

	"github.com/stevedore-io/stevedore/api"
)

// RegisterContainerInstanceInput describes a host joining a cluster.
type RegisterContainerInstanceInput = api.RegisterContainerInstanceInput

// RegisterContainerInstanceOutput is the instance as registered, as ECS RegisterContainerInstance.
type RegisterContainerInstanceOutput = api.RegisterContainerInstanceOutput

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

// ListContainerInstancesInput filters and pages a cluster's instances, as ECS ListContainerInstances.
type ListContainerInstancesInput = api.ListContainerInstancesInput

// ListContainerInstancesOutput is api.ListContainerInstancesOutput.
type ListContainerInstancesOutput = api.ListContainerInstancesOutput

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

// ListContainerInstances lists the instances of a cluster.
func (o *Orchestrator) ListContainerInstances(ctx context.Context, in *ListContainerInstancesInput) (*ListContainerInstancesOutput, error) {
	return o.actions.ListContainerInstances(ctx, value(in))
}
