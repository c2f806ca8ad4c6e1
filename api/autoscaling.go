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

// PutScalingPolicyInput adds or replaces (by name) a target tracking
// policy of a service whose scalable target is registered.
type PutScalingPolicyInput struct {
	Cluster string
	Service string
	Policy  autoscaling.TargetTrackingPolicy
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
