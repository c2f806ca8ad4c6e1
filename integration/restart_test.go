package integration

import (
	"context"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/agent"
	"github.com/stevedore-io/stevedore/network/netlinux"
	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/runtime/containerd"
	"github.com/stevedore-io/stevedore/stevedoretest"
	"github.com/stevedore-io/stevedore/task"
)

// TestRestartedOrchestratorAdoptsRunningTasks closes the Orchestrator (and
// the runtime and network provider, as a process that goes away would)
// while a task runs, then starts a new Orchestrator on the same store, the
// same containerd namespace and the same network state, and registers the
// same container instance again, as an ECS agent coming back does. The new
// agent adopts what runs: no container is created twice, nothing is
// restarted (same PIDs, same start times), the task stays RUNNING and
// HEALTHY, its address still answers, and it can be stopped.
func TestRestartedOrchestratorAdoptsRunningTasks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	def := e.registerDef(fmt.Sprintf(`{
		"family": "survivor",
		"networkMode": "awsvpc",
		"containerDefinitions": [
			{"name": "web", "image": %[1]q, "essential": true, "memory": 16, %[2]s,
			 "portMappings": [{"containerPort": 8080}],
			 "healthCheck": {"command": ["CMD-SHELL", %[3]q], "interval": 5, "timeout": 2, "retries": 1},
			 "stopTimeout": 2},
			{"name": "side", "image": %[1]q, "essential": false, "memory": 16, %[4]s, "stopTimeout": 2}
		]
	}`, imageRef, shellCommand(webScript), "wget -q -O - http://127.0.0.1:8080/ >/dev/null && echo ok >> /tmp/checks",
		shellCommand(idleScript)))
	id := e.runTask(def).ID()
	e.waitRunning(id, 30*time.Second)
	tk := e.waitTask(id, "HEALTHY", 30*time.Second, func(t *task.Task) bool {
		return t.HealthStatus == task.Healthy || t.LastStatus == task.Stopped
	})
	require.Equal(t, task.Healthy, tk.HealthStatus)
	url := "http://" + taskIP(t, tk) + ":8080/"
	e.eventuallyGet(url, 10*time.Second)
	before := e.taskContainers(id)
	require.Len(t, before, 2)

	logMark := len(e.log.String())
	e.restart()

	// The new agent says which containers it adopted; wait for both.
	adopted := regexp.MustCompile(`msg="agent: adopted container".*task=` + id + `.*container=(\w+)`)
	deadline := time.Now().Add(20 * time.Second)
	for {
		found := map[string]bool{}
		for _, m := range adopted.FindAllStringSubmatch(e.log.String()[logMark:], -1) {
			found[m[1]] = true
		}
		if found["web"] && found["side"] {
			break
		}
		require.False(t, time.Now().After(deadline), "the new agent did not adopt both containers within 20s (adopted: %v)", found)
		sleep(e.ctx, pollEvery)
	}

	after := e.taskContainers(id)
	require.Len(t, after, 2, "no container created twice")
	for name, b := range before {
		a, ok := after[name]
		require.True(t, ok, "container %s is gone", name)
		assert.Equal(t, b.ID, a.ID, "container %s", name)
		assert.Equal(t, runtime.StateRunning, a.State, "container %s", name)
		assert.Equal(t, b.PID, a.PID, "container %s was restarted (PID changed)", name)
		assert.True(t, b.StartedAt.Equal(a.StartedAt), "container %s was restarted: started %s, now %s", name, b.StartedAt, a.StartedAt)
	}
	// Health checks go on: the adopted container's monitor runs again.
	checks := func() int {
		out := e.exec(after["web"].ID, "sh", "-c", "cat /tmp/checks 2>/dev/null | wc -l")
		n := 0
		fmt.Sscan(string(out.Output), &n)
		return n
	}
	n0 := checks()
	deadline = time.Now().Add(15 * time.Second)
	for checks() <= n0 {
		require.False(t, time.Now().After(deadline), "no health check ran in the adopted container within 15s")
		sleep(e.ctx, 250*time.Millisecond)
	}

	tk = e.describe(id)
	assert.Equal(t, task.Running, tk.LastStatus)
	assert.Equal(t, task.Running, tk.DesiredStatus)
	assert.Equal(t, task.Healthy, tk.HealthStatus)
	e.eventuallyGet(url, 10*time.Second)
	insts, err := stevedoretest.InstancesOf(e.orc.DescribeContainerInstances(e.ctx, &stevedore.DescribeContainerInstancesInput{Cluster: e.cluster, ContainerInstances: []string{e.instance}}))
	require.NoError(t, err)
	require.Len(t, insts, 1)
	assert.True(t, insts[0].AgentConnected)
	assert.Equal(t, 1, insts[0].RunningTasksCount)

	stopped := e.stopTask(id)
	assert.Equal(t, task.UserInitiated, stopped.StopCode)
	require.NotNil(t, stopped.Container("web").ExitCode, "the adopted container's exit is recorded")
	assert.Equal(t, 0, *stopped.Container("web").ExitCode)
	assert.Empty(t, e.taskContainers(id), "the adopted containers are removed when the task stops")
}

// taskContainers returns the runtime's containers of a task, by container
// name.
func (e *env) taskContainers(taskID string) map[string]runtime.ContainerInfo {
	e.t.Helper()
	infos, err := e.rt.List(e.ctx, map[string]string{agent.LabelTask: taskID})
	require.NoError(e.t, err)
	out := map[string]runtime.ContainerInfo{}
	for _, info := range infos {
		name := info.Labels[agent.LabelContainer]
		_, dup := out[name]
		require.False(e.t, dup, "two containers named %s in task %s", name, taskID)
		out[name] = info
	}
	return out
}

// restart does what a restart of the process does: the Orchestrator (and
// its agents), the runtime connection and the network provider go away
// without stopping anything, and new ones start on the same store,
// containerd namespace and network state directory. The instance is
// registered again with the same ID, as an ECS agent that comes back
// re-registers its container instance.
//
// When the root API refuses that (see the report), the test fails and an
// agent is run directly on the store, so that the rest of the test still
// checks adoption and the clean-up can stop the task.
func (e *env) restart() {
	t := e.t
	t.Helper()
	require.NoError(t, e.orc.Close())
	require.NoError(t, e.rt.Close())
	require.NoError(t, e.nw.Close())
	e.orc, e.rt, e.nw = nil, nil, nil

	rt, err := containerd.New(address, containerd.WithNamespace(e.namespace),
		containerd.WithFIFODir(e.fifoDir), containerd.WithLogger(e.logger.With("component", "runtime")))
	require.NoError(t, err)
	e.rt = rt
	nw, err := netlinux.New(e.netCfg)
	require.NoError(t, err)
	e.nw = nw
	e.orc = e.newOrchestrator()

	in := e.instanceInput()
	if _, err := e.orc.RegisterContainerInstance(e.ctx, in); err != nil {
		t.Errorf("a new Orchestrator on the same store cannot take container instance %s back: "+
			"RegisterContainerInstance with its ID, runtime and network returned: %v; "+
			"running its agent directly to go on", e.instance, err)
		e.runAgent()
	}
}

// runAgent runs the instance's agent directly (agent.New + Run) until the
// clean-up, restarting it after an error as the Orchestrator does.
func (e *env) runAgent() {
	cfg := agent.Config{
		InstanceID: e.instance,
		Store:      e.store,
		Runtime:    e.rt,
		Network:    e.nw,
		Logs:       e.logs,
		Logger:     e.logger.With("component", "orchestrator", "instance", e.instance),
	}
	if e.secrets != nil {
		cfg.Secrets = e.secrets
	}
	a, err := agent.New(cfg)
	require.NoError(e.t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if err := a.Run(ctx); err != nil && ctx.Err() == nil {
				cfg.Logger.Warn("agent ended; restarting", "err", err)
				sleep(ctx, time.Second)
			}
		}
	}()
	e.extraAgents = append(e.extraAgents, func() {
		cancel()
		<-done
	})
}

// TestReRegisteredInstanceKeepsItsAgentConnected registers the running
// instance again with the same Orchestrator (a host whose agent
// reconnects): the Orchestrator replaces the instance's agent, the new
// agent adopts the running task, and the instance must end up with its
// agent connected. The old agent marks the instance disconnected when it
// returns; if that write comes after the new agent marked it connected,
// the instance shows no agent while one runs (and DAEMON services, which
// need a connected agent, leave it).
func TestReRegisteredInstanceKeepsItsAgentConnected(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	def := e.registerDef(fmt.Sprintf(`{
		"family": "steady",
		"networkMode": "awsvpc",
		"containerDefinitions": [{"name": "idle", "image": %q, "essential": true, "memory": 16, %s,
			"healthCheck": {"command": ["CMD-SHELL", "true"], "interval": 5, "timeout": 2, "retries": 1},
			"stopTimeout": 2}]
	}`, imageRef, shellCommand(idleScript)))
	id := e.runTask(def).ID()
	e.waitRunning(id, 30*time.Second)
	before := e.taskContainers(id)

	events := e.subscribe()
	_, err := e.orc.RegisterContainerInstance(e.ctx, e.instanceInput())
	require.NoError(t, err, "registering the same instance again")

	// Both agents have written what they will write about the connection
	// within a few seconds: the old one when its Run returns, the new one
	// when its Run starts.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		insts, err := stevedoretest.InstancesOf(e.orc.DescribeContainerInstances(e.ctx, &stevedore.DescribeContainerInstancesInput{Cluster: e.cluster, ContainerInstances: []string{e.instance}}))
		require.NoError(t, err)
		if !insts[0].AgentConnected {
			break
		}
		sleep(e.ctx, pollEvery)
	}
	insts, err := stevedoretest.InstancesOf(e.orc.DescribeContainerInstances(e.ctx, &stevedore.DescribeContainerInstancesInput{Cluster: e.cluster, ContainerInstances: []string{e.instance}}))
	require.NoError(t, err)
	var connected []bool
	for _, ev := range events.stop() {
		if ev.Instance != nil && ev.Instance.ID == e.instance {
			connected = append(connected, ev.Instance.AgentConnected)
		}
	}
	assert.True(t, insts[0].AgentConnected, "the instance's new agent runs, yet the instance shows it disconnected "+
		"(agentConnected changes seen: %v)", connected)

	after := e.taskContainers(id)
	require.Len(t, after, 1)
	assert.Equal(t, before["idle"].PID, after["idle"].PID, "the container was not restarted")
	e.stopTask(id)
}
