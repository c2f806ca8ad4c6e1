package memory_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/memory"
)

// benchTask is shaped like an orchestrator's task record: strings, a few
// containers and labels, about 1 KiB in all (see taskBytes).
type benchTask struct {
	store.Meta
	ID            string
	Cluster       string
	Definition    string
	Instance      string
	Group         string
	LastStatus    string
	DesiredStatus string
	StoppedReason string
	Containers    []benchContainer
	Labels        map[string]string
	Attempts      int
}

type benchContainer struct {
	Name, Image, Status string
	ExitCode            int
	Ports               []int
}

func (*benchTask) Kind() string       { return "tasks" }
func (t *benchTask) ObjectID() string { return t.ID }

func (t *benchTask) clone() *benchTask {
	c := *t
	return &c
}

const benchTasks = 10_000

func newBenchTask(i int) *benchTask {
	t := &benchTask{
		ID:            fmt.Sprintf("%08x-4b1e-4a5f-9c1d-%012x", i*7919, i),
		Cluster:       "default",
		Definition:    "web:42",
		Instance:      fmt.Sprintf("i-%017x", i%100),
		Group:         "service:web",
		LastStatus:    "PROVISIONING",
		DesiredStatus: "RUNNING",
		Labels: map[string]string{
			"com.example.team":  "payments",
			"com.example.owner": "someone@example.com",
		},
	}
	for _, name := range []string{"app", "sidecar", "log-router"} {
		t.Containers = append(t.Containers, benchContainer{
			Name: name, Image: "registry.example.com/team/" + name + ":1.2.3",
			Status: "PENDING", Ports: []int{8080, 9090},
		})
	}
	return t
}

// lifecycle is the sequence of lastStatus values a task goes through.
var lifecycle = []string{"PENDING", "ACTIVATING", "RUNNING", "DEACTIVATING", "STOPPING", "DEPROVISIONING", "STOPPED"}

func newBenchStore(b *testing.B, opts ...memory.Option) *memory.Store {
	s, err := memory.New(opts...)
	require.NoError(b, err)
	b.Cleanup(func() { s.Close() })
	return s
}

func populate(b *testing.B, s store.Store, n int) []string {
	ids := make([]string, n)
	for i := range n {
		t := newBenchTask(i)
		ids[i] = t.ID
		require.NoError(b, s.Update(context.Background(), func(tx store.Tx) error { return tx.Create(t) }))
	}
	return ids
}

// BenchmarkCreate creates 10,000 tasks, one transaction each, into an empty
// store.
func BenchmarkCreate(b *testing.B) {
	tasks := make([]*benchTask, benchTasks)
	for b.Loop() {
		b.StopTimer()
		s := newBenchStore(b)
		for i := range tasks {
			tasks[i] = newBenchTask(i)
		}
		b.StartTimer()
		for _, t := range tasks {
			if err := s.Update(context.Background(), func(tx store.Tx) error { return tx.Create(t) }); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchTasks), "ns/create")
}

// BenchmarkUpdate changes one task of 10,000 per transaction: read, copy,
// compare-and-swap.
func BenchmarkUpdate(b *testing.B) {
	s := newBenchStore(b)
	ids := populate(b, s, benchTasks)
	rng := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	for b.Loop() {
		id := ids[rng.IntN(len(ids))]
		err := s.Update(context.Background(), func(tx store.Tx) error {
			cur, err := store.Get[*benchTask](tx, "tasks", id)
			if err != nil {
				return err
			}
			next := cur.clone()
			next.Attempts++
			return tx.Update(next)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGet reads one task of 10,000 in a View.
func BenchmarkGet(b *testing.B) {
	s := newBenchStore(b)
	ids := populate(b, s, benchTasks)
	rng := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	for b.Loop() {
		id := ids[rng.IntN(len(ids))]
		err := s.View(context.Background(), func(tx store.ReadTx) error {
			_, err := store.Get[*benchTask](tx, "tasks", id)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReconcilePass is one steady-state pass of a reconcile loop over
// 10,000 tasks: a View, a typed List, a look at every task. Target: under
// 10 ms.
func BenchmarkReconcilePass(b *testing.B) {
	s := newBenchStore(b)
	populate(b, s, benchTasks)
	b.ReportAllocs()
	for b.Loop() {
		running := 0
		err := s.View(context.Background(), func(tx store.ReadTx) error {
			tasks, err := store.List[*benchTask](tx, "tasks")
			if err != nil {
				return err
			}
			for _, t := range tasks {
				if t.DesiredStatus == "RUNNING" && t.LastStatus != "STOPPED" {
					running++
				}
			}
			return nil
		})
		if err != nil || running != benchTasks {
			b.Fatal(err, running)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/pass")
}

// BenchmarkConverge creates 10,000 tasks and moves each through the seven
// lastStatus transitions of its lifecycle, one compare-and-swap transaction
// per transition (80,000 transactions), while a watcher consumes every
// event. It reports the CPU time of the whole process per run. Target:
// under 2 s.
func BenchmarkConverge(b *testing.B) {
	var cpu float64
	for b.Loop() {
		b.StopTimer()
		s := newBenchStore(b, memory.WithWatchBuffer(benchTasks*len(lifecycle)), memory.WithHistory(benchTasks*len(lifecycle)+1))
		tasks := make([]*benchTask, benchTasks)
		for i := range tasks {
			tasks[i] = newBenchTask(i)
		}
		w, err := s.Watch(context.Background(), 0, store.WithKinds("tasks"))
		require.NoError(b, err)
		consumed := make(chan int)
		go func() {
			n := 0
			for range w.Events() {
				n++
				if n == benchTasks*(len(lifecycle)+1) {
					break
				}
			}
			consumed <- n
		}()
		runtime.GC()
		before := cpuSeconds()
		b.StartTimer()

		for _, t := range tasks {
			if err := s.Update(context.Background(), func(tx store.Tx) error { return tx.Create(t) }); err != nil {
				b.Fatal(err)
			}
		}
		for _, status := range lifecycle {
			for i, t := range tasks {
				next := t.clone()
				next.LastStatus = status
				if err := s.Update(context.Background(), func(tx store.Tx) error { return tx.Update(next) }); err != nil {
					b.Fatal(err)
				}
				tasks[i] = next
			}
		}
		<-consumed

		b.StopTimer()
		cpu += cpuSeconds() - before
		w.Close()
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(cpu/float64(b.N), "cpu-s/converge")
}

// BenchmarkWatchFanout commits one single-object transaction and waits until
// every watcher has received it.
func BenchmarkWatchFanout(b *testing.B) {
	for _, watchers := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("watchers=%d", watchers), func(b *testing.B) {
			s := newBenchStore(b)
			ids := populate(b, s, 1000)
			received := make(chan struct{}, watchers)
			for range watchers {
				w, err := s.Watch(b.Context(), revisionOf(b, s))
				require.NoError(b, err)
				b.Cleanup(w.Close)
				go func() {
					for range w.Events() {
						received <- struct{}{}
					}
				}()
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				id := ids[i%len(ids)]
				i++
				err := s.Update(context.Background(), func(tx store.Tx) error {
					cur, err := store.Get[*benchTask](tx, "tasks", id)
					if err != nil {
						return err
					}
					next := cur.clone()
					next.Attempts++
					return tx.Update(next)
				})
				if err != nil {
					b.Fatal(err)
				}
				for range watchers {
					<-received
				}
			}
		})
	}
}

// BenchmarkMemory measures the heap held per task: the task itself
// (task-B), with the store's overhead once 10,000 are stored (held-B/task),
// and after each went through its seven lifecycle states, so that the
// history is full of superseded versions as in a busy store (busy-B/task).
// Target: under 4 KiB per task.
func BenchmarkMemory(b *testing.B) {
	// The timer runs throughout: ns/op means nothing here, and stopping
	// it would make the benchmark loop run for ever.
	for b.Loop() {
		base := heapInUse()
		tasks := make([]*benchTask, benchTasks)
		for i := range tasks {
			tasks[i] = newBenchTask(i)
		}
		taskBytes := (heapInUse() - base) / benchTasks

		s, err := memory.New()
		require.NoError(b, err)
		ids := make([]string, benchTasks)
		for i, t := range tasks {
			ids[i] = t.ID
			require.NoError(b, s.Update(context.Background(), func(tx store.Tx) error { return tx.Create(t) }))
		}
		tasks = nil
		held := (heapInUse() - base) / benchTasks
		for _, status := range lifecycle {
			for _, id := range ids {
				require.NoError(b, s.Update(context.Background(), func(tx store.Tx) error {
					cur, err := store.Get[*benchTask](tx, "tasks", id)
					if err != nil {
						return err
					}
					next := cur.clone()
					next.LastStatus = status
					return tx.Update(next)
				}))
			}
		}
		busy := (heapInUse() - base) / benchTasks

		b.ReportMetric(float64(taskBytes), "task-B")
		b.ReportMetric(float64(held), "held-B/task")
		b.ReportMetric(float64(held-taskBytes), "overhead-B/task")
		b.ReportMetric(float64(busy), "busy-B/task")
		runtime.KeepAlive(ids)
		runtime.KeepAlive(s)
		s.Close()
	}
}

func revisionOf(b *testing.B, s store.Store) int64 {
	var rev int64
	require.NoError(b, s.View(context.Background(), func(tx store.ReadTx) error {
		rev = tx.Revision()
		return nil
	}))
	return rev
}

func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// baselineMap is the simplest possible store, a map under a RWMutex with no
// revisions, snapshots, history or watch: the floor the B-tree store is
// compared against.
type baselineMap struct {
	mu    sync.RWMutex
	tasks map[string]*benchTask
}

func newBaselineMap() (*baselineMap, []string) {
	m := &baselineMap{tasks: make(map[string]*benchTask, benchTasks)}
	ids := make([]string, benchTasks)
	for i := range benchTasks {
		t := newBenchTask(i)
		m.tasks[t.ID] = t
		ids[i] = t.ID
	}
	return m, ids
}

// BenchmarkBaselineMapUpdate is BenchmarkUpdate against baselineMap.
func BenchmarkBaselineMapUpdate(b *testing.B) {
	m, ids := newBaselineMap()
	rng := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	for b.Loop() {
		id := ids[rng.IntN(len(ids))]
		m.mu.Lock()
		next := m.tasks[id].clone()
		next.Attempts++
		m.tasks[id] = next
		m.mu.Unlock()
	}
}

// BenchmarkBaselineMapReconcilePass is BenchmarkReconcilePass against
// baselineMap (unordered, and holding writers up while it runs).
func BenchmarkBaselineMapReconcilePass(b *testing.B) {
	m, _ := newBaselineMap()
	b.ReportAllocs()
	for b.Loop() {
		running := 0
		m.mu.RLock()
		for _, t := range m.tasks {
			if t.DesiredStatus == "RUNNING" && t.LastStatus != "STOPPED" {
				running++
			}
		}
		m.mu.RUnlock()
		if running != benchTasks {
			b.Fatal(running)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/pass")
}
