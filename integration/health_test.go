package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/stevedoretest"
	"github.com/stevedore-io/stevedore/task"
	"github.com/stevedore-io/stevedore/task/policy"
)

// TestWebTaskBecomesHealthy runs busybox httpd in an awsvpc task with the
// ECS health check of the issue: the task becomes RUNNING, then HEALTHY,
// and answers on its own address from the host.
func TestWebTaskBecomesHealthy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	def := e.registerDef(webTaskDef("web", webScript))
	events := e.subscribe()

	id := e.runTask(def).ID()
	e.waitRunning(id, 30*time.Second)
	tk := e.waitTask(id, "HEALTHY", 30*time.Second, func(t *task.Task) bool {
		return t.HealthStatus == task.Healthy || t.LastStatus == task.Stopped
	})
	require.Equal(t, task.Healthy, tk.HealthStatus, "stopped: %s", tk.StoppedReason)
	assert.Equal(t, task.Running, tk.LastStatus)
	web := tk.Container("web")
	require.NotNil(t, web)
	assert.Equal(t, task.Healthy, web.HealthStatus)
	assert.Equal(t, task.ContainerRunning, web.LastStatus)
	assert.Equal(t, []task.NetworkBinding{{BindIP: taskIP(t, tk), ContainerPort: 8080, HostPort: 8080, Protocol: task.ProtocolTCP}},
		web.NetworkBindings, "awsvpc: the port is on the task's own address")

	body := e.eventuallyGet("http://"+taskIP(t, tk)+":8080/", 10*time.Second)
	assert.True(t, strings.HasPrefix(body, "hello from "), "page: %q", body)

	stopped := e.stopTask(id)
	assert.Equal(t, task.UserInitiated, stopped.StopCode)
	require.NotNil(t, stopped.Container("web").ExitCode)
	assert.Equal(t, 0, *stopped.Container("web").ExitCode, "the script exits 0 on SIGTERM")
	assert.Equal(t, []string{"PROVISIONING", "PENDING", "ACTIVATING", "RUNNING", "DEACTIVATING", "STOPPING", "DEPROVISIONING", "STOPPED"},
		taskStatuses(events.stop(), id), "every lifecycle status is reported, in order")
}

// TestUnhealthyServiceTaskIsReplaced fails the health check of a
// service's first task: the task becomes UNHEALTHY, the service starts a
// replacement (start-first: maximumPercent leaves room), and once the
// replacement is HEALTHY the old task is stopped with ECS's reason.
//
// Only the first task fails: the first container to start claims a
// directory in a host volume shared by the tasks (mkdir is atomic) and
// marks itself failing in its own filesystem; the check fails while the
// mark exists.
func TestUnhealthyServiceTaskIsReplaced(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctl := t.TempDir()
	// The default task policy allows no host path: this cluster's allows
	// the test's directory.
	require.NoError(t, errOf(e.orc.PutClusterTaskPolicy(e.ctx, &stevedore.PutClusterTaskPolicyInput{Cluster: e.cluster, TaskPolicy: &policy.Policy{Level: policy.Baseline, HostPaths: []string{ctl}}})))
	script := `mkdir /ctl/first 2>/dev/null && touch /tmp/fail
` + webScript
	def := e.registerDef(fmt.Sprintf(`{
		"family": "flaky",
		"networkMode": "awsvpc",
		"volumes": [{"name": "ctl", "host": {"sourcePath": %q}}],
		"containerDefinitions": [{
			"name": "web", "image": %q, "essential": true, "memory": 32,
			%s,
			"portMappings": [{"containerPort": 8080}],
			"mountPoints": [{"sourceVolume": "ctl", "containerPath": "/ctl"}],
			"healthCheck": {"command": ["CMD-SHELL", "test ! -e /tmp/fail && wget -q -O - http://127.0.0.1:8080/ || exit 1"],
				"interval": 5, "timeout": 2, "retries": 1},
			"stopTimeout": 2
		}]
	}`, ctl, imageRef, shellCommand(script)))

	_, err := e.orc.CreateService(e.ctx, &stevedore.CreateServiceInput{
		Cluster: e.cluster, ServiceName: "flaky", TaskDefinition: def.Ref(), DesiredCount: 1,
	})
	require.NoError(t, err)
	first := e.waitServiceTasks("flaky", 1, 30*time.Second)[0]
	e.waitRunning(first, 30*time.Second)
	tk := e.waitTask(first, "UNHEALTHY", 30*time.Second, func(t *task.Task) bool {
		return t.HealthStatus == task.Unhealthy || t.LastStatus == task.Stopped
	})
	require.Equal(t, task.Unhealthy, tk.HealthStatus)
	assert.Equal(t, task.Unhealthy, tk.Container("web").HealthStatus)

	// The replacement starts while the unhealthy task still runs.
	var replacement string
	deadline := time.Now().Add(30 * time.Second)
	for replacement == "" {
		for _, id := range e.serviceTaskIDs("flaky") {
			if id != first {
				replacement = id
			}
		}
		if replacement == "" {
			require.False(t, time.Now().After(deadline), "no replacement for the unhealthy task %s within 30s", first)
			sleep(e.ctx, pollEvery)
		}
	}
	assert.Equal(t, task.Running, e.describe(first).LastStatus, "start-first: the unhealthy task runs until its replacement is healthy")

	repl := e.waitTask(replacement, "HEALTHY", 40*time.Second, func(t *task.Task) bool {
		return t.HealthStatus == task.Healthy || t.LastStatus == task.Stopped
	})
	require.Equal(t, task.Healthy, repl.HealthStatus, "replacement stopped: %s", repl.StoppedReason)
	old := e.waitStopped(first, 30*time.Second)
	assert.Equal(t, service.ReasonUnhealthy, old.StoppedReason)
	assert.Equal(t, "Task failed container health checks", old.StoppedReason)
	assert.Equal(t, task.ServiceSchedulerInitiated, old.StopCode)
	assert.Equal(t, task.Running, e.describe(replacement).LastStatus, "the replacement keeps running")

	svc := e.waitService("flaky", "steady with the replacement", 30*time.Second, func(s service.Service) bool {
		return s.Steady && s.RunningCount == 1
	})
	var messages []string
	for _, ev := range svc.Events {
		messages = append(messages, ev.Message)
	}
	assert.Contains(t, strings.Join(messages, "\n"), fmt.Sprintf("(task %s) failed container health checks.", first))
}

// serviceTaskIDs lists the tasks of a service desired RUNNING.
func (e *env) serviceTaskIDs(name string) []string {
	e.t.Helper()
	arns, err := e.orc.AllTaskArns(e.ctx, &stevedore.ListTasksInput{Cluster: e.cluster, ServiceName: name})
	require.NoError(e.t, err)
	return idsOfARNs(arns)
}

// waitServiceTasks waits until a service has n tasks desired RUNNING.
func (e *env) waitServiceTasks(name string, n int, timeout time.Duration) []string {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ids := e.serviceTaskIDs(name)
		if len(ids) == n {
			return ids
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("service %s: %d tasks, want %d, after %s", name, len(ids), n, timeout)
		}
		sleep(e.ctx, pollEvery)
	}
}

// waitService polls DescribeServices until cond holds.
func (e *env) waitService(name, what string, timeout time.Duration, cond func(service.Service) bool) service.Service {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		svcs, err := stevedoretest.ServicesOf(e.orc.DescribeServices(e.ctx, &stevedore.DescribeServicesInput{Cluster: e.cluster, Services: []string{name}}))
		require.NoError(e.t, err)
		require.Len(e.t, svcs, 1)
		if cond(svcs[0]) {
			return svcs[0]
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("service %s: not %s within %s; last state:\n%s", name, what, timeout, toJSON(svcs[0]))
		}
		sleep(e.ctx, pollEvery)
	}
}

// TestHTTPAndTCPHealthChecks runs Stevedore's network health checks, which
// the agent dials from inside the task's namespace. The HTTP check's
// server listens on the task's 127.0.0.1 only, unreachable from the host,
// and the task becomes HEALTHY through it; a task whose TCP check finds
// its port closed becomes UNHEALTHY and its service replaces it.
func TestHTTPAndTCPHealthChecks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	loopbackWeb := `mkdir -p /www && echo "hello from $(hostname)" > /www/index.html
httpd -f -p 127.0.0.1:8080 -h /www & pid=$!
trap 'kill $pid; exit 0' TERM
wait $pid`
	def := func(family, check string) string {
		return fmt.Sprintf(`{
			"family": %q,
			"networkMode": "awsvpc",
			"containerDefinitions": [{
				"name": "web", "image": %q, "essential": true, "memory": 32,
				%s,
				"healthCheck": {"command": %s, "interval": 5, "timeout": 2, "retries": 1},
				"stopTimeout": 2
			}]
		}`, family, imageRef, shellCommand(loopbackWeb), check)
	}
	httpDef := e.registerDef(def("probed-http", `["HTTP", "http://localhost:8080/index.html", "200"]`))
	tcpDef := e.registerDef(def("probed-tcp", `["TCP", "9"]`))
	for _, d := range []*task.TaskDefinition{httpDef, tcpDef} {
		_, err := e.orc.CreateService(e.ctx, &stevedore.CreateServiceInput{
			Cluster: e.cluster, ServiceName: d.Family, TaskDefinition: d.Ref(), DesiredCount: 1,
		})
		require.NoError(t, err)
	}

	web := e.waitServiceTasks("probed-http", 1, 30*time.Second)[0]
	e.waitRunning(web, 30*time.Second)
	tk := e.waitTask(web, "HEALTHY", 30*time.Second, func(t *task.Task) bool {
		return t.HealthStatus != task.HealthUnknown || t.LastStatus == task.Stopped
	})
	require.Equal(t, task.Healthy, tk.HealthStatus, "stopped: %s; container reason: %s", tk.StoppedReason, tk.Container("web").Reason)
	_, err := httpGet(e.ctx, "http://"+taskIP(t, tk)+":8080/")
	require.Error(t, err, "the server listens on the task's loopback only: the host cannot reach it")

	closed := e.waitServiceTasks("probed-tcp", 1, 30*time.Second)[0]
	e.waitRunning(closed, 30*time.Second)
	tk = e.waitTask(closed, "UNHEALTHY", 30*time.Second, func(t *task.Task) bool {
		return t.HealthStatus != task.HealthUnknown || t.LastStatus == task.Stopped
	})
	require.Equal(t, task.Unhealthy, tk.HealthStatus, "stopped: %s", tk.StoppedReason)
	// Its replacement fails the same way; then there is no room to start
	// first, and the unhealthy task is stopped.
	old := e.waitStopped(closed, 60*time.Second)
	assert.Equal(t, service.ReasonUnhealthy, old.StoppedReason)
	assert.Equal(t, task.ServiceSchedulerInitiated, old.StopCode)
	assert.NotEqual(t, []string{closed}, e.serviceTaskIDs("probed-tcp"), "the service replaced the task")

	assert.Equal(t, task.Healthy, e.describe(web).HealthStatus, "the HTTP-checked task stays healthy")
}
