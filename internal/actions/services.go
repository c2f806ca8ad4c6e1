package actions

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/stevedore-io/stevedore/api"
	"github.com/stevedore-io/stevedore/internal/launch"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
	"github.com/stevedore-io/stevedore/task/policy"
)

// CreateService creates a service and its first deployment; the service
// controller then starts its tasks.
func (a *Actions) CreateService(ctx context.Context, in api.CreateServiceInput) (*api.CreateServiceOutput, error) {
	if err := a.checkOpen(); err != nil {
		return nil, err
	}
	in.Cluster = clusterName(in.Cluster)
	strategy := in.SchedulingStrategy
	if strategy == "" {
		strategy = service.Replica
	}
	svc := service.Service{
		Name:                        in.ServiceName,
		Cluster:                     in.Cluster,
		Status:                      service.StatusActive,
		SchedulingStrategy:          strategy,
		DesiredCount:                in.DesiredCount,
		DeploymentConfiguration:     in.DeploymentConfiguration,
		PlacementConstraints:        slices.Clone(in.PlacementConstraints),
		PlacementStrategy:           slices.Clone(in.PlacementStrategy),
		CapacityProviders:           slices.Clone(in.CapacityProviderStrategy),
		HealthCheckGracePeriod:      in.HealthCheckGracePeriod,
		LoadBalancers:               slices.Clone(in.LoadBalancers),
		TaskDefinition:              in.TaskDefinition,
		Tags:                        slices.Clone(in.Tags),
		AvailabilityZoneRebalancing: in.AvailabilityZoneRebalancing,
	}
	if svc.AvailabilityZoneRebalancing == "" {
		svc.AvailabilityZoneRebalancing = service.AZRebalancingDisabled
		if strategy == service.Replica {
			svc.AvailabilityZoneRebalancing = service.AZRebalancingEnabled
		}
	}
	if strategy == service.Replica && len(svc.PlacementStrategy) == 0 {
		svc.PlacementStrategy = a.launcher.DefaultStrategies(api.DefaultServicePlacement)
	}
	if err := a.validateService(&svc); err != nil {
		return nil, err
	}
	if err := validTags(in.Tags); err != nil {
		return nil, err
	}
	var out service.Service
	err := a.store.Update(ctx, func(tx store.Tx) error {
		c, err := a.getCluster(tx, in.Cluster)
		if err != nil {
			return err
		}
		if err := launch.CheckCapacityProviders(tx, in.Cluster, svc.CapacityProviders); err != nil {
			return err
		}
		def, err := a.getTaskDefinition(tx, in.TaskDefinition)
		if err != nil {
			return err
		}
		if def.Status != task.DefinitionActive {
			return invalid("taskDefinition", "%s is INACTIVE", def.Ref())
		}
		if err := a.checkTaskPolicy(c, def.TaskDefinition); err != nil {
			return err
		}
		if err := a.checkLoadBalancers(&svc, def.TaskDefinition); err != nil {
			return err
		}
		if err := a.checkBlueGreen(&svc); err != nil {
			return err
		}
		nc, _, err := a.resolveNetworkConfiguration(tx, in.NetworkConfiguration, def.TaskDefinition)
		if err != nil {
			return err
		}
		existing, err := store.Get[*state.Service](tx, state.KindServices, state.ServiceKey(in.Cluster, in.ServiceName))
		if err == nil && existing.Status != service.StatusInactive {
			return fmt.Errorf("%w: service %s in cluster %s", api.ErrAlreadyExists, in.ServiceName, in.Cluster)
		}
		now := a.now()
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
	return &api.CreateServiceOutput{Service: out}, nil
}

// UpdateService changes a service. Orchestrator.UpdateService documents it.
func (a *Actions) UpdateService(ctx context.Context, in api.UpdateServiceInput) (*api.UpdateServiceOutput, error) {
	if in.Service == "" {
		return nil, invalid("service", "is required")
	}
	if err := a.checkOpen(); err != nil {
		return nil, err
	}
	in.Cluster, in.Service = clusterName(in.Cluster), lastSegment(in.Service)
	var out service.Service
	var refused *deploymentRefusal
	err := a.store.Update(ctx, func(tx store.Tx) error {
		refused = nil // the store may run the update again
		cur, err := store.Get[*state.Service](tx, state.KindServices, state.ServiceKey(in.Cluster, in.Service))
		if errors.Is(err, store.ErrNotFound) {
			return notFound("service", in.Cluster+"/"+in.Service)
		}
		if err != nil {
			return err
		}
		if cur.Status != service.StatusActive {
			return fmt.Errorf("%w: service %s is %s", api.ErrServiceNotActive, in.Service, cur.Status)
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
			if len(s.PlacementStrategy) == 0 && s.SchedulingStrategy == service.Replica {
				// No strategy is the default, as at creation.
				s.PlacementStrategy = a.launcher.DefaultStrategies(api.DefaultServicePlacement)
			}
		}
		if in.HealthCheckGracePeriod != nil {
			s.HealthCheckGracePeriod = *in.HealthCheckGracePeriod
		}
		if in.AvailabilityZoneRebalancing != nil {
			if *in.AvailabilityZoneRebalancing == "" {
				return invalid("availabilityZoneRebalancing", "must be ENABLED or DISABLED, got \"\"")
			}
			s.AvailabilityZoneRebalancing = *in.AvailabilityZoneRebalancing
		}
		newDef := s.TaskDefinition
		if in.TaskDefinition != nil {
			def, err := a.getTaskDefinition(tx, *in.TaskDefinition)
			if err != nil {
				return err
			}
			if def.Status != task.DefinitionActive {
				return invalid("taskDefinition", "%s is INACTIVE", def.Ref())
			}
			if err := a.checkLoadBalancers(s, def.TaskDefinition); err != nil {
				return err
			}
			newDef = def.Ref()
		}
		networkChanged, err := a.updateServiceNetwork(tx, s, in.NetworkConfiguration, newDef)
		if err != nil {
			return err
		}
		if err := a.validateService(s); err != nil {
			return err
		}
		if err := a.checkBlueGreen(s); err != nil {
			return err
		}
		now := a.now()
		if newDef != s.TaskDefinition || in.ForceNewDeployment || networkChanged {
			// A new deployment runs under the cluster's task policy as it
			// is now: a tighter policy refuses it, and what runs stays.
			c, err := a.getCluster(tx, in.Cluster)
			if err != nil {
				return err
			}
			def, err := a.getTaskDefinition(tx, newDef)
			if err != nil {
				return err
			}
			if err := a.checkTaskPolicy(c, def.TaskDefinition); err != nil {
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
		a.recordRefusedDeployment(ctx, in.Cluster, in.Service, refused)
	}
	if err != nil {
		return nil, err
	}
	return &api.UpdateServiceOutput{Service: out}, nil
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
func (a *Actions) recordRefusedDeployment(ctx context.Context, clusterName, name string, r *deploymentRefusal) {
	var ve *policy.ViolationError
	if !errors.As(r.err, &ve) {
		return
	}
	msg := fmt.Sprintf("(service %s) was unable to start a deployment of %s: task policy %q (%s) refuses it: %s",
		name, r.def, ve.Policy, ve.Level, ve.Violations[0].Error())
	if len(ve.Violations) > 1 {
		msg += fmt.Sprintf(" (and %d more)", len(ve.Violations)-1)
	}
	err := a.store.Update(ctx, func(tx store.Tx) error {
		cur, err := a.getService(tx, clusterName, name)
		if err != nil {
			return err
		}
		next := cur.Copy()
		next.AddEvent(a.now(), msg)
		return tx.Update(next)
	})
	if err != nil {
		a.log.Warn("cannot record a refused deployment", "service", name, "err", err)
	}
}

// DeleteService deletes a service. Orchestrator.DeleteService documents it.
func (a *Actions) DeleteService(ctx context.Context, in api.DeleteServiceInput) (*api.DeleteServiceOutput, error) {
	if in.Service == "" {
		return nil, invalid("service", "is required")
	}
	clusterName, name, force := clusterName(in.Cluster), lastSegment(in.Service), in.Force
	var out service.Service
	err := a.store.Update(ctx, func(tx store.Tx) error {
		cur, err := a.getService(tx, clusterName, name)
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
	return &api.DeleteServiceOutput{Service: out}, nil
}

// DescribeServices describes services of a cluster, INACTIVE ones included
// while they are kept. Orchestrator.DescribeServices documents it.
func (a *Actions) DescribeServices(ctx context.Context, in api.DescribeServicesInput) (*api.DescribeServicesOutput, error) {
	clusterName := clusterName(in.Cluster)
	if len(in.Services) > api.MaxDescribeServices {
		return nil, invalid("services", "must name at most %d services, got %d", api.MaxDescribeServices, len(in.Services))
	}
	out := &api.DescribeServicesOutput{}
	err := a.store.View(ctx, func(tx store.ReadTx) error {
		out.Services, out.Failures = nil, nil
		if _, err := a.getCluster(tx, clusterName); err != nil {
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
				out.Failures = append(out.Failures, missing(a.ServiceARN(clusterName, n)))
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

// ListServices lists the ARNs of a cluster's services that are not
// INACTIVE.
func (a *Actions) ListServices(ctx context.Context, in api.ListServicesInput) (*api.ListServicesOutput, error) {
	clusterName := clusterName(in.Cluster)
	var names []string
	err := a.store.View(ctx, func(tx store.ReadTx) error {
		names = nil
		if _, err := a.getCluster(tx, clusterName); err != nil {
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
	out := &api.ListServicesOutput{NextToken: next}
	for _, n := range page {
		out.ServiceArns = append(out.ServiceArns, a.ServiceARN(clusterName, n))
	}
	return out, nil
}

func (a *Actions) getService(tx store.ReadTx, clusterName, name string) (*state.Service, error) {
	s, err := store.Get[*state.Service](tx, state.KindServices, state.ServiceKey(clusterName, name))
	if errors.Is(err, store.ErrNotFound) || (err == nil && s.Status == service.StatusInactive) {
		return nil, notFound("service", clusterName+"/"+name)
	}
	return s, err
}

// validateService checks a service's desired configuration, and its
// placement strategy and constraints against the scheduler (built-in
// types, and the custom types registered on it).
func (a *Actions) validateService(s *service.Service) error {
	if err := s.Validate(); err != nil {
		return fmt.Errorf("%w: %w", api.ErrInvalid, err)
	}
	sched := a.launcher.Scheduler()
	if err := sched.CheckStrategies(s.PlacementStrategy); err != nil {
		return err
	}
	return sched.CheckConstraints(s.PlacementConstraints)
}

// checkLoadBalancers makes sure the load balancers name a container and port
// of the definition.
func (a *Actions) checkLoadBalancers(s *service.Service, def *task.TaskDefinition) error {
	for i, lb := range s.LoadBalancers {
		if !a.targetGroups[lb.TargetGroup] {
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
