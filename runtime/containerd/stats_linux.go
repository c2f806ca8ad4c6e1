//go:build linux

package containerd

import (
	"context"
	"fmt"
	"time"

	cgroup1 "github.com/containerd/cgroups/v3/cgroup1/stats"
	cgroup2 "github.com/containerd/cgroups/v3/cgroup2/stats"
	"github.com/containerd/typeurl/v2"

	"github.com/stevedore-io/stevedore/runtime"
)

// unlimitedMemory is the smallest value cgroups report for "no limit"
// (cgroup v1 reports the page-aligned maximum of a signed 64-bit counter).
const unlimitedMemory = uint64(1) << 62

// Stats reads the container's cgroup metrics (cgroup v1 or v2) from
// containerd. Memory usage excludes the inactive page cache, as docker stats
// reports it.
func (r *Runtime) Stats(ctx context.Context, id string) (_ runtime.Stats, err error) {
	defer classify(&err)
	ctx, err = r.begin(ctx)
	if err != nil {
		return runtime.Stats{}, err
	}
	t, err := r.runningTask(ctx, "stats of", id)
	if err != nil {
		return runtime.Stats{}, err
	}
	m, err := t.Metrics(ctx)
	if err != nil {
		return runtime.Stats{}, wrapErr("stats of", id, nil, err)
	}
	v, err := typeurl.UnmarshalAny(m.Data)
	if err != nil {
		return runtime.Stats{}, wrapErr("stats of", id, nil, fmt.Errorf("decode metrics: %w", err))
	}
	s, err := decodeMetrics(v)
	if err != nil {
		return runtime.Stats{}, wrapErr("stats of", id, nil, err)
	}
	s.Time = time.Now()
	if m.Timestamp != nil {
		s.Time = m.Timestamp.AsTime()
	}
	return s, nil
}

// decodeMetrics reads the cgroup v1 or v2 metrics containerd's shim sends.
func decodeMetrics(v any) (runtime.Stats, error) {
	var s runtime.Stats
	switch m := v.(type) {
	case *cgroup1.Metrics:
		if m.CPU != nil && m.CPU.Usage != nil {
			s.CPUUsage = time.Duration(m.CPU.Usage.Total)
		}
		if mem := m.Memory; mem != nil && mem.Usage != nil {
			s.MemoryUsage = subSat(mem.Usage.Usage, mem.TotalInactiveFile)
			s.MemoryLimit = limitOrZero(mem.Usage.Limit)
		}
		if m.Pids != nil {
			s.Pids = m.Pids.Current
		}
	case *cgroup2.Metrics:
		if m.CPU != nil {
			s.CPUUsage = time.Duration(m.CPU.UsageUsec) * time.Microsecond
		}
		if mem := m.Memory; mem != nil {
			s.MemoryUsage = subSat(mem.Usage, mem.InactiveFile)
			s.MemoryLimit = limitOrZero(mem.UsageLimit)
		}
		if m.Pids != nil {
			s.Pids = m.Pids.Current
		}
	default:
		return s, fmt.Errorf("unknown metrics type %T", v)
	}
	return s, nil
}

func subSat(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}

func limitOrZero(l uint64) uint64 {
	if l >= unlimitedMemory {
		return 0
	}
	return l
}
