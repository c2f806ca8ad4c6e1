package autoscaling

import (
	"fmt"
	"math"
	"time"

	"github.com/stevedore-io/stevedore/errdefs"
)

// Predefined metrics of ECS services, in percent of what the service's
// running tasks reserve. Any other non-empty name is a custom metric.
const (
	ECSServiceAverageCPUUtilization    = "ECSServiceAverageCPUUtilization"
	ECSServiceAverageMemoryUtilization = "ECSServiceAverageMemoryUtilization"
)

// Defaults and limits.
const (
	// DefaultCooldown is a policy's scale-out and scale-in cooldown when
	// it sets none (Application Auto Scaling's default for ECS).
	DefaultCooldown = 300 * time.Second
	// ScaleInTolerance is how far below the target, as a fraction of it,
	// the metric must be before the service scales in.
	ScaleInTolerance = 0.1
	// MaxCapacityLimit is the largest MaxCapacity accepted.
	MaxCapacityLimit = 10000
)

// ErrInvalid is matched by every validation error of the package, each
// an *errdefs.FieldError. It is errdefs.ErrInvalid.
var ErrInvalid = errdefs.ErrInvalid

var invalid = errdefs.Invalid

// ScalableTarget bounds a service's desired count.
type ScalableTarget struct {
	MinCapacity int `json:"minCapacity"`
	MaxCapacity int `json:"maxCapacity"`
}

// Validate checks 0 ≤ MinCapacity ≤ MaxCapacity ≤ MaxCapacityLimit.
func (t ScalableTarget) Validate() error {
	switch {
	case t.MinCapacity < 0:
		return invalid("minCapacity", "must be at least 0, got %d", t.MinCapacity)
	case t.MaxCapacity > MaxCapacityLimit:
		return invalid("maxCapacity", "must be at most %d, got %d", MaxCapacityLimit, t.MaxCapacity)
	case t.MaxCapacity < t.MinCapacity:
		return invalid("maxCapacity", "must be at least minCapacity %d, got %d", t.MinCapacity, t.MaxCapacity)
	}
	return nil
}

// Clamp returns n brought into [MinCapacity, MaxCapacity].
func (t ScalableTarget) Clamp(n int) int { return min(max(n, t.MinCapacity), t.MaxCapacity) }

// TargetTrackingPolicy keeps Metric near TargetValue.
type TargetTrackingPolicy struct {
	// Name identifies the policy among the service's.
	Name string `json:"policyName"`
	// Metric is ECSServiceAverageCPUUtilization,
	// ECSServiceAverageMemoryUtilization or a custom metric's name.
	Metric string `json:"metric"`
	// TargetValue is the metric's value to keep; positive.
	TargetValue float64 `json:"targetValue"`
	// ScaleOutCooldown and ScaleInCooldown are DefaultCooldown when zero.
	ScaleOutCooldown time.Duration `json:"scaleOutCooldown,omitempty"`
	ScaleInCooldown  time.Duration `json:"scaleInCooldown,omitempty"`
	// DisableScaleIn leaves scaling in to someone else.
	DisableScaleIn bool `json:"disableScaleIn,omitempty"`
}

// Validate checks the policy's fields.
func (p TargetTrackingPolicy) Validate() error {
	switch {
	case p.Name == "":
		return invalid("policyName", "must not be empty")
	case len(p.Name) > 256:
		return invalid("policyName", "must be at most 256 characters, got %d", len(p.Name))
	case p.Metric == "":
		return invalid("metric", "must not be empty")
	case math.IsNaN(p.TargetValue) || math.IsInf(p.TargetValue, 0) || p.TargetValue <= 0:
		return invalid("targetValue", "must be a positive number, got %v", p.TargetValue)
	case p.ScaleOutCooldown < 0:
		return invalid("scaleOutCooldown", "must not be negative, got %v", p.ScaleOutCooldown)
	case p.ScaleInCooldown < 0:
		return invalid("scaleInCooldown", "must not be negative, got %v", p.ScaleInCooldown)
	}
	return nil
}

// WithDefaults returns p with zero cooldowns set to DefaultCooldown.
func (p TargetTrackingPolicy) WithDefaults() TargetTrackingPolicy {
	if p.ScaleOutCooldown == 0 {
		p.ScaleOutCooldown = DefaultCooldown
	}
	if p.ScaleInCooldown == 0 {
		p.ScaleInCooldown = DefaultCooldown
	}
	return p
}

// History is when the service last scaled; zero times mean never.
type History struct {
	LastScaleOut time.Time `json:"lastScaleOut,omitzero"`
	LastScaleIn  time.Time `json:"lastScaleIn,omitzero"`
}

// lastActivity is the later of the two.
func (h History) lastActivity() time.Time {
	if h.LastScaleIn.After(h.LastScaleOut) {
		return h.LastScaleIn
	}
	return h.LastScaleOut
}

// Decision is what Decide concluded.
type Decision struct {
	// Desired is the new desired count (the current one when nothing
	// changes).
	Desired int
	// Reason says why, for logs and service events.
	Reason string
}

// Decide applies policy p (with defaults) to a service of current desired
// tasks whose metric reads metric at now, within target t.
func Decide(t ScalableTarget, p TargetTrackingPolicy, current int, metric float64, h History, now time.Time) Decision {
	p = p.WithDefaults()
	if c := t.Clamp(current); c != current {
		return Decision{Desired: c, Reason: fmt.Sprintf("desired count %d is outside [%d, %d]", current, t.MinCapacity, t.MaxCapacity)}
	}
	if math.IsNaN(metric) || math.IsInf(metric, 0) || metric < 0 {
		return Decision{Desired: current, Reason: fmt.Sprintf("metric %s has no usable value (%v)", p.Metric, metric)}
	}
	ratio := metric / p.TargetValue
	// A service of no tasks has no average to scale on: target tracking
	// does not scale from zero.
	raw := current
	if current > 0 {
		// The small epsilon keeps 3 × 50/50 at 3 despite rounding.
		// Clamping in float first keeps a huge ratio from overflowing
		// the conversion to int.
		raw = int(min(math.Ceil(float64(current)*ratio-1e-9), float64(t.MaxCapacity)))
	}
	desired := t.Clamp(raw)
	what := fmt.Sprintf("%s is %.4g, target %.4g", p.Metric, metric, p.TargetValue)
	switch {
	case desired > current:
		if last := h.LastScaleOut; !last.IsZero() && now.Sub(last) < p.ScaleOutCooldown {
			return Decision{Desired: current, Reason: what + fmt.Sprintf(": scale-out cooldown until %s", last.Add(p.ScaleOutCooldown).Format(time.RFC3339))}
		}
		return Decision{Desired: desired, Reason: what + fmt.Sprintf(": scaling out from %d to %d", current, desired)}
	case desired < current:
		if p.DisableScaleIn {
			return Decision{Desired: current, Reason: what + ": scale-in disabled"}
		}
		if ratio >= 1-ScaleInTolerance {
			return Decision{Desired: current, Reason: what + ": within the scale-in tolerance"}
		}
		if last := h.lastActivity(); !last.IsZero() && now.Sub(last) < p.ScaleInCooldown {
			return Decision{Desired: current, Reason: what + fmt.Sprintf(": scale-in cooldown until %s", last.Add(p.ScaleInCooldown).Format(time.RFC3339))}
		}
		return Decision{Desired: desired, Reason: what + fmt.Sprintf(": scaling in from %d to %d", current, desired)}
	}
	return Decision{Desired: current, Reason: what + ": no change"}
}

// Combine merges the decisions of a service's policies: the largest count
// wins, so the service scales out when any policy says so and in only when
// all do. With no decisions it returns current.
func Combine(current int, ds ...Decision) Decision {
	if len(ds) == 0 {
		return Decision{Desired: current, Reason: "no policy"}
	}
	best := ds[0]
	for _, d := range ds[1:] {
		if d.Desired > best.Desired {
			best = d
		}
	}
	return best
}
