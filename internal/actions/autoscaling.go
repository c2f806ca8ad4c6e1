package actions

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/stevedore-io/stevedore/api"
	"github.com/stevedore-io/stevedore/autoscaling"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/store"
)

// PredefinedMetric reports whether name is one of the metrics every service
// has (ECSServiceAverageCPUUtilization, ...), which WithMetrics cannot
// define again.
func PredefinedMetric(name string) bool {
	return name == autoscaling.ECSServiceAverageCPUUtilization || name == autoscaling.ECSServiceAverageMemoryUtilization
}

// RegisterScalableTarget makes a REPLICA service scalable. Registering it
// again changes its bounds and keeps its policies.
func (a *Actions) RegisterScalableTarget(ctx context.Context, in api.RegisterScalableTargetInput) (*api.RegisterScalableTargetOutput, error) {
	if in.Service == "" {
		return nil, invalid("service", "is required")
	}
	if err := a.checkOpen(); err != nil {
		return nil, err
	}
	in.Cluster = clusterName(in.Cluster)
	target := autoscaling.ScalableTarget{MinCapacity: in.MinCapacity, MaxCapacity: in.MaxCapacity}
	if err := target.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", api.ErrInvalid, err)
	}
	err := a.store.Update(ctx, func(tx store.Tx) error {
		s, err := a.getService(tx, in.Cluster, in.Service)
		if err != nil {
			return err
		}
		if s.SchedulingStrategy != service.Replica {
			return invalid("service", "%s is a %s service; only REPLICA services scale", in.Service, s.SchedulingStrategy)
		}
		cur, err := a.getScaling(tx, in.Cluster, in.Service)
		if errors.Is(err, api.ErrNotFound) {
			return tx.Create(&state.Scaling{Cluster: in.Cluster, Service: in.Service, Target: target})
		}
		if err != nil {
			return err
		}
		next := cur.Copy()
		next.Target = target
		return tx.Update(next)
	})
	if err != nil {
		return nil, err
	}
	return &api.RegisterScalableTargetOutput{}, nil
}

// DeregisterScalableTarget stops scaling a service and deletes its
// policies. The service keeps its desired count.
func (a *Actions) DeregisterScalableTarget(ctx context.Context, in api.DeregisterScalableTargetInput) (*api.DeregisterScalableTargetOutput, error) {
	if in.Service == "" {
		return nil, invalid("service", "is required")
	}
	clusterName, serviceName := clusterName(in.Cluster), in.Service
	err := a.store.Update(ctx, func(tx store.Tx) error {
		if _, err := a.getScaling(tx, clusterName, serviceName); err != nil {
			return err
		}
		return tx.Delete(state.KindScaling, state.ServiceKey(clusterName, serviceName))
	})
	if err != nil {
		return nil, err
	}
	return &api.DeregisterScalableTargetOutput{}, nil
}

// PutScalingPolicy adds or replaces a policy. Orchestrator.PutScalingPolicy
// documents it.
func (a *Actions) PutScalingPolicy(ctx context.Context, in api.PutScalingPolicyInput) (*api.PutScalingPolicyOutput, error) {
	if in.Service == "" {
		return nil, invalid("service", "is required")
	}
	if err := a.checkOpen(); err != nil {
		return nil, err
	}
	in.Cluster = clusterName(in.Cluster)
	if err := in.Policy.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", api.ErrInvalid, err)
	}
	if _, ok := a.metrics[in.Policy.Metric]; !ok && !PredefinedMetric(in.Policy.Metric) {
		return nil, invalid("metric", "%q is neither a predefined metric nor one registered with WithMetrics", in.Policy.Metric)
	}
	p := in.Policy.WithDefaults()
	err := a.store.Update(ctx, func(tx store.Tx) error {
		if _, err := a.getService(tx, in.Cluster, in.Service); err != nil {
			return err
		}
		cur, err := a.getScaling(tx, in.Cluster, in.Service)
		if err != nil {
			return err
		}
		next := cur.Copy()
		i := slices.IndexFunc(next.Policies, func(q autoscaling.TargetTrackingPolicy) bool { return q.Name == p.Name })
		if i < 0 {
			next.Policies = append(next.Policies, p)
		} else {
			next.Policies[i] = p
		}
		return tx.Update(next)
	})
	if err != nil {
		return nil, err
	}
	return &api.PutScalingPolicyOutput{Policy: p}, nil
}

// DeleteScalingPolicy deletes a policy of a service.
func (a *Actions) DeleteScalingPolicy(ctx context.Context, in api.DeleteScalingPolicyInput) (*api.DeleteScalingPolicyOutput, error) {
	if in.Service == "" {
		return nil, invalid("service", "is required")
	}
	clusterName, serviceName, policyName := clusterName(in.Cluster), in.Service, in.PolicyName
	err := a.store.Update(ctx, func(tx store.Tx) error {
		cur, err := a.getScaling(tx, clusterName, serviceName)
		if err != nil {
			return err
		}
		next := cur.Copy()
		i := slices.IndexFunc(next.Policies, func(q autoscaling.TargetTrackingPolicy) bool { return q.Name == policyName })
		if i < 0 {
			return notFound("scaling policy", clusterName+"/"+serviceName+"/"+policyName)
		}
		next.Policies = slices.Delete(next.Policies, i, i+1)
		return tx.Update(next)
	})
	if err != nil {
		return nil, err
	}
	return &api.DeleteScalingPolicyOutput{}, nil
}

// DescribeScalingPolicies describes the scalable target and the policies
// of a service; ErrNotFound when no target is registered.
func (a *Actions) DescribeScalingPolicies(ctx context.Context, in api.DescribeScalingPoliciesInput) (*api.DescribeScalingPoliciesOutput, error) {
	if in.Service == "" {
		return nil, invalid("service", "is required")
	}
	clusterName, serviceName := clusterName(in.Cluster), in.Service
	var out api.ServiceScaling
	err := a.store.View(ctx, func(tx store.ReadTx) error {
		sc, err := a.getScaling(tx, clusterName, serviceName)
		if err != nil {
			return err
		}
		out = api.ServiceScaling{Cluster: sc.Cluster, Service: sc.Service, Target: sc.Target,
			Policies: slices.Clone(sc.Policies), History: sc.History}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &api.DescribeScalingPoliciesOutput{ServiceScaling: out}, nil
}

func (a *Actions) getScaling(tx store.ReadTx, clusterName, serviceName string) (*state.Scaling, error) {
	sc, err := store.Get[*state.Scaling](tx, state.KindScaling, state.ServiceKey(clusterName, serviceName))
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("scalable target", clusterName+"/"+serviceName)
	}
	return sc, err
}
