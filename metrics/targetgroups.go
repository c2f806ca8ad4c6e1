package metrics

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/lb"
)

// TargetGroup is what the Collector reads of a load balancer target group.
// *lb.TargetGroup is one.
type TargetGroup interface {
	Name() string
	// Targets describes the registered targets with their health and
	// traffic counters.
	Targets() []lb.TargetDescription
}

// WithTargetGroups reports the targets of groups too: their health and
// traffic. Group names must differ.
func WithTargetGroups(groups ...TargetGroup) Option {
	return func(o *options) error {
		for i, g := range groups {
			if g == nil {
				return fmt.Errorf("%w: WithTargetGroups: groups[%d] is nil", stevedore.ErrInvalid, i)
			}
			for _, prev := range o.groups {
				if prev.Name() == g.Name() {
					return fmt.Errorf("%w: WithTargetGroups: groups[%d]: name %q is given twice", stevedore.ErrInvalid, i, g.Name())
				}
			}
			o.groups = append(o.groups, g)
		}
		return nil
	}
}

var (
	targetsDesc = prometheus.NewDesc("stevedore_targets",
		"Registered targets of a load balancer target group by health state.",
		[]string{"target_group", "state"}, nil)
	targetRequestsDesc = prometheus.NewDesc("stevedore_target_requests_total",
		"HTTP requests sent to a target, or TCP connections forwarded to it, since it registered.",
		[]string{"target_group", "target"}, nil)
	targetErrorsDesc = prometheus.NewDesc("stevedore_target_errors_total",
		"Requests a target answered with a 5xx status, and requests or connections that failed to reach it or broke off, since it registered.",
		[]string{"target_group", "target"}, nil)
	targetActiveDesc = prometheus.NewDesc("stevedore_target_active_requests",
		"HTTP requests in flight to a target, or TCP connections open to it.",
		[]string{"target_group", "target"}, nil)
)

// targetStates are reported for every group, zero or not. (Unused targets
// are not registered, hence not described.)
var targetStates = []lb.TargetState{lb.StateInitial, lb.StateHealthy, lb.StateUnhealthy, lb.StateDraining}

var targetDescs = []*prometheus.Desc{targetsDesc, targetRequestsDesc, targetErrorsDesc, targetActiveDesc}

// collectTargets reports the targets of the groups. Reading a group's
// targets cannot fail.
func collectTargets(groups []TargetGroup, ch chan<- prometheus.Metric) {
	for _, g := range groups {
		name := g.Name()
		byState := map[lb.TargetState]int{}
		for _, t := range g.Targets() {
			byState[t.Health.State]++
			ch <- prometheus.MustNewConstMetric(targetRequestsDesc, prometheus.CounterValue, float64(t.Stats.Requests), name, t.Target.ID)
			ch <- prometheus.MustNewConstMetric(targetErrorsDesc, prometheus.CounterValue, float64(t.Stats.Errors), name, t.Target.ID)
			ch <- prometheus.MustNewConstMetric(targetActiveDesc, prometheus.GaugeValue, float64(t.Stats.Active), name, t.Target.ID)
		}
		for _, st := range targetStates {
			ch <- prometheus.MustNewConstMetric(targetsDesc, prometheus.GaugeValue, float64(byState[st]), name, string(st))
		}
	}
}
