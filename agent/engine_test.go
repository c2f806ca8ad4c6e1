package agent_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/agent"
	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/task"
)

// checkedDef is a task whose one container has an exec health check.
const checkedDef = `{
  "family": "checked",
  "networkMode": "awsvpc",
  "containerDefinitions": [
    {"name": "app", "image": "app", "memory": 32, "stopTimeout": 2,
     "healthCheck": {"command": ["CMD", "true"], "interval": 5, "timeout": 2, "retries": 1}}
  ]
}`

// TestEngineOutageIsNoFailure takes the engine away under a HEALTHY task
// for longer than many health-check intervals: the instance shows the
// engine disconnected, the task stays RUNNING and HEALTHY (the checks that
// could not run count for nothing), and once the engine is back the
// instance is connected again and the checks run again.
func TestEngineOutageIsNoFailure(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fake.WithImage("app", fake.Behavior{RunFor: fake.Forever}))
		e.runTask(e.register(checkedDef), "t1")
		e.start()
		advance(6 * time.Second)
		require.Equal(t, task.Healthy, e.task("t1").HealthStatus)
		require.True(t, e.instance().AgentConnected)

		down := time.Now()
		e.rt.SetUnavailable(true)
		advance(5 * time.Second) // the next check finds the engine away
		inst := e.instance()
		assert.False(t, inst.AgentConnected, "the instance shows the engine away")
		require.NotNil(t, inst.EngineOutage)
		assert.Contains(t, inst.EngineOutage.Reason, runtime.ErrUnavailable.Error())
		assert.False(t, inst.EngineOutage.Since.Before(down))
		assert.Equal(t, inst.EngineOutage.Since, inst.UpdatedAt, "the disconnection is dated when the agent recorded it")

		advance(2 * time.Minute) // 24 checks that cannot run
		assert.Equal(t, inst.UpdatedAt, e.instance().UpdatedAt, "heartbeats meanwhile date nothing")
		tk := e.task("t1")
		assert.Equal(t, task.Running, tk.LastStatus)
		assert.Equal(t, task.Healthy, tk.HealthStatus)
		assert.Equal(t, task.Healthy, tk.Container("app").HealthStatus)
		assert.Equal(t, []task.HealthStatus{task.HealthUnknown, task.Healthy}, e.healths("t1", ""), "never UNHEALTHY")
		failed := len(e.rt.CallsTo(fake.MethodExec))
		assert.GreaterOrEqual(t, failed, 20, "the checks went on trying")

		e.rt.SetUnavailable(false)
		advance(agent.EngineProbeInterval)
		inst = e.instance()
		assert.True(t, inst.AgentConnected, "connected again once the engine answers")
		assert.Nil(t, inst.EngineOutage)
		assert.True(t, inst.UpdatedAt.After(down.Add(2*time.Minute)), "the reconnection is dated")

		advance(10 * time.Second)
		calls := e.rt.CallsTo(fake.MethodExec)
		require.Greater(t, len(calls), failed, "the checks run again")
		assert.NoError(t, calls[len(calls)-1].Err)
		assert.Equal(t, task.Healthy, e.task("t1").HealthStatus)
		assert.Equal(t, []string{"PROVISIONING", "PENDING", "ACTIVATING", "RUNNING"}, statusNames(e.statuses("t1")))
	})
}

// TestStopWaitsForTheEngine stops a task while the engine is away: the
// task is not reported STOPPED while its container may run on; once the
// engine is back the container is stopped and removed, and the task
// STOPPED.
func TestStopWaitsForTheEngine(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fake.WithImage("app", fake.Behavior{RunFor: fake.Forever}))
		e.runTask(e.register(checkedDef), "t1")
		e.start()
		advance(6 * time.Second)
		id := e.task("t1").Container("app").RuntimeID
		require.NotEmpty(t, id)

		e.rt.SetUnavailable(true)
		e.stopTask("t1", "scale in")
		advance(5 * time.Minute)
		assert.NotEqual(t, task.Stopped, e.task("t1").LastStatus, "not STOPPED while the container may run")
		c, ok := e.rt.Container(id)
		require.True(t, ok)
		assert.Equal(t, runtime.StateRunning, c.Info.State)
		assert.False(t, e.instance().AgentConnected)

		e.rt.SetUnavailable(false)
		advance(time.Minute)
		assert.Equal(t, task.Stopped, e.task("t1").LastStatus)
		_, ok = e.rt.Container(id)
		assert.False(t, ok, "the container is removed")
		assert.True(t, e.instance().AgentConnected)
	})
}

// TestTaskStartsThroughAnEngineOutage starts an agent, and a task, while
// the engine is away: the agent waits for it rather than fail, and the
// task starts once it is back.
func TestTaskStartsThroughAnEngineOutage(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fake.WithImage("app", fake.Behavior{RunFor: fake.Forever}))
		e.rt.SetUnavailable(true)
		e.runTask(e.register(checkedDef), "t1")
		r := e.start()
		advance(30 * time.Second)
		assert.False(t, e.instance().AgentConnected)
		assert.NotNil(t, e.instance().EngineOutage)
		assert.Equal(t, task.Provisioning, e.task("t1").LastStatus)

		e.rt.SetUnavailable(false)
		advance(10 * time.Second)
		assert.True(t, e.instance().AgentConnected)
		tk := e.task("t1")
		assert.Equal(t, task.Running, tk.LastStatus)
		assert.Equal(t, task.Healthy, tk.HealthStatus)
		require.NoError(t, r.stop())
		assert.False(t, e.instance().AgentConnected, "an agent that ends is disconnected")
		assert.Nil(t, e.instance().EngineOutage)
	})
}

func statusNames(ss []task.Status) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return out
}
