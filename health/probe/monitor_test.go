package probe

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stevedore-io/stevedore/health"
	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// advance moves a synctest bubble's fake clock forward by d and waits until
// every goroutine in the bubble is blocked again.
func advance(d time.Duration) {
	time.Sleep(d) // fake time: only ever called inside synctest.Test
	synctest.Wait()
}

// script is a Prober that plays back results, each taking its Duration on
// the (fake) clock, and records when each check started. After the script
// runs out, it repeats the last result.
type script struct {
	mu      sync.Mutex
	results []health.Result
	starts  []time.Time
}

func (s *script) Probe(ctx context.Context) health.Result {
	s.mu.Lock()
	s.starts = append(s.starts, time.Now())
	r := s.results[min(len(s.starts), len(s.results))-1]
	s.mu.Unlock()
	if r.Duration > 0 {
		t := time.NewTimer(r.Duration)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return health.Result{TimedOut: true, Err: ctx.Err(), ExitCode: -1}
		case <-t.C:
		}
	}
	return r
}

func (s *script) offsets(from time.Time) []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []time.Duration
	for _, t := range s.starts {
		out = append(out, t.Sub(from))
	}
	return out
}

// recorder collects what a Monitor's callbacks report.
type recorder struct {
	mu      sync.Mutex
	checks  []health.Status
	changes [][2]health.Status
}

func (r *recorder) onCheck(prev, next health.State) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checks = append(r.checks, next.Status)
}

// got returns copies of what was recorded so far.
func (r *recorder) got() (checks []health.Status, changes [][2]health.Status) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]health.Status(nil), r.checks...), append([][2]health.Status(nil), r.changes...)
}

func (r *recorder) onChange(prev, next health.State) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes = append(r.changes, [2]health.Status{prev.Status, next.Status})
}

// runMonitor starts m.Run in the bubble and returns a function that stops
// it and returns Run's error.
func runMonitor(t *testing.T, m *Monitor) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	return func() error {
		cancel()
		return <-done
	}
}

func TestMonitorSchedule(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		cfg := health.Config{Interval: 10 * time.Second, Timeout: 2 * time.Second, Retries: 2}
		p := &script{results: []health.Result{
			{ExitCode: 1, Duration: time.Second},
			{ExitCode: 1, Duration: time.Second},
			{OK: true, Duration: time.Second},
			{ExitCode: 1, Duration: time.Second},
		}}
		rec := &recorder{}
		started := time.Now()
		m, err := NewMonitor(cfg, p, started, OnCheck(rec.onCheck), OnStatusChange(rec.onChange))
		require.NoError(t, err)
		stop := runMonitor(t, m)

		// Nothing before the first interval.
		advance(10*time.Second - 1)
		assert.Empty(t, p.offsets(started))
		assert.Equal(t, health.NewState(started), m.State())

		advance(1 + time.Second) // first check: 10s..11s
		assert.Equal(t, health.Unknown, m.State().Status)
		assert.Equal(t, 1, m.State().Failures)
		assert.Equal(t, started.Add(11*time.Second), m.State().LastCheck)

		advance(33 * time.Second) // up to 44s: checks at 21s, 32s, 43s
		require.NoError(t, stop())

		assert.Equal(t, []time.Duration{10 * time.Second, 21 * time.Second, 32 * time.Second, 43 * time.Second}, p.offsets(started))
		checks, changes := rec.got()
		assert.Equal(t, []health.Status{health.Unknown, health.Unhealthy, health.Healthy, health.Healthy}, checks)
		assert.Equal(t, [][2]health.Status{{health.Unknown, health.Unhealthy}, {health.Unhealthy, health.Healthy}}, changes)

		s := m.State()
		assert.Equal(t, health.Healthy, s.Status)
		assert.Equal(t, 1, s.Failures)
		require.Len(t, s.Log, 4)
		for i, e := range s.Log {
			assert.Equal(t, started.Add(p.offsets(started)[i]), e.Start)
			assert.Equal(t, time.Second, e.End.Sub(e.Start))
		}

		// Stopped means stopped: no more checks.
		advance(time.Hour)
		assert.Len(t, p.offsets(started), 4)
	})
}

func TestMonitorTimeout(t *testing.T) {
	t.Parallel()
	cfg := health.Config{Interval: 30 * time.Second, Timeout: 5 * time.Second, Retries: 1}
	tests := []struct {
		name   string
		prober health.Prober
	}{
		{"prober honours the deadline", &script{results: []health.Result{{OK: true, Duration: time.Hour}}}},
		{"prober succeeds too late", health.ProberFunc(func(context.Context) health.Result {
			<-time.After(6 * time.Second) // ignores ctx on purpose
			return health.Result{OK: true}
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				started := time.Now()
				m, err := NewMonitor(cfg, tt.prober, started)
				require.NoError(t, err)
				stop := runMonitor(t, m)
				advance(40 * time.Second)
				require.NoError(t, stop())

				s := m.State()
				assert.Equal(t, health.Unhealthy, s.Status)
				last, ok := s.Last()
				require.True(t, ok)
				assert.False(t, last.Passed)
				assert.Equal(t, -1, last.ExitCode)
				assert.Contains(t, last.Output, "health check exceeded timeout (5s)")
				assert.Equal(t, started.Add(30*time.Second), last.Start)
			})
		})
	}
}

func TestMonitorStartPeriod(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		cfg := health.Config{Interval: 10 * time.Second, Timeout: 2 * time.Second, Retries: 1, StartPeriod: 30 * time.Second}
		p := &script{results: []health.Result{{ExitCode: 1}}}
		rec := &recorder{}
		started := time.Now()
		m, err := NewMonitor(cfg, p, started, OnStatusChange(rec.onChange))
		require.NoError(t, err)
		stop := runMonitor(t, m)

		advance(29 * time.Second) // checks at 10s and 20s: in the start period
		assert.Equal(t, health.Unknown, m.State().Status)
		_, changes := rec.got()
		assert.Empty(t, changes)

		advance(time.Second) // check at 30s: the start period is over
		require.NoError(t, stop())
		s := m.State()
		assert.Equal(t, health.Unhealthy, s.Status)
		var counted []bool
		for _, e := range s.Log {
			counted = append(counted, e.Counted)
		}
		assert.Equal(t, []bool{false, false, true}, counted)
		_, changes = rec.got()
		assert.Equal(t, [][2]health.Status{{health.Unknown, health.Unhealthy}}, changes)
	})
}

func TestMonitorCancelDuringCheck(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		cfg := health.DefaultConfig()
		p := &script{results: []health.Result{{OK: true, Duration: 4 * time.Second}}}
		rec := &recorder{}
		m, err := NewMonitor(cfg, p, time.Now(), OnCheck(rec.onCheck))
		require.NoError(t, err)
		stop := runMonitor(t, m)
		advance(31 * time.Second) // the first check is running
		require.Len(t, p.offsets(time.Time{}), 1)
		require.NoError(t, stop())
		// The interrupted check is discarded, not recorded as a failure.
		assert.Empty(t, m.State().Log)
		checks, _ := rec.got()
		assert.Empty(t, checks)
	})
}

func TestMonitorRunOnceAtATime(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := &script{results: []health.Result{{OK: true}}}
		m, err := NewMonitor(health.DefaultConfig(), p, time.Now())
		require.NoError(t, err)
		stop := runMonitor(t, m)
		synctest.Wait()
		require.ErrorIs(t, m.Run(t.Context()), ErrMonitorRunning)
		advance(30 * time.Second)
		require.NoError(t, stop())
		require.Len(t, p.offsets(time.Time{}), 1)

		// It can run again, and carries on from where it was.
		stop = runMonitor(t, m)
		advance(30 * time.Second)
		require.NoError(t, stop())
		assert.Len(t, p.offsets(time.Time{}), 2)
		assert.Len(t, m.State().Log, 2)
	})
}

func TestMonitorWithState(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		cfg := health.DefaultConfig()
		now := time.Now()
		// Adopted after an agent restart: HEALTHY, last checked 25s ago.
		prior := health.NewState(now.Add(-time.Hour)).Observe(cfg, health.Result{OK: true}, now.Add(-25*time.Second))
		p := &script{results: []health.Result{{ExitCode: 1}}}
		m, err := NewMonitor(cfg, p, time.Time{}, WithState(prior))
		require.NoError(t, err)
		assert.Equal(t, prior, m.State())

		stop := runMonitor(t, m)
		advance(5 * time.Second)
		require.NoError(t, stop())
		assert.Equal(t, []time.Duration{5 * time.Second}, p.offsets(now))
		s := m.State()
		assert.Equal(t, health.Healthy, s.Status)
		assert.Equal(t, 1, s.Failures)
		assert.Len(t, s.Log, 2)
	})
}

func TestMonitorStateIsACopy(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var seen health.State
		m, err := NewMonitor(health.DefaultConfig(), &script{results: []health.Result{{OK: true}}}, time.Now(),
			OnCheck(func(_, next health.State) {
				next.Log[0].Output = "changed by callback"
				seen = next
			}))
		require.NoError(t, err)
		stop := runMonitor(t, m)
		advance(30 * time.Second)
		require.NoError(t, stop())
		require.Len(t, seen.Log, 1)

		s := m.State()
		assert.Empty(t, s.Log[0].Output)
		s.Log[0].Output = "changed by caller"
		assert.Empty(t, m.State().Log[0].Output)
	})
}

func TestMonitorZeroStartedIsNow(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		m, err := NewMonitor(health.DefaultConfig(), &script{results: []health.Result{{OK: true}}}, time.Time{})
		require.NoError(t, err)
		assert.Equal(t, time.Now(), m.State().Started)
	})
}

func TestNewMonitorErrors(t *testing.T) {
	t.Parallel()
	p := health.ProberFunc(func(context.Context) health.Result { return health.Result{OK: true} })
	_, err := NewMonitor(health.Config{Interval: time.Second}, p, time.Now())
	require.ErrorIs(t, err, health.ErrInvalidConfig)
	assert.Contains(t, err.Error(), "interval 1s out of range")

	_, err = NewMonitor(health.DefaultConfig(), nil, time.Now())
	require.ErrorContains(t, err, "nil Prober")
	_, err = NewMonitor(health.DefaultConfig(), p, time.Now(), OnCheck(nil))
	require.ErrorContains(t, err, "nil callback")
	_, err = NewMonitor(health.DefaultConfig(), p, time.Now(), OnStatusChange(nil))
	require.ErrorContains(t, err, "nil callback")
}

// TestMonitorEngineOutage runs a HEALTHY container's exec check through an
// engine outage longer than Retries intervals: the checks that cannot run
// change nothing (no callback of a status change, no failure counted), the
// schedule goes on, and the first check after the outage counts again.
func TestMonitorEngineOutage(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		cfg := health.Config{Interval: 10 * time.Second, Timeout: 2 * time.Second, Retries: 2}
		ex := &outageExecer{}
		p, err := NewExec(ex, "c1", []string{"CMD", "check"})
		require.NoError(t, err)
		rec := &recorder{}
		started := time.Now()
		m, err := NewMonitor(cfg, p, started, OnCheck(rec.onCheck), OnStatusChange(rec.onChange))
		require.NoError(t, err)
		stop := runMonitor(t, m)

		advance(10 * time.Second) // first check, at 10s: passes
		require.Equal(t, health.Healthy, m.State().Status)

		ex.setDown(true)
		advance(50 * time.Second) // checks at 20s..60s: the engine is away
		s := m.State()
		assert.Equal(t, health.Healthy, s.Status, "an outage is no failure")
		assert.Zero(t, s.Failures)
		assert.Equal(t, started.Add(60*time.Second), s.LastCheck, "the schedule goes on")
		last, _ := s.Last()
		assert.True(t, last.Inconclusive)
		assert.False(t, last.Counted)
		assert.Contains(t, last.Output, "health check not run")

		ex.setDown(false)
		ex.setCode(1)
		advance(10 * time.Second) // 70s: the check runs again, and fails
		assert.Equal(t, 1, m.State().Failures, "checks that run count again")
		require.NoError(t, stop())

		checks, changes := rec.got()
		assert.Len(t, checks, 7)
		assert.Equal(t, [][2]health.Status{{health.Unknown, health.Healthy}}, changes)
	})
}

// outageExecer is an Execer whose engine can be taken away.
type outageExecer struct {
	mu   sync.Mutex
	down bool
	code int
}

func (e *outageExecer) setDown(down bool) { e.mu.Lock(); e.down = down; e.mu.Unlock() }
func (e *outageExecer) setCode(code int)  { e.mu.Lock(); e.code = code; e.mu.Unlock() }

func (e *outageExecer) Exec(context.Context, string, []string) (runtime.ExecResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.down {
		return runtime.ExecResult{}, fmt.Errorf("exec: %w: connection refused", runtime.ErrUnavailable)
	}
	return runtime.ExecResult{ExitCode: e.code}, nil
}
