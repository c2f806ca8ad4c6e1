package lb

import (
	"context"
	"net"
	"strconv"
	"sync/atomic"
	"time"
)

// Target is an endpoint that receives traffic: a service task's container
// port.
type Target struct {
	// ID identifies the target in its group; Stevedore uses the task ID.
	ID string `json:"id"`
	// Addr is host:port where traffic goes, for example the task's IP and
	// container port.
	Addr string `json:"addr"`
}

func (t Target) validate() error {
	if t.ID == "" {
		return invalid("target.id", "is required")
	}
	host, port, err := net.SplitHostPort(t.Addr)
	if err != nil || host == "" {
		return invalid("target.addr", "must be host:port, got %q", t.Addr)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return invalid("target.addr", "port must be between 1 and 65535, got %q", port)
	}
	return nil
}

// TargetStats are a target's traffic counters since its registration.
type TargetStats struct {
	// Requests counts HTTP requests sent to the target, or TCP connections
	// forwarded to it.
	Requests uint64 `json:"requests"`
	// Errors counts requests answered with a 5xx status by the target and
	// requests or connections that failed to reach it or broke off.
	Errors uint64 `json:"errors"`
	// Active is the number of requests in flight (HTTP) or connections
	// open (TCP) right now.
	Active int64 `json:"active"`
}

// TargetDescription is a registered target with its health and counters.
type TargetDescription struct {
	Target Target       `json:"target"`
	Health TargetHealth `json:"health"`
	Stats  TargetStats  `json:"stats"`
}

// HealthChange reports a change of a target's health; see OnHealthChange.
type HealthChange struct {
	TargetGroup string
	Target      Target
	Previous    TargetHealth
	Current     TargetHealth
}

// target is a registered target. Its lifetime context ends when it leaves
// the group, which aborts whatever traffic it still carries.
type target struct {
	Target
	group  *TargetGroup
	hcAddr string

	ctx    context.Context
	cancel context.CancelFunc

	pool *connPool // HTTP groups only

	draining atomic.Bool
	active   atomic.Int64
	requests atomic.Uint64
	errors   atomic.Uint64

	// Guarded by group.mu.
	health     healthState
	stopChecks context.CancelFunc
	drainTimer *time.Timer
}

// acquire counts a new request or connection on t, unless t is draining.
// The count goes up before the draining flag is read, and Deregister sets
// the flag before it reads the count, so that either the request backs off
// or the deregistration sees it in flight.
func (t *target) acquire() bool {
	t.active.Add(1)
	if t.draining.Load() {
		t.release()
		return false
	}
	return true
}

// release ends a request or connection counted by acquire. The last one on
// a draining target completes its deregistration.
func (t *target) release() {
	if t.active.Add(-1) == 0 && t.draining.Load() {
		t.group.removeIfIdle(t)
	}
}

// cut ends whatever traffic t still carries: it has left the group.
func (t *target) cut() {
	t.cancel()
	if t.pool != nil {
		t.pool.closeAll()
	}
}

func (t *target) stats() TargetStats {
	return TargetStats{Requests: t.requests.Load(), Errors: t.errors.Load(), Active: t.active.Load()}
}

// dial opens a connection to the target for traffic (not health checks),
// marking failures as dial errors so that callers know nothing was sent.
func (t *target) dial(ctx context.Context) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	c, err := t.group.dialFn(ctx, "tcp", t.Addr)
	if err != nil {
		return nil, &dialError{err: err}
	}
	return c, nil
}

// connectTimeout bounds a connection attempt to a target, as ALB's 10 s.
const connectTimeout = 10 * time.Second

// dialError is a failure to connect to a target: nothing was sent.
type dialError struct{ err error }

func (e *dialError) Error() string { return "connect to target: " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }
