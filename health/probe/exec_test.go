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

// Every runtime.Runtime can run exec checks.
var _ Execer = runtime.Runtime(nil)

// scriptedExecer answers Exec with a fixed result, after an optional delay
// (spent on the time package's clock, so fake inside synctest), and
// records the calls.
type scriptedExecer struct {
	result runtime.ExecResult
	err    error
	delay  time.Duration

	mu    sync.Mutex
	calls [][]string
	ids   []string
}

func (e *scriptedExecer) Exec(ctx context.Context, id string, cmd []string) (runtime.ExecResult, error) {
	e.mu.Lock()
	e.calls = append(e.calls, cmd)
	e.ids = append(e.ids, id)
	e.mu.Unlock()
	if e.delay > 0 {
		t := time.NewTimer(e.delay)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return runtime.ExecResult{}, fmt.Errorf("exec %s: %w", id, ctx.Err())
		case <-t.C:
		}
	}
	return e.result, e.err
}

func TestNewExecProber(t *testing.T) {
	t.Parallel()
	_, err := NewExec(&scriptedExecer{}, "c1", []string{"NONE"})
	require.ErrorIs(t, err, health.ErrInvalidCommand)
	assert.Contains(t, err.Error(), "container c1")

	_, err = NewExec(nil, "c1", []string{"CMD", "true"})
	require.Error(t, err)

	p, err := NewExec(&scriptedExecer{}, "c1", []string{"CMD-SHELL", "exit 0"})
	require.NoError(t, err)
	assert.Equal(t, health.CommandShell, p.Kind())
	assert.Equal(t, []string{"/bin/sh", "-c", "exit 0"}, p.Argv())
}

func TestExecProber(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		command []string
		execer  *scriptedExecer
		timeout time.Duration
		want    health.Result // Time and Duration are checked apart; Err by errIs
		errIs   error
		argv    []string
	}{
		{
			name:    "CMD exit 0",
			command: []string{"CMD", "pg_isready", "-q"},
			execer:  &scriptedExecer{result: runtime.ExecResult{ExitCode: 0, Output: []byte("ok\n")}, delay: 300 * time.Millisecond},
			want:    health.Result{OK: true, ExitCode: 0, Output: "ok\n", Duration: 300 * time.Millisecond},
			argv:    []string{"pg_isready", "-q"},
		},
		{
			name:    "CMD-SHELL exit 1",
			command: []string{"CMD-SHELL", "curl -f http://localhost/ || exit 1"},
			execer:  &scriptedExecer{result: runtime.ExecResult{ExitCode: 1, Output: []byte("curl: (7) refused")}},
			want:    health.Result{ExitCode: 1, Output: "curl: (7) refused"},
			argv:    []string{"/bin/sh", "-c", "curl -f http://localhost/ || exit 1"},
		},
		{
			name:    "exit 137",
			command: []string{"CMD", "check"},
			execer:  &scriptedExecer{result: runtime.ExecResult{ExitCode: 137}},
			want:    health.Result{ExitCode: 137},
			argv:    []string{"check"},
		},
		{
			name:    "container not running",
			command: []string{"CMD", "check"},
			execer:  &scriptedExecer{err: fmt.Errorf("exec c1: %w", runtime.ErrNotRunning)},
			want:    health.Result{ExitCode: -1},
			errIs:   runtime.ErrNotRunning,
			argv:    []string{"check"},
		},
		{
			name:    "engine unavailable",
			command: []string{"CMD", "check"},
			execer:  &scriptedExecer{err: fmt.Errorf("exec c1: %w: connection refused", runtime.ErrUnavailable)},
			want:    health.Result{ExitCode: -1, Inconclusive: true},
			errIs:   runtime.ErrUnavailable,
			argv:    []string{"check"},
		},
		{
			name:    "timeout",
			command: []string{"CMD", "sleep", "100"},
			execer:  &scriptedExecer{result: runtime.ExecResult{ExitCode: 0}, delay: time.Hour},
			timeout: 5 * time.Second,
			want:    health.Result{ExitCode: -1, TimedOut: true, Duration: 5 * time.Second},
			errIs:   context.DeadlineExceeded,
			argv:    []string{"sleep", "100"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				p, err := NewExec(tt.execer, "c1", tt.command)
				require.NoError(t, err)
				ctx := t.Context()
				if tt.timeout > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.timeout)
					defer cancel()
				}
				start := time.Now()
				r := p.Probe(ctx)
				assert.Equal(t, start, r.Time)
				if tt.errIs != nil {
					require.ErrorIs(t, r.Err, tt.errIs)
					assert.Contains(t, r.Err.Error(), "container c1")
				} else {
					require.NoError(t, r.Err)
				}
				r.Time, r.Err = time.Time{}, nil
				assert.Equal(t, tt.want, r)
				assert.Equal(t, [][]string{tt.argv}, tt.execer.calls)
				assert.Equal(t, []string{"c1"}, tt.execer.ids)
			})
		})
	}
}

// lateExecer ignores ctx and succeeds after the deadline has passed.
type lateExecer struct{ after time.Duration }

func (e lateExecer) Exec(context.Context, string, []string) (runtime.ExecResult, error) {
	<-time.After(e.after) // fake time: this runs inside a synctest bubble
	return runtime.ExecResult{ExitCode: 0}, nil
}

func TestExecProberLateSuccessIsTimeout(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p, err := NewExec(lateExecer{after: 3 * time.Second}, "c1", []string{"CMD", "true"})
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		r := p.Probe(ctx)
		assert.False(t, r.OK)
		assert.True(t, r.TimedOut)
		assert.ErrorIs(t, r.Err, context.DeadlineExceeded)
		assert.Equal(t, 3*time.Second, r.Duration)
	})
}
