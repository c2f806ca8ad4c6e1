package api

import (
	"github.com/stevedore-io/stevedore/autoscaling"
)

// RegisterScalableTargetInput makes a service's desired count scalable
// within [MinCapacity, MaxCapacity], as Application Auto Scaling's
// RegisterScalableTarget for the ecs:service:DesiredCount dimension.
type RegisterScalableTargetInput struct {
	Cluster     string
	Service     string
	MinCapacity int
	MaxCapacity int
}

// RegisterScalableTargetOutput is empty: the target is registered.
type RegisterScalableTargetOutput struct{}

// PutScalingPolicyInput adds or replaces (by name) a target tracking
// policy of a service whose scalable target is registered.
type PutScalingPolicyInput struct {
	Cluster string
	Service string
	Policy  autoscaling.TargetTrackingPolicy
}

// PutScalingPolicyOutput is the policy as stored, with its defaults set.
type PutScalingPolicyOutput struct {
	Policy autoscaling.TargetTrackingPolicy
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

// DeregisterScalableTargetInput names a service whose scalable target and
// policies to remove.
type DeregisterScalableTargetInput struct {
	Cluster string
	Service string
}

// DeregisterScalableTargetOutput is empty: the target is gone.
type DeregisterScalableTargetOutput struct{}

// DeleteScalingPolicyInput names a policy of a service.
type DeleteScalingPolicyInput struct {
	Cluster    string
	Service    string
	PolicyName string
}

// DeleteScalingPolicyOutput is empty: the policy is gone.
type DeleteScalingPolicyOutput struct{}

// DescribeScalingPoliciesInput names a service whose auto scaling to
// describe.
type DescribeScalingPoliciesInput struct {
	Cluster string
	Service string
}

// DescribeScalingPoliciesOutput is the service's auto scaling.
type DescribeScalingPoliciesOutput struct {
	ServiceScaling
}
