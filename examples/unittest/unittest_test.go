package unittest_test

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/examples/unittest"
	netfake "github.com/stevedore-io/stevedore/network/fake"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/task"
)

const workerDef = `{
  "family": "worker",
  "containerDefinitions": [{
    "name": "worker",
    "image": "worker:1",
    "memory": 128,
    "command": ["sleep", "infinity"],
    "healthCheck": {"command": ["CMD", "true"], "interval": 10}
  }]
}`

// newCluster returns an Orchestrator with a cluster "c" of n fake instances
// and the worker task definition registered.
func newCluster(t *testing.T, n int, opts ...fake.Option) *stevedore.Orchestrator {
	t.Helper()
	ctx := t.Context()
	o := newEmptyCluster(t)
	for i := range n {
		rt := fake.New(opts...)
		t.Cleanup(rt.Close)
		_, err := o.RegisterContainerInstance(ctx, &stevedore.RegisterContainerInstanceInput{
			Cluster:    "c",
			Resources:  cluster.Resources{CPU: 2048, Memory: 4096},
			Attributes: map[string]string{"ecs.availability-zone": fmt.Sprintf("az-%d", i)},
			Runtime:    rt,
			Network:    netfake.New(),
		})
		require.NoError(t, err)
	}
	td, _, err := task.ParseDefinition([]byte(workerDef))
	require.NoError(t, err)
	_, err = o.RegisterTaskDefinition(ctx, &stevedore.RegisterTaskDefinitionInput{TaskDefinition: *td})
	require.NoError(t, err)
	return o
}

// newEmptyCluster returns an Orchestrator with an empty cluster "c".
func newEmptyCluster(t *testing.T) *stevedore.Orchestrator {
	t.Helper()
	o, err := stevedore.New()
	require.NoError(t, err)
	t.Cleanup(func() { o.Close() })
	_, err = o.CreateCluster(t.Context(), &stevedore.CreateClusterInput{ClusterName: "c"})
	require.NoError(t, err)
	return o
}

// TestScaleToQueue runs inside a synctest bubble: time only moves when every
// goroutine is blocked, so a minute of health checks takes microseconds and
// the result is the same on every run.
func TestScaleToQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		o := newCluster(t, 3)
		_, err := o.CreateService(ctx, &stevedore.CreateServiceInput{Cluster: "c", ServiceName: "workers", TaskDefinition: "worker", DesiredCount: 1})
		require.NoError(t, err)

		got, err := unittest.ScaleToQueue(ctx, o, "c", "workers", 45, 1, 4)
		require.NoError(t, err)
		assert.Equal(t, 4, got, "45 messages: 5 tasks wanted, capped at 4")

		time.Sleep(2 * time.Minute) // fake time: health checks pass, the service converges
		synctest.Wait()
		svc, err := o.DescribeServices(ctx, &stevedore.DescribeServicesInput{Cluster: "c", Services: []string{"workers"}})
		require.NoError(t, err)
		assert.Equal(t, 4, svc.Services[0].RunningCount)
		assert.True(t, svc.Services[0].Steady)

		got, err = unittest.ScaleToQueue(ctx, o, "c", "workers", 0, 1, 4)
		require.NoError(t, err)
		assert.Equal(t, 1, got)
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		svc, err = o.DescribeServices(ctx, &stevedore.DescribeServicesInput{Cluster: "c", Services: []string{"workers"}})
		require.NoError(t, err)
		assert.Equal(t, 1, svc.Services[0].RunningCount)
	})
}

// TestCrashingWorkersAreReplaced scripts the fake runtime: every worker
// container exits with code 1 after 30 seconds, and the service replaces it.
func TestCrashingWorkersAreReplaced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		o := newCluster(t, 1, fake.WithImage("worker:1", fake.Behavior{RunFor: 30 * time.Second, ExitCode: 1}))
		_, err := o.CreateService(ctx, &stevedore.CreateServiceInput{Cluster: "c", ServiceName: "workers", TaskDefinition: "worker", DesiredCount: 1})
		require.NoError(t, err)
		time.Sleep(100 * time.Second)
		synctest.Wait()
		ids, err := o.AllTaskArns(ctx, &stevedore.ListTasksInput{Cluster: "c", ServiceName: "workers", DesiredStatus: task.Stopped})
		require.NoError(t, err)
		require.GreaterOrEqual(t, len(ids), 2, "a crashed worker is replaced, again and again")
		stopped, err := o.DescribeTasks(ctx, &stevedore.DescribeTasksInput{Cluster: "c", Tasks: ids[:1]})
		require.NoError(t, err)
		assert.Equal(t, task.EssentialContainerExited, stopped.Tasks[0].StopCode)
		assert.Equal(t, 1, *stopped.Tasks[0].Containers[0].ExitCode)
	})
}

// TestHTTPHealthCheck checks a service whose health check is Stevedore's
// HTTP form: the agent dials it through the fake network, where the test
// serves it from a listener for every task, inside the synctest bubble.
func TestHTTPHealthCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		o := newEmptyCluster(t)
		rt, nw := fake.New(), netfake.New()
		t.Cleanup(rt.Close)
		_, err := o.RegisterContainerInstance(ctx, &stevedore.RegisterContainerInstanceInput{
			Cluster: "c", Resources: cluster.Resources{CPU: 2048, Memory: 4096, NetworkSlots: 4}, Runtime: rt, Network: nw,
		})
		require.NoError(t, err)

		// Every task's port 8080 answers with the status the test sets.
		var status atomic.Int32
		status.Store(http.StatusOK)
		l, err := nw.Listen("", 8080)
		require.NoError(t, err)
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(int(status.Load()))
		})}
		go func() { _ = srv.Serve(l) }()
		t.Cleanup(func() { _ = srv.Close() })

		td, _, err := task.ParseDefinition([]byte(`{"family": "api", "networkMode": "awsvpc", "containerDefinitions": [{
			"name": "api", "image": "api:1", "memory": 128,
			"healthCheck": {"command": ["HTTP", "http://localhost:8080/healthz"], "interval": 10, "retries": 2}}]}`))
		require.NoError(t, err)
		_, err = o.RegisterTaskDefinition(ctx, &stevedore.RegisterTaskDefinitionInput{TaskDefinition: *td})
		require.NoError(t, err)
		_, err = o.CreateService(ctx, &stevedore.CreateServiceInput{Cluster: "c", ServiceName: "api", TaskDefinition: "api", DesiredCount: 1})
		require.NoError(t, err)

		time.Sleep(time.Minute)
		synctest.Wait()
		ids, err := o.AllTaskArns(ctx, &stevedore.ListTasksInput{Cluster: "c", ServiceName: "api"})
		require.NoError(t, err)
		require.Len(t, ids, 1)
		tasks, err := o.DescribeTasks(ctx, &stevedore.DescribeTasksInput{Cluster: "c", Tasks: ids})
		require.NoError(t, err)
		assert.Equal(t, task.Healthy, tasks.Tasks[0].HealthStatus)

		status.Store(http.StatusServiceUnavailable) // two failed checks: UNHEALTHY
		time.Sleep(25 * time.Second)
		synctest.Wait()
		tasks, err = o.DescribeTasks(ctx, &stevedore.DescribeTasksInput{Cluster: "c", Tasks: ids})
		require.NoError(t, err)
		assert.Equal(t, task.Unhealthy, tasks.Tasks[0].HealthStatus)
	})
}

// Example runs a task on a fake instance in real time: the fake runtime
// starts containers at once, so this takes milliseconds.
func Example() {
	ctx := context.Background()
	o, _ := stevedore.New()
	defer o.Close()
	o.CreateCluster(ctx, &stevedore.CreateClusterInput{ClusterName: "c"})
	rt := fake.New()
	defer rt.Close()
	o.RegisterContainerInstance(ctx, &stevedore.RegisterContainerInstanceInput{
		Cluster: "c", InstanceID: "i-1",
		Resources: cluster.Resources{CPU: 1024, Memory: 2048},
		Runtime:   rt, Network: netfake.New(),
	})
	td, _, _ := task.ParseDefinition([]byte(`{"family":"hello","containerDefinitions":[
		{"name":"hello","image":"busybox","memory":64,"command":["sleep","infinity"]}]}`))
	o.RegisterTaskDefinition(ctx, &stevedore.RegisterTaskDefinitionInput{TaskDefinition: *td})
	out, _ := o.RunTask(ctx, &stevedore.RunTaskInput{Cluster: "c", TaskDefinition: "hello"})
	id := out.Tasks[0].ID()
	for range 200 { // bounded wait
		ts, _ := o.DescribeTasks(ctx, &stevedore.DescribeTasksInput{Cluster: "c", Tasks: []string{id}})
		if ts.Tasks[0].LastStatus == task.Running {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	ts, _ := o.DescribeTasks(ctx, &stevedore.DescribeTasksInput{Cluster: "c", Tasks: []string{id}})
	fmt.Println(ts.Tasks[0].TaskDefinitionRef(), ts.Tasks[0].LastStatus, ts.Tasks[0].ContainerInstanceID())
	fmt.Println(len(rt.CallsTo(fake.MethodStart)), "container started")
	// Output:
	// hello:1 RUNNING i-1
	// 1 container started
}
