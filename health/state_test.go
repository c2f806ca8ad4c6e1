package health

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func pass() Result { return Result{OK: true} }
func fail() Result { return Result{ExitCode: 1, Output: "boom"} }

// away is the result of a check the engine was not there to run.
func away() Result {
	return Result{ExitCode: -1, Inconclusive: true, Err: errors.New("engine unavailable")}
}

// at returns r as started at offset after t0.
func at(offset time.Duration, r Result) step { return step{offset: offset, result: r} }

type step struct {
	offset time.Duration
	result Result
}

func TestObserveSequences(t *testing.T) {
	t.Parallel()
	cfg := Config{Interval: 10 * time.Second, Timeout: 2 * time.Second, Retries: 3, StartPeriod: 60 * time.Second}
	noGrace := cfg
	noGrace.StartPeriod = 0
	oneRetry := noGrace
	oneRetry.Retries = 1

	type want struct {
		status   Status
		failures int
		counted  bool
	}
	tests := []struct {
		name  string
		cfg   Config
		steps []step
		want  []want // after each step
	}{
		{
			name:  "success makes healthy",
			cfg:   noGrace,
			steps: []step{at(10*time.Second, pass())},
			want:  []want{{Healthy, 0, true}},
		},
		{
			name:  "unknown until retries failures",
			cfg:   noGrace,
			steps: []step{at(10*time.Second, fail()), at(20*time.Second, fail()), at(30*time.Second, fail()), at(40*time.Second, fail())},
			want:  []want{{Unknown, 1, true}, {Unknown, 2, true}, {Unhealthy, 3, true}, {Unhealthy, 4, true}},
		},
		{
			name:  "retries 1: first failure is unhealthy",
			cfg:   oneRetry,
			steps: []step{at(10*time.Second, fail())},
			want:  []want{{Unhealthy, 1, true}},
		},
		{
			name: "success resets the failure count",
			cfg:  noGrace,
			steps: []step{
				at(10*time.Second, pass()), at(20*time.Second, fail()), at(30*time.Second, fail()),
				at(40*time.Second, pass()), at(50*time.Second, fail()), at(60*time.Second, fail()), at(70*time.Second, fail()),
			},
			want: []want{
				{Healthy, 0, true}, {Healthy, 1, true}, {Healthy, 2, true},
				{Healthy, 0, true}, {Healthy, 1, true}, {Healthy, 2, true}, {Unhealthy, 3, true},
			},
		},
		{
			name:  "unhealthy recovers on one success",
			cfg:   oneRetry,
			steps: []step{at(10*time.Second, fail()), at(20*time.Second, pass())},
			want:  []want{{Unhealthy, 1, true}, {Healthy, 0, true}},
		},
		{
			name: "failures in the start period do not count",
			cfg:  cfg,
			steps: []step{
				at(10*time.Second, fail()), at(20*time.Second, fail()), at(30*time.Second, fail()), at(59*time.Second, fail()),
				at(60*time.Second, fail()), at(70*time.Second, fail()), at(80*time.Second, fail()),
			},
			want: []want{
				{Unknown, 0, false}, {Unknown, 0, false}, {Unknown, 0, false}, {Unknown, 0, false},
				{Unknown, 1, true}, {Unknown, 2, true}, {Unhealthy, 3, true},
			},
		},
		{
			name: "success in the start period is healthy at once and ends it",
			cfg:  cfg,
			steps: []step{
				at(10*time.Second, fail()), at(20*time.Second, pass()),
				at(30*time.Second, fail()), at(40*time.Second, fail()), at(50*time.Second, fail()),
			},
			want: []want{
				{Unknown, 0, false}, {Healthy, 0, true},
				{Healthy, 1, true}, {Healthy, 2, true}, {Unhealthy, 3, true},
			},
		},
		{
			name:  "timed out check is a failure",
			cfg:   oneRetry,
			steps: []step{at(10*time.Second, Result{OK: true, TimedOut: true})},
			want:  []want{{Unhealthy, 1, true}},
		},
		{
			name:  "check longer than the timeout is a failure",
			cfg:   oneRetry,
			steps: []step{at(10*time.Second, Result{OK: true, Duration: 2*time.Second + 1})},
			want:  []want{{Unhealthy, 1, true}},
		},
		{
			name:  "check of exactly the timeout passes",
			cfg:   oneRetry,
			steps: []step{at(10*time.Second, Result{OK: true, Duration: 2 * time.Second})},
			want:  []want{{Healthy, 0, true}},
		},
		{
			name:  "error is a failure even with OK",
			cfg:   oneRetry,
			steps: []step{at(10*time.Second, Result{OK: true, Err: errors.New("container gone")})},
			want:  []want{{Unhealthy, 1, true}},
		},
		{
			name: "inconclusive results leave healthy and its failures as they were",
			cfg:  noGrace,
			steps: []step{
				at(10*time.Second, pass()), at(20*time.Second, fail()), at(30*time.Second, away()),
				at(40*time.Second, away()), at(50*time.Second, away()), at(60*time.Second, away()), at(70*time.Second, fail()),
			},
			want: []want{
				{Healthy, 0, true}, {Healthy, 1, true}, {Healthy, 1, false},
				{Healthy, 1, false}, {Healthy, 1, false}, {Healthy, 1, false}, {Healthy, 2, true},
			},
		},
		{
			name:  "inconclusive results leave unknown unknown",
			cfg:   oneRetry,
			steps: []step{at(10*time.Second, away()), at(20*time.Second, away()), at(30*time.Second, pass())},
			want:  []want{{Unknown, 0, false}, {Unknown, 0, false}, {Healthy, 0, true}},
		},
		{
			name:  "inconclusive results leave unhealthy unhealthy",
			cfg:   oneRetry,
			steps: []step{at(10*time.Second, fail()), at(20*time.Second, away())},
			want:  []want{{Unhealthy, 1, true}, {Unhealthy, 1, false}},
		},
		{
			name:  "inconclusive beats OK and a timeout",
			cfg:   oneRetry,
			steps: []step{at(10*time.Second, Result{OK: true, Inconclusive: true}), at(20*time.Second, Result{TimedOut: true, Inconclusive: true, Duration: time.Minute})},
			want:  []want{{Unknown, 0, false}, {Unknown, 0, false}},
		},
		{
			name:  "zero result is a failure",
			cfg:   oneRetry,
			steps: []step{at(10*time.Second, Result{})},
			want:  []want{{Unhealthy, 1, true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Len(t, tt.want, len(tt.steps))
			s := NewState(t0)
			for i, st := range tt.steps {
				r := st.result
				r.Time = t0.Add(st.offset)
				s = s.Observe(tt.cfg, r, r.Time.Add(r.Duration))
				last, ok := s.Last()
				require.True(t, ok)
				got := want{s.Status, s.Failures, last.Counted}
				assert.Equal(t, tt.want[i], got, "after step %d (%s)", i, st.offset)
			}
		})
	}
}

func TestObserveZeroState(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.StartPeriod = time.Minute
	// A zero State has no start time, hence no start period.
	s := State{}.Observe(cfg, fail(), t0)
	assert.Equal(t, Unknown, s.Status)
	assert.Equal(t, 1, s.Failures)
	// A zero Result.Time means "now".
	last, _ := s.Last()
	assert.Equal(t, t0, last.Start)
	assert.Equal(t, t0, last.End)
	assert.Equal(t, t0, s.LastCheck)
}

func TestObserveLog(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	s := NewState(t0)
	_, ok := s.Last()
	assert.False(t, ok)

	for i := range LogSize + 3 {
		now := t0.Add(time.Duration(i+1) * cfg.Interval)
		s = s.Observe(cfg, Result{Time: now.Add(-time.Second), Duration: time.Second, ExitCode: i, Output: strings.Repeat("x", i)}, now)
	}
	require.Len(t, s.Log, LogSize)
	for j, e := range s.Log {
		i := j + 3 // the first three fell off
		assert.Equal(t, i, e.ExitCode)
		assert.Equal(t, t0.Add(time.Duration(i+1)*cfg.Interval), e.End)
		assert.Equal(t, e.End.Add(-time.Second), e.Start)
	}

	t.Run("output truncated at a rune boundary", func(t *testing.T) {
		t.Parallel()
		long := strings.Repeat("a", MaxOutput-1) + "é" + "tail" // é straddles the limit
		s := NewState(t0).Observe(cfg, Result{OK: true, Output: long}, t0)
		last, _ := s.Last()
		assert.Equal(t, strings.Repeat("a", MaxOutput-1), last.Output)
	})
	t.Run("failure reasons", func(t *testing.T) {
		t.Parallel()
		s := NewState(t0).Observe(cfg, Result{Output: "partial", TimedOut: true, ExitCode: 0, Err: context.DeadlineExceeded}, t0)
		last, _ := s.Last()
		assert.Equal(t, "partial\nhealth check exceeded timeout (5s)", last.Output)
		assert.Equal(t, -1, last.ExitCode)
		assert.False(t, last.Passed)

		s = s.Observe(cfg, Result{ExitCode: -1, Err: errors.New("container not running")}, t0)
		last, _ = s.Last()
		assert.Equal(t, "error: container not running", last.Output)
		assert.False(t, last.Inconclusive)

		s = s.Observe(cfg, Result{ExitCode: 7, Output: "partial", Inconclusive: true, Err: errors.New("runtime: engine unavailable")}, t0)
		last, _ = s.Last()
		assert.Equal(t, "partial\nhealth check not run: runtime: engine unavailable", last.Output)
		assert.Equal(t, -1, last.ExitCode)
		assert.True(t, last.Inconclusive)
		assert.False(t, last.Passed)
		assert.False(t, last.Counted)
	})
}

func TestObserveIsPure(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	s := NewState(t0)
	for i := range LogSize {
		s = s.Observe(cfg, fail(), t0.Add(time.Duration(i)*time.Second))
	}
	before := s
	before.Log = append([]Entry(nil), s.Log...)

	a := s.Observe(cfg, pass(), t0.Add(time.Minute))
	b := s.Observe(cfg, fail(), t0.Add(time.Minute))
	assert.Equal(t, before, s, "Observe modified its receiver")
	assert.NotEqual(t, a.Log[LogSize-1], b.Log[LogSize-1])
	a.Log[0].Output = "changed"
	assert.Equal(t, before, s, "a result shares its log with its receiver")
}

func TestNextCheck(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	checked := NewState(t0).Observe(cfg, pass(), t0.Add(40*time.Second))
	tests := []struct {
		name  string
		state State
		now   time.Time
		want  time.Time
	}{
		{"first check one interval after start", NewState(t0), t0, t0.Add(30 * time.Second)},
		{"first check, some time later", NewState(t0), t0.Add(10 * time.Second), t0.Add(30 * time.Second)},
		{"first check overdue", NewState(t0), t0.Add(time.Hour), t0.Add(time.Hour)},
		{"interval after the last check", checked, t0.Add(40 * time.Second), t0.Add(70 * time.Second)},
		{"last check overdue", checked, t0.Add(71 * time.Second), t0.Add(71 * time.Second)},
		{"nothing known: now", State{}, t0, t0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, tt.state.NextCheck(cfg, tt.now))
		})
	}
}

func configGen() *rapid.Generator[Config] {
	return rapid.Custom(func(t *rapid.T) Config {
		return Config{
			Interval:    time.Duration(rapid.IntRange(5, 300).Draw(t, "interval")) * time.Second,
			Timeout:     time.Duration(rapid.IntRange(2, 60).Draw(t, "timeout")) * time.Second,
			Retries:     rapid.IntRange(1, 10).Draw(t, "retries"),
			StartPeriod: time.Duration(rapid.IntRange(0, 300).Draw(t, "startPeriod")) * time.Second,
		}
	})
}

// resultGen draws passing and failing results of every kind, started at
// start.
func resultGen(start time.Time) *rapid.Generator[Result] {
	return rapid.Custom(func(t *rapid.T) Result {
		r := Result{
			Time:     start,
			Duration: time.Duration(rapid.Int64Range(0, int64(70*time.Second)).Draw(t, "duration")),
			OK:       rapid.Bool().Draw(t, "ok"),
			ExitCode: rapid.IntRange(-1, 255).Draw(t, "exit"),
			Output:   rapid.StringN(0, 20, 2*MaxOutput).Draw(t, "output"),
			TimedOut: rapid.Float64Range(0, 1).Draw(t, "timedOut") < 0.1,
		}
		if rapid.Float64Range(0, 1).Draw(t, "err") < 0.1 {
			r.Err = errors.New("probe error")
		}
		if rapid.Float64Range(0, 1).Draw(t, "inconclusive") < 0.15 {
			r.Inconclusive = true
			r.Err = errors.New("engine unavailable")
		}
		return r
	})
}

// TestObserveProperties drives the state machine with random results and
// checks it against a direct reading of the ECS rules.
func TestObserveProperties(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		cfg := configGen().Draw(t, "cfg")
		started := t0
		s := NewState(started)
		now := started
		everPassed := false
		streak := 0 // consecutive counted failures, per the model
		leftUnknown := false

		n := rapid.IntRange(1, 40).Draw(t, "checks")
		for range n {
			now = now.Add(time.Duration(rapid.Int64Range(0, int64(2*cfg.Interval)).Draw(t, "gap")))
			r := resultGen(now).Draw(t, "result")
			end := now.Add(r.Duration)
			prev := s
			s = s.Observe(cfg, r, end)
			now = end

			passed := !r.Inconclusive && r.OK && !r.TimedOut && r.Err == nil && r.Duration <= cfg.Timeout
			inGrace := !everPassed && r.Time.Sub(started) < cfg.StartPeriod
			switch {
			case r.Inconclusive:
				// No result: nothing changes but the time of the check.
				require.Equal(t, prev.Status, s.Status)
			case passed:
				everPassed = true
				streak = 0
			case !inGrace:
				streak++
			}

			// A success always yields HEALTHY with no failures.
			if passed {
				require.Equal(t, Healthy, s.Status)
				require.Zero(t, s.Failures)
			}
			// Failures is exactly the model's streak of counted failures.
			require.Equal(t, streak, s.Failures)
			// UNHEALTHY exactly when retries consecutive counted failures.
			require.Equal(t, streak >= cfg.Retries, s.Status == Unhealthy)
			// A failure within the start period, before any success, never
			// makes it UNHEALTHY or counts.
			if !passed && inGrace {
				require.Equal(t, Unknown, s.Status)
				require.Equal(t, prev.Failures, s.Failures)
			}
			// UNKNOWN is never re-entered.
			if s.Status != Unknown {
				leftUnknown = true
			}
			if leftUnknown {
				require.NotEqual(t, Unknown, s.Status)
			}
			// Status before the first success is UNKNOWN or UNHEALTHY.
			if !everPassed {
				require.NotEqual(t, Healthy, s.Status)
			}
			// The log is bounded and ends with this result.
			require.LessOrEqual(t, len(s.Log), LogSize)
			last, ok := s.Last()
			require.True(t, ok)
			require.Equal(t, passed, last.Passed)
			require.Equal(t, r.Inconclusive, last.Inconclusive)
			if r.Inconclusive {
				require.False(t, last.Counted)
			}
			require.Equal(t, end, last.End)
			require.Equal(t, end, s.LastCheck)
			for _, e := range s.Log {
				require.LessOrEqual(t, len(e.Output), MaxOutput)
			}
			// The next check is an interval after this one.
			require.Equal(t, end.Add(cfg.Interval), s.NextCheck(cfg, end))
		}
	})
}
