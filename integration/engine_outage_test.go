package integration

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/containerdtest"
	netfake "github.com/stevedore-io/stevedore/network/fake"
	"github.com/stevedore-io/stevedore/placement"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/task"
)

// Health check of the outage test: an exec check (through containerd)
// that counts its runs in the container, every 5 s, UNHEALTHY at the first
// failure.
const (
	outageCheckInterval = 5 * time.Second
	outageCheckTimeout  = 2 * time.Second
	outageCheck         = `test -d /proc/1 && echo ok >> /tmp/checks`
)

// TestEngineOutageIsNotAnApplicationFailure kills the containerd under a
// service of three tasks with exec health checks, and starts it again on
// the same directories, as issue 10 did with the quickstart's:
//
//   - the instance reports its engine disconnected (agentConnected false,
//     with the outage), and placement keeps new tasks off it while a
//     second instance (fake runtime) takes them;
//   - through the outage, longer than three check intervals with retries
//     1, no task turns UNHEALTHY or STOPPED, and the service launches no
//     replacement and counts no failed task;
//   - once the daemon is back the instance is connected again and the
//     same tasks, with the same processes, are HEALTHY, their checks
//     running again.
//
// The test kills a containerd of its own (internal/containerdtest), never the
// shared one.
func TestEngineOutageIsNotAnApplicationFailure(t *testing.T) {
	t.Parallel()
	needIntegration(t)
	daemon := containerdtest.Start(t)
	e := newEnv(t, withContainerd(daemon.Address()), withTimeout(4*time.Minute))
	// Runs before the env's clean-up, which needs the daemon to stop the
	// tasks, when the test ends while it is down.
	t.Cleanup(func() {
		if !daemon.Running() {
			daemon.Start()
		}
	})

	def := e.registerDef(fmt.Sprintf(`{
		"family": "checked",
		"networkMode": "awsvpc",
		"containerDefinitions": [{
			"name": "app", "image": %q, "essential": true, "memory": 16, %s,
			"healthCheck": {"command": ["CMD-SHELL", %q], "interval": %d, "timeout": %d, "retries": 1},
			"stopTimeout": 2
		}]
	}`, imageRef, shellCommand(idleScript), outageCheck, int(outageCheckInterval/time.Second), int(outageCheckTimeout/time.Second)))
	e.createService("checked", def, 3)
	ids := e.waitServiceTasks("checked", 3, 30*time.Second)
	pids := map[string]int{}
	for _, id := range ids {
		e.waitRunning(id, 60*time.Second)
		tk := e.waitTask(id, "HEALTHY", 30*time.Second, func(t *task.Task) bool {
			return t.HealthStatus == task.Healthy || t.LastStatus == task.Stopped
		})
		require.Equal(t, task.Healthy, tk.HealthStatus)
		require.Equal(t, e.instance, tk.ContainerInstanceID())
		pids[id] = e.taskContainers(id)["app"].PID
		require.NotZero(t, pids[id])
	}
	e.waitService("checked", "steady", 30*time.Second, func(s service.Service) bool { return s.RunningCount == 3 })

	daemon.Kill()
	inst := e.waitInstance(e.instance, "disconnected from its engine", 30*time.Second, func(ci cluster.ContainerInstance) bool {
		return !ci.AgentConnected && ci.EngineOutage != nil
	})
	t.Logf("engine outage recorded: %s", inst.EngineOutage.Reason)

	// Placement keeps new tasks off the instance, and places them on
	// another.
	other := e.registerFakeInstance()
	idle := e.registerDef(idleTaskDef("elsewhere"))
	out := e.runTasks(idle, 1, "ec2InstanceId == "+e.instance)
	require.Empty(t, out.Tasks, "a task placed on an instance whose engine is away")
	require.Len(t, out.Failures, 1)
	assert.Equal(t, string(placement.ReasonAgent), out.Failures[0].Reason)
	out = e.runTasks(idle, 2, "")
	require.Len(t, out.Tasks, 2, "failures: %v", out.Failures)
	for _, tk := range out.Tasks {
		assert.Equal(t, other, tk.ContainerInstanceID())
	}

	// Three intervals and a timeout into the outage, every task has had
	// at least two checks that could not run.
	until := inst.EngineOutage.Since.Add(3*outageCheckInterval + outageCheckTimeout)
	for polls := 0; time.Now().Before(until) || polls == 0; polls++ {
		for _, id := range ids {
			tk := e.describe(id)
			require.Equal(t, task.Running, tk.LastStatus, "task %s during the outage: %s", id, tk.StoppedReason)
			require.Equal(t, task.Healthy, tk.HealthStatus, "task %s during the outage", id)
			require.Equal(t, task.Running, tk.DesiredStatus, "task %s is being stopped: %s", id, tk.StoppedReason)
		}
		require.ElementsMatch(t, ids, e.serviceTaskIDs("checked"), "no replacement")
		ci := e.describeInstance(e.instance)
		require.False(t, ci.AgentConnected, "connected while its engine is away")
		require.NotNil(t, ci.EngineOutage)
		sleep(e.ctx, pollEvery)
	}

	checks := map[string]int{}
	daemon.Start()
	e.waitInstance(e.instance, "connected again", 60*time.Second, func(ci cluster.ContainerInstance) bool {
		return ci.AgentConnected && ci.EngineOutage == nil
	})
	for _, id := range ids {
		tk := e.describe(id)
		assert.Equal(t, task.Running, tk.LastStatus)
		assert.Equal(t, task.Healthy, tk.HealthStatus)
		assert.Equal(t, pids[id], e.taskContainers(id)["app"].PID, "task %s: the same process, not restarted", id)
		checks[id] = e.countChecks(tk)
	}
	// The checks run again: each container counts more of them.
	for _, id := range ids {
		tk := e.describe(id)
		deadline := time.Now().Add(3 * outageCheckInterval)
		for e.countChecks(tk) <= checks[id] {
			require.False(t, time.Now().After(deadline), "task %s: no health check ran within %s of the engine's return", id, 3*outageCheckInterval)
			sleep(e.ctx, pollEvery)
		}
		assert.Equal(t, task.Healthy, e.describe(id).HealthStatus)
	}
	assert.ElementsMatch(t, ids, e.serviceTaskIDs("checked"), "the same tasks")
	svc := e.waitService("checked", "steady", 10*time.Second, func(s service.Service) bool { return s.RunningCount == 3 })
	for _, d := range svc.Deployments {
		assert.Zero(t, d.FailedTasks, "deployment %s counted a failed task", d.ID)
	}
	out = e.runTasks(idle, 1, "ec2InstanceId == "+e.instance)
	require.Len(t, out.Tasks, 1, "placement takes the instance again: %v", out.Failures)
	e.waitRunning(out.Tasks[0].ID(), 30*time.Second)
}

// countChecks returns how many health checks ran in a task's container
// (its check counts them in /tmp/checks).
func (e *env) countChecks(tk *task.Task) int {
	e.t.Helper()
	c := tk.Container("app")
	require.NotNil(e.t, c)
	res := e.exec(c.RuntimeID, "sh", "-c", "cat /tmp/checks 2>/dev/null | wc -l")
	require.Zero(e.t, res.ExitCode, "%s", res.Output)
	n, err := strconv.Atoi(strings.TrimSpace(string(res.Output)))
	require.NoError(e.t, err, "%q", res.Output)
	return n
}

// The calls of the root API the test makes, each in one place.

// createService creates a replica service of desired tasks of def, with
// the deployment circuit breaker on.
func (e *env) createService(name string, def *task.TaskDefinition, desired int) {
	e.t.Helper()
	_, err := e.orc.CreateService(e.ctx, &stevedore.CreateServiceInput{
		Cluster: e.cluster, ServiceName: name, TaskDefinition: def.Ref(), DesiredCount: desired,
		DeploymentConfiguration: service.DeploymentConfiguration{CircuitBreaker: &service.CircuitBreaker{Enable: true}},
	})
	require.NoError(e.t, err)
}

// describeInstance returns a container instance of the env's cluster as
// DescribeContainerInstances shows it.
func (e *env) describeInstance(id string) cluster.ContainerInstance {
	e.t.Helper()
	out, err := e.orc.DescribeContainerInstances(e.ctx, &stevedore.DescribeContainerInstancesInput{Cluster: e.cluster, ContainerInstances: []string{id}})
	require.NoError(e.t, err)
	require.Empty(e.t, out.Failures)
	require.Len(e.t, out.ContainerInstances, 1)
	return out.ContainerInstances[0]
}

// waitInstance polls DescribeContainerInstances until cond holds.
func (e *env) waitInstance(id, what string, timeout time.Duration, cond func(cluster.ContainerInstance) bool) cluster.ContainerInstance {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ci := e.describeInstance(id)
		if cond(ci) {
			return ci
		}
		if time.Now().After(deadline) || e.ctx.Err() != nil {
			e.t.Fatalf("instance %s: not %s within %s; last state:\n%s", id, what, timeout, toJSON(ci))
		}
		sleep(e.ctx, pollEvery)
	}
}

// registerFakeInstance registers a second instance in the env's cluster,
// with the fake runtime and network, and returns its ID.
func (e *env) registerFakeInstance() string {
	e.t.Helper()
	id := "i-" + randomHex(17)
	_, err := e.orc.RegisterContainerInstance(e.ctx, &stevedore.RegisterContainerInstanceInput{
		Cluster:    e.cluster,
		InstanceID: id,
		Resources:  cluster.Resources{CPU: 4096, Memory: 4096, NetworkSlots: 16},
		Runtime:    fake.New(),
		Network:    netfake.New(),
		StateDir:   e.t.TempDir(),
	})
	require.NoError(e.t, err, "register container instance %s", id)
	return id
}

// runTasks runs count tasks of def, on the instances that match
// memberOf when it is not empty.
func (e *env) runTasks(def *task.TaskDefinition, count int, memberOf string) *stevedore.RunTaskOutput {
	e.t.Helper()
	in := stevedore.RunTaskInput{Cluster: e.cluster, TaskDefinition: def.Ref(), Count: count}
	if memberOf != "" {
		in.PlacementConstraints = []placement.Constraint{{Type: placement.ConstraintMemberOf, Expression: memberOf}}
	}
	out, err := e.orc.RunTask(e.ctx, &in)
	require.NoError(e.t, err)
	return out
}
