// Package metrics exports an Orchestrator's state and events as Prometheus
// metrics.
//
// # Construction
//
// NewCollector returns a prometheus.Collector; register it on a registry and
// serve the registry with promhttp:
//
//	c, err := metrics.NewCollector(o)
//	if err != nil { ... }
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(c)
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// To count events as well, run the Collector until a context ends:
//
//	ctx, cancel := context.WithCancel(ctx)
//	defer cancel()
//	go c.Run(ctx)
//
// # What a scrape reads
//
// Each scrape reads the Orchestrator's state through its public API:
// DescribeClusters once, then per ACTIVE cluster DescribeContainerInstances,
// DescribeServices, ListTasks once per desired status and a single
// DescribeTasks for all the listed tasks. The cost of a scrape is one pass
// over the state, never a call per task. Scrapes are serialised and bounded
// by WithScrapeTimeout.
//
// # Metrics
//
// Gauges, read on each scrape (memory in bytes, cpu in units of 1/1024 vCPU):
//
//	stevedore_tasks{cluster,service,last_status,desired_status}
//	stevedore_service_desired_tasks{cluster,service}
//	stevedore_service_running_tasks{cluster,service}
//	stevedore_service_pending_tasks{cluster,service}
//	stevedore_service_steady{cluster,service}
//	stevedore_service_deployments{cluster,service,rollout_state}
//	stevedore_container_instances{cluster,status}
//	stevedore_container_instance_agent_connected{cluster,instance}
//	stevedore_container_instance_cpu_registered_units{cluster,instance}
//	stevedore_container_instance_cpu_remaining_units{cluster,instance}
//	stevedore_container_instance_memory_registered_bytes{cluster,instance}
//	stevedore_container_instance_memory_remaining_bytes{cluster,instance}
//
// The service label of stevedore_tasks is empty for standalone tasks.
// stevedore_service_deployments and stevedore_container_instances report
// every known state, zero or not, so that alerts have a series to watch.
//
// With WithTargetGroups, the targets of load balancer target groups (any
// TargetGroup, such as *lb.TargetGroup), read on each scrape:
//
//	stevedore_targets{target_group,state}
//	stevedore_target_requests_total{target_group,target}
//	stevedore_target_errors_total{target_group,target}
//	stevedore_target_active_requests{target_group,target}
//
// A target's counters count from its registration; a target registered
// again starts from zero, which Prometheus's rate() takes as a reset.
//
// Counters, counted by Run from the Orchestrator's events:
//
//	stevedore_task_state_change_events_total{cluster,service,last_status}
//	stevedore_service_events_total{cluster,service}
//	stevedore_deployment_state_change_events_total{cluster,service,rollout_state}
//	stevedore_container_instance_state_change_events_total{cluster,status}
//	stevedore_event_resubscriptions_total
//
// # Errors
//
// A scrape that cannot read the state of a cluster (the Orchestrator was
// closed, the store failed, a read timed out) leaves that cluster out,
// reports the other clusters, logs a warning through WithLogger and counts
// one in stevedore_scrape_errors_total. It never fails the whole scrape, so
// that the error counter itself can be read.
//
// # Concurrency
//
// A Collector is safe for concurrent use. Run starts no goroutine that
// outlives it: it returns when its context ends.
package metrics
