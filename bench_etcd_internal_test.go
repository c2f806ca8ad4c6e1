package stevedore

import (
	"context"
	"fmt"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/stevedore-io/stevedore/internal/etcdtest"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

// BenchmarkConvergeEtcd converges 10,000 tasks (1,000 instances, 1,000
// services) on the fake runtime with the state in a 3-member etcd cluster
// on this machine (each member a process of its own), then times a steady
// reconcile pass over the 1,000 services. It reports the Orchestrator's CPU
// (converge-cpu-s), the etcd members' CPU (etcd-cpu-s), the wall time
// (converge-wall-s; issue 11's target: under 20 s) and the pass
// (steady-pass-ms).
func BenchmarkConvergeEtcd(b *testing.B) {
	if testing.Short() {
		b.Skip("starts a 3-member etcd cluster")
	}
	for _, size := range []struct{ instances, services, perService int }{
		{100, 100, 10},
		{1000, 1000, 10},
	} {
		b.Run(fmt.Sprintf("instances=%d/services=%d/tasks=%d", size.instances, size.services, size.services*size.perService), func(b *testing.B) {
			convergeEtcd(b, size.instances, size.services, size.perService)
		})
	}
}

func convergeEtcd(b *testing.B, instances, services, perService int) {
	var cpu, etcdCPU, wall, pass time.Duration
	for b.Loop() {
		c := etcdtest.StartCluster(b, 3)
		client, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints(), Logger: zap.NewNop(),
			DialTimeout: 5 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		before, err := c.CPU()
		if err != nil {
			b.Fatal(err)
		}
		o, cc, w := convergeWith(b, followRunning, instances, services, perService,
			WithEtcd(client, EtcdConfig{Prefix: "/bench", Name: "bench"}))
		after, err := c.CPU()
		if err != nil {
			b.Fatal(err)
		}
		cpu, wall, etcdCPU = cpu+cc, wall+w, etcdCPU+after-before
		pass += steadyPass(b, o)
		if err := o.Close(); err != nil {
			b.Fatal(err)
		}
		if err := client.Close(); err != nil {
			b.Fatal(err)
		}
		for _, m := range c.Members {
			m.Kill(b)
		}
	}
	b.ReportMetric(cpu.Seconds()/float64(b.N), "converge-cpu-s")
	b.ReportMetric(etcdCPU.Seconds()/float64(b.N), "etcd-cpu-s")
	b.ReportMetric(wall.Seconds()/float64(b.N), "converge-wall-s")
	b.ReportMetric(float64(pass.Microseconds())/1000/float64(b.N), "steady-pass-ms")
}

// followRunning waits until want tasks run, following the tasks through
// the store's watch: listing 10,000 tasks every 20 ms, as pollRunning does,
// would load etcd more than the Orchestrator does.
func followRunning(b *testing.B, o *Orchestrator, want int) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	running := map[string]bool{}
	f, err := store.Follow(ctx, o.store, store.FollowConfig{
		Snapshot: func(tx store.ReadTx) error {
			tasks, err := store.List[*state.Task](tx, state.KindTasks)
			for _, t := range tasks {
				running[t.ID()] = t.LastStatus == task.Running
			}
			return err
		},
		Options: []store.WatchOption{store.WithKinds(state.KindTasks)},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	count := func() (n int) {
		for _, r := range running {
			if r {
				n++
			}
		}
		return n
	}
	var buf []store.Event
	for count() < want {
		evs, resynced, err := f.Next(ctx, buf[:0])
		if err != nil {
			b.Fatalf("%d of %d tasks running: %v", count(), want, err)
		}
		if resynced {
			b.Fatal("the tasks' watch started again from a snapshot")
		}
		for _, ev := range evs {
			t, ok := ev.Object.(*state.Task)
			running[ev.ID] = ok && t.LastStatus == task.Running
		}
		buf = evs
	}
}
