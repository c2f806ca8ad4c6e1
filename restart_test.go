package stevedore_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/agent"
	"github.com/stevedore-io/stevedore/autoscaling"
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/discovery"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/network"
	netfake "github.com/stevedore-io/stevedore/network/fake"
	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/stevedoretest"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

// errCrashed is what a killed process's calls to the outside world get.
var errCrashed = errors.New("test: the process was killed")

// crashEnv is an env whose Orchestrator keeps its state in a data directory
// (WithDataDir) and can be killed and started again on it. crash models
// kill -9: it closes the Orchestrator's store first, so that from then on
// nothing the process writes reaches the file (store/bolt lets a running
// Update finish, and fails every later one), and only then stops the
// process's components and agents in-process; whatever they would write on
// their way out (an agent marking its instance disconnected, a runner a
// last status) is lost, as it would be with the process gone. The hosts outlive the control plane: each instance keeps its
// fake runtime and fake network, whose containers and namespaces go on
// while no Orchestrator runs, and the instances register again with them
// when a new Orchestrator starts, as ECS agents coming back do. External
// systems (target groups, listener rules) given in opts outlive it too.
type crashEnv struct {
	*env
	dir  string
	opts []stevedore.Option
	// registered are the instances as registered, runtime and network
	// included, in order.
	registered []stevedore.RegisterContainerInstanceInput
	networks   map[string]*netfake.Provider
	// down is true between crash and restart.
	down bool
}

// newCrashEnv starts an Orchestrator with opts on a new data directory,
// with cluster "test" and instances fake instances i-0, i-1, ... in zones
// a, b, c.
func newCrashEnv(t *testing.T, instances int, opts []stevedore.Option, fakeOpts ...fake.Option) *crashEnv {
	t.Helper()
	e := newCrashEnvWith(t, stevedore.CreateClusterInput{ClusterName: "test"}, opts, fakeOpts...)
	for i := range instances {
		e.add(stevedore.RegisterContainerInstanceInput{InstanceID: fmt.Sprintf("i-%d", i),
			Attributes: map[string]string{cluster.AttributeAvailabilityZone: "zone-" + string(rune('a'+i%3))}})
	}
	return e
}

// newCrashEnvWith starts an Orchestrator with opts on a new data
// directory, with cluster c and no instances.
func newCrashEnvWith(t *testing.T, c stevedore.CreateClusterInput, opts []stevedore.Option, fakeOpts ...fake.Option) *crashEnv {
	t.Helper()
	e := &crashEnv{dir: filepath.Join(t.TempDir(), "data"), opts: opts, networks: map[string]*netfake.Provider{}}
	o := e.boot(t)
	e.env = &env{t: t, o: o, ctx: t.Context(), runtimes: map[string]*fake.Runtime{}, opts: fakeOpts}
	_, err := o.CreateCluster(e.ctx, &c)
	require.NoError(t, err)
	return e
}

// add registers an instance of cluster "test" with a fake runtime and a
// fake network of its own, which restart registers again (an instance
// added while the Orchestrator is down registers then); in's zero
// Resources take 4 vCPU, 8 GiB and 10 network slots.
func (e *crashEnv) add(in stevedore.RegisterContainerInstanceInput) {
	e.t.Helper()
	rt := fake.New(e.env.opts...)
	e.t.Cleanup(rt.Close)
	nw := netfake.New()
	e.runtimes[in.InstanceID], e.networks[in.InstanceID] = rt, nw
	in.Cluster = "test"
	if in.Resources.CPU == 0 {
		in.Resources = cluster.Resources{CPU: 4096, Memory: 8192, NetworkSlots: 10}
	}
	in.Runtime, in.Network = rt, nw
	e.registered = append(e.registered, in)
	if e.down {
		return // it registers when the Orchestrator starts again
	}
	_, err := e.o.RegisterContainerInstance(e.ctx, &in)
	require.NoError(e.t, err)
}

// boot starts an Orchestrator on the data directory.
func (e *crashEnv) boot(t *testing.T) *stevedore.Orchestrator {
	t.Helper()
	o, err := stevedore.New(append([]stevedore.Option{stevedore.WithSeed(1), stevedore.WithTaskRetention(3 * time.Hour),
		stevedore.WithDataDir(e.dir)}, e.opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, o.Close()) })
	return o
}

// crash kills the running Orchestrator as kill -9 would: nothing it writes
// from now on is kept; the file is released (the kernel drops the lock of
// a dead process) and its goroutines are stopped. Containers and networks
// keep running.
func (e *crashEnv) crash() {
	e.t.Helper()
	require.NoError(e.t, e.o.Store().Close())
	require.NoError(e.t, e.o.Close())
	e.down = true
}

// restart starts a new Orchestrator on the data directory and registers
// every instance again with its runtime and network, except those in
// away (their hosts are not back yet: comeBack registers them).
func (e *crashEnv) restart(away ...string) {
	e.t.Helper()
	e.o, e.down = e.boot(e.t), false
	for _, in := range e.registered {
		if slices.Contains(away, in.InstanceID) {
			continue
		}
		_, err := e.o.RegisterContainerInstance(e.ctx, &in)
		require.NoError(e.t, err)
	}
}

// gone takes instance id away with its host: it does not register again,
// and checkNoOrphans no longer looks at it.
func (e *crashEnv) gone(id string) {
	e.registered = slices.DeleteFunc(e.registered, func(in stevedore.RegisterContainerInstanceInput) bool { return in.InstanceID == id })
	delete(e.runtimes, id)
	delete(e.networks, id)
}

// comeBack registers instance id again, with its runtime and network.
func (e *crashEnv) comeBack(id string) {
	e.t.Helper()
	i := slices.IndexFunc(e.registered, func(in stevedore.RegisterContainerInstanceInput) bool { return in.InstanceID == id })
	require.GreaterOrEqual(e.t, i, 0, "instance %s", id)
	_, err := e.o.RegisterContainerInstance(e.ctx, &e.registered[i])
	require.NoError(e.t, err)
}

// crashAndRestart is crash, down for a while, then restart.
func (e *crashEnv) crashAndRestart(down time.Duration) {
	e.t.Helper()
	e.crash()
	time.Sleep(down)
	synctest.Wait()
	e.restart()
}

// starts counts the containers started on every instance so far.
func (e *crashEnv) starts() int {
	n := 0
	for _, rt := range e.runtimes {
		n += len(rt.CallsTo(fake.MethodStart))
	}
	return n
}

// taskIDs are the IDs of the tasks of the cluster that are not STOPPED,
// and of every task, as stored.
func (e *crashEnv) allTasks() []*state.Task {
	e.t.Helper()
	var out []*state.Task
	require.NoError(e.t, e.o.Store().View(e.ctx, func(tx store.ReadTx) error {
		var err error
		out, err = store.List[*state.Task](tx, state.KindTasks)
		return err
	}))
	return out
}

// checkNoOrphans checks the hosts against the store: every container and
// every task network belongs to a task of its instance that is not STOPPED
// (a STOPPED task's containers are deleted and its namespace torn down),
// and every RUNNING task has each of its containers running, once.
func (e *crashEnv) checkNoOrphans() {
	e.t.Helper()
	live := map[string]*state.Task{}
	for _, tk := range e.allTasks() {
		if tk.LastStatus != task.Stopped {
			live[tk.ID()] = tk
		}
	}
	running := map[string]int{} // task ID -> running containers
	for inst, rt := range e.runtimes {
		for _, c := range rt.Containers() {
			id := c.Info.Labels[agent.LabelTask]
			tk, ok := live[id]
			if !assert.True(e.t, ok, "container %s on %s (%s) is left for task %q, which is STOPPED or unknown", c.Info.ID, inst, c.Info.State, id) {
				continue
			}
			assert.Equal(e.t, inst, tk.ContainerInstanceID(), "container %s runs on another instance than its task", c.Info.ID)
			if c.Info.State == runtime.StateRunning {
				running[id]++
			}
		}
		for _, id := range e.networks[inst].TaskIDs() {
			assert.Contains(e.t, live, id, "network of task %s on %s is left", id, inst)
		}
	}
	for id, tk := range live {
		if tk.LastStatus == task.Running {
			assert.Equal(e.t, len(tk.Containers), running[id], "task %s is RUNNING: each of its containers runs once", id)
		}
	}
}

// liveIDs are the IDs of the tasks that are not STOPPED, with their
// task definitions.
func (e *crashEnv) liveIDs() map[string]string {
	e.t.Helper()
	out := map[string]string{}
	for _, tk := range e.allTasks() {
		if tk.LastStatus != task.Stopped {
			out[tk.ID()] = tk.TaskDefinitionRef()
		}
	}
	return out
}

// TestKilledOrchestratorAdoptsServicesAndTasks: a service and a standalone
// task run when the process is killed; the next process on the same data
// directory, with the instances registered again, adopts their containers
// (no container created or started again), keeps the service's desired
// count and its deployment, places nothing new and leaves nothing behind.
func TestKilledOrchestratorAdoptsServicesAndTasks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newCrashEnv(t, 3, nil)
		standalone := e.serviceAndTask(3)
		before := e.service("web")
		live := e.liveIDs()
		require.Len(t, live, 4)
		starts := e.starts()
		insts, err := stevedoretest.InstancesOf(e.o.DescribeContainerInstances(e.ctx, &stevedore.DescribeContainerInstancesInput{Cluster: "test"}))
		require.NoError(t, err)

		e.crashAndRestart(10 * time.Minute)
		time.Sleep(5 * time.Minute)
		synctest.Wait()

		after := e.service("web")
		assert.True(t, after.Steady)
		assert.Equal(t, 3, after.DesiredCount)
		assert.Equal(t, 3, after.RunningCount)
		assert.Equal(t, before.Deployments[0].ID, after.Deployments[0].ID, "the same deployment")
		assert.Equal(t, live, e.liveIDs(), "the same tasks, nothing placed again")
		assert.Len(t, e.allTasks(), 4, "no task created")
		assert.Equal(t, starts, e.starts(), "no container started again")
		for _, tk := range e.tasks(stevedore.ListTasksInput{}) {
			assert.Equal(t, task.Running, tk.LastStatus, "task %s", tk.ID())
			assert.Equal(t, task.Healthy, tk.HealthStatus, "task %s", tk.ID())
		}
		again, err := stevedoretest.InstancesOf(e.o.DescribeContainerInstances(e.ctx, &stevedore.DescribeContainerInstancesInput{Cluster: "test"}))
		require.NoError(t, err)
		for i := range insts {
			assert.Equal(t, insts[i].Remaining, again[i].Remaining, "reservations of %s kept", insts[i].ID)
			assert.True(t, again[i].AgentConnected)
		}
		e.checkNoOrphans()

		// The adopted tasks are driven as before.
		_, err = e.o.StopTask(e.ctx, &stevedore.StopTaskInput{Cluster: "test", Task: standalone, Reason: "done"})
		require.NoError(t, err)
		time.Sleep(time.Minute)
		synctest.Wait()
		assert.Equal(t, task.Stopped, e.task(standalone).LastStatus)
		e.checkNoOrphans()
	})
}

// TestContainersThatDiedWhileDownAreHandled: while no Orchestrator runs,
// the container of a service's task and that of a standalone task exit.
// After the restart the service's task is STOPPED and replaced, and the
// standalone task is STOPPED with ECS's reason; the others are adopted.
func TestContainersThatDiedWhileDownAreHandled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newCrashEnv(t, 2, nil)
		standalone := e.task(e.serviceAndTask(2))
		svcTasks := e.tasks(stevedore.ListTasksInput{ServiceName: "web"})
		require.Len(t, svcTasks, 2)
		dead, kept := svcTasks[0], svcTasks[1]

		e.crash()
		exit := func(tk *task.Task, code int) {
			for _, c := range e.runtimes[tk.ContainerInstanceID()].Containers() {
				if c.Info.Labels[agent.LabelTask] == tk.ID() {
					require.NoError(t, e.runtimes[tk.ContainerInstanceID()].Exit(c.Info.ID, code))
				}
			}
		}
		exit(dead, 1)
		exit(standalone, 0)
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		e.restart()
		time.Sleep(5 * time.Minute)
		synctest.Wait()

		s := e.waitSteady("web", 5*time.Minute)
		assert.Equal(t, 2, s.RunningCount)
		byID := map[string]*task.Task{}
		for _, tk := range e.tasks(stevedore.ListTasksInput{DesiredStatus: task.Stopped}) {
			byID[tk.ID()] = tk
		}
		for _, tk := range e.tasks(stevedore.ListTasksInput{}) {
			byID[tk.ID()] = tk
		}
		require.Contains(t, byID, dead.ID())
		assert.Equal(t, task.Stopped, byID[dead.ID()].LastStatus)
		assert.Equal(t, task.EssentialContainerExited, byID[dead.ID()].StopCode)
		require.Contains(t, byID, standalone.ID())
		assert.Equal(t, task.Stopped, byID[standalone.ID()].LastStatus)
		assert.Equal(t, task.EssentialContainerExited, byID[standalone.ID()].StopCode)
		assert.Equal(t, task.ReasonEssentialContainerExited, byID[standalone.ID()].StoppedReason)
		require.NotNil(t, byID[standalone.ID()].Containers[0].ExitCode)
		assert.Equal(t, 0, *byID[standalone.ID()].Containers[0].ExitCode)
		assert.Equal(t, task.Running, byID[kept.ID()].LastStatus, "the other task is adopted")
		running := e.tasks(stevedore.ListTasksInput{ServiceName: "web", DesiredStatus: task.Running})
		assert.Len(t, running, 2, "the dead task is replaced")
		e.checkNoOrphans()
	})
}

// TestRollingDeploymentContinuesAfterAKill kills the process at moments
// all along a rolling deployment of 4 tasks (minimumHealthyPercent 50,
// maximumPercent 100: 2 old stop before 2 new start), and restarts it on
// the same data directory. The deployment continues where it was: the same
// deployment completes, each old task is replaced once (4 new tasks in all,
// none placed twice), the bounds hold across the restart (never more than 4
// tasks RUNNING or PENDING), and nothing is left on the hosts.
func TestRollingDeploymentContinuesAfterAKill(t *testing.T) {
	for _, at := range []time.Duration{0, 500 * time.Millisecond, time.Second, 2 * time.Second, 3 * time.Second,
		5 * time.Second, 8 * time.Second, 13 * time.Second, 21 * time.Second, 34 * time.Second, 55 * time.Second, 89 * time.Second} {
		t.Run(at.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newCrashEnv(t, 4, nil)
				e.register("v1")
				_, err := e.o.CreateService(e.ctx, &stevedore.CreateServiceInput{
					Cluster: "test", ServiceName: "web", TaskDefinition: "web", DesiredCount: 4,
					DeploymentConfiguration: service.DeploymentConfiguration{MinimumHealthyPercent: ptr(50), MaximumPercent: ptr(100)},
				})
				require.NoError(t, err)
				e.waitSteady("web", 10*time.Minute)
				v2 := e.register("v2")
				_, err = e.o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", TaskDefinition: &v2})
				require.NoError(t, err)
				primary := e.service("web").Deployments[0]
				require.Equal(t, v2, primary.TaskDefinition)
				time.Sleep(at)
				synctest.Wait()
				e.checkBounds(4)

				e.crash()
				time.Sleep(time.Minute)
				synctest.Wait()
				e.restart()
				s := e.waitSteady("web", 20*time.Minute)
				require.Len(t, s.Deployments, 1)
				assert.Equal(t, primary.ID, s.Deployments[0].ID, "the deployment in progress completed")
				assert.Equal(t, service.RolloutCompleted, s.Deployments[0].RolloutState)
				assert.Equal(t, 4, s.RunningCount)
				created := map[string]int{}
				for _, tk := range e.allTasks() {
					created[tk.TaskDefinitionRef()]++
					if tk.TaskDefinitionRef() == v2 {
						assert.Equal(t, task.Running, tk.LastStatus, "task %s of v2", tk.ID())
					} else {
						assert.Equal(t, task.Stopped, tk.LastStatus, "task %s of v1", tk.ID())
					}
				}
				assert.Equal(t, map[string]int{"web:1": 4, v2: 4}, created, "each old task replaced once")
				e.checkNoOrphans()
			})
		})
	}
}

// checkBounds checks that no more than limit tasks of the cluster are
// wanted (desired RUNNING) and not STOPPED: what maximumPercent bounds.
func (e *crashEnv) checkBounds(limit int) {
	e.t.Helper()
	n := 0
	for _, tk := range e.allTasks() {
		if tk.DesiredStatus == task.Running && tk.LastStatus != task.Stopped {
			n++
		}
	}
	assert.LessOrEqual(e.t, n, limit, "tasks desired RUNNING")
}

// TestBlueGreenShiftResumesAfterAKill kills the process 20 minutes into a
// canary's 30-minute bake and keeps it down 5 minutes. The restarted
// process keeps the canary's weights, shifts all production traffic 30
// minutes after the canary started (counted from the stored start, not
// from the restart), bakes 5 minutes from there, and only then stops blue.
// Target-group membership comes back as it was: no task is deregistered
// or registered again by the restart.
func TestBlueGreenShiftResumesAfterAKill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		groupA := &recordingGroup{name: "tg-a", targets: map[string]string{}}
		groupB := &recordingGroup{name: "tg-b", targets: map[string]string{}}
		prod, test := &fakeRule{name: "prod"}, &fakeRule{name: "test"}
		e := newCrashEnv(t, 3, []stevedore.Option{
			stevedore.WithTargetGroups(groupA, groupB), stevedore.WithListenerRules(prod, test),
		})
		e.register("v1")
		_, err := e.o.CreateService(e.ctx, &stevedore.CreateServiceInput{
			Cluster: "test", ServiceName: "web", TaskDefinition: "web", DesiredCount: 3, LoadBalancers: blueGreenLB,
			DeploymentConfiguration: service.DeploymentConfiguration{
				Strategy: service.StrategyCanary, BakeTime: 5 * time.Minute,
				CanaryConfiguration: &service.CanaryConfiguration{CanaryPercent: 10, CanaryBakeTime: 30 * time.Minute},
			},
		})
		require.NoError(t, err)
		e.waitSteady("web", 10*time.Minute)
		blue := e.liveIDs()
		v2 := e.register("v2")
		_, err = e.o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", TaskDefinition: &v2})
		require.NoError(t, err)
		bg := &blueGreenEnv{env: e.env}
		s := bg.waitStage(t, service.StageProductionTrafficShift, 10*time.Minute)
		synctest.Wait()
		require.Equal(t, map[string]int{"tg-a": 900, "tg-b": 100}, prod.current(), "the canary")
		canaryAt := prod.changes()[len(prod.changes())-1].at
		green := s.Deployments[0].ID
		time.Sleep(20 * time.Minute)
		synctest.Wait()
		inA, inB := groupA.snapshot(), groupB.snapshot()
		logA, logB := len(groupA.logSince(0)), len(groupB.logSince(0))
		require.Len(t, inA, 3)
		require.Len(t, inB, 3)
		prodChanges := len(prod.changes())

		e.crashAndRestart(5 * time.Minute)
		time.Sleep(time.Second)
		synctest.Wait()
		assert.Equal(t, map[string]int{"tg-a": 900, "tg-b": 100}, prod.current(), "the canary's weights after the restart")
		assert.Equal(t, inA, groupA.snapshot(), "tg-a keeps its targets")
		assert.Equal(t, inB, groupB.snapshot(), "tg-b keeps its targets")
		assert.Equal(t, green, e.service("web").Deployments[0].ID)

		s = e.waitSteady("web", time.Hour)
		assert.Equal(t, v2, s.TaskDefinition)
		changes := prod.changes()[prodChanges:]
		require.NotEmpty(t, changes)
		assert.Equal(t, map[string]int{"tg-a": 0, "tg-b": 1000}, changes[0].weights)
		assert.Equal(t, 30*time.Minute, changes[0].at.Sub(canaryAt).Round(10*time.Second),
			"all traffic on green 30 minutes after the canary started, not 30 minutes after the restart")
		for id := range blue {
			tk := e.task(id)
			assert.Equal(t, task.Stopped, tk.DesiredStatus)
			assert.Equal(t, 5*time.Minute, tk.StoppingAt.Sub(changes[0].at).Round(10*time.Second), "blue task %s stopped after the bake", id)
		}
		var leave []string
		for id := range blue {
			leave = append(leave, "-"+id)
		}
		assert.ElementsMatch(t, leave, groupA.logSince(logA), "tg-a: blue leaves, nothing else")
		assert.Empty(t, groupB.logSince(logB), "tg-b: nothing registered again")
		e.checkNoOrphans()
	})
}

// logSince is g's registrations ("+id") and deregistrations ("-id") from
// the nth on.
func (g *recordingGroup) logSince(n int) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.log[n:])
}

// gatedGroup is a recordingGroup whose deregistrations hang while its gate
// is shut: the process is killed before the load balancer heard of them.
type gatedGroup struct {
	*recordingGroup
	shut atomic.Bool
	gate chan struct{}
}

func (g *gatedGroup) Deregister(id string) error {
	if g.shut.Load() {
		<-g.gate
		return errCrashed
	}
	return g.recordingGroup.Deregister(id)
}

// TestTargetOfATaskStoppedBeforeTheKillIsDeregisteredAfterIt: a service
// task is stopped, but the process is killed before its target group heard
// of it (the deregistration hangs, and the task reaches STOPPED once the
// agent's drain wait is over). The restarted process deregisters it: no
// target is left in a group for a task that is gone, and the tasks that run
// stay registered.
func TestTargetOfATaskStoppedBeforeTheKillIsDeregisteredAfterIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &gatedGroup{recordingGroup: &recordingGroup{targets: map[string]string{}}, gate: make(chan struct{})}
		e := newCrashEnv(t, 2, []stevedore.Option{stevedore.WithTargetGroups(g)})
		e.register("v1")
		_, err := e.o.CreateService(e.ctx, &stevedore.CreateServiceInput{Cluster: "test", ServiceName: "web", TaskDefinition: "web", DesiredCount: 2,
			LoadBalancers: []service.LoadBalancer{{TargetGroup: "web-tg", ContainerName: "app", ContainerPort: 8080}}})
		require.NoError(t, err)
		e.waitSteady("web", 5*time.Minute)
		require.Len(t, g.snapshot(), 2)

		g.shut.Store(true)
		_, err = e.o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", DesiredCount: ptr(1)})
		require.NoError(t, err)
		time.Sleep(agent.MaxDrainWait + time.Minute)
		synctest.Wait()
		stopped := e.tasks(stevedore.ListTasksInput{ServiceName: "web", DesiredStatus: task.Stopped})
		require.Len(t, stopped, 1)
		require.Equal(t, task.Stopped, stopped[0].LastStatus)
		require.Contains(t, g.snapshot(), stopped[0].ID(), "the group did not hear of it")

		// The kill, then the hung call returns: it died with the process,
		// and so does any later one.
		require.NoError(t, e.o.Store().Close())
		close(g.gate)
		e.crash()
		g.shut.Store(false)
		time.Sleep(time.Minute)
		e.restart()
		time.Sleep(time.Minute)
		synctest.Wait()
		running := e.tasks(stevedore.ListTasksInput{ServiceName: "web"})
		require.Len(t, running, 1)
		assert.Equal(t, map[string]string{running[0].ID(): g.snapshot()[running[0].ID()]}, g.snapshot(),
			"only the running task is a target")
		e.checkNoOrphans()
	})
}

// TestCircuitBreakerCountsAcrossAKill: a deployment whose tasks fail to
// start is killed after 2 of its 3 allowed failures; the restarted process
// keeps the count, so the third failure trips the breaker and rolls back
// (3 failed tasks in all, not 3 more).
func TestCircuitBreakerCountsAcrossAKill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newCrashEnv(t, 4, nil, fake.WithImage("web:v2", fake.Behavior{StartError: errors.New("exec format error")}))
		v1 := e.register("v1")
		_, err := e.o.CreateService(e.ctx, &stevedore.CreateServiceInput{
			Cluster: "test", ServiceName: "web", TaskDefinition: "web", DesiredCount: 4,
			DeploymentConfiguration: service.DeploymentConfiguration{MinimumHealthyPercent: ptr(100), MaximumPercent: ptr(125),
				CircuitBreaker: &service.CircuitBreaker{Enable: true, Rollback: true}},
		})
		require.NoError(t, err)
		e.waitSteady("web", 10*time.Minute)
		v2 := e.register("v2")
		_, err = e.o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", TaskDefinition: &v2})
		require.NoError(t, err)
		for e.service("web").Deployments[0].FailedTasks < 2 {
			time.Sleep(time.Second)
			synctest.Wait()
		}
		require.Equal(t, 2, e.service("web").Deployments[0].FailedTasks)

		e.crashAndRestart(time.Minute)
		s := e.waitSteady("web", time.Hour)
		assert.Equal(t, v1, s.TaskDefinition, "rolled back")
		failed := 0
		for _, tk := range e.allTasks() {
			if tk.TaskDefinitionRef() == v2 {
				assert.Equal(t, task.TaskFailedToStart, tk.StopCode)
				failed++
			}
		}
		assert.Equal(t, 3, failed, "the breaker tripped at the third failure")
		for _, d := range s.Deployments {
			if d.TaskDefinition == v2 {
				assert.Equal(t, service.RolloutFailed, d.RolloutState)
				assert.Equal(t, 3, d.FailedTasks)
			}
		}
		e.checkNoOrphans()
	})
}

// TestStartThrottlingHoldsAcrossAKill: a service whose tasks keep failing
// to start is throttled; killed and restarted at once, the process waits
// out the delay due after the last failure before it launches again,
// rather than launching at once.
func TestStartThrottlingHoldsAcrossAKill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newCrashEnv(t, 1, nil, fake.WithImage("web:v1", fake.Behavior{StartError: errors.New("exec format error")}))
		e.register("v1")
		_, err := e.o.CreateService(e.ctx, &stevedore.CreateServiceInput{Cluster: "test", ServiceName: "web", TaskDefinition: "web", DesiredCount: 1})
		require.NoError(t, err)
		// Until the delay after the last failure is long.
		var failed []*state.Task
		for len(failed) < 6 {
			time.Sleep(time.Second)
			synctest.Wait()
			failed = failed[:0]
			for _, tk := range e.allTasks() {
				if tk.LastStatus == task.Stopped {
					failed = append(failed, tk)
				}
			}
		}
		require.Len(t, failed, 6, "not 7 at once")
		for _, tk := range e.allTasks() {
			require.Equal(t, task.Stopped, tk.LastStatus, "nothing in flight")
		}
		last := failed[0].StoppedAt
		for _, tk := range failed {
			if tk.StoppedAt.After(last) {
				last = tk.StoppedAt
			}
		}
		due := last.Add(service.ThrottleDelay(6))
		require.Greater(t, service.ThrottleDelay(6), time.Minute)

		e.crashAndRestart(time.Second)
		time.Sleep(time.Until(due) + time.Minute)
		synctest.Wait()
		var next []time.Time
		for _, tk := range e.allTasks() {
			if tk.CreatedAt.After(last) {
				next = append(next, tk.CreatedAt)
			}
		}
		require.NotEmpty(t, next, "it launches again once the delay is over")
		for _, at := range next {
			assert.False(t, at.Before(due), "launched %v before the delay due after the last failure was over", due.Sub(at))
		}
		assert.True(t, e.service("web").Deployments[0].Throttled)
	})
}

// TestAutoScalingCooldownHoldsAcrossAKill: a service scaled out on a
// custom metric, whose metric then drops, is killed 2 minutes into its
// 10-minute scale-in cooldown and restarted a minute later: it keeps its
// desired count, and scales in once the cooldown counted from the stored
// scale-out is over, not from the restart.
func TestAutoScalingCooldownHoldsAcrossAKill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		queue := &gauge{v: 20}
		e := newCrashEnv(t, 2, []stevedore.Option{stevedore.WithMetrics(map[string]stevedore.MetricFunc{"queue": queue.read})})
		e.register("v1")
		_, err := e.o.CreateService(e.ctx, &stevedore.CreateServiceInput{Cluster: "test", ServiceName: "web", TaskDefinition: "web", DesiredCount: 2})
		require.NoError(t, err)
		e.waitSteady("web", 10*time.Minute)
		e.scalable(1, 10, autoscaling.TargetTrackingPolicy{Name: "q", Metric: "queue", TargetValue: 10,
			ScaleOutCooldown: 10 * time.Minute, ScaleInCooldown: 10 * time.Minute})
		out := e.waitDesired(4, 2*time.Minute)
		queue.set(2)
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		require.Equal(t, 4, e.service("web").DesiredCount)

		e.crashAndRestart(time.Minute)
		e.holdsDesired(4, out.Add(10*time.Minute).Sub(time.Now())-10*time.Second)
		in := e.waitDesired(1, 5*time.Minute)
		assert.Less(t, in.Sub(out), 12*time.Minute, "the cooldown counts from the scale-out, not the restart")
		assert.WithinDuration(t, out, e.history().LastScaleOut, time.Second)
		e.waitSteady("web", 5*time.Minute)
		e.checkNoOrphans()
	})
}

// TestAutoScalingOnCPUDoesNotJumpAfterAKill: the scaler's previous CPU
// reading of each task is not stored (the first evaluation after a restart
// only takes a reading, as after a task starts), so a restart delays a CPU
// decision by one period and never makes one on half the data: a service
// at its target stays put across the restart.
func TestAutoScalingOnCPUDoesNotJumpAfterAKill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newCrashEnv(t, 2, nil, busy(0.45))
		e.register("v1")
		_, err := e.o.CreateService(e.ctx, &stevedore.CreateServiceInput{Cluster: "test", ServiceName: "web", TaskDefinition: "web", DesiredCount: 2})
		require.NoError(t, err)
		e.waitSteady("web", 10*time.Minute)
		e.scalable(1, 4, autoscaling.TargetTrackingPolicy{Name: "cpu", Metric: autoscaling.ECSServiceAverageCPUUtilization, TargetValue: 45})
		e.holdsDesired(2, 5*time.Minute)
		e.crashAndRestart(30 * time.Second)
		e.holdsDesired(2, 10*time.Minute)
	})
}

// zoneA is the attributes of an instance in zone a.
var zoneA = map[string]string{cluster.AttributeAvailabilityZone: "zone-a"}

// spotEnv is a crashEnv whose cluster has a Spot and an on-demand capacity
// provider, with one Spot instance, i-spot, running service web's 2 tasks
// and the standalone task it returns.
func spotEnv(t *testing.T) (*crashEnv, string) {
	t.Helper()
	e := newCrashEnvWith(t, stevedore.CreateClusterInput{ClusterName: "test", CapacityProviders: []cluster.CapacityProvider{
		{Name: "spot", Kind: cluster.Spot, Status: cluster.CapacityProviderActive},
		{Name: "ondemand", Kind: cluster.OnDemand, Status: cluster.CapacityProviderActive},
	}}, nil)
	e.add(stevedore.RegisterContainerInstanceInput{InstanceID: "i-spot", CapacityProvider: "spot", Attributes: zoneA})
	return e, e.serviceAndTask(2)
}

// serviceAndTask registers web:1, runs service web with desired tasks
// until it is steady and a standalone task of web:1 for a minute, and
// returns the standalone task's ID.
func (e *crashEnv) serviceAndTask(desired int) string {
	e.t.Helper()
	ref := e.register("v1")
	_, err := e.o.CreateService(e.ctx, &stevedore.CreateServiceInput{Cluster: "test", ServiceName: "web", TaskDefinition: ref, DesiredCount: desired})
	require.NoError(e.t, err)
	e.waitSteady("web", 5*time.Minute)
	out, err := e.o.RunTask(e.ctx, &stevedore.RunTaskInput{Cluster: "test", TaskDefinition: ref})
	require.NoError(e.t, err)
	time.Sleep(time.Minute)
	synctest.Wait()
	return out.Tasks[0].ID()
}

// TestSpotReclaimDeadlineSurvivesAKill: a Spot instance is interrupted
// (two minutes' notice) and the process is killed 30 seconds later, before
// anything moved, for 30 seconds. The restarted process keeps the stored
// reclaim time: the service's tasks move to on-demand capacity within the
// notice, and at the reclaim time (not two minutes after the restart) the
// standalone task on the Spot instance stops with SpotInterruption and the
// instance goes INACTIVE.
func TestSpotReclaimDeadlineSurvivesAKill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, standalone := spotEnv(t)
		require.NoError(t, errOf(e.o.InterruptSpotInstance(e.ctx, &stevedore.InterruptSpotInstanceInput{Cluster: "test", ContainerInstance: "i-spot", Notice: 0})))
		reclaim := time.Now().Add(2 * time.Minute)
		time.Sleep(30 * time.Second)
		synctest.Wait()

		e.crash()
		e.add(stevedore.RegisterContainerInstanceInput{InstanceID: "i-od", CapacityProvider: "ondemand", Attributes: zoneA})
		time.Sleep(30 * time.Second)
		synctest.Wait()
		e.restart()
		time.Sleep(time.Until(reclaim) - 5*time.Second)
		synctest.Wait()
		moved := e.tasks(stevedore.ListTasksInput{ServiceName: "web"})
		require.Len(t, moved, 2)
		for _, tk := range moved {
			assert.Equal(t, "i-od", tk.ContainerInstanceID(), "task %s moved within the notice", tk.ID())
			assert.Equal(t, task.Running, tk.LastStatus)
		}
		assert.Equal(t, task.Running, e.task(standalone).LastStatus, "standalone tasks run until the capacity goes")

		time.Sleep(time.Minute)
		synctest.Wait()
		tk := e.task(standalone)
		assert.Equal(t, task.Stopped, tk.LastStatus)
		assert.Equal(t, task.SpotInterruption, tk.StopCode)
		assert.WithinDuration(t, reclaim, tk.StoppingAt, 5*time.Second, "stopped at the stored reclaim time")
		insts, err := stevedoretest.InstancesOf(e.o.DescribeContainerInstances(e.ctx, &stevedore.DescribeContainerInstancesInput{Cluster: "test", ContainerInstances: []string{"i-spot"}}))
		require.NoError(t, err)
		assert.Equal(t, cluster.StatusInactive, insts[0].Status)
		s := e.waitSteady("web", 5*time.Minute)
		assert.Equal(t, 2, s.RunningCount)
		e.checkNoOrphans()
	})
}

// TestDiscoveryRecordsComeBackAfterAKill runs in real time (the DNS server
// reads real UDP sockets, which a synctest bubble cannot wait on): the
// records of a service's tasks, kept in memory by the discovery loop, are
// rebuilt from the store by the restarted process, with the same
// addresses, and no task is started again for it.
func TestDiscoveryRecordsComeBackAfterAKill(t *testing.T) {
	t.Parallel()
	cfg := discovery.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	e := newCrashEnv(t, 1, []stevedore.Option{stevedore.WithServiceDiscovery(cfg)})
	td, _, err := task.ParseDefinition([]byte(`{"family":"web","networkMode":"awsvpc","containerDefinitions":[
		{"name":"web","image":"web:1","memory":64,"command":["sleep","infinity"],"portMappings":[{"containerPort":8080}]}]}`))
	require.NoError(t, err)
	_, err = e.o.RegisterTaskDefinition(e.ctx, &stevedore.RegisterTaskDefinitionInput{TaskDefinition: *td})
	require.NoError(t, err)
	_, err = e.o.CreateService(e.ctx, &stevedore.CreateServiceInput{Cluster: "test", ServiceName: "web", TaskDefinition: "web", DesiredCount: 2})
	require.NoError(t, err)
	var before []netip.Addr
	require.Eventually(t, func() bool {
		before, err = e.o.Resolver().LookupHost(e.ctx, "web.local")
		return err == nil && len(before) == 2
	}, 10*time.Second, 20*time.Millisecond, "two tasks answer web.local")
	starts := e.starts()

	e.crash()
	e.restart()
	var after []netip.Addr
	require.Eventually(t, func() bool {
		after, err = e.o.Resolver().LookupHost(e.ctx, "web.local")
		return err == nil && len(after) == 2
	}, 10*time.Second, 20*time.Millisecond, "two tasks answer web.local after the restart")
	assert.ElementsMatch(t, before, after)
	assert.Equal(t, starts, e.starts(), "nothing started again")
}

// TestSecurityGroupMembersFollowTasksThatDiedWhileDown: group db lets in
// tcp:5432 from the members of group app. While no Orchestrator runs, one
// of the two app tasks dies. After the restart it is STOPPED, and the db
// task's inbound rules name only the member left: a dead task's address
// (which the pool may give to the next task) is not let in.
func TestSecurityGroupMembersFollowTasksThatDiedWhileDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newCrashEnv(t, 1, nil)
		e.register("v1")
		_, err := e.o.CreateSecurityGroup(e.ctx, &stevedore.CreateSecurityGroupInput{GroupName: "app"})
		require.NoError(t, err)
		_, err = e.o.CreateSecurityGroup(e.ctx, &stevedore.CreateSecurityGroupInput{GroupName: "db",
			IngressRules: []network.IngressRule{fromGroups(5432, "app")}})
		require.NoError(t, err)
		run := func(group string) string {
			out, err := e.o.RunTask(e.ctx, &stevedore.RunTaskInput{Cluster: "test", TaskDefinition: "web", NetworkConfiguration: inGroups(group)})
			require.NoError(t, err)
			return out.Tasks[0].ID()
		}
		db, app1, app2 := run("db"), run("app"), run("app")
		settle()
		nw := e.networks["i-0"]
		dbAddr := addrOf(t, nw, db, 5432)
		addr1, addr2 := addrOf(t, nw, app1, 0).Addr(), addrOf(t, nw, app2, 0).Addr()
		require.NoError(t, nw.Check(app1, network.ProtocolTCP, dbAddr))
		require.NoError(t, nw.Check(app2, network.ProtocolTCP, dbAddr))
		sources := func() []string {
			p, ok := nw.Ingress(db)
			require.True(t, ok)
			var out []string
			for _, r := range p.Rules {
				out = append(out, r.String())
			}
			return out
		}
		require.ElementsMatch(t, []string{"tcp:5432 from " + addr1.String() + "/32," + addr2.String() + "/32"}, sources())

		e.crash()
		for _, c := range e.runtimes["i-0"].Containers() {
			if c.Info.Labels[agent.LabelTask] == app1 {
				require.NoError(t, e.runtimes["i-0"].Exit(c.Info.ID, 137))
			}
		}
		time.Sleep(time.Minute)
		e.restart()
		settle()
		assert.Equal(t, task.Stopped, e.task(app1).LastStatus)
		assert.Equal(t, []string{"tcp:5432 from " + addr2.String() + "/32"}, sources(), "only the member left")
		require.NoError(t, nw.Check(app2, network.ProtocolTCP, dbAddr))

		// A new member is let in.
		app3 := run("app")
		settle()
		require.NoError(t, nw.Check(app3, network.ProtocolTCP, dbAddr))
		e.checkNoOrphans()
	})
}

// TestRunAndStopBurstsSurviveAKill kills the process at moments along a
// burst of RunTask and StopTask calls (tasks in every state of their
// lifecycle), restarts it and checks that every task ends as it was asked:
// desired RUNNING tasks run, each once, the others are STOPPED; that the
// instances' reservations add up to the tasks that hold them; and that
// nothing is left on the hosts.
func TestRunAndStopBurstsSurviveAKill(t *testing.T) {
	for _, at := range []time.Duration{0, 10 * time.Millisecond, 100 * time.Millisecond, time.Second, 2 * time.Second,
		5 * time.Second, 15 * time.Second, 31 * time.Second, 40 * time.Second} {
		t.Run(at.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newCrashEnv(t, 2, nil)
				e.register("v1")
				out, err := e.o.RunTask(e.ctx, &stevedore.RunTaskInput{Cluster: "test", TaskDefinition: "web", Count: 6})
				require.NoError(t, err)
				require.Len(t, out.Tasks, 6)
				settle()
				for _, tk := range out.Tasks[:3] {
					_, err := e.o.StopTask(e.ctx, &stevedore.StopTaskInput{Cluster: "test", Task: tk.ID(), Reason: "burst"})
					require.NoError(t, err)
				}
				more, err := e.o.RunTask(e.ctx, &stevedore.RunTaskInput{Cluster: "test", TaskDefinition: "web", Count: 4})
				require.NoError(t, err)
				_, err = e.o.StopTask(e.ctx, &stevedore.StopTaskInput{Cluster: "test", Task: more.Tasks[0].ID(), Reason: "burst"})
				require.NoError(t, err)
				time.Sleep(at)
				synctest.Wait()

				e.crashAndRestart(time.Minute)
				time.Sleep(2 * time.Minute)
				synctest.Wait()
				reserved := map[string]cluster.Resources{}
				starts := map[string]int{}
				for _, rt := range e.runtimes {
					for _, c := range rt.CallsTo(fake.MethodStart) {
						starts[c.ID]++
					}
				}
				for _, tk := range e.allTasks() {
					if tk.DesiredStatus == task.Running {
						assert.Equal(t, task.Running, tk.LastStatus, "task %s", tk.ID())
					} else {
						assert.Equal(t, task.Stopped, tk.LastStatus, "task %s", tk.ID())
					}
					if !tk.Released {
						r := reserved[tk.ContainerInstanceID()]
						r.CPU += tk.Reserved.CPU
						r.Memory += tk.Reserved.Memory
						reserved[tk.ContainerInstanceID()] = r
					}
				}
				for id, n := range starts {
					assert.Equal(t, 1, n, "container %s started once", id)
				}
				insts, err := stevedoretest.InstancesOf(e.o.DescribeContainerInstances(e.ctx, &stevedore.DescribeContainerInstancesInput{Cluster: "test"}))
				require.NoError(t, err)
				for _, inst := range insts {
					assert.Equal(t, reserved[inst.ID].CPU, inst.Registered.CPU-inst.Remaining.CPU, "cpu reserved on %s", inst.ID)
					assert.Equal(t, reserved[inst.ID].Memory, inst.Registered.Memory-inst.Remaining.Memory, "memory reserved on %s", inst.ID)
				}
				assert.Len(t, e.liveIDs(), 6)
				e.checkNoOrphans()
			})
		})
	}
}

// TestNothingIsPlacedOnAnInstanceWhoseAgentIsNotBack: after a kill, the
// agents of the instances are gone with the process; until an instance
// registers again its agent is disconnected, and placement keeps new
// tasks off it (ECS places nothing on an instance whose agent is not
// connected): a service scaled out while one host is not back places
// every new task on the other, where they run, rather than leaving them
// PROVISIONING on a host that may never return. When the host does come
// back, its task is adopted.
func TestNothingIsPlacedOnAnInstanceWhoseAgentIsNotBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newCrashEnv(t, 2, nil)
		e.register("v1")
		// Without availability-zone rebalancing: once i-1 is back, 3 tasks
		// on i-0 and 1 on i-1 would be rebalanced, starting one more.
		_, err := e.o.CreateService(e.ctx, &stevedore.CreateServiceInput{Cluster: "test", ServiceName: "web", TaskDefinition: "web", DesiredCount: 2,
			AvailabilityZoneRebalancing: service.AZRebalancingDisabled})
		require.NoError(t, err)
		e.waitSteady("web", 5*time.Minute)
		live := e.liveIDs()
		starts := e.starts()

		e.crash()
		time.Sleep(time.Minute)
		e.restart("i-1")
		insts, err := stevedoretest.InstancesOf(e.o.DescribeContainerInstances(e.ctx, &stevedore.DescribeContainerInstancesInput{Cluster: "test", ContainerInstances: []string{"i-1"}}))
		require.NoError(t, err)
		assert.False(t, insts[0].AgentConnected, "i-1's agent died with the process and is not back")
		_, err = e.o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", DesiredCount: ptr(4)})
		require.NoError(t, err)
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		for _, tk := range e.tasks(stevedore.ListTasksInput{ServiceName: "web"}) {
			if _, old := live[tk.ID()]; old {
				continue
			}
			assert.Equal(t, "i-0", tk.ContainerInstanceID(), "new task %s placed on an instance without its agent", tk.ID())
			assert.Equal(t, task.Running, tk.LastStatus, "new task %s", tk.ID())
		}

		e.comeBack("i-1")
		s := e.waitSteady("web", 5*time.Minute)
		assert.Equal(t, 4, s.RunningCount)
		for id := range live {
			assert.Equal(t, task.Running, e.task(id).LastStatus, "task %s adopted", id)
		}
		assert.Equal(t, starts+2, e.starts(), "only the 2 new tasks started")
		e.checkNoOrphans()
	})
}

// slowGroup is a recordingGroup whose targets take an hour to drain while
// held busy, but which reports a deregistration delay of 5 minutes: the
// drain's stored deadline decides when a stopping task gets SIGTERM.
type slowGroup struct{ *recordingGroup }

func (slowGroup) DeregistrationDelay() time.Duration { return 5 * time.Minute }

// TestDrainDeadlineSurvivesAKill: a task stopping behind a target group
// that does not drain is killed a minute into its drain and restarted a
// minute later. It stays DEACTIVATING (no SIGTERM at the restart), and gets
// SIGTERM at the stored deadline (the delay plus 5 s from the stop), not a
// delay after the restart.
func TestDrainDeadlineSurvivesAKill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := slowGroup{&recordingGroup{targets: map[string]string{}, fakeHealth: fakeHealth{delay: time.Hour}}}
		e := newCrashEnv(t, 2, []stevedore.Option{stevedore.WithTargetGroups(g)})
		e.register("v1")
		_, err := e.o.CreateService(e.ctx, &stevedore.CreateServiceInput{Cluster: "test", ServiceName: "web", TaskDefinition: "web", DesiredCount: 2,
			LoadBalancers: []service.LoadBalancer{{TargetGroup: "web-tg", ContainerName: "app", ContainerPort: 8080}}})
		require.NoError(t, err)
		e.waitSteady("web", 5*time.Minute)
		synctest.Wait()
		for _, tk := range e.tasks(stevedore.ListTasksInput{ServiceName: "web"}) {
			g.hold(tk.ID(), true)
		}
		_, err = e.o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", DesiredCount: ptr(1)})
		require.NoError(t, err)
		synctest.Wait()
		stopping := e.tasks(stevedore.ListTasksInput{ServiceName: "web", DesiredStatus: task.Stopped})
		require.Len(t, stopping, 1)
		id := stopping[0].ID()
		require.Equal(t, task.Deactivating, stopping[0].LastStatus)
		deadline := time.Now().Add(5*time.Minute + 5*time.Second)

		time.Sleep(time.Minute)
		synctest.Wait()
		e.crashAndRestart(time.Minute)
		synctest.Wait()
		assert.Equal(t, task.Deactivating, e.task(id).LastStatus, "still draining after the restart")
		assert.True(t, e.env.sigterm(id).IsZero(), "no SIGTERM at the restart")
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		assert.WithinDuration(t, deadline, e.env.sigterm(id), time.Second, "SIGTERM at the stored deadline")
		assert.Equal(t, task.Stopped, e.task(id).LastStatus)
		e.checkNoOrphans()
	})
}

// TestAlarmBakeIsWatchedInFullAcrossAKill: a rolling deployment with an
// alarm (2 of 2 datapoints a minute apart: a bake of 3 minutes) enters its
// bake, and the alarm starts breaching; the process is killed 30 seconds
// later and down 2 minutes. The alarm's datapoints were in the killed
// process's memory, and none were taken while it was down: the restarted
// process does not let the bake end before the alarm has been watched a
// full bake time again, so the alarm fires and the deployment rolls back,
// rather than completing unwatched.
func TestAlarmBakeIsWatchedInFullAcrossAKill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var fire atomic.Bool
		e := newCrashEnv(t, 3, []stevedore.Option{stevedore.WithAlarms(stevedore.Alarm{
			Name:      "errors",
			Predicate: func(context.Context) (bool, error) { return fire.Load(), nil },
			Period:    time.Minute, EvaluationPeriods: 2, DatapointsToAlarm: 2,
		})})
		v1 := e.register("v1")
		_, err := e.o.CreateService(e.ctx, &stevedore.CreateServiceInput{
			Cluster: "test", ServiceName: "web", TaskDefinition: v1, DesiredCount: 2,
			DeploymentConfiguration: service.DeploymentConfiguration{
				Alarms: &service.DeploymentAlarms{AlarmNames: []string{"errors"}, Enable: true, Rollback: true}},
		})
		require.NoError(t, err)
		e.waitSteady("web", 10*time.Minute)
		v2 := e.register("v2")
		_, err = e.o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", TaskDefinition: &v2})
		require.NoError(t, err)
		for e.service("web").Deployments[0].LifecycleStage != service.StageBakeTime {
			time.Sleep(time.Second)
			synctest.Wait()
		}
		fire.Store(true)
		time.Sleep(30 * time.Second)
		synctest.Wait()

		e.crashAndRestart(2 * time.Minute)
		s := e.waitSteady("web", 20*time.Minute)
		assert.Equal(t, v1, s.TaskDefinition, "rolled back on the alarm")
		assert.NotEmpty(t, s.Deployments[0].RollbackOf)
		e.checkNoOrphans()
	})
}

// TestDaemonKeepsItsTaskOnAnInstanceThatIsNotBackYet: a daemon service's
// task on an instance whose agent has not come back after a kill is not
// stopped or placed again; when the instance registers again, its task is
// adopted.
func TestDaemonKeepsItsTaskOnAnInstanceThatIsNotBackYet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newCrashEnv(t, 2, nil)
		e.register("v1")
		_, err := e.o.CreateService(e.ctx, &stevedore.CreateServiceInput{Cluster: "test", ServiceName: "agent", TaskDefinition: "web",
			SchedulingStrategy: service.Daemon})
		require.NoError(t, err)
		e.waitSteady("agent", 5*time.Minute)
		live := e.liveIDs()
		require.Len(t, live, 2)
		starts := e.starts()

		e.crash()
		time.Sleep(time.Minute)
		e.restart("i-1")
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		assert.Len(t, e.allTasks(), 2, "nothing placed again")
		for _, tk := range e.allTasks() {
			assert.Equal(t, task.Running, tk.DesiredStatus, "task %s on %s", tk.ID(), tk.ContainerInstanceID())
		}
		e.comeBack("i-1")
		s := e.waitSteady("agent", 5*time.Minute)
		assert.Equal(t, 2, s.RunningCount)
		assert.Equal(t, live, e.liveIDs())
		assert.Equal(t, starts, e.starts())
		e.checkNoOrphans()
	})
}

// TestSpotCapacityReclaimedWhileDown: a Spot instance is interrupted and
// the process killed within the notice; the capacity is reclaimed while
// no process runs, and the host never comes back. The restarted process
// reclaims it at once: the instance goes INACTIVE, and its tasks, which no
// agent will ever report, are STOPPED with SpotInterruption, their
// reservations given back; the service runs its tasks on the on-demand
// instance and reaches a steady state.
func TestSpotCapacityReclaimedWhileDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, standalone := spotEnv(t)
		onSpot := e.liveIDs()
		require.NoError(t, errOf(e.o.InterruptSpotInstance(e.ctx, &stevedore.InterruptSpotInstanceInput{Cluster: "test", ContainerInstance: "i-spot", Notice: 0})))
		time.Sleep(10 * time.Second)
		synctest.Wait()

		e.crash()
		e.gone("i-spot")
		e.add(stevedore.RegisterContainerInstanceInput{InstanceID: "i-od", CapacityProvider: "ondemand", Attributes: zoneA})
		time.Sleep(5 * time.Minute)
		e.restart()
		s := e.waitSteady("web", 5*time.Minute)
		assert.Equal(t, 2, s.RunningCount)
		for _, tk := range e.tasks(stevedore.ListTasksInput{ServiceName: "web"}) {
			assert.Equal(t, "i-od", tk.ContainerInstanceID())
		}
		for id := range onSpot {
			tk := e.task(id)
			assert.Equal(t, task.Stopped, tk.LastStatus, "task %s", id)
			assert.Equal(t, task.SpotInterruption, tk.StopCode, "task %s", id)
		}
		assert.Equal(t, "Your Spot Task was interrupted.", e.task(standalone).StoppedReason)
		insts, err := stevedoretest.InstancesOf(e.o.DescribeContainerInstances(e.ctx, &stevedore.DescribeContainerInstancesInput{Cluster: "test", ContainerInstances: []string{"i-spot"}}))
		require.NoError(t, err)
		assert.Equal(t, cluster.StatusInactive, insts[0].Status)
		assert.Equal(t, insts[0].Registered.Memory, insts[0].Remaining.Memory, "reservations given back")
		e.checkNoOrphans()
	})
}

// TestBlueGreenDeploymentConvergesAfterAKillAtAnyMoment kills the process
// at moments all along a linear blue/green deployment (test traffic, steps
// of 50% baked 2 minutes, a bake of 3 minutes) and restarts it a minute
// later. The same deployment completes: 3 green tasks, each placed once,
// all production and test traffic on green, only green in the target
// groups, blue stopped, and nothing left on the hosts.
func TestBlueGreenDeploymentConvergesAfterAKillAtAnyMoment(t *testing.T) {
	for _, at := range []time.Duration{0, time.Second, 5 * time.Second, 30 * time.Second, time.Minute,
		2 * time.Minute, 3 * time.Minute, 4 * time.Minute, 6 * time.Minute, 8 * time.Minute} {
		t.Run(at.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				groupA := &recordingGroup{name: "tg-a", targets: map[string]string{}}
				groupB := &recordingGroup{name: "tg-b", targets: map[string]string{}}
				prod, test := &fakeRule{name: "prod"}, &fakeRule{name: "test"}
				e := newCrashEnv(t, 3, []stevedore.Option{
					stevedore.WithTargetGroups(groupA, groupB), stevedore.WithListenerRules(prod, test),
				})
				e.register("v1")
				_, err := e.o.CreateService(e.ctx, &stevedore.CreateServiceInput{
					Cluster: "test", ServiceName: "web", TaskDefinition: "web", DesiredCount: 3, LoadBalancers: blueGreenLB,
					DeploymentConfiguration: service.DeploymentConfiguration{
						Strategy: service.StrategyLinear, BakeTime: 3 * time.Minute,
						LinearConfiguration: &service.LinearConfiguration{StepPercent: 50, StepBakeTime: 2 * time.Minute},
					},
				})
				require.NoError(t, err)
				e.waitSteady("web", 10*time.Minute)
				v2 := e.register("v2")
				_, err = e.o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", TaskDefinition: &v2})
				require.NoError(t, err)
				green := e.service("web").Deployments[0].ID
				time.Sleep(at)
				synctest.Wait()

				e.crashAndRestart(time.Minute)
				s := e.waitSteady("web", time.Hour)
				require.Len(t, s.Deployments, 1)
				assert.Equal(t, green, s.Deployments[0].ID)
				assert.Equal(t, v2, s.TaskDefinition)
				assert.Equal(t, map[string]int{"tg-a": 0, "tg-b": 1000}, prod.current())
				assert.Equal(t, map[string]int{"tg-a": 0, "tg-b": 1000}, test.current())
				created := map[string]int{}
				greenIDs := map[string]bool{}
				for _, tk := range e.allTasks() {
					created[tk.TaskDefinitionRef()]++
					if tk.TaskDefinitionRef() == v2 {
						greenIDs[tk.ID()] = true
						assert.Equal(t, task.Running, tk.LastStatus)
					} else {
						assert.Equal(t, task.Stopped, tk.LastStatus)
					}
				}
				assert.Equal(t, map[string]int{"web:1": 3, v2: 3}, created, "each task placed once")
				assert.Empty(t, groupA.snapshot(), "blue left tg-a")
				inB := map[string]bool{}
				for id := range groupB.snapshot() {
					inB[id] = true
				}
				assert.Equal(t, greenIDs, inB, "green, and only green, in tg-b")
				e.checkNoOrphans()
			})
		})
	}
}

// TestDaemonTaskSurvivesAGracefulRestart: a closed Orchestrator's agents
// record their instances disconnected on their way out; the next
// Orchestrator on the store plans the daemon service before the instance
// registers again, and must not stop its task for that.
func TestDaemonTaskSurvivesAGracefulRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newRestartWorld(t)
		o1 := w.start()
		_, err := o1.CreateService(t.Context(), &stevedore.CreateServiceInput{Cluster: "test", ServiceName: "agent", TaskDefinition: "web",
			SchedulingStrategy: service.Daemon})
		require.NoError(t, err)
		time.Sleep(time.Minute)
		synctest.Wait()
		require.NoError(t, o1.Close())
		o2 := w.open()
		t.Cleanup(func() { require.NoError(t, o2.Close()) })
		time.Sleep(time.Minute)
		synctest.Wait()
		w.register(o2)
		time.Sleep(time.Minute)
		synctest.Wait()
		stopped, err := o2.AllTaskArns(t.Context(), &stevedore.ListTasksInput{Cluster: "test", DesiredStatus: task.Stopped})
		require.NoError(t, err)
		assert.Empty(t, stopped, "no daemon task stopped by the restart")
		running, err := o2.AllTaskArns(t.Context(), &stevedore.ListTasksInput{Cluster: "test"})
		require.NoError(t, err)
		assert.Len(t, running, 1)
	})
}
