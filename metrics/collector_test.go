package metrics_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/metrics"
	netfake "github.com/stevedore-io/stevedore/network/fake"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/stevedoretest"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

const webDef = `{
  "family": "web",
  "networkMode": "awsvpc",
  "containerDefinitions": [{
    "name": "app",
    "image": "web:v1",
    "memory": 256,
    "cpu": 128,
    "command": ["sleep", "infinity"]
  }]
}`

// newOrchestrator returns an Orchestrator with a cluster "test" of n
// instances (4096 cpu units, 8 GiB each) on the fake runtime, and the web
// task definition registered. Call it inside a synctest bubble.
func newOrchestrator(t *testing.T, n int) *stevedore.Orchestrator {
	t.Helper()
	o, err := stevedore.New(stevedore.WithSeed(1))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, o.Close()) })
	ctx := t.Context()
	_, err = o.CreateCluster(ctx, &stevedore.CreateClusterInput{ClusterName: "test"})
	require.NoError(t, err)
	for i := range n {
		addInstance(t, o, fmt.Sprintf("i-%d", i))
	}
	td, _, err := task.ParseDefinition([]byte(webDef))
	require.NoError(t, err)
	_, err = o.RegisterTaskDefinition(ctx, &stevedore.RegisterTaskDefinitionInput{TaskDefinition: *td})
	require.NoError(t, err)
	return o
}

func addInstance(t *testing.T, o *stevedore.Orchestrator, id string) {
	t.Helper()
	rt := fake.New()
	t.Cleanup(rt.Close)
	_, err := o.RegisterContainerInstance(t.Context(), &stevedore.RegisterContainerInstanceInput{
		Cluster:    "test",
		InstanceID: id,
		Resources:  cluster.Resources{CPU: 4096, Memory: 8192, NetworkSlots: 10},
		Runtime:    rt,
		Network:    netfake.New(),
	})
	require.NoError(t, err)
}

// waitSteady advances fake time until service name is steady.
func waitSteady(t *testing.T, o *stevedore.Orchestrator, name string) {
	t.Helper()
	for range 300 {
		synctest.Wait()
		s, err := stevedoretest.ServicesOf(o.DescribeServices(t.Context(), &stevedore.DescribeServicesInput{Cluster: "test", Services: []string{name}}))
		require.NoError(t, err)
		if s[0].Steady {
			return
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("service %s not steady after 5 minutes", name)
}

func newCollector(t *testing.T, o *stevedore.Orchestrator) *metrics.Collector {
	t.Helper()
	c, err := metrics.NewCollector(o)
	require.NoError(t, err)
	// A pedantic registry checks that Collect sends only what Describe
	// declared.
	prometheus.NewPedanticRegistry().MustRegister(c)
	return c
}

func TestCollectorReportsState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newOrchestrator(t, 2)
		ctx := t.Context()
		c := newCollector(t, o)
		_, err := o.CreateService(ctx, &stevedore.CreateServiceInput{
			Cluster: "test", ServiceName: "web", TaskDefinition: "web", DesiredCount: 2,
		})
		require.NoError(t, err)
		waitSteady(t, o, "web")
		run, err := o.RunTask(ctx, &stevedore.RunTaskInput{Cluster: "test", TaskDefinition: "web", Count: 2})
		require.NoError(t, err)
		require.Len(t, run.Tasks, 2)
		time.Sleep(time.Minute)
		synctest.Wait()
		_, err = o.StopTask(ctx, &stevedore.StopTaskInput{Cluster: "test", Task: run.Tasks[0].ID(), Reason: "test"})
		require.NoError(t, err)
		time.Sleep(time.Minute)
		synctest.Wait()

		const want = `
# HELP stevedore_container_instances Registered container instances by status.
# TYPE stevedore_container_instances gauge
stevedore_container_instances{cluster="test",status="ACTIVE"} 2
stevedore_container_instances{cluster="test",status="DRAINING"} 0
stevedore_container_instances{cluster="test",status="REGISTERING"} 0
# HELP stevedore_container_instance_cpu_registered_units CPU units (1024 = 1 vCPU) a container instance registered.
# TYPE stevedore_container_instance_cpu_registered_units gauge
stevedore_container_instance_cpu_registered_units{cluster="test",instance="i-0"} 4096
stevedore_container_instance_cpu_registered_units{cluster="test",instance="i-1"} 4096
# HELP stevedore_container_instance_memory_registered_bytes Memory a container instance registered.
# TYPE stevedore_container_instance_memory_registered_bytes gauge
stevedore_container_instance_memory_registered_bytes{cluster="test",instance="i-0"} 8.589934592e+09
stevedore_container_instance_memory_registered_bytes{cluster="test",instance="i-1"} 8.589934592e+09
# HELP stevedore_container_instance_agent_connected 1 while a container instance's agent is connected, else 0.
# TYPE stevedore_container_instance_agent_connected gauge
stevedore_container_instance_agent_connected{cluster="test",instance="i-0"} 1
stevedore_container_instance_agent_connected{cluster="test",instance="i-1"} 1
# HELP stevedore_service_deployments Deployments of a service by rollout state.
# TYPE stevedore_service_deployments gauge
stevedore_service_deployments{cluster="test",rollout_state="COMPLETED",service="web"} 1
stevedore_service_deployments{cluster="test",rollout_state="FAILED",service="web"} 0
stevedore_service_deployments{cluster="test",rollout_state="IN_PROGRESS",service="web"} 0
# HELP stevedore_service_desired_tasks Tasks a service wants running (its desiredCount).
# TYPE stevedore_service_desired_tasks gauge
stevedore_service_desired_tasks{cluster="test",service="web"} 2
# HELP stevedore_service_pending_tasks Tasks of a service that are not RUNNING yet (its pendingCount).
# TYPE stevedore_service_pending_tasks gauge
stevedore_service_pending_tasks{cluster="test",service="web"} 0
# HELP stevedore_service_running_tasks Tasks of a service that are RUNNING (its runningCount).
# TYPE stevedore_service_running_tasks gauge
stevedore_service_running_tasks{cluster="test",service="web"} 2
# HELP stevedore_service_steady 1 while a service is in a steady state, else 0.
# TYPE stevedore_service_steady gauge
stevedore_service_steady{cluster="test",service="web"} 1
# HELP stevedore_tasks Tasks by cluster, service (empty for standalone tasks), last status and desired status.
# TYPE stevedore_tasks gauge
stevedore_tasks{cluster="test",desired_status="RUNNING",last_status="RUNNING",service=""} 1
stevedore_tasks{cluster="test",desired_status="RUNNING",last_status="RUNNING",service="web"} 2
stevedore_tasks{cluster="test",desired_status="STOPPED",last_status="STOPPED",service=""} 1
# HELP stevedore_scrape_errors_total Scrapes that could not read part or all of the Orchestrator's state.
# TYPE stevedore_scrape_errors_total counter
stevedore_scrape_errors_total 0
`
		require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want),
			"stevedore_container_instances",
			"stevedore_container_instance_cpu_registered_units",
			"stevedore_container_instance_memory_registered_bytes",
			"stevedore_container_instance_agent_connected",
			"stevedore_service_deployments",
			"stevedore_service_desired_tasks",
			"stevedore_service_pending_tasks",
			"stevedore_service_running_tasks",
			"stevedore_service_steady",
			"stevedore_tasks",
			"stevedore_scrape_errors_total",
		))

		// Three tasks of 128 cpu units and 256 MiB hold resources; where
		// they went is placement's business.
		assert.Equal(t, float64(2*4096-3*128), sum(t, c, "stevedore_container_instance_cpu_remaining_units", nil))
		assert.Equal(t, float64(2*8192-3*256)*(1<<20), sum(t, c, "stevedore_container_instance_memory_remaining_bytes", nil))
	})
}

func TestCollectorReportsEmptyCluster(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newOrchestrator(t, 0)
		c := newCollector(t, o)
		// Instance counts by status (3), the scrape error and resubscription
		// counters; no task, service or instance series.
		assert.Equal(t, 5, testutil.CollectAndCount(c))
		assert.Equal(t, 0, testutil.CollectAndCount(c, "stevedore_tasks"))
	})
}

func TestCollectorCountsEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newOrchestrator(t, 1)
		c := newCollector(t, o)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		synctest.Wait() // subscribed

		addInstance(t, o, "i-1")
		_, err := o.CreateService(t.Context(), &stevedore.CreateServiceInput{
			Cluster: "test", ServiceName: "web", TaskDefinition: "web", DesiredCount: 2,
		})
		require.NoError(t, err)
		waitSteady(t, o, "web")
		synctest.Wait()

		assert.GreaterOrEqual(t, sum(t, c, "stevedore_task_state_change_events_total",
			map[string]string{"service": "web", "last_status": "RUNNING"}), 2.0, "each task reached RUNNING")
		assert.Equal(t, 1.0, sum(t, c, "stevedore_deployment_state_change_events_total",
			map[string]string{"service": "web", "rollout_state": "COMPLETED"}))
		assert.GreaterOrEqual(t, sum(t, c, "stevedore_service_events_total",
			map[string]string{"service": "web"}), 1.0, "the steady state event")
		assert.GreaterOrEqual(t, sum(t, c, "stevedore_container_instance_state_change_events_total",
			map[string]string{"status": "ACTIVE"}), 1.0, "i-1 registered")
		assert.Equal(t, 0.0, sum(t, c, "stevedore_event_resubscriptions_total", nil))

		cancel()
		require.NoError(t, <-done)
	})
}

// sum adds up the values of the gauges or counters name whose labels
// include want.
func sum(t *testing.T, c prometheus.Collector, name string, want map[string]string) float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	families, err := reg.Gather()
	require.NoError(t, err)
	var total float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue series
				}
			}
			total += m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	return total
}

func TestScrapeOfClosedOrchestratorCountsAnError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newOrchestrator(t, 1)
		var logged bytes.Buffer
		c, err := metrics.NewCollector(o, metrics.WithLogger(slog.New(slog.NewTextHandler(&logged, nil))))
		require.NoError(t, err)
		require.NoError(t, o.Close())

		const want = `
# HELP stevedore_scrape_errors_total Scrapes that could not read part or all of the Orchestrator's state.
# TYPE stevedore_scrape_errors_total counter
stevedore_scrape_errors_total 1
`
		require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want), "stevedore_scrape_errors_total"))
		assert.Equal(t, 0, testutil.CollectAndCount(c, "stevedore_tasks", "stevedore_container_instances"))
		assert.Contains(t, logged.String(), "metrics scrape failed")

		err = c.Run(t.Context())
		require.ErrorIs(t, err, store.ErrClosed)
		assert.Contains(t, err.Error(), "subscribe")
	})
}

func TestNewCollectorRejectsBadOptions(t *testing.T) {
	t.Parallel()
	o, err := stevedore.New()
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, o.Close()) })
	for name, tc := range map[string]struct {
		o    *stevedore.Orchestrator
		opts []metrics.Option
	}{
		"nil orchestrator": {o: nil},
		"nil logger":       {o: o, opts: []metrics.Option{metrics.WithLogger(nil)}},
		"zero timeout":     {o: o, opts: []metrics.Option{metrics.WithScrapeTimeout(0)}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := metrics.NewCollector(tc.o, tc.opts...)
			require.ErrorIs(t, err, stevedore.ErrInvalid)
		})
	}
}

func TestMetricNamesFollowConventions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newOrchestrator(t, 1)
		c := newCollector(t, o)
		_, err := o.CreateService(t.Context(), &stevedore.CreateServiceInput{
			Cluster: "test", ServiceName: "web", TaskDefinition: "web", DesiredCount: 1,
		})
		require.NoError(t, err)
		waitSteady(t, o, "web")
		problems, err := testutil.CollectAndLint(c)
		require.NoError(t, err)
		assert.Empty(t, problems)
	})
}
