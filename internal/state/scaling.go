package state

import (
	"slices"

	"github.com/stevedore-io/stevedore/autoscaling"
	"github.com/stevedore-io/stevedore/store"
)

// KindScaling is the store kind of services' auto scaling configurations.
const KindScaling = "scaling"

// Scaling is a service's auto scaling configuration: its scalable target,
// its target tracking policies and when it last scaled. It is keyed by
// ServiceKey(Cluster, Service) and kept apart from the service so that the
// service controller's writes and the autoscaler's never conflict.
type Scaling struct {
	store.Meta
	Cluster  string                             `json:"cluster"`
	Service  string                             `json:"service"`
	Target   autoscaling.ScalableTarget         `json:"scalableTarget"`
	Policies []autoscaling.TargetTrackingPolicy `json:"policies,omitempty"`
	History  autoscaling.History                `json:"history"`
}

// Kind implements store.Object.
func (*Scaling) Kind() string { return KindScaling }

// ObjectID implements store.Object.
func (s *Scaling) ObjectID() string { return ServiceKey(s.Cluster, s.Service) }

// Copy returns a deep copy.
func (s *Scaling) Copy() *Scaling {
	out := *s
	out.Policies = slices.Clone(s.Policies)
	return &out
}
