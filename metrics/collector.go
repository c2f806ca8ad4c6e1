package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/discovery"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/task"
)

// DefaultScrapeTimeout bounds the reads of one scrape.
const DefaultScrapeTimeout = 10 * time.Second

// Option configures a Collector. Options that cannot apply return an error
// from NewCollector.
type Option func(*options) error

type options struct {
	logger  *slog.Logger
	timeout time.Duration
	groups  []TargetGroup
}

// WithLogger logs failed scrapes and event subscriptions through l
// (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return fmt.Errorf("%w: WithLogger: nil logger", stevedore.ErrInvalid)
		}
		o.logger = l
		return nil
	}
}

// WithScrapeTimeout bounds the Orchestrator reads of one scrape (default
// DefaultScrapeTimeout).
func WithScrapeTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("%w: WithScrapeTimeout: must be positive, got %v", stevedore.ErrInvalid, d)
		}
		o.timeout = d
		return nil
	}
}

// Collector is a prometheus.Collector of an Orchestrator's state. Each
// scrape reads clusters, container instances, services and tasks through the
// Orchestrator's API (a fixed number of calls per cluster, whatever the
// number of tasks) and the targets of the groups given WithTargetGroups.
// Run feeds its event counters. A Collector is safe for concurrent use.
type Collector struct {
	o       *stevedore.Orchestrator
	log     *slog.Logger
	timeout time.Duration
	groups  []TargetGroup

	// scrapeMu serialises scrapes: two registries scraping at once do not
	// double the load on the Orchestrator.
	scrapeMu sync.Mutex

	scrapeErrors prometheus.Counter
	events       eventCounters
}

var (
	tasksDesc = prometheus.NewDesc("stevedore_tasks",
		"Tasks by cluster, service (empty for standalone tasks), last status and desired status.",
		[]string{"cluster", "service", "last_status", "desired_status"}, nil)

	serviceDesiredDesc = prometheus.NewDesc("stevedore_service_desired_tasks",
		"Tasks a service wants running (its desiredCount).", []string{"cluster", "service"}, nil)
	serviceRunningDesc = prometheus.NewDesc("stevedore_service_running_tasks",
		"Tasks of a service that are RUNNING (its runningCount).", []string{"cluster", "service"}, nil)
	servicePendingDesc = prometheus.NewDesc("stevedore_service_pending_tasks",
		"Tasks of a service that are not RUNNING yet (its pendingCount).", []string{"cluster", "service"}, nil)
	serviceSteadyDesc = prometheus.NewDesc("stevedore_service_steady",
		"1 while a service is in a steady state, else 0.", []string{"cluster", "service"}, nil)
	serviceDeploymentsDesc = prometheus.NewDesc("stevedore_service_deployments",
		"Deployments of a service by rollout state.", []string{"cluster", "service", "rollout_state"}, nil)

	instancesDesc = prometheus.NewDesc("stevedore_container_instances",
		"Registered container instances by status.", []string{"cluster", "status"}, nil)
	instanceAgentDesc = prometheus.NewDesc("stevedore_container_instance_agent_connected",
		"1 while a container instance's agent is connected, else 0.", []string{"cluster", "instance"}, nil)
	instanceCPURegisteredDesc = prometheus.NewDesc("stevedore_container_instance_cpu_registered_units",
		"CPU units (1024 = 1 vCPU) a container instance registered.", []string{"cluster", "instance"}, nil)
	instanceCPURemainingDesc = prometheus.NewDesc("stevedore_container_instance_cpu_remaining_units",
		"CPU units of a container instance not reserved by tasks.", []string{"cluster", "instance"}, nil)
	instanceMemRegisteredDesc = prometheus.NewDesc("stevedore_container_instance_memory_registered_bytes",
		"Memory a container instance registered.", []string{"cluster", "instance"}, nil)
	instanceMemRemainingDesc = prometheus.NewDesc("stevedore_container_instance_memory_remaining_bytes",
		"Memory of a container instance not reserved by tasks.", []string{"cluster", "instance"}, nil)
)

// rolloutStates are reported for every service, zero or not, so that an
// alert on FAILED deployments sees a series before the first failure.
var rolloutStates = []service.RolloutState{service.RolloutInProgress, service.RolloutCompleted, service.RolloutFailed}

// instanceStatuses are the statuses of registered instances, reported for
// every cluster, zero or not. (INACTIVE instances are deregistered and not
// described.)
var instanceStatuses = []cluster.InstanceStatus{cluster.StatusRegistering, cluster.StatusActive, cluster.StatusDraining}

// NewCollector returns a Collector of o's state. Register it on a
// prometheus.Registerer; call Run to count events too.
func NewCollector(o *stevedore.Orchestrator, opts ...Option) (*Collector, error) {
	if o == nil {
		return nil, fmt.Errorf("%w: NewCollector: nil Orchestrator", stevedore.ErrInvalid)
	}
	cfg := options{logger: slog.New(slog.DiscardHandler), timeout: DefaultScrapeTimeout}
	for _, opt := range opts {
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	return &Collector{
		o:       o,
		log:     cfg.logger,
		timeout: cfg.timeout,
		groups:  cfg.groups,
		scrapeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stevedore_scrape_errors_total",
			Help: "Scrapes that could not read part or all of the Orchestrator's state.",
		}),
		events: newEventCounters(),
	}, nil
}

// Describe sends the descriptors of every metric the Collector reports.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		tasksDesc,
		serviceDesiredDesc, serviceRunningDesc, servicePendingDesc, serviceSteadyDesc, serviceDeploymentsDesc,
		instancesDesc, instanceAgentDesc,
		instanceCPURegisteredDesc, instanceCPURemainingDesc, instanceMemRegisteredDesc, instanceMemRemainingDesc,
	} {
		ch <- d
	}
	if len(c.groups) > 0 {
		for _, d := range targetDescs {
			ch <- d
		}
	}
	c.scrapeErrors.Describe(ch)
	c.events.describe(ch)
}

// Collect reads the Orchestrator's state and sends it as metrics. A cluster
// whose state cannot be read is left out and the other clusters are still
// reported; a scrape with any such failure is logged and counted in
// stevedore_scrape_errors_total.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.scrapeMu.Lock()
	defer c.scrapeMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	if err := c.scrape(ctx, ch); err != nil {
		c.scrapeErrors.Inc()
		c.log.Warn("metrics scrape failed", "err", err)
	}
	collectTargets(c.groups, ch)
	c.scrapeErrors.Collect(ch)
	c.events.collect(ch)
}

// scrape reports every cluster. It returns the first error met and goes on
// with the next cluster.
func (c *Collector) scrape(ctx context.Context, ch chan<- prometheus.Metric) error {
	var first error
	in := stevedore.ListClustersInput{}
	for {
		page, err := c.o.ListClusters(ctx, &in)
		if err != nil {
			return fmt.Errorf("list clusters: %w", err)
		}
		for _, arn := range page.ClusterArns {
			name := arn[strings.LastIndexByte(arn, '/')+1:]
			if err := c.scrapeCluster(ctx, name, ch); err != nil && first == nil {
				first = fmt.Errorf("cluster %s: %w", name, err)
			}
		}
		if page.NextToken == "" {
			return first
		}
		in.NextToken = page.NextToken
	}
}

// scrapeCluster reads everything of one cluster before sending anything, so
// that a cluster is reported whole or not at all.
func (c *Collector) scrapeCluster(ctx context.Context, name string, ch chan<- prometheus.Metric) error {
	instances, err := c.o.DescribeContainerInstances(ctx, &stevedore.DescribeContainerInstancesInput{Cluster: name})
	if err != nil {
		return fmt.Errorf("describe container instances: %w", err)
	}
	services, err := c.o.DescribeServices(ctx, &stevedore.DescribeServicesInput{Cluster: name})
	if err != nil {
		return fmt.Errorf("describe services: %w", err)
	}
	tasks, err := c.tasks(ctx, name)
	if err != nil {
		return err
	}

	var out []prometheus.Metric
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		out = append(out, prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...))
	}

	byStatus := map[cluster.InstanceStatus]int{}
	for _, inst := range instances.ContainerInstances {
		byStatus[inst.Status]++
		gauge(instanceAgentDesc, boolValue(inst.AgentConnected), name, inst.ID)
		gauge(instanceCPURegisteredDesc, float64(inst.Registered.CPU), name, inst.ID)
		gauge(instanceCPURemainingDesc, float64(inst.Remaining.CPU), name, inst.ID)
		gauge(instanceMemRegisteredDesc, mib(inst.Registered.Memory), name, inst.ID)
		gauge(instanceMemRemainingDesc, mib(inst.Remaining.Memory), name, inst.ID)
	}
	for _, st := range instanceStatuses {
		gauge(instancesDesc, float64(byStatus[st]), name, string(st))
	}

	for _, s := range services.Services {
		gauge(serviceDesiredDesc, float64(s.DesiredCount), name, s.Name)
		gauge(serviceRunningDesc, float64(s.RunningCount), name, s.Name)
		gauge(servicePendingDesc, float64(s.PendingCount), name, s.Name)
		gauge(serviceSteadyDesc, boolValue(s.Steady), name, s.Name)
		rollouts := map[service.RolloutState]int{}
		for _, d := range s.Deployments {
			rollouts[d.RolloutState]++
		}
		for _, st := range rolloutStates {
			gauge(serviceDeploymentsDesc, float64(rollouts[st]), name, s.Name, string(st))
		}
	}

	type taskKey struct {
		service       string
		last, desired task.Status
	}
	byKey := map[taskKey]int{}
	for _, t := range tasks {
		byKey[taskKey{serviceOf(t), t.LastStatus, t.DesiredStatus}]++
	}
	for k, n := range byKey {
		gauge(tasksDesc, float64(n), name, k.service, string(k.last), string(k.desired))
	}

	for _, m := range out {
		ch <- m
	}
	return nil
}

// tasks reads every task of a cluster: one ListTasks per desired status and
// one DescribeTasks for all of them.
func (c *Collector) tasks(ctx context.Context, clusterName string) ([]*task.Task, error) {
	var ids []string
	for _, desired := range []task.Status{task.Running, task.Stopped} {
		some, err := c.o.AllTaskArns(ctx, &stevedore.ListTasksInput{Cluster: clusterName, DesiredStatus: desired})
		if err != nil {
			return nil, fmt.Errorf("list tasks desired %s: %w", desired, err)
		}
		ids = append(ids, some...)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	var tasks []*task.Task
	for batch := range slices.Chunk(ids, stevedore.MaxDescribeTasks) {
		// A task listed a moment ago can have been reaped since: it is
		// in Failures, and the next scrape lists afresh.
		out, err := c.o.DescribeTasks(ctx, &stevedore.DescribeTasksInput{Cluster: clusterName, Tasks: batch})
		if err != nil {
			return nil, fmt.Errorf("describe %d tasks: %w", len(batch), err)
		}
		tasks = append(tasks, out.Tasks...)
	}
	return tasks, nil
}

// serviceOf names the service a task belongs to, or "" for a standalone
// task.
func serviceOf(t *task.Task) string {
	s, ok := strings.CutPrefix(t.Group, discovery.ServiceGroupPrefix)
	if !ok {
		return ""
	}
	return s
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func mib(n int) float64 { return float64(n) * (1 << 20) }
