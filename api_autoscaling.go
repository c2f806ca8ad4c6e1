package stevedore

import (
	"context"
	"time"

	"github.com/stevedore-io/stevedore/api"
	"github.com/stevedore-io/stevedore/autoscaling"
	"github.com/stevedore-io/stevedore/internal/actions"
)

// RegisterScalableTargetInput is api.RegisterScalableTargetInput.
type RegisterScalableTargetInput = api.RegisterScalableTargetInput

// PutScalingPolicyInput is api.PutScalingPolicyInput.
type PutScalingPolicyInput = api.PutScalingPolicyInput

// ServiceScaling describes a service's auto scaling.
type ServiceScaling = api.ServiceScaling

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
			case actions.PredefinedMetric(name):
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

// RegisterScalableTarget makes a REPLICA service scalable. Registering it
// again changes its bounds and keeps its policies.
func (o *Orchestrator) RegisterScalableTarget(ctx context.Context, in RegisterScalableTargetInput) error {
	return o.actions.RegisterScalableTarget(ctx, in)
}

// DeregisterScalableTarget stops scaling a service and deletes its
// policies. The service keeps its desired count.
func (o *Orchestrator) DeregisterScalableTarget(ctx context.Context, clusterArg, serviceName string) error {
	return o.actions.DeregisterScalableTarget(ctx, clusterArg, serviceName)
}

// PutScalingPolicy adds or replaces a policy. The policy's Metric must be
// predefined or registered with WithMetrics. It returns the policy with its
// defaults set. An invalid policy changes nothing.
func (o *Orchestrator) PutScalingPolicy(ctx context.Context, in PutScalingPolicyInput) (*autoscaling.TargetTrackingPolicy, error) {
	return o.actions.PutScalingPolicy(ctx, in)
}

// DeleteScalingPolicy deletes a policy of a service.
func (o *Orchestrator) DeleteScalingPolicy(ctx context.Context, clusterArg, serviceName, policyName string) error {
	return o.actions.DeleteScalingPolicy(ctx, clusterArg, serviceName, policyName)
}

// DescribeScalingPolicies describes the scalable target and the policies
// of a service; ErrNotFound when no target is registered.
func (o *Orchestrator) DescribeScalingPolicies(ctx context.Context, clusterArg, serviceName string) (*ServiceScaling, error) {
	return o.actions.DescribeScalingPolicies(ctx, clusterArg, serviceName)
}
