package agent_test

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/agent"
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/errdefs"
	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

const pairDef = `{
  "family": "pair",
  "networkMode": "awsvpc",
  "containerDefinitions": [
    {"name": "db", "image": "db", "memory": 32,
     "healthCheck": {"command": ["CMD", "true"], "interval": 5, "retries": 1}},
    {"name": "app", "image": "app", "memory": 32,
     "dependsOn": [{"containerName": "db", "condition": "HEALTHY"}]}
  ]
}`

func pairImages() []fake.Option {
	return []fake.Option{
		fake.WithImage("db", fake.Behavior{RunFor: fake.Forever}),
		fake.WithImage("app", fake.Behavior{RunFor: fake.Forever}),
	}
}

func TestAdoption(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, pairImages()...)
		e.runTask(e.register(pairDef), "t1")
		first := e.start()
		advance(time.Minute)
		require.Equal(t, task.Running, e.task("t1").LastStatus)
		require.NoError(t, first.stop())
		assert.False(t, e.instance().AgentConnected)

		// Nothing happens while no agent runs; the containers keep running.
		advance(time.Minute)
		before := e.rt.Calls()
		execs := len(e.rt.CallsTo(fake.MethodExec))
		for _, id := range []string{"t1-db", "t1-app"} {
			c, ok := e.rt.Container(id)
			require.True(t, ok)
			assert.Equal(t, runtime.StateRunning, c.Info.State)
		}

		e.start()
		advance(time.Minute)
		assert.True(t, e.instance().AgentConnected)
		tk := e.task("t1")
		assert.Equal(t, task.Running, tk.LastStatus)
		assert.Equal(t, task.Healthy, tk.HealthStatus)
		for _, m := range []string{fake.MethodCreate, fake.MethodStart, fake.MethodSignal, fake.MethodDelete, fake.MethodEnsureImage} {
			assert.Len(t, e.rt.CallsTo(m), countCalls(before, m), "no %s after adoption", m)
		}
		assert.Greater(t, len(e.rt.CallsTo(fake.MethodExec)), execs, "health checks resumed")
		assert.Equal(t, 1, e.instance().RunningTasksCount)
		setups := 0
		for _, c := range e.net.Calls() {
			if c.Op == "Setup" {
				setups++
			}
		}
		assert.Equal(t, 1, setups, "network kept")

		// Still stoppable, with the exits seen by the new agent.
		e.stopTask("t1", "bye")
		advance(time.Minute)
		tk = e.task("t1")
		require.Equal(t, task.Stopped, tk.LastStatus)
		assert.Equal(t, 143, *tk.Container("app").ExitCode)
		assert.Equal(t, 143, *tk.Container("db").ExitCode)
		assert.Empty(t, e.rt.Containers())
		assert.Empty(t, e.net.TaskIDs())
		assert.True(t, tk.Released)
	})
}

func countCalls(calls []fake.Call, method string) int {
	n := 0
	for _, c := range calls {
		if c.Method == method {
			n++
		}
	}
	return n
}

func TestAdoptionWhileStarting(t *testing.T) {
	// The first agent goes away while app waits for db: the second one
	// starts app without touching db.
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t,
			fake.WithImage("db", fake.Behavior{RunFor: fake.Forever, Exec: fake.HealthyAfter(8 * time.Second)}),
			fake.WithImage("app", fake.Behavior{RunFor: fake.Forever}))
		e.runTask(e.register(pairDef), "t1")
		t0 := time.Now()
		first := e.start()
		advance(2 * time.Second)
		require.Equal(t, task.Pending, e.task("t1").LastStatus)
		require.NoError(t, first.stop())

		e.start()
		advance(time.Minute)
		tk := e.task("t1")
		require.Equal(t, task.Running, tk.LastStatus)
		assert.Equal(t, []string{"db@0s", "app@10s"}, e.starts(t0), "db once; app once db is healthy (checks resume on their schedule: 5 s fails, 10 s passes)")
		assert.Len(t, e.rt.CallsTo(fake.MethodCreate), 2)
	})
}

func TestAdoptionOfChangesWhileAway(t *testing.T) {
	tests := []struct {
		name string
		// away happens while no agent runs.
		away       func(e *env)
		wantCode   task.StopCode
		wantReason string
		wantDB     *int
	}{
		{
			name:       "essential container exited",
			away:       func(e *env) { require.NoError(e.t, e.rt.Exit("t1-db", 3)) },
			wantCode:   task.EssentialContainerExited,
			wantReason: task.ReasonEssentialContainerExited,
			wantDB:     ptr(3),
		},
		{
			name:       "essential container vanished",
			away:       func(e *env) { require.NoError(e.t, e.rt.Delete(e.ctx, "t1-db")) },
			wantCode:   task.EssentialContainerExited,
			wantReason: "Container db vanished from the runtime while the agent was away",
		},
		{
			name:       "stop requested",
			away:       func(e *env) { e.stopTask("t1", "while away") },
			wantCode:   task.UserInitiated,
			wantReason: "while away",
			wantDB:     ptr(143),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t, pairImages()...)
				e.runTask(e.register(pairDef), "t1")
				first := e.start()
				advance(time.Minute)
				require.Equal(t, task.Running, e.task("t1").LastStatus)
				require.NoError(t, first.stop())
				tt.away(e)

				e.start()
				advance(time.Minute)
				tk := e.task("t1")
				require.Equal(t, task.Stopped, tk.LastStatus)
				assert.Equal(t, tt.wantCode, tk.StopCode)
				assert.Equal(t, tt.wantReason, tk.StoppedReason)
				assert.Equal(t, tt.wantDB, tk.Container("db").ExitCode)
				assert.Equal(t, 143, *tk.Container("app").ExitCode)
				assert.Empty(t, e.rt.Containers())
				assert.Len(t, e.rt.CallsTo(fake.MethodStart), 2, "nothing restarted")
				assert.True(t, tk.Released)
			})
		})
	}
}

func TestOrphansRemoved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fake.WithLocalImages("x"))
		e.runTask(e.register(webDef), "t1") // live, not started yet
		e.runTask(e.register(`{"family": "old", "containerDefinitions": [{"name": "c", "image": "x", "memory": 8}]}`), "t2")
		e.stopTask("t2", "bye")

		create := func(id string, labels map[string]string) {
			require.NoError(t, e.rt.Create(e.ctx, runtime.ContainerSpec{ID: id, Image: "x", Labels: labels, Command: []string{"sleep", "1000"}}))
			require.NoError(t, e.rt.Start(e.ctx, id))
		}
		mine := func(taskID, name string) map[string]string {
			return map[string]string{agent.LabelInstance: instanceID, agent.LabelTask: taskID, agent.LabelContainer: name}
		}
		create("gone-task", mine("t9", "c"))                                                           // no such task
		create("stopped-task", mine("t2", "c"))                                                        // its task is STOPPED
		create("unknown-container", mine("t1", "nope"))                                                // no such container in t1
		create("other-instance", map[string]string{agent.LabelInstance: "i-2", agent.LabelTask: "t9"}) // not ours
		create("unlabelled", nil)
		_, err := e.net.Setup(e.ctx, network.Request{TaskID: "t9", Mode: network.ModeAWSVPC})
		require.NoError(t, err)
		e.rt.Script("web:1", fake.Behavior{RunFor: fake.Forever})

		e.start()
		advance(time.Minute)
		var left []string
		for _, c := range e.rt.Containers() {
			left = append(left, c.Spec.ID)
		}
		assert.Equal(t, []string{"other-instance", "t1-app", "unlabelled"}, left)
		assert.Equal(t, []string{"t1"}, e.net.TaskIDs(), "the network of t9 was reconciled away")
		assert.Equal(t, task.Running, e.task("t1").LastStatus)
		assert.Equal(t, task.Stopped, e.task("t2").LastStatus)
	})
}

func TestRunEndsCleanly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t,
			fake.WithImage("slow", fake.Behavior{PullDelay: time.Hour}),
			fake.WithImage("web:1", fake.Behavior{RunFor: fake.Forever, Signals: map[syscall.Signal]fake.Reaction{syscall.SIGTERM: {Ignore: true}}}),
			fake.WithImage("db", fake.Behavior{RunFor: fake.Forever, Exec: fake.FailFirst(1000)}),
			fake.WithImage("app", fake.Behavior{RunFor: fake.Forever}))
		e.runTask(e.register(webDef), "running")
		e.runTask(e.register(pairDef), "waiting") // app waits for db's health
		e.runTask(e.register(`{"family": "slow", "containerDefinitions": [{"name": "c", "image": "slow", "memory": 8}]}`), "pulling")
		a, err := agent.New(e.cfg)
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(e.ctx)
		done := make(chan error)
		go func() { done <- a.Run(ctx) }()
		advance(10 * time.Second)
		assert.ErrorIs(t, a.Run(ctx), agent.ErrAlreadyRunning)
		assert.Equal(t, task.Running, e.task("running").LastStatus)
		assert.Equal(t, task.Pending, e.task("waiting").LastStatus)
		assert.Equal(t, task.Pending, e.task("pulling").LastStatus)
		inst := e.instance()
		assert.True(t, inst.AgentConnected)
		assert.Equal(t, 1, inst.RunningTasksCount)
		assert.Equal(t, 2, inst.PendingTasksCount)

		// A stop in progress too: SIGTERM ignored.
		e.stopTask("running", "bye")
		advance(time.Second)
		assert.Equal(t, task.Stopping, e.task("running").LastStatus)

		cancel()
		require.NoError(t, <-done)
		assert.False(t, e.instance().AgentConnected)
		// synctest.Test fails if a goroutine of the agent is left.

		// The same agent can run again and finishes the stop.
		ctx, cancel = context.WithCancel(e.ctx)
		go func() { done <- a.Run(ctx) }()
		advance(time.Minute)
		assert.Equal(t, task.Stopped, e.task("running").LastStatus)
		cancel()
		require.NoError(t, <-done)
	})
}

func TestRunFailsWhenTheStoreCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		a, err := agent.New(e.cfg)
		require.NoError(t, err)
		done := make(chan error)
		go func() { done <- a.Run(e.ctx) }()
		synctest.Wait()
		require.NoError(t, e.store.Close())
		err = <-done
		require.Error(t, err)
		assert.True(t, errors.Is(err, store.ErrClosed), err)
	})
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	_, err := agent.New(agent.Config{InstanceID: "i-1"})
	require.ErrorIs(t, err, agent.ErrInvalidConfig)
	assert.Contains(t, err.Error(), "Store")
	assert.Contains(t, err.Error(), "Runtime")
	assert.Contains(t, err.Error(), "Network")
}

func TestNewValidatesTheInstanceID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, id := range []string{"../../etc", "a/b", "..", "a b", strings.Repeat("i", cluster.MaxInstanceIDLength+1)} {
		cfg := e.cfg
		cfg.InstanceID = id
		_, err := agent.New(cfg)
		require.ErrorIs(t, err, agent.ErrInvalidConfig, "%q", id)
		var fe *errdefs.FieldError
		require.ErrorAs(t, err, &fe, "%q", id)
		assert.Contains(t, err.Error(), "InstanceID")
	}
}
