package stevedore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/etcdtest"
	netfake "github.com/stevedore-io/stevedore/network/fake"
	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/stevedoretest"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/memory"
	"github.com/stevedore-io/stevedore/task"
)

// Replicas on a real etcd (in this process, on loopback) run in real
// time: every wait below is bounded by replicaWait.
const (
	replicaTTL  = stevedore.MinLeaseTTL
	replicaWait = 30 * time.Second
	poll        = 20 * time.Millisecond
)

// replica is one Orchestrator of an installation on etcd, with its own
// etcd client.
type replica struct {
	t    *testing.T
	name string
	o    *stevedore.Orchestrator

	mu       sync.Mutex
	statuses []stevedore.LeaderStatus // every Notify
}

// startReplica starts an Orchestrator named name on the etcd at endpoint,
// and closes it when the test ends.
func startReplica(t *testing.T, name, endpoint string, opts ...stevedore.Option) *replica {
	t.Helper()
	return startReplicaOn(t, name, []string{endpoint}, opts...)
}

// startReplicaOn is startReplica with a client of several endpoints.
func startReplicaOn(t *testing.T, name string, endpoints []string, opts ...stevedore.Option) *replica {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: endpoints, Logger: zap.NewNop(), DialTimeout: time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	r := &replica{t: t, name: name}
	cfg := stevedore.EtcdConfig{Prefix: "/replicas-test", Name: name, LeaseTTL: replicaTTL,
		Notify: func(s stevedore.LeaderStatus) {
			r.mu.Lock()
			r.statuses = append(r.statuses, s)
			r.mu.Unlock()
		}}
	r.o, err = stevedore.New(append([]stevedore.Option{stevedore.WithEtcd(c, cfg)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, r.o.Close()) })
	return r
}

// waitLeader waits until r leads.
func (r *replica) waitLeader() {
	r.t.Helper()
	require.Eventually(r.t, func() bool { return r.o.LeaderStatus().Leading }, replicaWait, poll, "%s leads", r.name)
}

// addInstance registers an instance with a fake runtime on r: its agent
// runs on r.
func (r *replica) addInstance(id, az string) *fake.Runtime {
	r.t.Helper()
	rt := fake.New()
	r.t.Cleanup(rt.Close)
	_, err := r.o.RegisterContainerInstance(r.t.Context(), &stevedore.RegisterContainerInstanceInput{
		Cluster: "test", InstanceID: id,
		Resources:  cluster.Resources{CPU: 4096, Memory: 8192, NetworkSlots: 10},
		Attributes: map[string]string{cluster.AttributeAvailabilityZone: "zone-" + az},
		Runtime:    rt, Network: netfake.New(),
	})
	require.NoError(r.t, err)
	return rt
}

// appDef is a task definition with a health check, which the fake
// runtime passes (without one a task counts as healthy only after
// service.UncheckedSettleTime), and an init process, so that SIGTERM stops
// it at once.
const appDef = `{
  "family": "app",
  "networkMode": "awsvpc",
  "containerDefinitions": [{"name": "app", "image": "app:%s", "memory": 128, "cpu": 64, "command": ["sleep", "infinity"],
    "linuxParameters": {"initProcessEnabled": true},
    "healthCheck": {"command": ["CMD-SHELL", "true"], "interval": 5, "timeout": 2, "retries": 1}}]
}`

func (r *replica) register(version string) string {
	r.t.Helper()
	td, _, err := task.ParseDefinition(fmt.Appendf(nil, appDef, version))
	require.NoError(r.t, err)
	reg, err := r.o.RegisterTaskDefinition(r.t.Context(), &stevedore.RegisterTaskDefinitionInput{TaskDefinition: *td})
	require.NoError(r.t, err)
	return reg.TaskDefinition.Ref()
}

// createCluster creates cluster "test" through r.
func (r *replica) createCluster() {
	r.t.Helper()
	_, err := r.o.CreateCluster(r.t.Context(), &stevedore.CreateClusterInput{ClusterName: "test"})
	require.NoError(r.t, err)
}

// createService creates service name of n tasks of ref through r.
func (r *replica) createService(name, ref string, n int) {
	r.t.Helper()
	_, err := r.o.CreateService(r.t.Context(), &stevedore.CreateServiceInput{Cluster: "test", ServiceName: name, TaskDefinition: ref, DesiredCount: n})
	require.NoError(r.t, err)
}

// running returns the service's tasks that are RUNNING and desired so.
func (r *replica) running(svc string) []*task.Task {
	r.t.Helper()
	ids, err := r.o.AllTaskArns(r.t.Context(), &stevedore.ListTasksInput{Cluster: "test", ServiceName: svc})
	require.NoError(r.t, err)
	if len(ids) == 0 {
		return nil
	}
	tasks, err := stevedoretest.TasksOf(r.o.DescribeTasks(r.t.Context(), &stevedore.DescribeTasksInput{Cluster: "test", Tasks: ids}))
	require.NoError(r.t, err)
	var out []*task.Task
	for _, tk := range tasks {
		if tk.LastStatus == task.Running {
			out = append(out, tk)
		}
	}
	return out
}

// waitRunning waits until svc has exactly n tasks RUNNING, all of
// definition ref, and is steady.
func (r *replica) waitRunning(svc string, n int, ref string) []*task.Task {
	r.t.Helper()
	var tasks []*task.Task
	ok := assert.Eventually(r.t, func() bool {
		tasks = r.running(svc)
		if len(tasks) != n {
			return false
		}
		for _, tk := range tasks {
			if tk.TaskDefinitionRef() != ref {
				return false
			}
		}
		out, err := stevedoretest.ServicesOf(r.o.DescribeServices(r.t.Context(), &stevedore.DescribeServicesInput{Cluster: "test", Services: []string{svc}}))
		return err == nil && len(out) == 1 && out[0].Steady && out[0].RunningCount == n
	}, replicaWait, poll, "%s: %d tasks of %s running, steady", svc, n, ref)
	if !ok {
		out, _ := stevedoretest.ServicesOf(r.o.DescribeServices(r.t.Context(), &stevedore.DescribeServicesInput{Cluster: "test", Services: []string{svc}}))
		r.t.Logf("service: %+v", out)
		for _, tk := range tasks {
			r.t.Logf("task %s %s %s", tk.ID(), tk.LastStatus, tk.TaskDefinitionRef())
		}
		r.t.FailNow()
	}
	return tasks
}

// TestReplicasShareTheControlPlane: two replicas on one etcd. The API of
// either serves the same state; the leader drives a service whose tasks
// run on the other replica's agents; when the leader closes, the other
// takes over at once, finishes the deployment under way and keeps the
// service at its desired count.
func TestReplicasShareTheControlPlane(t *testing.T) {
	srv := etcdtest.Start(t)
	a := startReplica(t, "a", srv.Endpoints[0], stevedore.WithSeed(1))
	a.waitLeader()
	b := startReplica(t, "b", srv.Endpoints[0], stevedore.WithSeed(2))
	require.Eventually(t, func() bool { return b.o.LeaderStatus().Leader == "a" }, replicaWait, poll, "b sees a lead")
	st := b.o.LeaderStatus()
	assert.False(t, st.Leading)
	assert.Zero(t, st.Term)

	a.createCluster()
	// The instances and their agents are b's: b does not lead, and its
	// agents run what a's controller places on them.
	b.addInstance("i-1", "a")
	b.addInstance("i-2", "b")
	v1 := b.register("v1")
	a.createService("web", v1, 4)
	tasks := b.waitRunning("web", 4, v1)
	perInstance := map[string]int{}
	for _, tk := range tasks {
		perInstance[tk.ContainerInstanceID()]++
	}
	assert.Equal(t, map[string]int{"i-1": 2, "i-2": 2}, perInstance)
	a.waitRunning("web", 4, v1) // a reads the same state

	// A deployment under way when the leader goes.
	v2 := a.register("v2")
	_, err := a.o.UpdateService(t.Context(), &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", TaskDefinition: &v2})
	require.NoError(t, err)
	term := a.o.LeaderStatus().Term
	closed := time.Now()
	require.NoError(t, a.o.Close())
	b.waitLeader()
	st = b.o.LeaderStatus()
	assert.Less(t, st.Since.Sub(closed), replicaTTL, "a revoked its lease on Close: b did not wait for it to run out")
	assert.Equal(t, "b", st.Leader)
	assert.Greater(t, st.Term, term)
	assert.Equal(t, "elected", st.Reason)

	tasks = b.waitRunning("web", 4, v2)
	// A task that fails is replaced by the new leader.
	_, err = b.o.StopTask(t.Context(), &stevedore.StopTaskInput{Cluster: "test", Task: tasks[0].ID(), Reason: "test: a task goes"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		for _, tk := range b.running("web") {
			if tk.ID() == tasks[0].ID() {
				return false
			}
		}
		return len(b.running("web")) == 4
	}, replicaWait, poll, "the stopped task is replaced")
	b.waitRunning("web", 4, v2)
}

// TestNewLeaderKeepsTheStoredTimers: a Spot interruption notice given
// through the leader ends on time after the leader has gone: the new
// leader's reaper reclaims the instance at the stored time, neither
// before nor much after.
func TestNewLeaderKeepsTheStoredTimers(t *testing.T) {
	srv := etcdtest.Start(t)
	a := startReplica(t, "a", srv.Endpoints[0])
	a.waitLeader()
	b := startReplica(t, "b", srv.Endpoints[0])
	_, err := b.o.CreateCluster(t.Context(), &stevedore.CreateClusterInput{ClusterName: "test", CapacityProviders: []cluster.CapacityProvider{
		{Name: "spot", Kind: cluster.Spot, Status: cluster.CapacityProviderActive},
	}})
	require.NoError(t, err)
	rt := fake.New()
	t.Cleanup(rt.Close)
	_, err = b.o.RegisterContainerInstance(t.Context(), &stevedore.RegisterContainerInstanceInput{
		Cluster: "test", InstanceID: "i-spot", CapacityProvider: "spot",
		Resources: cluster.Resources{CPU: 4096, Memory: 8192, NetworkSlots: 10},
		Runtime:   rt, Network: netfake.New(),
	})
	require.NoError(t, err)
	out, err := b.o.RunTask(t.Context(), &stevedore.RunTaskInput{Cluster: "test", TaskDefinition: b.register("v1")})
	require.NoError(t, err)
	id := out.Tasks[0].ID()
	describe := func() *task.Task {
		tasks, err := stevedoretest.TasksOf(b.o.DescribeTasks(t.Context(), &stevedore.DescribeTasksInput{Cluster: "test", Tasks: []string{id}}))
		require.NoError(t, err)
		return tasks[0]
	}
	require.Eventually(t, func() bool { return describe().LastStatus == task.Running }, replicaWait, poll, "the task runs")

	const notice = 3 * time.Second
	// The reclaim time is set inside the call: the notice is over no
	// sooner than notice after the call began, and no later than notice
	// after it returned.
	calling := time.Now()
	require.NoError(t, errOf(a.o.InterruptSpotInstance(t.Context(), &stevedore.InterruptSpotInstanceInput{Cluster: "test", ContainerInstance: "i-spot", Notice: notice})))
	interrupted := time.Now()
	require.NoError(t, a.o.Close())
	b.waitLeader()

	require.Eventually(t, func() bool { return describe().LastStatus == task.Stopped }, replicaWait, poll, "the task stops")
	assert.GreaterOrEqual(t, time.Since(calling), notice, "not before the notice is over")
	assert.Less(t, time.Since(interrupted), notice+5*time.Second, "soon after it")
	assert.Equal(t, task.SpotInterruption, describe().StopCode)
	insts, err := stevedoretest.InstancesOf(b.o.DescribeContainerInstances(t.Context(),
		&stevedore.DescribeContainerInstancesInput{Cluster: "test", ContainerInstances: []string{"i-spot"}}))
	require.NoError(t, err)
	assert.Equal(t, cluster.StatusInactive, insts[0].Status)
}

// TestReplicaCutOffFromEtcdStepsDown: a leader that loses etcd stops its
// loops within its lease TTL, says why through LeaderStatus and Notify,
// and the replica that still reaches etcd leads and drives the services.
func TestReplicaCutOffFromEtcdStepsDown(t *testing.T) {
	srv := etcdtest.Start(t)
	proxy := etcdtest.StartProxy(t, srv.Endpoints[0])
	a := startReplica(t, "a", proxy.Endpoint)
	a.waitLeader()
	b := startReplica(t, "b", srv.Endpoints[0])
	b.createCluster()
	b.addInstance("i-1", "a")
	v1 := b.register("v1")
	b.createService("web", v1, 1)
	b.waitRunning("web", 1, v1)
	require.False(t, b.o.LeaderStatus().Leading)

	cut := time.Now()
	proxy.Cut()
	require.Eventually(t, func() bool { return !a.o.LeaderStatus().Leading }, replicaWait, poll, "a steps down")
	// Since is when a's loops had all returned.
	assert.Less(t, a.o.LeaderStatus().Since.Sub(cut), replicaTTL, "a stopped acting within its lease TTL")
	st := a.o.LeaderStatus()
	assert.Contains(t, st.Reason, "lost etcd")
	a.mu.Lock()
	last := a.statuses[len(a.statuses)-1]
	a.mu.Unlock()
	assert.False(t, last.Leading, "Notify told of the loss")

	b.waitLeader()
	two := 2
	_, err := b.o.UpdateService(t.Context(), &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", DesiredCount: &two})
	require.NoError(t, err)
	b.waitRunning("web", 2, v1)

	proxy.Restore()
	require.Eventually(t, func() bool { return a.o.LeaderStatus().Leader == "b" }, replicaWait, poll, "back on etcd, a follows b")
	assert.False(t, a.o.LeaderStatus().Leading)
}

// TestSubscribeIsTheSameOnEveryReplica: Subscribe follows the store, so
// two replicas deliver the same events in the same order.
func TestSubscribeIsTheSameOnEveryReplica(t *testing.T) {
	srv := etcdtest.Start(t)
	a := startReplica(t, "a", srv.Endpoints[0])
	b := startReplica(t, "b", srv.Endpoints[0])
	evA, err := a.o.Subscribe(t.Context())
	require.NoError(t, err)
	evB, err := b.o.Subscribe(t.Context())
	require.NoError(t, err)

	a.createCluster()
	a.addInstance("i-1", "a")
	b.addInstance("i-2", "b")
	v1 := a.register("v1")
	b.createService("web", v1, 2)
	a.waitRunning("web", 2, v1)
	// A last event to stop at: what follows it may still be on its way.
	_, err = b.o.RegisterContainerInstance(t.Context(), &stevedore.RegisterContainerInstanceInput{Cluster: "test", InstanceID: "i-marker",
		Resources: cluster.Resources{CPU: 1024, Memory: 1024}})
	require.NoError(t, err)

	seqA, seqB := upToMarker(t, evA), upToMarker(t, evB)
	// Each subscription starts from its own now: compare from the later.
	from := max(seqA[0].revision, seqB[0].revision)
	assert.Equal(t, since(seqA, from), since(seqB, from))
	assert.Greater(t, len(since(seqA, from)), 6, "instances, tasks and the service's events: %v", seqA)
}

// described is an event at a revision, described.
type described struct {
	revision int64
	what     string
}

// since returns the descriptions of the events of seq from revision from.
func since(seq []described, from int64) []string {
	var out []string
	for _, d := range seq {
		if d.revision >= from {
			out = append(out, fmt.Sprintf("%d %s", d.revision, d.what))
		}
	}
	return out
}

// upToMarker reads events until instance i-marker's registration, and
// describes each.
func upToMarker(t *testing.T, events <-chan stevedore.Event) []described {
	t.Helper()
	var out []described
	timeout := time.After(replicaWait)
	for {
		select {
		case ev, ok := <-events:
			require.True(t, ok, "the subscription ended")
			d := string(ev.Type)
			switch {
			case ev.Task != nil:
				d += fmt.Sprintf(" task %s %s/%s", ev.Task.ID(), ev.Task.LastStatus, ev.Task.DesiredStatus)
			case ev.Instance != nil:
				d += fmt.Sprintf(" instance %s %s connected=%v", ev.Instance.ID, ev.Instance.Status, ev.Instance.AgentConnected)
			case ev.Deployment != nil:
				d += fmt.Sprintf(" deployment %s %s", ev.Deployment.ID, ev.Deployment.RolloutState)
			default:
				d += " " + ev.Service + ": " + ev.Message
			}
			out = append(out, described{ev.Revision, d})
			if ev.Instance != nil && ev.Instance.ID == "i-marker" {
				return out
			}
		case <-timeout:
			t.Fatalf("no event for i-marker within %v; got %d events", replicaWait, len(out))
		}
	}
}

func TestWithEtcdChecksItsConfiguration(t *testing.T) {
	srv := etcdtest.Start(t)
	c, err := clientv3.New(clientv3.Config{Endpoints: srv.Endpoints, Logger: zap.NewNop(), DialTimeout: time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	mem, err := memory.New()
	require.NoError(t, err)
	t.Cleanup(func() { mem.Close() })

	for name, opts := range map[string][]stevedore.Option{
		"nil client":     {stevedore.WithEtcd(nil, stevedore.EtcdConfig{})},
		"short lease":    {stevedore.WithEtcd(c, stevedore.EtcdConfig{LeaseTTL: time.Second})},
		"and a store":    {stevedore.WithEtcd(c, stevedore.EtcdConfig{}), stevedore.WithStore(mem)},
		"and a data dir": {stevedore.WithDataDir(t.TempDir()), stevedore.WithEtcd(c, stevedore.EtcdConfig{})},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := stevedore.New(opts...)
			assert.ErrorIs(t, err, stevedore.ErrInvalid)
		})
	}

	// Without WithEtcd, an Orchestrator runs every loop itself.
	o, err := stevedore.New()
	require.NoError(t, err)
	t.Cleanup(func() { o.Close() })
	assert.True(t, o.LeaderStatus().Leading)

	// With it, the Orchestrator's store is etcd's: another replica's
	// reads see its writes.
	one := startReplica(t, "one", srv.Endpoints[0])
	_, err = one.o.CreateCluster(t.Context(), &stevedore.CreateClusterInput{ClusterName: "shared"})
	require.NoError(t, err)
	two := startReplica(t, "two", srv.Endpoints[0])
	out, err := two.o.DescribeClusters(t.Context(), &stevedore.DescribeClustersInput{Clusters: []string{"shared"}})
	require.NoError(t, err)
	require.Len(t, out.Clusters, 1)
	var rev int64
	require.NoError(t, two.o.Store().View(t.Context(), func(tx store.ReadTx) error {
		rev = tx.Revision()
		return nil
	}))
	assert.Positive(t, rev)
}

// TestDeposedLeaderStopsItsLoops: a leader whose lease etcd let go (here
// revoked, as when it runs out while the leader is paused) finds out from
// the keep-alive, stops its loops and says why; the other replica leads.
// The refusal of the deposed leader's late writes is internal/leader's
// TestDeposedLeaderIsFenced.
func TestDeposedLeaderStopsItsLoops(t *testing.T) {
	srv := etcdtest.Start(t)
	a := startReplica(t, "a", srv.Endpoints[0])
	a.waitLeader()
	b := startReplica(t, "b", srv.Endpoints[0])
	require.Eventually(t, func() bool { return b.o.LeaderStatus().Leader == "a" }, replicaWait, poll, "b sees a lead")
	term := a.o.LeaderStatus().Term

	c, err := clientv3.New(clientv3.Config{Endpoints: srv.Endpoints, Logger: zap.NewNop(), DialTimeout: time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	keys, err := c.Get(t.Context(), "/replicas-test-leader/", clientv3.WithFirstCreate()...)
	require.NoError(t, err)
	require.Len(t, keys.Kvs, 1)
	require.Equal(t, "a", string(keys.Kvs[0].Value))
	_, err = c.Revoke(t.Context(), clientv3.LeaseID(keys.Kvs[0].Lease))
	require.NoError(t, err)

	require.Eventually(t, func() bool { return !a.o.LeaderStatus().Leading }, replicaWait, poll, "a steps down")
	assert.Contains(t, a.o.LeaderStatus().Reason, "lost etcd")
	b.waitLeader()
	assert.Greater(t, b.o.LeaderStatus().Term, term)
	require.Eventually(t, func() bool { return a.o.LeaderStatus().Leader == "b" }, replicaWait, poll, "a follows b")
}

// TestReplicasOnAThreeMemberCluster: three replicas on a three-member etcd
// cluster. The leader closes in the middle of a rolling deployment of six
// tasks and an etcd member is killed; the deployment completes under the
// new leader, no task runs twice and no container is left over; the member
// comes back.
func TestReplicasOnAThreeMemberCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three etcd processes")
	}
	members := etcdtest.StartCluster(t, 3)
	a := startReplicaOn(t, "a", members.Endpoints(), stevedore.WithSeed(1))
	a.waitLeader()
	b := startReplicaOn(t, "b", members.Endpoints(), stevedore.WithSeed(2))
	c := startReplicaOn(t, "c", members.Endpoints(), stevedore.WithSeed(3))
	b.createCluster()
	runtimes := []*fake.Runtime{b.addInstance("i-1", "a"), b.addInstance("i-2", "b")}
	v1 := c.register("v1")
	c.createService("web", v1, 6)
	b.waitRunning("web", 6, v1)

	v2 := c.register("v2")
	_, err := c.o.UpdateService(t.Context(), &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", TaskDefinition: &v2})
	require.NoError(t, err)
	require.NoError(t, a.o.Close())
	members.Members[0].Kill(t)
	require.Eventually(t, func() bool { return b.o.LeaderStatus().Leading != c.o.LeaderStatus().Leading }, replicaWait, poll,
		"b or c leads")
	tasks := b.waitRunning("web", 6, v2)
	members.Members[0].Restart(t)

	ids := map[string]bool{}
	for _, tk := range tasks {
		assert.False(t, ids[tk.ID()], "task %s twice", tk.ID())
		ids[tk.ID()] = true
	}
	all, err := b.o.AllTaskArns(t.Context(), &stevedore.ListTasksInput{Cluster: "test", ServiceName: "web"})
	require.NoError(t, err)
	assert.Len(t, all, 6, "no task desired RUNNING beyond the six")
	require.Eventually(t, func() bool {
		running := 0
		for _, rt := range runtimes {
			for _, ctr := range rt.Containers() {
				if ctr.Info.State == runtime.StateRunning {
					running++
				}
			}
		}
		return running == 6
	}, replicaWait, poll, "six containers run, one per task: none left over")
	c.waitRunning("web", 6, v2) // with the member back
}

// TestReplicaClosesWithoutEtcd: a leader cut off from etcd still closes
// promptly: nothing waits for etcd longer than a bounded request (the
// longest is the agent's last word, marking its instance disconnected,
// which gives up after 5 s).
func TestReplicaClosesWithoutEtcd(t *testing.T) {
	srv := etcdtest.Start(t)
	proxy := etcdtest.StartProxy(t, srv.Endpoints[0])
	a := startReplica(t, "a", proxy.Endpoint)
	a.waitLeader()
	a.createCluster()
	a.addInstance("i-1", "a")
	a.createService("web", a.register("v1"), 2)
	a.waitRunning("web", 2, "app:1")

	proxy.Cut()
	closed := make(chan error, 1)
	start := time.Now()
	go func() { closed <- a.o.Close() }()
	select {
	case err := <-closed:
		assert.NoError(t, err)
		t.Logf("closed in %v without etcd", time.Since(start))
	case <-time.After(10 * time.Second):
		t.Fatalf("Close did not return within 10 s without etcd")
	}
	assert.False(t, a.o.LeaderStatus().Leading)
}

// TestNewLeaderRestartsTheAlarmWatches: the datapoints of a deployment's
// alarm watch live in the leader's shift loop, so under a new leader the
// watch starts again, and the deployment stays in progress, as after a
// restart. (The new leader records the restart before its loops run, so
// that the controller cannot end the bake on the old watch's start before
// the new shift loop records its own; this test sees the outcome, not that
// window.)
func TestNewLeaderRestartsTheAlarmWatches(t *testing.T) {
	srv := etcdtest.Start(t)
	quiet := stevedore.WithAlarms(stevedore.Alarm{Name: "errors", Period: time.Second,
		Predicate: func(context.Context) (bool, error) { return false, nil }})
	a := startReplica(t, "a", srv.Endpoints[0], quiet)
	a.waitLeader()
	b := startReplica(t, "b", srv.Endpoints[0], quiet)
	b.createCluster()
	b.addInstance("i-1", "a")
	_, err := b.o.CreateService(t.Context(), &stevedore.CreateServiceInput{Cluster: "test", ServiceName: "web",
		TaskDefinition: b.register("v1"), DesiredCount: 1,
		DeploymentConfiguration: service.DeploymentConfiguration{
			BakeTime: time.Minute, // the deployment stays in progress through the failover
			Alarms:   &service.DeploymentAlarms{AlarmNames: []string{"errors"}, Enable: true},
		}})
	require.NoError(t, err)
	deployment := func() service.Deployment {
		out, err := stevedoretest.ServicesOf(b.o.DescribeServices(t.Context(), &stevedore.DescribeServicesInput{Cluster: "test", Services: []string{"web"}}))
		require.NoError(t, err)
		return out[0].Deployments[0]
	}
	var watched time.Time
	require.Eventually(t, func() bool {
		watched = deployment().AlarmsWatchedFrom
		return !watched.IsZero()
	}, replicaWait, poll, "a watches the deployment's alarms")

	require.NoError(t, a.o.Close())
	b.waitLeader()
	require.Eventually(t, func() bool { return deployment().AlarmsWatchedFrom.After(watched) }, replicaWait, poll,
		"b watches them again from its term")
	d := deployment()
	assert.Equal(t, service.RolloutInProgress, d.RolloutState)
	assert.False(t, d.AlarmsWatchedFrom.Before(b.o.LeaderStatus().Since.Add(-time.Second)), "from the start of b's term")
}
