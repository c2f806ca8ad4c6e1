package stevedore

import (
	"context"

	"github.com/stevedore-io/stevedore/api"
)

// DefaultServicePlacement is api.DefaultServicePlacement.
var DefaultServicePlacement = api.DefaultServicePlacement

// CreateServiceInput describes a new service, as ECS CreateService.
type CreateServiceInput = api.CreateServiceInput

// CreateServiceOutput is the service created, as ECS CreateService.
type CreateServiceOutput = api.CreateServiceOutput

// UpdateServiceInput changes a service, as ECS UpdateService.
type UpdateServiceInput = api.UpdateServiceInput

// UpdateServiceOutput is the service as updated, as ECS UpdateService.
type UpdateServiceOutput = api.UpdateServiceOutput

// ErrServiceNotActive is api.ErrServiceNotActive.
var ErrServiceNotActive = api.ErrServiceNotActive

// DeleteServiceInput names a service to delete, as ECS DeleteService.
type DeleteServiceInput = api.DeleteServiceInput

// DeleteServiceOutput is the service as it is once deleted (DRAINING).
type DeleteServiceOutput = api.DeleteServiceOutput

// DescribeServicesInput names services of a cluster, as ECS DescribeServices.
type DescribeServicesInput = api.DescribeServicesInput

// DescribeServicesOutput is api.DescribeServicesOutput.
type DescribeServicesOutput = api.DescribeServicesOutput

// MaxDescribeServices is the most services one DescribeServices names.
const MaxDescribeServices = api.MaxDescribeServices

// ListServicesInput pages through a cluster's services, as ECS ListServices.
type ListServicesInput = api.ListServicesInput

// ListServicesOutput is a page of service ARNs, sorted by name; NextToken is empty on the last page.
type ListServicesOutput = api.ListServicesOutput

// CreateService creates a service and its first deployment; the service
// controller then starts its tasks.
func (o *Orchestrator) CreateService(ctx context.Context, in *CreateServiceInput) (*CreateServiceOutput, error) {
	return o.actions.CreateService(ctx, value(in))
}

// UpdateService changes a service. A new task definition, new security
// groups (or ForceNewDeployment) start a rolling deployment. An invalid request is
// rejected as a whole and changes nothing; a service that is not ACTIVE
// is refused with ErrServiceNotActive.
func (o *Orchestrator) UpdateService(ctx context.Context, in *UpdateServiceInput) (*UpdateServiceOutput, error) {
	return o.actions.UpdateService(ctx, value(in))
}

// DeleteService deletes a service. Without Force its desired count must be
// 0 (scale it in first); with Force its tasks are stopped. The service is
// DRAINING until its tasks have stopped, then INACTIVE.
func (o *Orchestrator) DeleteService(ctx context.Context, in *DeleteServiceInput) (*DeleteServiceOutput, error) {
	return o.actions.DeleteService(ctx, value(in))
}

// DescribeServices describes services of a cluster, INACTIVE ones
// included while they are kept. It fails with ErrNotFound when the cluster
// does not exist; a service that does not is reported in Failures.
func (o *Orchestrator) DescribeServices(ctx context.Context, in *DescribeServicesInput) (*DescribeServicesOutput, error) {
	return o.actions.DescribeServices(ctx, value(in))
}

// ListServices lists the ARNs of a cluster's services that are not
// INACTIVE.
func (o *Orchestrator) ListServices(ctx context.Context, in *ListServicesInput) (*ListServicesOutput, error) {
	return o.actions.ListServices(ctx, value(in))
}
