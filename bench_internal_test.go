package stevedore

import (
	"context"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/controller"
	"github.com/stevedore-io/stevedore/internal/state"
	netfake "github.com/stevedore-io/stevedore/network/fake"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/memory"
	"github.com/stevedore-io/stevedore/task"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// convergeEnv builds an Orchestrator with instances fake instances and
// services services of perService tasks, and waits until every task runs.
func convergeEnv(b *testing.B, instances, services, perService int, opts ...Option) (*Orchestrator, time.Duration) {
	o, cpu, _ := convergeTimed(b, instances, services, perService, opts...)
	return o, cpu
}

// convergeTimed is convergeEnv that also returns the wall time from the
// first CreateService to the last task RUNNING.
func convergeTimed(b *testing.B, instances, services, perService int, opts ...Option) (*Orchestrator, time.Duration, time.Duration) {
	b.Helper()
	return convergeWith(b, pollRunning, instances, services, perService, opts...)
}

// convergeWith is convergeTimed waiting for the tasks with wait.
func convergeWith(b *testing.B, wait func(*testing.B, *Orchestrator, int), instances, services, perService int, opts ...Option) (*Orchestrator, time.Duration, time.Duration) {
	b.Helper()
	ctx := context.Background()
	o, err := New(append([]Option{WithSeed(1)}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := o.CreateCluster(ctx, &CreateClusterInput{ClusterName: "bench"}); err != nil {
		b.Fatal(err)
	}
	rt := fake.New()
	b.Cleanup(rt.Close)
	nw := netfake.New()
	for i := range instances {
		_, err := o.RegisterContainerInstance(ctx, &RegisterContainerInstanceInput{
			Cluster: "bench", InstanceID: fmt.Sprintf("i-%05d", i),
			Resources:  cluster.Resources{CPU: 16384, Memory: 65536, NetworkSlots: 64},
			Attributes: map[string]string{cluster.AttributeAvailabilityZone: fmt.Sprintf("zone-%d", i%3)},
			Runtime:    rt, Network: nw,
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	td, _, err := task.ParseDefinition([]byte(`{"family":"svc","containerDefinitions":[
		{"name":"app","image":"app:1","cpu":64,"memory":128,"command":["sleep","infinity"]}]}`))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := o.RegisterTaskDefinition(ctx, &RegisterTaskDefinitionInput{TaskDefinition: *td}); err != nil {
		b.Fatal(err)
	}
	start, wallStart := cpuTime(), time.Now()
	for i := range services {
		if _, err := o.CreateService(ctx, &CreateServiceInput{Cluster: "bench", ServiceName: fmt.Sprintf("svc-%04d", i),
			TaskDefinition: "svc", DesiredCount: perService}); err != nil {
			b.Fatal(err)
		}
	}
	wait(b, o, services*perService)
	return o, cpuTime() - start, time.Since(wallStart)
}

// pollRunning waits until want tasks run, listing every task each 20 ms.
func pollRunning(b *testing.B, o *Orchestrator, want int) {
	b.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		running := 0
		err := o.store.View(ctx, func(tx store.ReadTx) error {
			tasks, err := store.List[*state.Task](tx, state.KindTasks)
			for _, t := range tasks {
				if t.LastStatus == task.Running {
					running++
				}
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		if running == want {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d tasks running after 5 minutes", running, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// BenchmarkConverge converges services × tasks on fake instances from empty
// and reports the CPU time it took (the target: 10,000 tasks in under 2 s),
// the time of one steady-state reconcile pass over every service (target
// under 10 ms) and the store memory per task (target under 4 KiB).
func BenchmarkConverge(b *testing.B) {
	for _, size := range []struct{ instances, services, perService int }{
		{100, 100, 10},
		{300, 300, 10},
		{1000, 1000, 10},
	} {
		b.Run(fmt.Sprintf("instances=%d/services=%d/tasks=%d", size.instances, size.services, size.services*size.perService), func(b *testing.B) {
			var cpu, pass time.Duration
			var perTask float64
			for b.Loop() {
				o, c := convergeEnv(b, size.instances, size.services, size.perService)
				cpu += c
				pass += steadyPass(b, o)
				tasks := storedTasks(b, o)
				// Measured after Close, so that no agent or loop
				// allocates or frees memory meanwhile.
				if err := o.Close(); err != nil {
					b.Fatal(err)
				}
				perTask = storeBytesPerTask(b, tasks)
			}
			b.ReportMetric(cpu.Seconds()/float64(b.N), "converge-cpu-s")
			b.ReportMetric(float64(pass.Microseconds())/1000/float64(b.N), "steady-pass-ms")
			b.ReportMetric(perTask, "store-B/task")
		})
	}
}

// BenchmarkConvergeStores converges 10,000 tasks (1,000 instances, 1,000
// services) on the memory store and on the durable store (WithDataDir:
// store/bolt, every commit fsynced), in the same run, and reports the CPU
// time (converge-cpu-s) and the wall time (converge-wall-s) of each.
// Issue 10's targets: bolt at most 1.5x memory's CPU and 2x its wall time.
func BenchmarkConvergeStores(b *testing.B) {
	for _, st := range []string{"memory", "bolt"} {
		b.Run("store="+st, func(b *testing.B) {
			var cpu, wall time.Duration
			for b.Loop() {
				var opts []Option
				if st == "bolt" {
					opts = append(opts, WithDataDir(b.TempDir()))
				}
				o, c, w := convergeTimed(b, 1000, 1000, 10, opts...)
				cpu, wall = cpu+c, wall+w
				if err := o.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(cpu.Seconds()/float64(b.N), "converge-cpu-s")
			b.ReportMetric(wall.Seconds()/float64(b.N), "converge-wall-s")
		})
	}
}

// steadyPass times one reconcile pass of a service controller over every
// service of a converged Orchestrator (a second controller, so the live one
// is not disturbed; a steady pass writes nothing).
func steadyPass(b *testing.B, o *Orchestrator) time.Duration {
	b.Helper()
	ctx := context.Background()
	// Let the live controller finish its last writes first.
	time.Sleep(200 * time.Millisecond)
	c, err := controller.New(controller.Config{Store: o.store, Launcher: o.launcher, AlarmBakeTime: o.actions.AlarmBakeTime,
		Now: o.now, Logger: o.log})
	if err != nil {
		b.Fatal(err)
	}
	if err := o.store.View(ctx, c.Load); err != nil {
		b.Fatal(err)
	}
	best := time.Duration(1 << 62)
	for range 5 {
		c.MarkAll()
		start := time.Now()
		c.Pass(ctx)
		best = min(best, time.Since(start))
	}
	return best
}

// storedTasks returns the tasks of an Orchestrator's store.
func storedTasks(b *testing.B, o *Orchestrator) []*state.Task {
	b.Helper()
	var tasks []*state.Task
	err := o.store.View(context.Background(), func(tx store.ReadTx) error {
		var err error
		tasks, err = store.List[*state.Task](tx, state.KindTasks)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return tasks
}

// storeBytesPerTask copies converged tasks into a fresh memory store and
// measures the heap they hold there.
func storeBytesPerTask(b *testing.B, tasks []*state.Task) float64 {
	b.Helper()
	ctx := context.Background()
	s, err := memory.New(memory.WithHistory(1001))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var before, after runtime.MemStats
	settledHeap(&before)
	err = s.Update(ctx, func(tx store.Tx) error {
		for _, t := range tasks {
			c := t.Copy()
			c.Meta = store.Meta{}
			if err := tx.Create(c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(s)
	return (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / float64(len(tasks))
}

// settledHeap reads the heap statistics once the heap stops shrinking: the
// goroutines of a closed Orchestrator (and of its fake runtime) may still be
// letting go of memory, which would be counted against the store.
func settledHeap(ms *runtime.MemStats) {
	runtime.GC()
	runtime.ReadMemStats(ms)
	for range 20 {
		time.Sleep(10 * time.Millisecond)
		prev := ms.HeapAlloc
		runtime.GC()
		runtime.ReadMemStats(ms)
		if ms.HeapAlloc >= prev-prev/1000 {
			return
		}
	}
}
