package stevedore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/launch"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/placement"
	"github.com/stevedore-io/stevedore/placement/query"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
	"github.com/stevedore-io/stevedore/task/policy"
)

// DefaultServicePlacement is the placement strategy of services that name
// none: balanced across availability zones, then across instances.
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
	SchedulingStrategy       service.SchedulingStrategy
	DeploymentConfiguration  service.DeploymentConfiguration
	PlacementConstraints     []placement.Constraint
	PlacementStrategy        []placement.StrategySpec
	CapacityProviderStrategy cluster.CapacityProviderStrategy
	HealthCheckGracePeriod   time.Duration
	LoadBalancers            []service.LoadBalancer
	// NetworkConfiguration puts the service's tasks in security groups
	// (awsvpc task definitions only).
	NetworkConfiguration *task.NetworkConfiguration
	// Tags are the service's tags (see TagResource).
	Tags []Tag
}

// CreateService creates a service and its first deployment; the service
// controller then starts its tasks.
func (o *Orchestrator) CreateService(ctx context.Context, in CreateServiceInput) (*service.Service, error) {
	if err := o.checkOpen(); err != nil {
		return nil, err
	}
	in.Cluster = clusterName(in.Cluster)
	strategy := in.SchedulingStrategy
	if strategy == "" {
		strategy = service.Replica
	}
	svc := service.Service{
		Name:                    in.ServiceName,
		Cluster:                 in.Cluster,
		Status:                  service.StatusActive,
		SchedulingStrategy:      strategy,
		DesiredCount:            in.DesiredCount,
		DeploymentConfiguration: in.DeploymentConfiguration,
		PlacementConstraints:    slices.Clone(in.PlacementConstraints),
		PlacementStrategy:       slices.Clone(in.PlacementStrategy),
		CapacityProviders:       slices.Clone(in.CapacityProviderStrategy),
		HealthCheckGracePeriod:  in.HealthCheckGracePeriod,
		LoadBalancers:           slices.Clone(in.LoadBalancers),
		TaskDefinition:          in.TaskDefinition,
		Tags:                    slices.Clone(in.Tags),
	}
	if strategy == service.Replica && len(svc.PlacementStrategy) == 0 {
		svc.PlacementStrategy = slices.Clone(DefaultServicePlacement)
	}
	if err := validateService(&svc); err != nil {
		return nil, err
	}
	if err := validTags(in.Tags); err != nil {
		return nil, err
	}
	var out service.Service
	err := o.store.Update(ctx, func(tx store.Tx) error {
		c, err := o.getCluster(tx, in.Cluster)
		if err != nil {
			return err
		}
		if err := launch.CheckCapacityProviders(tx, in.Cluster, svc.CapacityProviders); err != nil {
			return err
		}
		def, err := o.getTaskDefinition(tx, in.TaskDefinition)
		if err != nil {
			return err
		}
		if def.Status != task.DefinitionActive {
			return invalid("taskDefinition", "%s is INACTIVE", def.Ref())
		}
		if err := o.checkTaskPolicy(c, def.TaskDefinition); err != nil {
			return err
		}
		if err := o.checkLoadBalancers(&svc, def.TaskDefinition); err != nil {
			return err
		}
		if err := o.checkBlueGreen(&svc); err != nil {
			return err
		}
		nc, _, err := o.resolveNetworkConfiguration(tx, in.NetworkConfiguration, def.TaskDefinition)
		if err != nil {
			return err
		}
		existing, err := store.Get[*state.Service](tx, state.KindServices, state.ServiceKey(in.Cluster, in.ServiceName))
		if err == nil && existing.Status != service.StatusInactive {
			return fmt.Errorf("%w: service %s in cluster %s", ErrAlreadyExists, in.ServiceName, in.Cluster)
		}
		now := o.now()
		s := svc.Clone()
		s.CreatedAt = now
		s.NetworkConfiguration = nc
		s.NewDeployment(def.Ref(), now)
		out = s.Effective()
		if err == nil {
			next := existing.Copy()
			next.Service = s
			return tx.Update(next)
		}
		return tx.Create(&state.Service{Service: s})
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
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
	PlacementStrategy       *[]placement.StrategySpec
	HealthCheckGracePeriod  *time.Duration
	// NetworkConfiguration replaces the service's; one without security
	// groups takes its tasks out of every group. A change starts a new
	// deployment.
	NetworkConfiguration *task.NetworkConfiguration
}

// ErrServiceNotActive means a service is being deleted (DRAINING) or was
// (INACTIVE), so it cannot change, as ECS's ServiceNotActiveException.
var ErrServiceNotActive = errors.New("stevedore: service not active")

// UpdateService changes a service. A new task definition, new security
// groups (or ForceNewDeployment) start a rolling deployment. An invalid request is
// rejected as a whole and changes nothing; a service that is not ACTIVE
// is refused with ErrServiceNotActive.
func (o *Orchestrator) UpdateService(ctx context.Context, in UpdateServiceInput) (*service.Service, error) {
	if err := o.checkOpen(); err != nil {
		return nil, err
	}
	in.Cluster, in.Service = clusterName(in.Cluster), lastSegment(in.Service)
	var out service.Service
	var refused *deploymentRefusal
	err := o.store.Update(ctx, func(tx store.Tx) error {
		refused = nil // the store may run the update again
		cur, err := store.Get[*state.Service](tx, state.KindServices, state.ServiceKey(in.Cluster, in.Service))
		if errors.Is(err, store.ErrNotFound) {
			return notFound("service", in.Cluster+"/"+in.Service)
		}
		if err != nil {
			return err
		}
		if cur.Status != service.StatusActive {
			return fmt.Errorf("%w: service %s is %s", ErrServiceNotActive, in.Service, cur.Status)
		}
		next := cur.Copy()
		s := &next.Service
		if in.DesiredCount != nil {
			if s.SchedulingStrategy == service.Daemon {
				return invalid("desiredCount", "cannot be set for a DAEMON service")
			}
			s.DesiredCount = *in.DesiredCount
		}
		if in.DeploymentConfiguration != nil {
			s.DeploymentConfiguration = *in.DeploymentConfiguration
		}
		if in.PlacementConstraints != nil {
			s.PlacementConstraints = slices.Clone(*in.PlacementConstraints)
		}
		if in.PlacementStrategy != nil {
			s.PlacementStrategy = slices.Clone(*in.PlacementStrategy)
		}
		if in.HealthCheckGracePeriod != nil {
			s.HealthCheckGracePeriod = *in.HealthCheckGracePeriod
		}
		newDef := s.TaskDefinition
		if in.TaskDefinition != nil {
			def, err := o.getTaskDefinition(tx, *in.TaskDefinition)
			if err != nil {
				return err
			}
			if def.Status != task.DefinitionActive {
				return invalid("taskDefinition", "%s is INACTIVE", def.Ref())
			}
			if err := o.checkLoadBalancers(s, def.TaskDefinition); err != nil {
				return err
			}
			newDef = def.Ref()
		}
		networkChanged, err := o.updateServiceNetwork(tx, s, in.NetworkConfiguration, newDef)
		if err != nil {
			return err
		}
		if err := validateService(s); err != nil {
			return err
		}
		if err := o.checkBlueGreen(s); err != nil {
			return err
		}
		now := o.now()
		if newDef != s.TaskDefinition || in.ForceNewDeployment || networkChanged {
			// A new deployment runs under the cluster's task policy as it
			// is now: a tighter policy refuses it, and what runs stays.
			c, err := o.getCluster(tx, in.Cluster)
			if err != nil {
				return err
			}
			def, err := o.getTaskDefinition(tx, newDef)
			if err != nil {
				return err
			}
			if err := o.checkTaskPolicy(c, def.TaskDefinition); err != nil {
				refused = &deploymentRefusal{def: newDef, err: err}
				return err
			}
			s.NewDeployment(newDef, now)
		} else if p := s.Primary(); p != nil {
			p.DesiredCount = s.DesiredCount
			s.Steady = false
		}
		out = s.Effective()
		return tx.Update(next)
	})
	if refused != nil && errors.Is(err, policy.ErrViolation) {
		o.recordRefusedDeployment(ctx, in.Cluster, in.Service, refused)
	}
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// deploymentRefusal is a deployment UpdateService refused under the
// cluster's task policy.
type deploymentRefusal struct {
	def string
	err error
}

// recordRefusedDeployment adds an event to a service whose new deployment
// the task policy refused, so that whoever watches the service, not only
// the caller, sees why it stays on its current deployment. The update
// itself changed nothing.
func (o *Orchestrator) recordRefusedDeployment(ctx context.Context, clusterName, name string, r *deploymentRefusal) {
	var ve *policy.ViolationError
	if !errors.As(r.err, &ve) {
		return
	}
	msg := fmt.Sprintf("(service %s) was unable to start a deployment of %s: task policy %q (%s) refuses it: %s",
		name, r.def, ve.Policy, ve.Level, ve.Violations[0].Error())
	if len(ve.Violations) > 1 {
		msg += fmt.Sprintf(" (and %d more)", len(ve.Violations)-1)
	}
	err := o.store.Update(ctx, func(tx store.Tx) error {
		cur, err := o.getService(tx, clusterName, name)
		if err != nil {
			return err
		}
		next := cur.Copy()
		next.AddEvent(o.now(), msg)
		return tx.Update(next)
	})
	if err != nil {
		o.log.Warn("cannot record a refused deployment", "service", name, "err", err)
	}
}

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

// DeleteService deletes a service. Without Force its desired count must be
// 0 (scale it in first); with Force its tasks are stopped. The service is
// DRAINING until its tasks have stopped, then INACTIVE.
func (o *Orchestrator) DeleteService(ctx context.Context, in DeleteServiceInput) (*DeleteServiceOutput, error) {
	clusterName, name, force := clusterName(in.Cluster), lastSegment(in.Service), in.Force
	var out service.Service
	err := o.store.Update(ctx, func(tx store.Tx) error {
		cur, err := o.getService(tx, clusterName, name)
		if err != nil {
			return err
		}
		if cur.DesiredCount > 0 && !force && cur.SchedulingStrategy == service.Replica {
			return invalid("force", "service %s has desiredCount %d: scale it to 0 first or force", name, cur.DesiredCount)
		}
		next := cur.Copy()
		next.Status = service.StatusDraining
		next.DesiredCount = 0
		if p := next.Primary(); p != nil {
			p.DesiredCount = 0
		}
		next.Steady = false
		out = next.Service.Effective()
		// Its auto scaling goes with it: a service created again under the
		// same name starts without.
		if err := tx.Delete(state.KindScaling, cur.ObjectID()); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return tx.Update(next)
	})
	if err != nil {
		return nil, err
	}
	return &DeleteServiceOutput{Service: out}, nil
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

// DescribeServices describes services of a cluster, INACTIVE ones
// included while they are kept. It fails with ErrNotFound when the cluster
// does not exist; a service that does not is reported in Failures.
func (o *Orchestrator) DescribeServices(ctx context.Context, in DescribeServicesInput) (*DescribeServicesOutput, error) {
	clusterName := clusterName(in.Cluster)
	if len(in.Services) > MaxDescribeServices {
		return nil, invalid("services", "must name at most %d services, got %d", MaxDescribeServices, len(in.Services))
	}
	out := &DescribeServicesOutput{}
	err := o.store.View(ctx, func(tx store.ReadTx) error {
		out.Services, out.Failures = nil, nil
		if _, err := o.getCluster(tx, clusterName); err != nil {
			return err
		}
		if len(in.Services) == 0 {
			all, err := store.List[*state.Service](tx, state.KindServices)
			if err != nil {
				return err
			}
			for _, s := range all {
				if s.Cluster == clusterName {
					out.Services = append(out.Services, s.Service.Effective())
				}
			}
			return nil
		}
		for _, arg := range in.Services {
			n := lastSegment(arg)
			s, err := store.Get[*state.Service](tx, state.KindServices, state.ServiceKey(clusterName, n))
			if errors.Is(err, store.ErrNotFound) {
				out.Failures = append(out.Failures, missing(o.ServiceARN(clusterName, n)))
				continue
			}
			if err != nil {
				return err
			}
			out.Services = append(out.Services, s.Service.Effective())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

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

// ListServices lists the ARNs of a cluster's services that are not
// INACTIVE.
func (o *Orchestrator) ListServices(ctx context.Context, in ListServicesInput) (*ListServicesOutput, error) {
	clusterName := clusterName(in.Cluster)
	var names []string
	err := o.store.View(ctx, func(tx store.ReadTx) error {
		names = nil
		if _, err := o.getCluster(tx, clusterName); err != nil {
			return err
		}
		all, err := store.List[*state.Service](tx, state.KindServices)
		if err != nil {
			return err
		}
		for _, s := range all {
			if s.Cluster == clusterName && s.Status != service.StatusInactive &&
				(in.SchedulingStrategy == "" || s.SchedulingStrategy == in.SchedulingStrategy) {
				names = append(names, s.Name)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	max := in.MaxResults
	if max == 0 {
		max = 10
	}
	page, next, err := paginate(names, max, 100, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &ListServicesOutput{NextToken: next}
	for _, n := range page {
		out.ServiceArns = append(out.ServiceArns, o.ServiceARN(clusterName, n))
	}
	return out, nil
}

func (o *Orchestrator) getService(tx store.ReadTx, clusterName, name string) (*state.Service, error) {
	s, err := store.Get[*state.Service](tx, state.KindServices, state.ServiceKey(clusterName, name))
	if errors.Is(err, store.ErrNotFound) || (err == nil && s.Status == service.StatusInactive) {
		return nil, notFound("service", clusterName+"/"+name)
	}
	return s, err
}

// validateService checks a service's desired configuration, constraints'
// query expressions included.
func validateService(s *service.Service) error {
	if err := s.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	for i, c := range s.PlacementConstraints {
		switch c.Type {
		case placement.ConstraintDistinctInstance:
			if c.Expression != "" {
				return invalid(fmt.Sprintf("placementConstraints[%d].expression", i), "must be empty for distinctInstance")
			}
		case placement.ConstraintMemberOf:
			if _, err := query.Parse(c.Expression); err != nil {
				return invalid(fmt.Sprintf("placementConstraints[%d].expression", i), "%v", err)
			}
		default:
			return invalid(fmt.Sprintf("placementConstraints[%d].type", i), "must be distinctInstance or memberOf, got %q", c.Type)
		}
	}
	return nil
}

// checkLoadBalancers makes sure the load balancers name a container and port
// of the definition.
func (o *Orchestrator) checkLoadBalancers(s *service.Service, def *task.TaskDefinition) error {
	for i, lb := range s.LoadBalancers {
		if o.targetGroups[lb.TargetGroup] == nil {
			return invalid(fmt.Sprintf("loadBalancers[%d].targetGroupArn", i), "no target group %q (see WithTargetGroups)", lb.TargetGroup)
		}
		c := def.Container(lb.ContainerName)
		if c == nil {
			return invalid(fmt.Sprintf("loadBalancers[%d].containerName", i), "%q is not a container of %s", lb.ContainerName, def.Ref())
		}
		found := false
		for _, pm := range c.PortMappings {
			found = found || pm.ContainerPort == lb.ContainerPort
		}
		if !found {
			return invalid(fmt.Sprintf("loadBalancers[%d].containerPort", i), "container %s maps no port %d", lb.ContainerName, lb.ContainerPort)
		}
	}
	return nil
}
