package metrics

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stevedore-io/stevedore"
)

// eventCounters count the Orchestrator's events.
type eventCounters struct {
	taskChanges     *prometheus.CounterVec
	serviceEvents   *prometheus.CounterVec
	deployments     *prometheus.CounterVec
	instanceChanges *prometheus.CounterVec
	resubscriptions prometheus.Counter
}

func newEventCounters() eventCounters {
	return eventCounters{
		taskChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stevedore_task_state_change_events_total",
			Help: "Task state change events, by the task's last status after the change " +
				"(a change of desired status or health counts too).",
		}, []string{"cluster", "service", "last_status"}),
		serviceEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stevedore_service_events_total",
			Help: "Service action events (such as \"has reached a steady state\").",
		}, []string{"cluster", "service"}),
		deployments: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stevedore_deployment_state_change_events_total",
			Help: "Deployment state change events, by the rollout state reached.",
		}, []string{"cluster", "service", "rollout_state"}),
		instanceChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stevedore_container_instance_state_change_events_total",
			Help: "Container instance state change events, by the status reached.",
		}, []string{"cluster", "status"}),
		resubscriptions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stevedore_event_resubscriptions_total",
			Help: "Times the event subscription fell behind, was dropped and began again (events were missed).",
		}),
	}
}

func (e eventCounters) collectors() []prometheus.Collector {
	return []prometheus.Collector{e.taskChanges, e.serviceEvents, e.deployments, e.instanceChanges, e.resubscriptions}
}

func (e eventCounters) describe(ch chan<- *prometheus.Desc) {
	for _, c := range e.collectors() {
		c.Describe(ch)
	}
}

func (e eventCounters) collect(ch chan<- prometheus.Metric) {
	for _, c := range e.collectors() {
		c.Collect(ch)
	}
}

func (e eventCounters) count(ev stevedore.Event) {
	switch ev.Type {
	case stevedore.EventTaskStateChange:
		if ev.Task != nil {
			e.taskChanges.WithLabelValues(ev.Cluster, serviceOf(ev.Task), string(ev.Task.LastStatus)).Inc()
		}
	case stevedore.EventServiceAction:
		e.serviceEvents.WithLabelValues(ev.Cluster, ev.Service).Inc()
	case stevedore.EventDeploymentStateChange:
		if ev.Deployment != nil {
			e.deployments.WithLabelValues(ev.Cluster, ev.Service, string(ev.Deployment.RolloutState)).Inc()
		}
	case stevedore.EventInstanceStateChange:
		if ev.Instance != nil {
			e.instanceChanges.WithLabelValues(ev.Cluster, string(ev.Instance.Status)).Inc()
		}
	}
}

// Run counts the Orchestrator's events (see Subscribe) until ctx is done,
// then returns nil. Counting starts with the events after the call: the
// counters count from zero, as Prometheus counters do after a restart. A
// subscription dropped for falling behind begins again and is counted in
// stevedore_event_resubscriptions_total. Run returns an error when it
// cannot subscribe, for example once the Orchestrator is closed. Run holds
// no goroutine of its own after it returns.
//
// Call Run once per Collector; run it in a goroutine of your own:
//
//	go func() { errc <- c.Run(ctx) }()
func (c *Collector) Run(ctx context.Context) error {
	for first := true; ; first = false {
		if ctx.Err() != nil {
			return nil
		}
		events, err := c.o.Subscribe(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("metrics: subscribe to events: %w", err)
		}
		if !first {
			c.events.resubscriptions.Inc()
			c.log.Warn("metrics: event subscription fell behind and began again")
		}
		for ev := range events {
			c.events.count(ev)
		}
	}
}
