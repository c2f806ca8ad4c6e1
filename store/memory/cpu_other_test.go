//go:build !unix

package memory_test

import "runtime/metrics"

// cpuSeconds is the Go runtime's estimate of the CPU time spent on user code
// and garbage collection so far (an overestimate; getrusage is not portable).
func cpuSeconds() float64 {
	samples := []metrics.Sample{
		{Name: "/cpu/classes/user:cpu-seconds"},
		{Name: "/cpu/classes/gc/total:cpu-seconds"},
	}
	metrics.Read(samples)
	total := 0.0
	for _, s := range samples {
		if s.Value.Kind() == metrics.KindFloat64 {
			total += s.Value.Float64()
		}
	}
	return total
}
