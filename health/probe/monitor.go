package probe

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stevedore-io/stevedore/health"
)

// ErrMonitorRunning is returned by Monitor.Run when the monitor is already
// running.
var ErrMonitorRunning = errors.New("probe: monitor already running")

// Monitor runs a Prober on the schedule of a Config and keeps the resulting
// State: one Monitor per checked container.
//
// Run drives it; State may be read from any goroutine. Callbacks run on the
// Run goroutine, one at a time, and delay the next check while they run.
type Monitor struct {
	cfg    health.Config
	prober health.Prober
	monitorOptions

	running atomic.Bool
	mu      sync.Mutex
	state   health.State
}

// MonitorOption configures a Monitor made by NewMonitor.
type MonitorOption func(*monitorOptions) error

// monitorOptions are what the options of NewMonitor set.
type monitorOptions struct {
	onChange func(prev, next health.State)
	onCheck  func(prev, next health.State)
	// resume is the state WithState resumes from; nil starts afresh.
	resume *health.State
}

// OnStatusChange registers fn to be called after every check that changes
// the status, with the states before and after.
func OnStatusChange(fn func(prev, next health.State)) MonitorOption {
	return func(m *monitorOptions) error {
		if fn == nil {
			return errors.New("probe: OnStatusChange: nil callback")
		}
		m.onChange = fn
		return nil
	}
}

// OnCheck registers fn to be called after every check, with the states
// before and after.
func OnCheck(fn func(prev, next health.State)) MonitorOption {
	return func(m *monitorOptions) error {
		if fn == nil {
			return errors.New("probe: OnCheck: nil callback")
		}
		m.onCheck = fn
		return nil
	}
}

// WithState starts the monitor from s instead of NewState(started): an agent
// that restarts and adopts a running container resumes its health where it
// was. The started argument of NewMonitor is then ignored.
func WithState(s health.State) MonitorOption {
	return func(m *monitorOptions) error {
		s.Status = normalize(s.Status)
		s.Log = slices.Clone(s.Log)
		m.resume = &s
		return nil
	}
}

// NewMonitor returns a monitor that checks a container started at started
// (zero means now) with p, on cfg's schedule. cfg must be valid; errors wrap
// ErrInvalidConfig.
func NewMonitor(cfg health.Config, p health.Prober, started time.Time, opts ...MonitorOption) (*Monitor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("probe: monitor: %w", err)
	}
	if p == nil {
		return nil, errors.New("probe: monitor: nil Prober")
	}
	if started.IsZero() {
		started = time.Now()
	}
	m := &Monitor{cfg: cfg, prober: p, state: health.NewState(started)}
	for _, opt := range opts {
		if err := opt(&m.monitorOptions); err != nil {
			return nil, err
		}
	}
	if m.resume != nil {
		m.state, m.resume = *m.resume, nil
	}
	return m, nil
}

// State returns the current state.
func (m *Monitor) State() health.State {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.state
	s.Log = slices.Clone(s.Log)
	return s
}

// Run checks the container until ctx is done, then returns nil. The first
// check starts one interval after the container started (at once if that
// is past), each next one an interval after the previous one ended. Each
// check gets a context with the config's timeout; a check cut short by
// ctx being done is discarded. Run returns ErrMonitorRunning if the monitor
// is already running; after it returns it may be run again.
func (m *Monitor) Run(ctx context.Context) error {
	if !m.running.CompareAndSwap(false, true) {
		return ErrMonitorRunning
	}
	defer m.running.Store(false)

	for {
		now := time.Now()
		timer := time.NewTimer(m.State().NextCheck(m.cfg, now).Sub(now))
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-timer.C:
		}
		r := m.check(ctx)
		if ctx.Err() != nil {
			return nil
		}
		m.record(r, time.Now())
	}
}

// check runs the prober once with the config's timeout.
func (m *Monitor) check(ctx context.Context) health.Result {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	start := time.Now()
	r := m.prober.Probe(ctx)
	// The monitor's own measurements are the ones that count.
	r.Time, r.Duration = start, time.Since(start)
	if r.Duration >= m.cfg.Timeout && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		r.TimedOut = true
	}
	return r
}

// record folds r into the state and calls the callbacks.
func (m *Monitor) record(r health.Result, now time.Time) {
	m.mu.Lock()
	prev := m.state
	next := prev.Observe(m.cfg, r, now)
	m.state = next
	m.mu.Unlock()

	// Callbacks get their own logs, so that they cannot alter the monitor's.
	prev.Log, next.Log = slices.Clone(prev.Log), slices.Clone(next.Log)
	if m.onCheck != nil {
		m.onCheck(prev, next)
	}
	if m.onChange != nil && prev.Status != next.Status {
		m.onChange(prev, next)
	}
}

// normalize maps unrecognised statuses (including "") to health.Unknown, as
// health's state machine reads them.
func normalize(s health.Status) health.Status {
	switch s {
	case health.Healthy, health.Unhealthy:
		return s
	default:
		return health.Unknown
	}
}
