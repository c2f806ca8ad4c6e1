package health

import (
	"testing"
)

// BenchmarkObserve measures one state transition with a full log, the cost
// an agent pays per check and container.
func BenchmarkObserve(b *testing.B) {
	cfg := DefaultConfig()
	s := NewState(t0)
	now := t0
	results := []Result{{OK: true, Output: "ok"}, {ExitCode: 1, Output: "refused"}}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		now = now.Add(cfg.Interval)
		s = s.Observe(cfg, results[i%2], now)
		i++
	}
	_ = s
}
