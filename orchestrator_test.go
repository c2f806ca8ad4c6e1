package stevedore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/cluster"
	netfake "github.com/stevedore-io/stevedore/network/fake"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/stevedoretest"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/memory"
	"github.com/stevedore-io/stevedore/task"
)

// env is an Orchestrator with a cluster of fake instances, for tests that
// run inside a synctest bubble.
type env struct {
	t *testing.T
	o *stevedore.Orchestrator
	// store is o's store when the test made it (newEnv, propLagEnv).
	store    store.Store
	ctx      context.Context
	runtimes map[string]*fake.Runtime
	opts     []fake.Option
}

func newEnv(t *testing.T, instances int, opts ...fake.Option) *env {
	t.Helper()
	st, err := memory.New()
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	o, err := stevedore.New(stevedore.WithSeed(1), stevedore.WithTaskRetention(3*time.Hour), stevedore.WithStore(st))
	require.NoError(t, err)
	e := envFor(t, o, instances, opts...)
	e.store = st
	return e
}

// envFor is newEnv with an Orchestrator of the test's own making.
func envFor(t *testing.T, o *stevedore.Orchestrator, instances int, opts ...fake.Option) *env {
	t.Helper()
	t.Cleanup(func() { require.NoError(t, o.Close()) })
	e := &env{t: t, o: o, ctx: t.Context(), runtimes: map[string]*fake.Runtime{}, opts: opts}
	_, err := o.CreateCluster(e.ctx, &stevedore.CreateClusterInput{ClusterName: "test"})
	require.NoError(t, err)
	for i := range instances {
		e.addInstance(fmt.Sprintf("i-%d", i), string(rune('a'+i%3)))
	}
	return e
}

func (e *env) addInstance(id, az string) {
	e.t.Helper()
	e.addInstanceWith(stevedore.RegisterContainerInstanceInput{
		InstanceID: id,
		Attributes: map[string]string{cluster.AttributeAvailabilityZone: "zone-" + az},
	})
}

// addInstanceWith registers instance in of cluster "test" with a fake runtime of
// its own (kept in e.runtimes) and a fake network; in's zero Cluster and
// Resources take the env's defaults.
func (e *env) addInstanceWith(in stevedore.RegisterContainerInstanceInput) *fake.Runtime {
	e.t.Helper()
	rt := fake.New(e.opts...)
	e.t.Cleanup(rt.Close)
	e.runtimes[in.InstanceID] = rt
	if in.Cluster == "" {
		in.Cluster = "test"
	}
	if in.Resources.CPU == 0 {
		in.Resources = cluster.Resources{CPU: 4096, Memory: 8192, NetworkSlots: 10}
	}
	in.Runtime, in.Network = rt, netfake.New()
	_, err := e.o.RegisterContainerInstance(e.ctx, &in)
	require.NoError(e.t, err)
	return rt
}

const webDef = `{
  "family": "web",
  "networkMode": "awsvpc",
  "containerDefinitions": [{
    "name": "app",
    "image": "web:%s",
    "memory": 256,
    "cpu": 128,
    "command": ["sleep", "infinity"],
    "portMappings": [{"containerPort": 8080}],
    "healthCheck": {"command": ["CMD-SHELL", "true"], "interval": 5, "timeout": 2, "retries": 2}
  }]
}`

func (e *env) register(version string) string {
	e.t.Helper()
	td, _, err := task.ParseDefinition(fmt.Appendf(nil, webDef, version))
	require.NoError(e.t, err)
	reg, err := e.o.RegisterTaskDefinition(e.ctx, &stevedore.RegisterTaskDefinitionInput{TaskDefinition: *td})
	require.NoError(e.t, err)
	return reg.TaskDefinition.Ref()
}

func (e *env) service(name string) service.Service {
	e.t.Helper()
	out, err := stevedoretest.ServicesOf(e.o.DescribeServices(e.ctx, &stevedore.DescribeServicesInput{Cluster: "test", Services: []string{name}}))
	require.NoError(e.t, err)
	require.Len(e.t, out, 1)
	return out[0]
}

// waitSteady advances fake time until the service reports a steady state.
func (e *env) waitSteady(name string, limit time.Duration) service.Service {
	e.t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		synctest.Wait()
		if s := e.service(name); s.Steady {
			return s
		}
		time.Sleep(time.Second)
	}
	s := e.service(name)
	js, _ := json.MarshalIndent(s, "", "  ")
	e.t.Fatalf("service %s not steady after %v:\n%s", name, limit, js)
	return s
}

func (e *env) tasks(filter stevedore.ListTasksInput) []*task.Task {
	e.t.Helper()
	filter.Cluster = "test"
	ids, err := e.o.AllTaskArns(e.ctx, &filter)
	require.NoError(e.t, err)
	if len(ids) == 0 {
		return nil
	}
	out, err := stevedoretest.TasksOf(e.o.DescribeTasks(e.ctx, &stevedore.DescribeTasksInput{Cluster: "test", Tasks: ids}))
	require.NoError(e.t, err)
	return out
}

func TestRunTaskAndStopTask(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, 2)
		ref := e.register("v1")
		out, err := e.o.RunTask(e.ctx, &stevedore.RunTaskInput{Cluster: "test", TaskDefinition: "web", Count: 3})
		require.NoError(t, err)
		require.Len(t, out.Tasks, 3)
		assert.Empty(t, out.Failures)
		assert.Equal(t, ref, out.Tasks[0].TaskDefinitionRef())

		time.Sleep(time.Minute)
		synctest.Wait()
		tasks := e.tasks(stevedore.ListTasksInput{Family: "web"})
		require.Len(t, tasks, 3)
		for _, tk := range tasks {
			assert.Equal(t, task.Running, tk.LastStatus)
			assert.Equal(t, task.Healthy, tk.HealthStatus)
		}

		stopped, err := e.o.StopTask(e.ctx, &stevedore.StopTaskInput{Cluster: "test", Task: tasks[0].ID(), Reason: "done with it"})
		require.NoError(t, err)
		assert.Equal(t, task.Stopped, stopped.Task.DesiredStatus)
		time.Sleep(time.Minute)
		synctest.Wait()
		got, err := stevedoretest.TasksOf(e.o.DescribeTasks(e.ctx, &stevedore.DescribeTasksInput{Cluster: "test", Tasks: []string{tasks[0].ID()}}))
		require.NoError(t, err)
		assert.Equal(t, task.Stopped, got[0].LastStatus)
		assert.Equal(t, task.UserInitiated, got[0].StopCode)
		assert.Equal(t, "done with it", got[0].StoppedReason)

		// Its resources went back to the instance.
		insts, err := stevedoretest.InstancesOf(e.o.DescribeContainerInstances(e.ctx, &stevedore.DescribeContainerInstancesInput{Cluster: "test"}))
		require.NoError(t, err)
		used := 0
		for _, inst := range insts {
			used += inst.Registered.Memory - inst.Remaining.Memory
		}
		assert.Equal(t, 2*256, used)
	})
}

func TestRunTaskReportsWhyNothingFits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, 1)
		td, _, err := task.ParseDefinition([]byte(`{"family":"big","containerDefinitions":[{"name":"a","image":"x","memory":100000}]}`))
		require.NoError(t, err)
		_, err = e.o.RegisterTaskDefinition(e.ctx, &stevedore.RegisterTaskDefinitionInput{TaskDefinition: *td})
		require.NoError(t, err)
		out, err := e.o.RunTask(e.ctx, &stevedore.RunTaskInput{Cluster: "test", TaskDefinition: "big", Count: 2})
		require.NoError(t, err)
		assert.Empty(t, out.Tasks)
		require.Len(t, out.Failures, 2)
		assert.Equal(t, "RESOURCE:MEMORY", out.Failures[0].Reason)
	})
}

func TestServiceReachesSteadyState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, 3)
		e.register("v1")
		_, err := e.o.CreateService(e.ctx, &stevedore.CreateServiceInput{
			Cluster: "test", ServiceName: "web", TaskDefinition: "web", DesiredCount: 3,
		})
		require.NoError(t, err)
		s := e.waitSteady("web", 5*time.Minute)
		assert.Equal(t, 3, s.RunningCount)
		require.Len(t, s.Deployments, 1)
		assert.Equal(t, service.RolloutCompleted, s.Deployments[0].RolloutState)
		assert.Equal(t, "(service web) has reached a steady state.", s.Events[0].Message)

		// Spread over the three zones: one task per instance.
		perInstance := map[string]int{}
		for _, tk := range e.tasks(stevedore.ListTasksInput{ServiceName: "web"}) {
			perInstance[tk.ContainerInstanceID()]++
		}
		assert.Equal(t, map[string]int{"i-0": 1, "i-1": 1, "i-2": 1}, perInstance)
	})
}

func TestRejectedUpdateChangesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, 1)
		e.register("v1")
		_, err := e.o.CreateService(e.ctx, &stevedore.CreateServiceInput{Cluster: "test", ServiceName: "web", TaskDefinition: "web", DesiredCount: 1})
		require.NoError(t, err)
		before := e.waitSteady("web", 5*time.Minute)

		bad := service.DeploymentConfiguration{MaximumPercent: ptr(50)}
		_, err = e.o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "web",
			DesiredCount: ptr(5), DeploymentConfiguration: &bad})
		require.ErrorIs(t, err, service.ErrInvalid)
		assert.Contains(t, err.Error(), "deploymentConfiguration.maximumPercent")
		_, err = e.o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "web",
			TaskDefinition: ptr("nope:7")})
		require.ErrorIs(t, err, stevedore.ErrNotFound)
		after := e.service("web")
		assert.Equal(t, before.Deployments, after.Deployments)
		assert.Equal(t, before.DesiredCount, after.DesiredCount)
	})
}

func ptr[T any](v T) *T { return &v }

// restartWorld is a store, a fake runtime and a fake network provider that
// outlive Orchestrators, for tests that restart the control plane: open
// starts an Orchestrator on the store (the first one also creates the
// cluster "test" and registers web:1, webDef), register registers instance
// i-1 with the runtime and the provider, which starts its agent, and start
// does both.
type restartWorld struct {
	t      *testing.T
	st     *memory.Store
	rt     *fake.Runtime
	nw     *netfake.Provider
	starts int
}

func newRestartWorld(t *testing.T) *restartWorld {
	t.Helper()
	st, err := memory.New()
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	rt := fake.New()
	t.Cleanup(rt.Close)
	return &restartWorld{t: t, st: st, rt: rt, nw: netfake.New()}
}

func (w *restartWorld) start() *stevedore.Orchestrator {
	w.t.Helper()
	o := w.open()
	w.register(o)
	return o
}

func (w *restartWorld) open() *stevedore.Orchestrator {
	w.t.Helper()
	ctx := w.t.Context()
	o, err := stevedore.New(stevedore.WithStore(w.st))
	require.NoError(w.t, err)
	if w.starts++; w.starts == 1 {
		_, err = o.CreateCluster(ctx, &stevedore.CreateClusterInput{ClusterName: "test"})
		require.NoError(w.t, err)
		td, _, err := task.ParseDefinition(fmt.Appendf(nil, webDef, "v1"))
		require.NoError(w.t, err)
		_, err = o.RegisterTaskDefinition(ctx, &stevedore.RegisterTaskDefinitionInput{TaskDefinition: *td})
		require.NoError(w.t, err)
	}
	return o
}

func (w *restartWorld) register(o *stevedore.Orchestrator) {
	w.t.Helper()
	_, err := o.RegisterContainerInstance(w.t.Context(), &stevedore.RegisterContainerInstanceInput{
		Cluster: "test", InstanceID: "i-1", Resources: cluster.Resources{CPU: 2048, Memory: 4096, NetworkSlots: 4},
		Runtime: w.rt, Network: w.nw,
	})
	require.NoError(w.t, err)
}

func TestRestartAdoptsRunningTasks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		w := newRestartWorld(t)
		rt := w.rt
		o1 := w.start()
		out, err := o1.RunTask(ctx, &stevedore.RunTaskInput{Cluster: "test", TaskDefinition: "web"})
		require.NoError(t, err)
		time.Sleep(time.Minute)
		synctest.Wait()
		require.NoError(t, o1.Close())
		starts := len(rt.CallsTo(fake.MethodStart))

		o2 := w.start()
		defer o2.Close()
		time.Sleep(time.Minute)
		synctest.Wait()
		got, err := stevedoretest.TasksOf(o2.DescribeTasks(ctx, &stevedore.DescribeTasksInput{Cluster: "test", Tasks: []string{out.Tasks[0].ID()}}))
		require.NoError(t, err)
		assert.Equal(t, task.Running, got[0].LastStatus)
		assert.Equal(t, starts, len(rt.CallsTo(fake.MethodStart)), "nothing restarted")
		insts, err := stevedoretest.InstancesOf(o2.DescribeContainerInstances(ctx, &stevedore.DescribeContainerInstancesInput{Cluster: "test"}))
		require.NoError(t, err)
		assert.Equal(t, 4096-256, insts[0].Remaining.Memory, "the running task's reservation is kept")

		_, err = o2.StopTask(ctx, &stevedore.StopTaskInput{Cluster: "test", Task: out.Tasks[0].ID()})
		require.NoError(t, err)
		time.Sleep(time.Minute)
		synctest.Wait()
		got, err = stevedoretest.TasksOf(o2.DescribeTasks(ctx, &stevedore.DescribeTasksInput{Cluster: "test", Tasks: []string{out.Tasks[0].ID()}}))
		require.NoError(t, err)
		assert.Equal(t, task.Stopped, got[0].LastStatus)
	})
}

func TestSharedNetworkProviderSurvivesAnAgentRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		o, err := stevedore.New()
		require.NoError(t, err)
		defer o.Close()
		_, err = o.CreateCluster(ctx, &stevedore.CreateClusterInput{ClusterName: "test"})
		require.NoError(t, err)
		rt := fake.New()
		defer rt.Close()
		nw := netfake.New() // one provider for both instances, as on one host
		register := func(id string) {
			_, err := o.RegisterContainerInstance(ctx, &stevedore.RegisterContainerInstanceInput{
				Cluster: "test", InstanceID: id, Resources: cluster.Resources{CPU: 1024, Memory: 1024, NetworkSlots: 4},
				Runtime: rt, Network: nw,
			})
			require.NoError(t, err)
		}
		register("i-0")
		register("i-1")
		td, _, err := task.ParseDefinition(fmt.Appendf(nil, webDef, "v1"))
		require.NoError(t, err)
		_, err = o.RegisterTaskDefinition(ctx, &stevedore.RegisterTaskDefinitionInput{TaskDefinition: *td})
		require.NoError(t, err)
		_, err = o.StartTask(ctx, &stevedore.StartTaskInput{Cluster: "test", TaskDefinition: "web", ContainerInstances: []string{"i-0", "i-1"}})
		require.NoError(t, err)
		time.Sleep(time.Minute)
		synctest.Wait()
		require.Len(t, nw.TaskIDs(), 2)

		register("i-0") // its agent restarts and reconciles the shared provider
		time.Sleep(time.Minute)
		synctest.Wait()
		assert.Len(t, nw.TaskIDs(), 2, "the other instance's task keeps its network")
	})
}

func TestStoppedTasksAreForgottenAfterTheRetention(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o, err := stevedore.New(stevedore.WithTaskRetention(10 * time.Minute))
		require.NoError(t, err)
		e := envFor(t, o, 1)
		e.register("v1")
		out, err := o.RunTask(e.ctx, &stevedore.RunTaskInput{Cluster: "test", TaskDefinition: "web"})
		require.NoError(t, err)
		id := out.Tasks[0].ID()
		time.Sleep(time.Minute)
		_, err = o.StopTask(e.ctx, &stevedore.StopTaskInput{Cluster: "test", Task: id})
		require.NoError(t, err)
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		got, err := stevedoretest.TasksOf(o.DescribeTasks(e.ctx, &stevedore.DescribeTasksInput{Cluster: "test", Tasks: []string{id}}))
		require.NoError(t, err, "kept during the retention")
		assert.Equal(t, task.Stopped, got[0].LastStatus)
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		_, err = stevedoretest.TasksOf(o.DescribeTasks(e.ctx, &stevedore.DescribeTasksInput{Cluster: "test", Tasks: []string{id}}))
		require.ErrorIs(t, err, stevedore.ErrNotFound, "forgotten after it")
	})
}
