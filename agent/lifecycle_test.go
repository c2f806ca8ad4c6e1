package agent_test

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/agent"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/network"
	netfake "github.com/stevedore-io/stevedore/network/fake"
	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

const webDef = `{
  "family": "web",
  "networkMode": "bridge",
  "containerDefinitions": [{
    "name": "app",
    "image": "web:1",
    "cpu": 256,
    "memory": 512,
    "memoryReservation": 256,
    "portMappings": [{"containerPort": 8080}, {"containerPort": 53, "hostPort": 5353, "protocol": "udp"}],
    "dnsServers": ["10.0.0.2"],
    "extraHosts": [{"hostname": "db.local", "ipAddress": "10.0.0.9"}],
    "hostname": "web",
    "environment": [{"name": "MODE", "value": "prod"}],
    "dockerLabels": {"team": "a", "stevedore.task": "spoofed"},
    "ulimits": [{"name": "nofile", "softLimit": 1024, "hardLimit": 4096}],
    "linuxParameters": {"initProcessEnabled": true, "capabilities": {"add": ["NET_ADMIN"], "drop": ["MKNOD"]}},
    "readonlyRootFilesystem": true,
    "workingDirectory": "/srv",
    "user": "1000:1000"
  }]
}`

func TestTaskRunsAndStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fake.WithImage("web:1", fake.Behavior{RunFor: fake.Forever}))
		ref := e.register(webDef)
		e.runTask(ref, "t1")
		e.start()
		advance(time.Second)

		tk := e.task("t1")
		require.Equal(t, task.Running, tk.LastStatus)
		assert.Equal(t, []task.Status{task.Provisioning, task.Pending, task.Activating, task.Running}, e.statuses("t1"))
		assert.False(t, tk.PullStartedAt.IsZero())
		assert.False(t, tk.PullStoppedAt.IsZero())
		assert.False(t, tk.StartedAt.IsZero())

		// The network as the definition asks, its attachment stored.
		calls := e.net.Calls()
		require.Len(t, calls, 2)
		assert.Equal(t, netfake.OpReconcile, calls[0].Op)
		require.Equal(t, netfake.OpSetup, calls[1].Op)
		req := calls[1].Req
		assert.Equal(t, "t1", req.TaskID)
		assert.Equal(t, network.ModeBridge, req.Mode)
		assert.Equal(t, "web", req.Hostname)
		assert.Equal(t, []network.PortMapping{{ContainerPort: 8080, Protocol: "tcp"}, {ContainerPort: 53, HostPort: 5353, Protocol: "udp"}}, req.PortMappings)
		assert.Equal(t, "10.0.0.2", req.DNS.Servers[0].String())
		assert.Equal(t, "db.local", req.ExtraHosts[0].Hostname)
		att, err := e.net.Attachment(e.ctx, "t1")
		require.NoError(t, err)
		assert.Equal(t, att, tk.Network)
		app := tk.Container("app")
		require.Len(t, app.NetworkBindings, 2)
		assert.Equal(t, att.PortBindings[0].HostPort, uint16(app.NetworkBindings[0].HostPort))
		assert.Equal(t, 8080, app.NetworkBindings[0].ContainerPort)
		assert.Equal(t, task.NetworkBinding{BindIP: "0.0.0.0", ContainerPort: 53, HostPort: 5353, Protocol: "udp"}, app.NetworkBindings[1])

		// The container as the definition asks.
		assert.Equal(t, task.ContainerRunning, app.LastStatus)
		assert.Equal(t, "t1-app", app.RuntimeID)
		creates := e.rt.CallsTo(fake.MethodCreate)
		require.Len(t, creates, 1)
		spec := creates[0].Spec
		assert.Equal(t, "t1-app", spec.ID)
		assert.Equal(t, "web:1", spec.Image)
		assert.Equal(t, []string{"MODE=prod"}, spec.Env)
		assert.Equal(t, map[string]string{
			"team": "a", agent.LabelTask: "t1", agent.LabelContainer: "app", agent.LabelCluster: "test",
			agent.LabelInstance: instanceID, agent.LabelFamily: "web:1",
		}, spec.Labels)
		assert.Equal(t, att.NetNSPath, spec.NetNSPath)
		assert.False(t, spec.HostNetwork)
		assert.Equal(t, uint64(256), spec.CPUShares)
		assert.Equal(t, int64(512<<20), spec.MemoryLimit)
		assert.Equal(t, int64(256<<20), spec.MemoryReservation)
		assert.Equal(t, []runtime.Ulimit{{Name: "nofile", Soft: 1024, Hard: 4096}}, spec.Ulimits)
		assert.Equal(t, []string{"NET_ADMIN"}, spec.CapAdd)
		assert.Equal(t, []string{"MKNOD"}, spec.CapDrop)
		assert.True(t, spec.Init)
		assert.True(t, spec.ReadonlyRootfs)
		assert.Equal(t, "/srv", spec.WorkingDir)
		assert.Equal(t, "1000:1000", spec.User)
		assert.Equal(t, "web", spec.Hostname)

		inst := e.instance()
		assert.True(t, inst.AgentConnected)
		assert.Equal(t, 1, inst.RunningTasksCount)
		assert.Equal(t, 0, inst.PendingTasksCount)
		assert.Equal(t, registered.Memory-256, inst.Remaining.Memory, "memoryReservation is reserved")

		// Stop it.
		e.stopTask("t1", "done")
		advance(time.Second)
		tk = e.task("t1")
		require.Equal(t, task.Stopped, tk.LastStatus)
		assert.Equal(t, []task.Status{task.Provisioning, task.Pending, task.Activating, task.Running,
			task.Deactivating, task.Stopping, task.Deprovisioning, task.Stopped}, e.statuses("t1"))
		assert.Equal(t, task.UserInitiated, tk.StopCode)
		assert.Equal(t, "done", tk.StoppedReason)
		app = tk.Container("app")
		assert.Equal(t, task.ContainerStopped, app.LastStatus)
		require.NotNil(t, app.ExitCode)
		assert.Equal(t, 128+int(syscall.SIGTERM), *app.ExitCode)
		assert.True(t, tk.Released)

		last := e.net.Calls()[len(e.net.Calls())-1]
		assert.Equal(t, netfake.Call{Op: netfake.OpTeardown, TaskID: "t1"}, last)
		assert.Empty(t, e.net.TaskIDs())
		assert.Empty(t, e.rt.Containers(), "containers deleted")

		inst = e.instance()
		assert.Equal(t, registered.CPU, inst.Remaining.CPU)
		assert.Equal(t, registered.Memory, inst.Remaining.Memory)
		assert.Empty(t, inst.TaskGroups)
		assert.Equal(t, 0, inst.RunningTasksCount)
		assert.Equal(t, 0, inst.PendingTasksCount)
	})
}

func TestEssentialContainerExit(t *testing.T) {
	const def = `{
	  "family": "pair",
	  "networkMode": "awsvpc",
	  "containerDefinitions": [
	    {"name": "main", "image": "main", "memory": 64},
	    {"name": "helper", "image": "helper", "memory": 64, "essential": false}
	  ]
	}`
	tests := []struct {
		name        string
		exits       string
		code        int
		wantStopped bool
	}{
		{name: "essential exits", exits: "main", code: 2, wantStopped: true},
		{name: "non-essential exits", exits: "helper", code: 7, wantStopped: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t,
					fake.WithImage("main", fake.Behavior{RunFor: fake.Forever}),
					fake.WithImage("helper", fake.Behavior{RunFor: fake.Forever}))
				e.runTask(e.register(def), "t1")
				e.start()
				advance(time.Minute)
				require.Equal(t, task.Running, e.task("t1").LastStatus)

				require.NoError(t, e.rt.Exit("t1-"+tt.exits, tt.code))
				advance(time.Minute)
				tk := e.task("t1")
				exited := tk.Container(tt.exits)
				assert.Equal(t, task.ContainerStopped, exited.LastStatus)
				require.NotNil(t, exited.ExitCode)
				assert.Equal(t, tt.code, *exited.ExitCode)
				if !tt.wantStopped {
					assert.Equal(t, task.Running, tk.LastStatus)
					assert.Equal(t, task.Running, tk.DesiredStatus)
					assert.Equal(t, task.ContainerRunning, tk.Container("main").LastStatus)
					return
				}
				assert.Equal(t, task.Stopped, tk.LastStatus)
				assert.Equal(t, task.EssentialContainerExited, tk.StopCode)
				assert.Equal(t, task.ReasonEssentialContainerExited, tk.StoppedReason)
				helper := tk.Container("helper")
				require.NotNil(t, helper.ExitCode)
				assert.Equal(t, 143, *helper.ExitCode, "the other container got SIGTERM")
				assert.True(t, tk.Released)
			})
		})
	}
}

func TestStopSignalsAndOrder(t *testing.T) {
	// app depends on db: app stops first, db only once app has exited.
	const def = `{
	  "family": "stack",
	  "networkMode": "awsvpc",
	  "containerDefinitions": [
	    {"name": "db", "image": "db", "memory": 64, "stopTimeout": 10},
	    {"name": "app", "image": "app", "memory": 64, "dependsOn": [{"containerName": "db", "condition": "START"}]}
	  ]
	}`
	tests := []struct {
		name string
		// app's answer to SIGTERM
		appTerm fake.Reaction
		// when app and db get their signals, after the stop
		wantApp, wantDB []time.Duration
		wantAppCode     int
	}{
		{
			name:        "graceful",
			appTerm:     fake.Reaction{ExitCode: 0, After: 2 * time.Second},
			wantApp:     []time.Duration{0},
			wantDB:      []time.Duration{2 * time.Second, 12 * time.Second},
			wantAppCode: 0,
		},
		{
			name:        "app ignores SIGTERM",
			appTerm:     fake.Reaction{Ignore: true},
			wantApp:     []time.Duration{0, 30 * time.Second},
			wantDB:      []time.Duration{30 * time.Second, 40 * time.Second},
			wantAppCode: 137,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				// db ignores SIGTERM: SIGKILL after its stopTimeout of 10 s.
				e := newEnv(t,
					fake.WithImage("db", fake.Behavior{RunFor: fake.Forever, Signals: map[syscall.Signal]fake.Reaction{syscall.SIGTERM: {Ignore: true}}}),
					fake.WithImage("app", fake.Behavior{RunFor: fake.Forever, Signals: map[syscall.Signal]fake.Reaction{syscall.SIGTERM: tt.appTerm}}))
				e.runTask(e.register(def), "t1")
				e.start()
				advance(time.Minute)
				require.Equal(t, task.Running, e.task("t1").LastStatus)

				t0 := time.Now()
				e.stopTask("t1", "bye")
				advance(time.Minute)
				tk := e.task("t1")
				require.Equal(t, task.Stopped, tk.LastStatus)

				signals := map[string][]time.Duration{}
				for _, c := range e.rt.CallsTo(fake.MethodSignal) {
					signals[c.ID] = append(signals[c.ID], c.Time.Sub(t0))
					if len(signals[c.ID]) == 1 {
						assert.Equal(t, syscall.SIGTERM, c.Signal, c.ID)
					} else {
						assert.Equal(t, syscall.SIGKILL, c.Signal, c.ID)
					}
				}
				assert.Equal(t, tt.wantApp, signals["t1-app"])
				assert.Equal(t, tt.wantDB, signals["t1-db"])
				assert.Equal(t, tt.wantAppCode, *tk.Container("app").ExitCode)
				assert.Equal(t, 137, *tk.Container("db").ExitCode)
				assert.Equal(t, tt.wantDB[1], tk.StoppedAt.Sub(t0))
			})
		})
	}
}

func TestFailureBeforeRunning(t *testing.T) {
	const def = `{
	  "family": "web",
	  "networkMode": "awsvpc",
	  "containerDefinitions": [
	    {"name": "app", "image": "app", "memory": 64},
	    {"name": "side", "image": "side", "memory": 64, "essential": false}
	  ]
	}`
	boom := errors.New("boom")
	tests := []struct {
		name       string
		opts       []fake.Option
		failSetup  bool
		wantReason string
		// wantCreated: containers were created (and must be gone)
		wantCreated bool
		wantNet     bool
		failed      string // the container blamed
	}{
		{
			name:       "pull fails",
			opts:       []fake.Option{fake.WithImage("side", fake.Behavior{PullError: boom})},
			wantReason: "CannotPullContainerError: ",
			wantNet:    true,
			failed:     "side",
		},
		{
			name:        "start fails",
			opts:        []fake.Option{fake.WithImage("app", fake.Behavior{StartError: boom})},
			wantReason:  "CannotStartContainerError: ",
			wantCreated: true,
			wantNet:     true,
			failed:      "app",
		},
		{
			name:       "network fails",
			failSetup:  true,
			wantReason: "ResourceInitializationError: failed to set up the task network: ",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				opts := append([]fake.Option{fake.WithImage("side", fake.Behavior{RunFor: fake.Forever})}, tt.opts...)
				e := newEnv(t, opts...)
				if tt.failSetup {
					e.net.FailSetup(func(network.Request) error { return boom })
				}
				e.runTask(e.register(def), "t1")
				e.start()
				advance(time.Minute)

				tk := e.task("t1")
				require.Equal(t, task.Stopped, tk.LastStatus)
				assert.Equal(t, task.TaskFailedToStart, tk.StopCode)
				assert.Contains(t, tk.StoppedReason, tt.wantReason)
				assert.Contains(t, tk.StoppedReason, "boom")
				assert.True(t, tk.StartedAt.IsZero(), "never RUNNING")
				if tt.failed != "" {
					assert.Equal(t, tk.StoppedReason, tk.Container(tt.failed).Reason)
				}
				for _, c := range tk.Containers {
					assert.Equal(t, task.ContainerStopped, c.LastStatus, c.Name)
				}
				assert.Empty(t, e.rt.Containers(), "containers cleaned up")
				assert.Equal(t, tt.wantCreated, len(e.rt.CallsTo(fake.MethodCreate)) > 0)
				assert.Empty(t, e.net.TaskIDs(), "network torn down")
				if tt.wantNet {
					assert.NotNil(t, tk.Network)
				}
				assert.True(t, tk.Released)
				inst := e.instance()
				assert.Equal(t, registered.Memory, inst.Remaining.Memory, "reservation released")
				assert.Equal(t, registered.CPU, inst.Remaining.CPU)
				assert.Empty(t, inst.TaskGroups)
				assert.Equal(t, 0, inst.PendingTasksCount)
			})
		})
	}
}

func TestStopWhilePulling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fake.WithImage("web:1", fake.Behavior{PullDelay: time.Hour}))
		e.runTask(e.register(webDef), "t1")
		e.start()
		advance(10 * time.Second)
		require.Equal(t, task.Pending, e.task("t1").LastStatus)
		assert.Equal(t, 1, e.instance().PendingTasksCount)

		e.stopTask("t1", "changed my mind")
		advance(time.Second)
		tk := e.task("t1")
		require.Equal(t, task.Stopped, tk.LastStatus)
		assert.Equal(t, task.UserInitiated, tk.StopCode)
		assert.Equal(t, "changed my mind", tk.StoppedReason)
		assert.Empty(t, e.rt.CallsTo(fake.MethodCreate))
		assert.Empty(t, e.rt.Pulls())
		assert.Equal(t, []task.Status{task.Provisioning, task.Pending, task.Deprovisioning, task.Stopped}, e.statuses("t1"))
		assert.Equal(t, 0, e.instance().PendingTasksCount)
	})
}

func TestTaskStoppedBeforeTheAgentSawIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.runTask(e.register(webDef), "t1")
		e.stopTask("t1", "never mind")
		e.start()
		advance(time.Second)
		tk := e.task("t1")
		require.Equal(t, task.Stopped, tk.LastStatus)
		assert.Equal(t, []task.Status{task.Provisioning, task.Stopped}, e.statuses("t1"))
		assert.Empty(t, e.rt.Calls()[1:], "nothing but the adoption List")
		assert.True(t, tk.Released)
	})
}

func TestMissingTaskDefinition(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.runTask(e.register(webDef), "t1")
		require.NoError(t, e.store.Update(e.ctx, func(tx store.Tx) error {
			return tx.Delete(state.KindTaskDefinitions, "web:1")
		}))
		e.start()
		advance(time.Second)
		tk := e.task("t1")
		require.Equal(t, task.Stopped, tk.LastStatus)
		assert.Equal(t, task.TaskFailedToStart, tk.StopCode)
		assert.Equal(t, "ResourceInitializationError: task definition web:1 not found", tk.StoppedReason)
		assert.True(t, tk.Released)
	})
}

func TestTeardownFailureDoesNotBlockStopped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fake.WithImage("web:1", fake.Behavior{RunFor: fake.Forever}))
		e.runTask(e.register(webDef), "t1")
		e.start()
		advance(time.Second)
		e.net.FailTeardown(func(string) error { return errors.New("device busy") })
		t0 := time.Now()
		e.stopTask("t1", "bye")
		advance(time.Minute)
		tk := e.task("t1")
		require.Equal(t, task.Stopped, tk.LastStatus)
		assert.Equal(t, 7*time.Second, tk.StoppedAt.Sub(t0), "retried after 1 s, 2 s and 4 s")
		var teardowns int
		for _, c := range e.net.Calls() {
			if c.Op == netfake.OpTeardown {
				teardowns++
			}
		}
		assert.Equal(t, 4, teardowns)
		assert.True(t, tk.Released)
	})
}

// losingRuntime removes an image right after its first pull, as another
// process might between the pull and the creation of the container.
type losingRuntime struct {
	*fake.Runtime
	lost bool
}

func (r *losingRuntime) EnsureImage(ctx context.Context, ref string, auth *runtime.Auth) error {
	if err := r.Runtime.EnsureImage(ctx, ref, auth); err != nil {
		return err
	}
	if !r.lost {
		r.lost = true
		return r.Runtime.RemoveImage(ctx, ref)
	}
	return nil
}

// TestImageLostBeforeCreateIsPulledAgain: a container whose image went
// between the pull and the create is created after one more pull.
func TestImageLostBeforeCreateIsPulledAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fake.WithImage("web:1", fake.Behavior{RunFor: fake.Forever}))
		e.cfg.Runtime = &losingRuntime{Runtime: e.rt}
		ref := e.register(webDef)
		e.runTask(ref, "t1")
		e.start()
		advance(time.Second)

		require.Equal(t, task.Running, e.task("t1").LastStatus, "%s %v", e.task("t1").StoppedReason, e.rt.Calls())
		assert.Len(t, e.rt.CallsTo(fake.MethodCreate), 2, "refused once, then created")
		assert.Len(t, e.rt.CallsTo(fake.MethodEnsureImage), 2, "pulled again")
	})
}

// TestTaskStoppedWhileAnEarlierAgentCreatedIt: a task found PENDING, its
// container not in the runtime (the earlier agent's process died while it
// created it) and asked to stop, has its container deleted anyway: the
// runtime removes what a create cut short left (runtime/containerd: the
// writable layer).
func TestTaskStoppedWhileAnEarlierAgentCreatedIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.runTaskWith(e.register(webDef), "t1", func(tk *state.Task) { tk.LastStatus = task.Pending })
		e.stopTask("t1", "never mind")
		e.start()
		advance(time.Second)
		require.Equal(t, task.Stopped, e.task("t1").LastStatus)
		deletes := e.rt.CallsTo(fake.MethodDelete)
		require.Len(t, deletes, 1)
		assert.Equal(t, "t1-app", deletes[0].ID)
	})
}
