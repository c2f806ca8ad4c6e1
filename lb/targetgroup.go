package lb

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Algorithm chooses the target of each new request or connection among the
// healthy targets of a group.
type Algorithm string

// Algorithms.
const (
	// RoundRobin takes the targets in turn.
	RoundRobin Algorithm = "round_robin"
	// LeastOutstandingRequests takes the target with the fewest requests in
	// flight (TCP: open connections); ties go round robin.
	LeastOutstandingRequests Algorithm = "least_outstanding_requests"
)

// DialFunc opens a network connection, like net.Dialer.DialContext. A target
// group dials its targets, for traffic and for health checks, through one.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// GroupOption configures a TargetGroup in NewTargetGroup.
type GroupOption func(*groupOptions) error

type groupOptions struct {
	healthCheck HealthCheck
	delay       time.Duration
	algorithm   Algorithm
	failOpen    bool
	dial        DialFunc
	log         *slog.Logger
	onChange    func(HealthChange)
	fastChecks  bool
}

// WithHealthCheck sets the group's health check; zero fields take their
// defaults (see HealthCheck).
func WithHealthCheck(hc HealthCheck) GroupOption {
	return func(o *groupOptions) error { o.healthCheck = hc; return nil }
}

// WithFastHealthChecks lets the group's health check run every
// FastMinHealthCheckInterval (1 s) and time out after
// FastMinHealthCheckTimeout (500 ms) at the shortest, beyond Application
// Load Balancer's 5 s and 2 s: targets on the same host answer fast, and
// tests and benchmarks need not wait ALB's intervals.
func WithFastHealthChecks() GroupOption {
	return func(o *groupOptions) error { o.fastChecks = true; return nil }
}

// WithDeregistrationDelay sets how long a deregistered target drains before
// it is removed, between 0 and 3600 s; default 300 s. A draining target with
// nothing in flight is removed at once.
func WithDeregistrationDelay(d time.Duration) GroupOption {
	return func(o *groupOptions) error {
		if d < 0 || d > MaxDeregistrationDelay {
			return invalid("deregistrationDelay", "must be between 0 and %s, got %s", MaxDeregistrationDelay, d)
		}
		o.delay = d
		return nil
	}
}

// WithAlgorithm sets the routing algorithm; default RoundRobin.
func WithAlgorithm(a Algorithm) GroupOption {
	return func(o *groupOptions) error {
		if a != RoundRobin && a != LeastOutstandingRequests {
			return invalid("algorithm", "must be %s or %s, got %q", RoundRobin, LeastOutstandingRequests, a)
		}
		o.algorithm = a
		return nil
	}
}

// WithFailOpen makes the group route to its unhealthy targets when none is
// healthy, as ALB does. Without it such a group answers 503 (HTTP) or
// refuses connections (TCP).
func WithFailOpen() GroupOption {
	return func(o *groupOptions) error { o.failOpen = true; return nil }
}

// WithDialer sets how the group connects to its targets, for traffic and
// health checks; default a net.Dialer.
func WithDialer(dial DialFunc) GroupOption {
	return func(o *groupOptions) error {
		if dial == nil {
			return invalid("dialer", "is nil")
		}
		o.dial = dial
		return nil
	}
}

// WithGroupLogger sets the group's logger (health changes at Info, proxy
// errors at Debug); default discards.
func WithGroupLogger(l *slog.Logger) GroupOption {
	return func(o *groupOptions) error {
		if l == nil {
			return invalid("logger", "is nil")
		}
		o.log = l
		return nil
	}
}

// OnHealthChange calls fn after every change of a target's health, in the
// order of the changes, from one goroutine at a time. fn may call the
// group's methods; it should return quickly.
func OnHealthChange(fn func(HealthChange)) GroupOption {
	return func(o *groupOptions) error {
		if fn == nil {
			return invalid("onHealthChange", "is nil")
		}
		o.onChange = fn
		return nil
	}
}

// TargetGroup is a set of targets that share a protocol, a health check and
// a routing algorithm. It health-checks each registered target on its own
// timer and picks targets for the listeners that forward to it. All methods
// are safe for concurrent use.
type TargetGroup struct {
	name      string
	protocol  Protocol
	hc        HealthCheck
	hcURL     *url.URL
	matcher   statusMatcher
	delay     time.Duration
	algorithm Algorithm
	failOpen  bool
	dialFn    DialFunc
	log       *slog.Logger
	onChange  func(HealthChange)

	proxy *httputil.ReverseProxy // HTTP groups only

	next   atomic.Uint64            // round-robin position
	routes atomic.Pointer[routeSet] // targets that may take new traffic

	mu         sync.Mutex
	targets    map[string]*target
	order      []*target // registration order, for stable routing
	changed    chan struct{}
	pending    []HealthChange
	delivering bool
	closed     bool
	checkers   sync.WaitGroup
}

// routeSet is a snapshot of the targets that may take new traffic.
type routeSet struct {
	healthy   []*target
	unhealthy []*target // for fail-open
}

// NewTargetGroup returns an empty target group named name (for Stevedore,
// the name a service's load balancer entry gives as its target group) whose
// targets speak protocol p.
func NewTargetGroup(name string, p Protocol, opts ...GroupOption) (*TargetGroup, error) {
	if name == "" {
		return nil, invalid("name", "is required")
	}
	if !p.valid() {
		return nil, invalid("protocol", "must be HTTP or TCP, got %q", p)
	}
	o := groupOptions{
		delay:     DefaultDeregistrationDelay,
		algorithm: RoundRobin,
		dial:      (&net.Dialer{}).DialContext,
		log:       slog.New(slog.DiscardHandler),
	}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("target group %s: %w", name, err)
		}
	}
	hc := o.healthCheck.withDefaults(p)
	minInterval, minTimeout := MinHealthCheckInterval, MinHealthCheckTimeout
	if o.fastChecks {
		minInterval, minTimeout = FastMinHealthCheckInterval, FastMinHealthCheckTimeout
	}
	u, m, err := hc.compile(minInterval, minTimeout)
	if err != nil {
		return nil, fmt.Errorf("target group %s: %w", name, err)
	}
	g := &TargetGroup{
		name: name, protocol: p, hc: hc, hcURL: u, matcher: m,
		delay: o.delay, algorithm: o.algorithm, failOpen: o.failOpen,
		dialFn: o.dial, log: o.log.With("targetGroup", name), onChange: o.onChange,
		targets: make(map[string]*target),
		changed: make(chan struct{}),
	}
	g.routes.Store(&routeSet{})
	if p == HTTP {
		g.proxy = g.newProxy()
	}
	return g, nil
}

// Name returns the group's name.
func (g *TargetGroup) Name() string { return g.name }

// Protocol returns the protocol of the group's targets.
func (g *TargetGroup) Protocol() Protocol { return g.protocol }

// HealthCheck returns the group's health check with its defaults filled in.
func (g *TargetGroup) HealthCheck() HealthCheck { return g.hc }

// DeregistrationDelay returns how long deregistered targets drain.
func (g *TargetGroup) DeregistrationDelay() time.Duration { return g.delay }

// Register adds a target in state initial and starts its health checks;
// its first check runs at once. Registering a registered target again is a
// no-op, and registering a draining one cancels its deregistration (it
// starts over as initial). The same ID with another address is ErrConflict.
func (g *TargetGroup) Register(t Target) error {
	if err := t.validate(); err != nil {
		return fmt.Errorf("target group %s: register %s: %w", g.name, t.ID, err)
	}
	defer g.deliver()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return fmt.Errorf("target group %s: register %s: %w", g.name, t.ID, ErrClosed)
	}
	if old, ok := g.targets[t.ID]; ok {
		if old.Addr != t.Addr {
			return fmt.Errorf("target group %s: register %s at %s: %w: registered at %s", g.name, t.ID, t.Addr, ErrConflict, old.Addr)
		}
		if old.draining.Load() {
			if old.drainTimer != nil {
				old.drainTimer.Stop()
				old.drainTimer = nil
			}
			old.draining.Store(false)
			g.startChecksLocked(old)
		}
		return nil
	}
	tg := &target{Target: t, group: g, hcAddr: t.Addr, health: healthState{Health: healthUnused}}
	if g.hc.Port != 0 {
		host, _, _ := net.SplitHostPort(t.Addr)
		tg.hcAddr = net.JoinHostPort(host, fmt.Sprint(g.hc.Port))
	}
	tg.ctx, tg.cancel = context.WithCancel(context.Background())
	if g.protocol == HTTP {
		tg.pool = newConnPool(tg.dial)
	}
	g.targets[t.ID] = tg
	g.order = append(g.order, tg)
	g.startChecksLocked(tg)
	return nil
}

// startChecksLocked puts t in state initial and starts its checker.
func (g *TargetGroup) startChecksLocked(t *target) {
	t.health = healthState{Health: t.health.Health}
	g.setHealthLocked(t, healthRegistering)
	ctx, cancel := context.WithCancel(t.ctx)
	t.stopChecks = cancel
	g.checkers.Add(1)
	go g.runChecks(ctx, t)
}

// Deregister starts draining a target: it gets no new requests or
// connections, those in flight go on, and it is removed (state unused) when
// the last one ends or the deregistration delay has passed, whichever comes
// first; traffic still in flight then is cut. Deregistering a draining
// target is a no-op; an unknown one is ErrNotFound. WaitState(ctx, id,
// StateUnused) waits for the removal.
func (g *TargetGroup) Deregister(id string) error {
	defer g.deliver()
	g.mu.Lock()
	defer g.mu.Unlock()
	t, ok := g.targets[id]
	if !ok {
		if g.closed {
			return fmt.Errorf("target group %s: deregister %s: %w", g.name, id, ErrClosed)
		}
		return fmt.Errorf("target group %s: deregister %s: %w", g.name, id, ErrNotFound)
	}
	if t.draining.Load() {
		return nil
	}
	t.draining.Store(true)
	t.stopChecks()
	g.setHealthLocked(t, healthDraining)
	if t.active.Load() == 0 || g.delay == 0 {
		g.removeLocked(t)
		return nil
	}
	t.drainTimer = time.AfterFunc(g.delay, func() { g.expire(t) })
	return nil
}

// expire removes t when its deregistration delay has passed.
func (g *TargetGroup) expire(t *target) {
	defer g.deliver()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.targets[t.ID] == t && t.draining.Load() {
		g.log.Info("deregistration delay over, cutting traffic", "target", t.ID, "active", t.active.Load())
		g.removeLocked(t)
	}
}

// removeIfIdle removes t when it is draining and nothing is in flight.
func (g *TargetGroup) removeIfIdle(t *target) {
	defer g.deliver()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.targets[t.ID] == t && t.draining.Load() && t.active.Load() == 0 {
		g.removeLocked(t)
	}
}

// removeLocked takes t out of the group and cuts its traffic.
func (g *TargetGroup) removeLocked(t *target) {
	delete(g.targets, t.ID)
	g.order = slices.DeleteFunc(g.order, func(o *target) bool { return o == t })
	if t.drainTimer != nil {
		t.drainTimer.Stop()
	}
	t.draining.Store(true) // for acquirers holding an old route set
	t.cut()
	g.setHealthLocked(t, healthUnused)
}

// Health returns the health of target id; an unknown target is unused with
// reason Target.NotRegistered.
func (g *TargetGroup) Health(id string) TargetHealth {
	g.mu.Lock()
	defer g.mu.Unlock()
	if t, ok := g.targets[id]; ok {
		return t.health.Health
	}
	return healthUnused
}

// Stats returns the counters of target id, and false when it is not
// registered.
func (g *TargetGroup) Stats(id string) (TargetStats, bool) {
	g.mu.Lock()
	t, ok := g.targets[id]
	g.mu.Unlock()
	if !ok {
		return TargetStats{}, false
	}
	return t.stats(), true
}

// Targets describes the registered targets (draining ones included), sorted
// by ID.
func (g *TargetGroup) Targets() []TargetDescription {
	g.mu.Lock()
	out := make([]TargetDescription, 0, len(g.targets))
	for _, t := range g.targets {
		out = append(out, TargetDescription{Target: t.Target, Health: t.health.Health, Stats: t.stats()})
	}
	g.mu.Unlock()
	slices.SortFunc(out, func(a, b TargetDescription) int { return cmp.Compare(a.Target.ID, b.Target.ID) })
	return out
}

// WaitState waits until target id is in one of states and returns its
// health then. It returns ctx's error when ctx ends first, and ErrClosed
// when the group is closed.
func (g *TargetGroup) WaitState(ctx context.Context, id string, states ...TargetState) (TargetHealth, error) {
	for {
		g.mu.Lock()
		h := healthUnused
		if t, ok := g.targets[id]; ok {
			h = t.health.Health
		}
		changed, closed := g.changed, g.closed
		g.mu.Unlock()
		if slices.Contains(states, h.State) {
			return h, nil
		}
		if closed {
			return h, fmt.Errorf("target group %s: wait for %s: %w", g.name, id, ErrClosed)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return h, fmt.Errorf("target group %s: wait for %s to be %v (is %s): %w", g.name, id, states, h.State, ctx.Err())
		}
	}
}

// Close stops the health checks, removes every target and cuts the traffic
// still in flight. Shut the listeners down first for a graceful stop.
// Close waits for the health checkers to return.
func (g *TargetGroup) Close() error {
	g.mu.Lock()
	if !g.closed {
		g.closed = true
		for _, t := range g.order {
			t.stopChecks()
			if t.drainTimer != nil {
				t.drainTimer.Stop()
			}
			t.draining.Store(true)
			t.cut()
		}
		clear(g.targets)
		g.order = nil
		g.routes.Store(&routeSet{})
		close(g.changed)
		g.changed = make(chan struct{})
	}
	g.mu.Unlock()
	g.checkers.Wait()
	return nil
}

// setHealthLocked changes t's health, updates the routes and queues the
// change for OnHealthChange and WaitState.
func (g *TargetGroup) setHealthLocked(t *target, h TargetHealth) {
	prev := t.health.Health
	t.health.Health = h
	if prev == h {
		return
	}
	g.healthChangedLocked(t, prev)
}

func (g *TargetGroup) healthChangedLocked(t *target, prev TargetHealth) {
	cur := t.health.Health
	if prev.State != cur.State {
		g.log.Info("target health", "target", t.ID, "addr", t.Addr, "from", prev.State, "to", cur.State, "reason", cur.Reason)
		g.rebuildRoutesLocked()
	}
	if g.onChange != nil {
		g.pending = append(g.pending, HealthChange{TargetGroup: g.name, Target: t.Target, Previous: prev, Current: cur})
	}
	close(g.changed)
	g.changed = make(chan struct{})
}

func (g *TargetGroup) rebuildRoutesLocked() {
	rs := &routeSet{}
	for _, t := range g.order {
		switch t.health.Health.State {
		case StateHealthy:
			rs.healthy = append(rs.healthy, t)
		case StateUnhealthy:
			rs.unhealthy = append(rs.unhealthy, t)
		}
	}
	g.routes.Store(rs)
}

// deliver calls OnHealthChange for the queued changes, in order and from
// one goroutine at a time; a call made while another goroutine delivers
// leaves its changes to that one.
func (g *TargetGroup) deliver() {
	g.mu.Lock()
	if g.delivering || len(g.pending) == 0 {
		g.mu.Unlock()
		return
	}
	g.delivering = true
	for len(g.pending) > 0 {
		batch := g.pending
		g.pending = nil
		g.mu.Unlock()
		for _, c := range batch {
			g.onChange(c)
		}
		g.mu.Lock()
	}
	g.delivering = false
	g.mu.Unlock()
}

// pick chooses a target for new traffic and counts it active, skipping the
// targets in tried; nil when there is none.
func (g *TargetGroup) pick(tried []*target) *target {
	rs := g.routes.Load()
	cands := rs.healthy
	if len(cands) == 0 && g.failOpen {
		cands = rs.unhealthy
	}
	n := uint64(len(cands))
	if n == 0 {
		return nil
	}
	start := g.next.Add(1) - 1
	if g.algorithm == RoundRobin {
		for k := range n {
			t := cands[(start+k)%n]
			if !slices.Contains(tried, t) && t.acquire() {
				return t
			}
		}
		return nil
	}
	for range n {
		var best *target
		var bestActive int64
		for k := range n {
			t := cands[(start+k)%n]
			if t.draining.Load() || slices.Contains(tried, t) {
				continue
			}
			if a := t.active.Load(); best == nil || a < bestActive {
				best, bestActive = t, a
			}
		}
		if best == nil {
			return nil
		}
		if best.acquire() {
			return best
		}
	}
	return nil
}
