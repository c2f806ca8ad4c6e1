package placement_test

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/testutil"
	"github.com/stevedore-io/stevedore/placement"
)

// benchInstances returns n instances over three zones, of five sizes (three
// of them m5), a fifth of them partly used by other tasks, some with
// ports in use.
func benchInstances(n int) []cluster.ContainerInstance {
	types := []struct {
		name        string
		cpu, memory int
	}{
		{"m5.large", 2048, 8192},
		{"m5.xlarge", 4096, 16384},
		{"m5.2xlarge", 8192, 32768},
		{"c5.xlarge", 4096, 8192},
		{"r5.large", 2048, 16384},
	}
	zones := []string{"eu-west-1a", "eu-west-1b", "eu-west-1c"}
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([]cluster.ContainerInstance, n)
	for i := range out {
		typ := types[rng.IntN(len(types))]
		b := testutil.Instance(fmt.Sprintf("i-%07d", i)).
			CPU(typ.cpu).Memory(typ.memory).NetworkSlots(3).
			InstanceType(typ.name).AZ(zones[i%len(zones)]).OSType("linux").
			ReservedPorts(cluster.TCPPort(22))
		if rng.IntN(5) == 0 {
			b.Task("service:other", cluster.Resources{CPU: 512, Memory: 1024, Ports: []cluster.Port{cluster.TCPPort(8080)}})
		}
		out[i] = b.Obj()
	}
	return out
}

// benchRequest is a service task: 128 cpu units, 256 MiB, on m5 instances
// only, spread over zones then packed by memory.
func benchRequest() *placement.Request {
	return testutil.Task("web:7").Service("web").CPU(128).Memory(256).
		MemberOf("attribute:ecs.instance-type =~ m5.*").
		SpreadAZ().Binpack(placement.FieldMemory).Obj()
}

// BenchmarkPlace places 10 tasks per instance (100,000 tasks onto 10,000
// instances, and the same density at 1,000 and 100,000 instances) with
// spread(attribute:ecs.availability-zone), binpack(memory) and a memberOf
// constraint on the instance type. Each iteration starts a new round, so
// the figures include computing the per-instance aggregates and the index.
//
// The naive sub-benchmarks run the reference implementation (a full scan
// of every instance per task, evaluating everything) on the first tasks of
// the same workload, for the ratio; its cost per task does not depend on
// how many tasks are placed.
func BenchmarkPlace(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		instances := benchInstances(n)
		req := benchRequest()
		tasks := 10 * n
		b.Run(fmt.Sprintf("indexed/instances=%d", n), func(b *testing.B) {
			s, err := placement.New()
			if err != nil {
				b.Fatal(err)
			}
			indexBytes := indexBytesPerInstance(b, s, instances, req)
			var placed int
			var cpu cpuMeter
			for b.Loop() {
				cpu.start()
				ds, err := s.NewRound(instances, 1).Place(req, tasks)
				cpu.stop()
				if err != nil {
					b.Fatal(err)
				}
				placed += len(ds)
			}
			reportPlacements(b, placed, cpu)
			b.ReportMetric(indexBytes, "index-B/instance")
		})
		b.Run(fmt.Sprintf("naive/instances=%d", n), func(b *testing.B) {
			naiveTasks := max(20, 200_000/n)
			var placed int
			var cpu cpuMeter
			for b.Loop() {
				b.StopTimer()
				state := cloneAll(instances)
				b.StartTimer()
				cpu.start()
				ds, err := naivePlace(state, req, naiveTasks)
				cpu.stop()
				if err != nil {
					b.Fatal(err)
				}
				placed += len(ds)
			}
			reportPlacements(b, placed, cpu)
		})
	}
}

// reportPlacements reports placements per second and nanoseconds per
// placement of wall-clock time, and, where the platform tells, the same
// per second of CPU time the process used ("placements/cpu-s",
// "cpu-ns/placement"), which a busy machine disturbs much less.
func reportPlacements(b *testing.B, placed int, cpu cpuMeter) {
	b.ReportMetric(float64(placed)/b.Elapsed().Seconds(), "placements/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(placed), "ns/placement")
	if cpu.ok && cpu.total > 0 {
		b.ReportMetric(float64(placed)/cpu.total.Seconds(), "placements/cpu-s")
		b.ReportMetric(float64(cpu.total.Nanoseconds())/float64(placed), "cpu-ns/placement")
	}
}

// cpuMeter adds up the process CPU time between start and stop.
type cpuMeter struct {
	total, began time.Duration
	ok           bool
}

func (m *cpuMeter) start() { m.began, m.ok = cpuTime() }

func (m *cpuMeter) stop() {
	if now, ok := cpuTime(); ok && m.ok {
		m.total += now - m.began
	} else {
		m.ok = false
	}
}

// indexBytesPerInstance measures the bytes allocated to start a round and
// build the index for req (by placing one task), per instance. The
// instances themselves, which the round reads in place, are not counted.
func indexBytesPerInstance(b *testing.B, s *placement.Scheduler, instances []cluster.ContainerInstance, req *placement.Request) float64 {
	b.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := s.NewRound(instances, 1)
	if _, err := r.Place(req, 1); err != nil {
		b.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(r)
	return float64(after.TotalAlloc-before.TotalAlloc) / float64(len(instances))
}

// BenchmarkPlaceRunTask measures a small batch (RunTask's maximum of 10
// tasks) on a fresh round of 10,000 instances: here the per-round work
// (aggregates, memberOf on every instance, index), which a large batch
// spreads over many tasks, dominates.
func BenchmarkPlaceRunTask(b *testing.B) {
	instances := benchInstances(10000)
	req := benchRequest()
	s, err := placement.New()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.NewRound(instances, 1).Place(req, 10); err != nil {
			b.Fatal(err)
		}
	}
}
