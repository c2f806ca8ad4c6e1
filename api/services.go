package api

import (
	"errors"
	"time"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/placement"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/task"
)

// DefaultServicePlacement is the placement strategy of services that name
// none: balanced across availability zones, then across instances. An
// Orchestrator's WithDefaultPlacementStrategy replaces it.
var DefaultServicePlacement = []placement.StrategySpec{
	placement.Spread("attribute:" + cluster.AttributeAvailabilityZone),
	placement.Spread("instanceId"),
}

// CreateServiceInput describes a new service, as ECS CreateService.
type CreateServiceInput struct {
	Cluster        string
	ServiceName    string
	TaskDefinition string
	DesiredCount   int
	// SchedulingStrategy defaults to REPLICA.
	SchedulingStrategy      service.SchedulingStrategy
	DeploymentConfiguration service.DeploymentConfiguration
	PlacementConstraints    []placement.Constraint
	// PlacementStrategy defaults to DefaultServicePlacement, or to the
	// Orchestrator's WithDefaultPlacementStrategy. Its types are the
	// built-in ones or those registered on the placement scheduler.
	PlacementStrategy        []placement.StrategySpec
	CapacityProviderStrategy cluster.CapacityProviderStrategy
	HealthCheckGracePeriod   time.Duration
	LoadBalancers            []service.LoadBalancer
	// NetworkConfiguration puts the service's tasks in security groups
	// (awsvpc task definitions only).
	NetworkConfiguration *task.NetworkConfiguration
	// Tags are the service's tags (see TagResource).
	Tags []Tag
	// AvailabilityZoneRebalancing is ENABLED or DISABLED, as ECS's
	// availabilityZoneRebalancing; empty means ENABLED for a REPLICA
	// service, as in ECS, and DISABLED for a DAEMON one (which never
	// rebalances).
	AvailabilityZoneRebalancing service.AZRebalancing
}

// CreateServiceOutput is the service created, as ECS CreateService.
type CreateServiceOutput struct {
	Service service.Service
}

// UpdateServiceInput changes a service, as ECS UpdateService. Nil fields are
// left as they are.
type UpdateServiceInput struct {
	Cluster        string
	Service        string
	TaskDefinition *string
	DesiredCount   *int
	// ForceNewDeployment starts a new deployment even when the task
	// definition does not change (to pick up a new image of the same tag).
	ForceNewDeployment      bool
	DeploymentConfiguration *service.DeploymentConfiguration
	PlacementConstraints    *[]placement.Constraint
	// PlacementStrategy replaces the service's; an empty list sets the
	// default (as CreateService does when it names none).
	PlacementStrategy      *[]placement.StrategySpec
	HealthCheckGracePeriod *time.Duration
	// NetworkConfiguration replaces the service's; one without security
	// groups takes its tasks out of every group. A change starts a new
	// deployment.
	NetworkConfiguration *task.NetworkConfiguration
	// AvailabilityZoneRebalancing turns availability-zone rebalancing on
	// (ENABLED) or off (DISABLED). It starts no deployment.
	AvailabilityZoneRebalancing *service.AZRebalancing
}

// UpdateServiceOutput is the service as updated, as ECS UpdateService.
type UpdateServiceOutput struct {
	Service service.Service
}

// ErrServiceNotActive means a service is being deleted (DRAINING) or was
// (INACTIVE), so it cannot change, as ECS's ServiceNotActiveException.
var ErrServiceNotActive = errors.New("stevedore: service not active")

// DeleteServiceInput names a service to delete, as ECS DeleteService.
type DeleteServiceInput struct {
	// Cluster is a name or ARN; empty means DefaultCluster.
	Cluster string
	// Service is the service's name or ARN.
	Service string
	// Force deletes a REPLICA service that still has a desired count
	// (its tasks are stopped).
	Force bool
}

// DeleteServiceOutput is the service as it is once deleted (DRAINING).
type DeleteServiceOutput struct {
	Service service.Service
}

// DescribeServicesInput names services of a cluster, as ECS
// DescribeServices.
type DescribeServicesInput struct {
	// Cluster is a name or ARN; empty means DefaultCluster.
	Cluster string
	// Services are up to MaxDescribeServices names or ARNs. None means
	// every service of the cluster (an extension: ECS requires at least
	// one; ListServices is the ECS way to find them).
	Services []string
}

// DescribeServicesOutput is the services found, and a Failure (reason
// "MISSING") for each one that does not exist.
type DescribeServicesOutput struct {
	Services []service.Service
	Failures []Failure
}

// MaxDescribeServices is the most services one DescribeServices names.
const MaxDescribeServices = 10

// ListServicesInput pages through a cluster's services, as ECS
// ListServices.
type ListServicesInput struct {
	// Cluster is a name or ARN; empty means DefaultCluster.
	Cluster string
	// SchedulingStrategy keeps the services of one strategy when set.
	SchedulingStrategy service.SchedulingStrategy
	// MaxResults is 1 to 100 (0 means 10, as ECS).
	MaxResults int
	// NextToken continues a previous call's listing.
	NextToken string
}

// ListServicesOutput is a page of service ARNs, sorted by name; NextToken
// is empty on the last page.
type ListServicesOutput struct {
	ServiceArns []string
	NextToken   string
}
