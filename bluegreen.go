package stevedore

import (
	"context"
	"fmt"
	"time"

	"github.com/stevedore-io/stevedore/internal/shift"
)

// ListenerRule is what the Orchestrator needs of a load balancer listener
// rule for blue/green deployments (package lb's *ForwardAction is one): a
// forward action over a service's two target groups whose weights it sets,
// by target group name, from 0 to 1000 (per mille of the rule's traffic).
// Services name rules in LoadBalancer.AdvancedConfiguration.
type ListenerRule interface {
	Name() string
	SetWeights(weights map[string]int) error
}

// WithListenerRules makes listener rules available to blue/green services
// by name (AdvancedConfiguration.ProductionListenerRule and
// TestListenerRule).
func WithListenerRules(rules ...ListenerRule) Option {
	return func(o *options) error {
		if o.rules == nil {
			o.rules = map[string]ListenerRule{}
		}
		for _, r := range rules {
			if r == nil || r.Name() == "" {
				return fmt.Errorf("%w: WithListenerRules: a listener rule without a name", ErrInvalid)
			}
			if _, dup := o.rules[r.Name()]; dup {
				return fmt.Errorf("%w: WithListenerRules: two listener rules named %q", ErrInvalid, r.Name())
			}
			o.rules[r.Name()] = r
		}
		return nil
	}
}

// Comparison is how a metric alarm compares its metric with its threshold.
type Comparison string

// Comparisons, as in CloudWatch.
const (
	GreaterThanThreshold          Comparison = "GreaterThanThreshold"
	GreaterThanOrEqualToThreshold Comparison = "GreaterThanOrEqualToThreshold"
	LessThanThreshold             Comparison = "LessThanThreshold"
	LessThanOrEqualToThreshold    Comparison = "LessThanOrEqualToThreshold"
)

// breaches reports whether v breaches threshold under c.
func (c Comparison) breaches(v, threshold float64) bool {
	switch c {
	case GreaterThanThreshold:
		return v > threshold
	case GreaterThanOrEqualToThreshold:
		return v >= threshold
	case LessThanThreshold:
		return v < threshold
	case LessThanOrEqualToThreshold:
		return v <= threshold
	}
	return false
}

// DefaultAlarmPeriod is how often an alarm is evaluated when it does not
// say.
const DefaultAlarmPeriod = 10 * time.Second

// Alarm is a named condition watched during blue/green deployments whose
// DeploymentConfiguration.Alarms name it, from SCALE_UP through BAKE_TIME.
// It is evaluated every Period, giving one datapoint: breaching when
// Predicate returns true, or when Metric's value compares with Threshold as
// Comparison says. It fires when DatapointsToAlarm of the last
// EvaluationPeriods datapoints breach. A datapoint whose function fails
// counts as not breaching (CloudWatch's missing data), and is logged.
// Predicate and Metric are called from one goroutine per watched
// deployment, with a context that ends when the watch does.
type Alarm struct {
	Name string
	// Predicate reports whether the alarm condition holds; set it or Metric.
	Predicate func(ctx context.Context) (bool, error)
	// Metric samples a metric; set it or Predicate.
	Metric     func(ctx context.Context) (float64, error)
	Comparison Comparison
	Threshold  float64
	// Period defaults to DefaultAlarmPeriod.
	Period time.Duration
	// EvaluationPeriods defaults to 1.
	EvaluationPeriods int
	// DatapointsToAlarm defaults to EvaluationPeriods.
	DatapointsToAlarm int
}

// withDefaults returns a with its defaults filled in, or an error naming
// the bad field.
func (a Alarm) withDefaults() (Alarm, error) {
	field := func(f string) string { return "alarms[" + a.Name + "]." + f }
	switch {
	case a.Name == "":
		return a, invalid("alarms.name", "is required")
	case (a.Predicate == nil) == (a.Metric == nil):
		return a, invalid(field("predicate"), "set exactly one of predicate and metric")
	case a.Metric != nil && !a.Comparison.breaches(1, 0) && !a.Comparison.breaches(0, 1):
		return a, invalid(field("comparison"), "must be GreaterThanThreshold, GreaterThanOrEqualToThreshold, LessThanThreshold or LessThanOrEqualToThreshold, got %q", a.Comparison)
	case a.Period < 0:
		return a, invalid(field("period"), "must not be negative, got %v", a.Period)
	case a.EvaluationPeriods < 0 || a.DatapointsToAlarm < 0:
		return a, invalid(field("evaluationPeriods"), "must not be negative")
	}
	if a.Period == 0 {
		a.Period = DefaultAlarmPeriod
	}
	if a.EvaluationPeriods == 0 {
		a.EvaluationPeriods = 1
	}
	if a.DatapointsToAlarm == 0 {
		a.DatapointsToAlarm = a.EvaluationPeriods
	}
	if a.DatapointsToAlarm > a.EvaluationPeriods {
		return a, invalid(field("datapointsToAlarm"), "must not exceed evaluationPeriods (%d), got %d", a.EvaluationPeriods, a.DatapointsToAlarm)
	}
	return a, nil
}

// WithAlarms registers alarms that services' deployment configurations can
// name (DeploymentConfiguration.Alarms.AlarmNames).
func WithAlarms(alarms ...Alarm) Option {
	return func(o *options) error {
		if o.alarms == nil {
			o.alarms = map[string]Alarm{}
		}
		for _, a := range alarms {
			a, err := a.withDefaults()
			if err != nil {
				return fmt.Errorf("WithAlarms: %w", err)
			}
			if _, dup := o.alarms[a.Name]; dup {
				return fmt.Errorf("%w: WithAlarms: two alarms named %q", ErrInvalid, a.Name)
			}
			o.alarms[a.Name] = a
		}
		return nil
	}
}

// sample takes one datapoint of a.
func sample(ctx context.Context, a Alarm) (breaching bool, detail string, err error) {
	if a.Predicate != nil {
		breaching, err = a.Predicate(ctx)
		return breaching && err == nil, "", err
	}
	v, err := a.Metric(ctx)
	if err != nil {
		return false, "", err
	}
	return a.Comparison.breaches(v, a.Threshold), fmt.Sprintf(" (last %g, %s %g)", v, a.Comparison, a.Threshold), nil
}

// shiftAlarms converts the registered alarms for the traffic shift loop.
func shiftAlarms(alarms map[string]Alarm) map[string]shift.Alarm {
	out := make(map[string]shift.Alarm, len(alarms))
	for name, a := range alarms {
		out[name] = shift.Alarm{Name: a.Name, Period: a.Period,
			EvaluationPeriods: a.EvaluationPeriods, DatapointsToAlarm: a.DatapointsToAlarm,
			Sample: func(ctx context.Context) (bool, string, error) { return sample(ctx, a) }}
	}
	return out
}
