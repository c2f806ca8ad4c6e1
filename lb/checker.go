package lb

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// healthCheckUserAgent is the User-Agent of HTTP health checks.
const healthCheckUserAgent = "stevedore-lb-healthchecker/1.0"

// maxHealthCheckBody is how much of a health check response body is read.
const maxHealthCheckBody = 64 << 10

// runChecks checks t every Interval, the first time at once, until ctx
// ends. Intervals run from the start of one check to the start of the next.
func (g *TargetGroup) runChecks(ctx context.Context, t *target) {
	defer g.checkers.Done()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		start := time.Now()
		r := g.check(ctx, t)
		if ctx.Err() != nil {
			return
		}
		g.observe(t, r)
		timer.Reset(g.hc.Interval - time.Since(start))
	}
}

// observe feeds a check result to t's health state machine.
func (g *TargetGroup) observe(t *target, r checkResult) {
	defer g.deliver()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.targets[t.ID] != t || t.draining.Load() {
		return // deregistered while the check ran
	}
	prev := t.health.Health
	t.health = t.health.observe(g.hc, r)
	if t.health.Health != prev {
		g.healthChangedLocked(t, prev)
	}
}

// check runs one health check of t within the timeout.
func (g *TargetGroup) check(ctx context.Context, t *target) checkResult {
	ctx, cancel := context.WithTimeout(ctx, g.hc.Timeout)
	defer cancel()
	conn, err := g.dialFn(ctx, "tcp", t.hcAddr)
	if err != nil {
		return failure(ctx, err)
	}
	defer conn.Close()
	if g.hc.Protocol == TCP {
		return checkResult{OK: true}
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	req := &http.Request{
		Method:     http.MethodGet,
		URL:        g.hcURL,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Host:       t.hcAddr,
		Header:     http.Header{"User-Agent": {healthCheckUserAgent}},
		Close:      true,
	}
	if err := req.Write(conn); err != nil {
		return failure(ctx, err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		return failure(ctx, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxHealthCheckBody))
	_ = resp.Body.Close()
	if !g.matcher.match(resp.StatusCode) {
		return checkResult{
			Reason:      ReasonResponseCodeMismatch,
			Description: fmt.Sprintf("Health checks failed with these codes: [%d]", resp.StatusCode),
		}
	}
	return checkResult{OK: true}
}

// failure turns a failed health check into a result: a timeout or any
// other failure to connect or to get a well-formed response.
func failure(ctx context.Context, err error) checkResult {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return checkResult{Reason: ReasonTimeout, Description: "Request timed out"}
	}
	return checkResult{Reason: ReasonFailedHealthChecks, Description: "Health checks failed: " + err.Error()}
}
