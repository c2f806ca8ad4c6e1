// Package autoscaling decides the desired count of a service under target
// tracking scaling, as Application Auto Scaling does for ECS services. It is
// pure: no clock, no I/O; the caller passes the metric value and the time.
//
// # Model
//
// A ScalableTarget bounds a service's desired count to [MinCapacity,
// MaxCapacity]. A TargetTrackingPolicy keeps a metric near TargetValue:
// ECSServiceAverageCPUUtilization, ECSServiceAverageMemoryUtilization (both
// in percent of what the service's tasks reserve) or a custom metric, named
// by the caller.
//
// # Decision
//
// Decide returns the new desired count:
//
//	desired = ceil(current × metric / target), clamped to [min, max]
//
// A scale-out waits ScaleOutCooldown after the last scale-out. A scale-in
// waits ScaleInCooldown after the last scaling activity (out or in), never
// happens with DisableScaleIn, and happens only when the metric is below the
// target by more than ScaleInTolerance (10%), so that a metric hovering
// near the target does not make the count flap. A count outside the range
// is brought into it whatever the cooldowns. Several policies of one
// service combine with Combine: the largest count wins, so the service
// scales in only when every policy agrees.
//
// # Errors
//
// Validate methods return an *errdefs.FieldError naming the field and the rule it
// broke; it matches ErrInvalid:
//
//	if err := p.Validate(); errors.Is(err, autoscaling.ErrInvalid) { ... }
//
// # Concurrency
//
// The types are values and the functions pure: safe for concurrent use.
package autoscaling
