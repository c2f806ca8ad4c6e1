package stevedore

import (
	"context"
	"time"

	"github.com/stevedore-io/stevedore/api"
	"github.com/stevedore-io/stevedore/internal/actions"
)

// RegisterScalableTargetInput is api.RegisterScalableTargetInput.
type RegisterScalableTargetInput = api.RegisterScalableTargetInput

// RegisterScalableTargetOutput is empty: the target is registered.
type RegisterScalableTargetOutput = api.RegisterScalableTargetOutput

// PutScalingPolicyInput is api.PutScalingPolicyInput.
type PutScalingPolicyInput = api.PutScalingPolicyInput

// PutScalingPolicyOutput is the policy as stored, with its defaults set.
type PutScalingPolicyOutput = api.PutScalingPolicyOutput

// ServiceScaling describes a service's auto scaling.
type ServiceScaling = api.ServiceScaling

// DeregisterScalableTargetInput names a service whose scalable target and policies to remove.
type DeregisterScalableTargetInput = api.DeregisterScalableTargetInput

// DeregisterScalableTargetOutput is empty: the target is gone.
type DeregisterScalableTargetOutput = api.DeregisterScalableTargetOutput

// DeleteScalingPolicyInput names a policy of a service.
type DeleteScalingPolicyInput = api.DeleteScalingPolicyInput

// DeleteScalingPolicyOutput is empty: the policy is gone.
type DeleteScalingPolicyOutput = api.DeleteScalingPolicyOutput

// DescribeScalingPoliciesInput names a service whose auto scaling to describe.
type DescribeScalingPoliciesInput = api.DescribeScalingPoliciesInput

// DescribeScalingPoliciesOutput is the service's auto scaling.
type DescribeScalingPoliciesOutput = api.DescribeScalingPoliciesOutput

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
func (o *Orchestrator) RegisterScalableTarget(ctx context.Context, in *RegisterScalableTargetInput) (*RegisterScalableTargetOutput, error) {
	return o.actions.RegisterScalableTarget(ctx, value(in))
}

// DeregisterScalableTarget stops scaling a service and deletes its
// policies. The service keeps its desired count.
func (o *Orchestrator) DeregisterScalableTarget(ctx context.Context, in *DeregisterScalableTargetInput) (*DeregisterScalableTargetOutput, error) {
	return o.actions.DeregisterScalableTarget(ctx, value(in))
}

// PutScalingPolicy adds or replaces a policy. The policy's Metric must be
// predefined or registered with WithMetrics. The output is the policy with
// its defaults set. An invalid policy changes nothing.
func (o *Orchestrator) PutScalingPolicy(ctx context.Context, in *PutScalingPolicyInput) (*PutScalingPolicyOutput, error) {
	return o.actions.PutScalingPolicy(ctx, value(in))
}

// DeleteScalingPolicy deletes a policy of a service.
func (o *Orchestrator) DeleteScalingPolicy(ctx context.Context, in *DeleteScalingPolicyInput) (*DeleteScalingPolicyOutput, error) {
	return o.actions.DeleteScalingPolicy(ctx, value(in))
}

// DescribeScalingPolicies describes the scalable target and the policies
// of a service; ErrNotFound when no target is registered.
func (o *Orchestrator) DescribeScalingPolicies(ctx context.Context, in *DescribeScalingPoliciesInput) (*DescribeScalingPoliciesOutput, error) {
	return o.actions.DescribeScalingPolicies(ctx, value(in))
}
