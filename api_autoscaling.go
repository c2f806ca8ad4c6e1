package stevedore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/stevedore-io/stevedore/autoscaling"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/store"
)

// DefaultScalingEvaluationPeriod is how often the autoscaler evaluates the
// scaling policies (Application Auto Scaling's target tracking alarms look
// at one-minute periods).
const DefaultScalingEvaluationPeriod = time.Minute

// MetricFunc reads a custom metric of a service, for target tracking
// policies naming it (see WithMetrics). It is called once per evaluation
// period per policy, outside any lock.
type MetricFunc func(ctx context.Context, cluster, service string) (float64, error)

type scalingOptions struct {
	metrics map[string]MetricFunc
	period  time.Duration
}

// WithMetrics registers custom metrics by name, for the Metric of target
// tracking policies. The names of the predefined metrics are taken.
func WithMetrics(metrics map[string]MetricFunc) Option {
	return func(o *options) error {
		for name, f := range metrics {
			switch {
			case name == "":
				return invalid("metrics", "a metric name must not be empty")
			case isPredefinedMetric(name):
				return invalid("metrics", "%s is a predefined metric", name)
			case f == nil:
				return invalid("metrics", "metric %s has a nil function", name)
			}
			if o.scaling.metrics == nil {
				o.scaling.metrics = map[string]MetricFunc{}
			}
			o.scaling.metrics[name] = f
		}
		return nil
	}
}

// WithScalingEvaluationPeriod evaluates the scaling policies every d
// (default DefaultScalingEvaluationPeriod).
func WithScalingEvaluationPeriod(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return invalid("scalingEvaluationPeriod", "must be positive, got %v", d)
		}
		o.scaling.period = d
		return nil
	}
}

func isPredefinedMetric(name string) bool {
	return name == autoscaling.ECSServiceAverageCPUUtilization || name == autoscaling.ECSServiceAverageMemoryUtilization
}

// RegisterScalableTargetInput makes a service's desired count scalable
// within [MinCapacity, MaxCapacity], as Application Auto Scaling's
// RegisterScalableTarget for the ecs:service:DesiredCount dimension.
type RegisterScalableTargetInput struct {
	Cluster     string
	Service     string
	MinCapacity int
	MaxCapacity int
}

// RegisterScalableTarget makes a REPLICA service scalable. Registering it
// again changes its bounds and keeps its policies.
func (o *Orchestrator) RegisterScalableTarget(ctx context.Context, in RegisterScalableTargetInput) error {
	if err := o.checkOpen(); err != nil {
		return err
	}
	in.Cluster = clusterName(in.Cluster)
	target := autoscaling.ScalableTarget{MinCapacity: in.MinCapacity, MaxCapacity: in.MaxCapacity}
	if err := target.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return o.store.Update(ctx, func(tx store.Tx) error {
		s, err := o.getService(tx, in.Cluster, in.Service)
		if err != nil {
			return err
		}
		if s.SchedulingStrategy != service.Replica {
			return invalid("service", "%s is a %s service; only REPLICA services scale", in.Service, s.SchedulingStrategy)
		}
		cur, err := o.getScaling(tx, in.Cluster, in.Service)
		if errors.Is(err, ErrNotFound) {
			return tx.Create(&state.Scaling{Cluster: in.Cluster, Service: in.Service, Target: target})
		}
		if err != nil {
			return err
		}
		next := cur.Copy()
		next.Target = target
		return tx.Update(next)
	})
}

// DeregisterScalableTarget stops scaling a service and deletes its
// policies. The service keeps its desired count.
func (o *Orchestrator) DeregisterScalableTarget(ctx context.Context, clusterArg, serviceName string) error {
	clusterName := clusterName(clusterArg)
	return o.store.Update(ctx, func(tx store.Tx) error {
		if _, err := o.getScaling(tx, clusterName, serviceName); err != nil {
			return err
		}
		return tx.Delete(state.KindScaling, state.ServiceKey(clusterName, serviceName))
	})
}

// PutScalingPolicyInput adds or replaces (by name) a target tracking
// policy of a service whose scalable target is registered.
type PutScalingPolicyInput struct {
	Cluster string
	Service string
	Policy  autoscaling.TargetTrackingPolicy
}

// PutScalingPolicy adds or replaces a policy. The policy's Metric must be
// predefined or registered with WithMetrics. It returns the policy with its
// defaults set. An invalid policy changes nothing.
func (o *Orchestrator) PutScalingPolicy(ctx context.Context, in PutScalingPolicyInput) (*autoscaling.TargetTrackingPolicy, error) {
	if err := o.checkOpen(); err != nil {
		return nil, err
	}
	in.Cluster = clusterName(in.Cluster)
	if err := in.Policy.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if _, ok := o.metrics[in.Policy.Metric]; !ok && !isPredefinedMetric(in.Policy.Metric) {
		return nil, invalid("metric", "%q is neither a predefined metric nor one registered with WithMetrics", in.Policy.Metric)
	}
	p := in.Policy.WithDefaults()
	err := o.store.Update(ctx, func(tx store.Tx) error {
		if _, err := o.getService(tx, in.Cluster, in.Service); err != nil {
			return err
		}
		cur, err := o.getScaling(tx, in.Cluster, in.Service)
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
	return &p, nil
}

// DeleteScalingPolicy deletes a policy of a service.
func (o *Orchestrator) DeleteScalingPolicy(ctx context.Context, clusterArg, serviceName, policyName string) error {
	clusterName := clusterName(clusterArg)
	return o.store.Update(ctx, func(tx store.Tx) error {
		cur, err := o.getScaling(tx, clusterName, serviceName)
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
}

// ServiceScaling describes a service's auto scaling.
type ServiceScaling struct {
	Cluster  string
	Service  string
	Target   autoscaling.ScalableTarget
	Policies []autoscaling.TargetTrackingPolicy
	// History is when the autoscaler last scaled the service out and in.
	History autoscaling.History
}

// DescribeScalingPolicies describes the scalable target and the policies
// of a service; ErrNotFound when no target is registered.
func (o *Orchestrator) DescribeScalingPolicies(ctx context.Context, clusterArg, serviceName string) (*ServiceScaling, error) {
	clusterName := clusterName(clusterArg)
	var out ServiceScaling
	err := o.store.View(ctx, func(tx store.ReadTx) error {
		sc, err := o.getScaling(tx, clusterName, serviceName)
		if err != nil {
			return err
		}
		out = ServiceScaling{Cluster: sc.Cluster, Service: sc.Service, Target: sc.Target,
			Policies: slices.Clone(sc.Policies), History: sc.History}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

func (o *Orchestrator) getScaling(tx store.ReadTx, clusterName, serviceName string) (*state.Scaling, error) {
	sc, err := store.Get[*state.Scaling](tx, state.KindScaling, state.ServiceKey(clusterName, serviceName))
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("scalable target", clusterName+"/"+serviceName)
	}
	return sc, err
}
