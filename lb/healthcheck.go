package lb

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Protocol is the protocol of a listener, a target group or a health check.
type Protocol string

// Protocols.
const (
	// HTTP is HTTP/1.1 (layer 7): requests are routed by rules and proxied
	// one by one over pooled keep-alive connections.
	HTTP Protocol = "HTTP"
	// TCP is a byte stream (layer 4): each client connection is forwarded to
	// one target for its whole life.
	TCP Protocol = "TCP"
)

func (p Protocol) valid() bool { return p == HTTP || p == TCP }

// Health check defaults and limits, as in Application Load Balancer target
// groups.
const (
	DefaultHealthCheckPath     = "/"
	DefaultHealthCheckInterval = 30 * time.Second
	DefaultHealthCheckTimeout  = 5 * time.Second
	DefaultHealthyThreshold    = 5
	DefaultUnhealthyThreshold  = 2
	DefaultMatcher             = "200"
	DefaultDeregistrationDelay = 300 * time.Second

	MinHealthCheckInterval = 5 * time.Second
	// FastMinHealthCheckInterval and FastMinHealthCheckTimeout are the
	// limits with WithFastHealthChecks.
	FastMinHealthCheckInterval = time.Second
	FastMinHealthCheckTimeout  = 500 * time.Millisecond
	MaxHealthCheckInterval     = 300 * time.Second
	MinHealthCheckTimeout      = 2 * time.Second
	MaxHealthCheckTimeout      = 120 * time.Second
	MinThreshold               = 2
	MaxThreshold               = 10
	MaxDeregistrationDelay     = 3600 * time.Second
	maxHealthCheckPath         = 1024
)

// HealthCheck configures the health checks a target group runs against each
// of its targets. A zero field takes its default; DefaultHealthCheck shows
// them all.
type HealthCheck struct {
	// Protocol is HTTP (GET Path, pass on a Matcher status) or TCP (pass
	// when the connection is accepted). Default: the target group's protocol.
	Protocol Protocol
	// Path is the HTTP request target, with an optional query. Default "/".
	// Must be empty for TCP checks.
	Path string
	// Port is the port checked on the target's host. Default 0 is the
	// traffic port: the port of the target's address.
	Port int
	// Interval between the starts of two checks of one target: 5 s to
	// 300 s, default 30 s. The first check starts on registration.
	Interval time.Duration
	// Timeout of one check: 2 s to 120 s and less than Interval, default
	// 5 s. A check that takes longer fails with reason Target.Timeout.
	Timeout time.Duration
	// HealthyThreshold is the number of consecutive passed checks that
	// make an unhealthy target healthy: 2 to 10, default 5. A new target
	// (state initial) becomes healthy after one passed check, as in ALB.
	HealthyThreshold int
	// UnhealthyThreshold is the number of consecutive failed checks that
	// make a target unhealthy: 2 to 10, default 2.
	UnhealthyThreshold int
	// Matcher lists the HTTP status codes that pass: codes and ranges
	// between 200 and 499, comma separated, as "200" (default),
	// "200-299" or "200-299,302". Must be empty for TCP checks.
	Matcher string
}

// DefaultHealthCheck returns the health check a target group of protocol p
// runs when it is given none.
func DefaultHealthCheck(p Protocol) HealthCheck {
	return HealthCheck{Protocol: p}.withDefaults(p)
}

func (hc HealthCheck) withDefaults(p Protocol) HealthCheck {
	if hc.Protocol == "" {
		hc.Protocol = p
	}
	if hc.Protocol == HTTP {
		if hc.Path == "" {
			hc.Path = DefaultHealthCheckPath
		}
		if hc.Matcher == "" {
			hc.Matcher = DefaultMatcher
		}
	}
	if hc.Interval == 0 {
		hc.Interval = DefaultHealthCheckInterval
	}
	if hc.Timeout == 0 {
		hc.Timeout = DefaultHealthCheckTimeout
	}
	if hc.HealthyThreshold == 0 {
		hc.HealthyThreshold = DefaultHealthyThreshold
	}
	if hc.UnhealthyThreshold == 0 {
		hc.UnhealthyThreshold = DefaultUnhealthyThreshold
	}
	return hc
}

// Validate checks hc with its zero fields taking their defaults (an empty
// Protocol counts as HTTP). The error wraps ErrInvalid and is an *errdefs.FieldError.
func (hc HealthCheck) Validate() error {
	_, _, err := hc.withDefaults(HTTP).compile(MinHealthCheckInterval, MinHealthCheckTimeout)
	return err
}

// compile validates a health check whose defaults are applied, with the
// shortest interval and timeout allowed, and returns its request target and
// status matcher (both zero for TCP checks).
func (hc HealthCheck) compile(minInterval, minTimeout time.Duration) (*url.URL, statusMatcher, error) {
	switch {
	case !hc.Protocol.valid():
		return nil, nil, invalid("healthCheck.protocol", "must be HTTP or TCP, got %q", hc.Protocol)
	case hc.Interval < minInterval || hc.Interval > MaxHealthCheckInterval:
		return nil, nil, invalid("healthCheck.interval", "must be between %s and %s, got %s", minInterval, MaxHealthCheckInterval, hc.Interval)
	case hc.Timeout < minTimeout || hc.Timeout > MaxHealthCheckTimeout:
		return nil, nil, invalid("healthCheck.timeout", "must be between %s and %s, got %s", minTimeout, MaxHealthCheckTimeout, hc.Timeout)
	case hc.Timeout >= hc.Interval:
		return nil, nil, invalid("healthCheck.timeout", "must be less than the interval %s, got %s", hc.Interval, hc.Timeout)
	case hc.HealthyThreshold < MinThreshold || hc.HealthyThreshold > MaxThreshold:
		return nil, nil, invalid("healthCheck.healthyThreshold", "must be between %d and %d, got %d", MinThreshold, MaxThreshold, hc.HealthyThreshold)
	case hc.UnhealthyThreshold < MinThreshold || hc.UnhealthyThreshold > MaxThreshold:
		return nil, nil, invalid("healthCheck.unhealthyThreshold", "must be between %d and %d, got %d", MinThreshold, MaxThreshold, hc.UnhealthyThreshold)
	case hc.Port < 0 || hc.Port > 65535:
		return nil, nil, invalid("healthCheck.port", "must be between 1 and 65535 (0 for the traffic port), got %d", hc.Port)
	}
	if hc.Protocol == TCP {
		if hc.Path != "" {
			return nil, nil, invalid("healthCheck.path", "must be empty for TCP health checks, got %q", hc.Path)
		}
		if hc.Matcher != "" {
			return nil, nil, invalid("healthCheck.matcher", "must be empty for TCP health checks, got %q", hc.Matcher)
		}
		return nil, nil, nil
	}
	if !strings.HasPrefix(hc.Path, "/") || len(hc.Path) > maxHealthCheckPath {
		return nil, nil, invalid("healthCheck.path", "must start with / and have at most %d characters, got %q", maxHealthCheckPath, hc.Path)
	}
	u, err := url.ParseRequestURI(hc.Path)
	if err != nil {
		return nil, nil, invalid("healthCheck.path", "%v", err)
	}
	m, err := parseMatcher(hc.Matcher)
	if err != nil {
		return nil, nil, invalid("healthCheck.matcher", "%v", err)
	}
	return u, m, nil
}

// statusMatcher is a parsed Matcher: inclusive ranges of status codes.
type statusMatcher []statusRange

type statusRange struct{ lo, hi int }

func parseMatcher(s string) (statusMatcher, error) {
	var m statusMatcher
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := parseCode(lo)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = parseCode(hi); err != nil {
				return nil, err
			}
			if b < a {
				return nil, fmt.Errorf("range %q ends before it starts", part)
			}
		}
		m = append(m, statusRange{a, b})
	}
	return m, nil
}

func parseCode(s string) (int, error) {
	s = strings.TrimSpace(s)
	c, err := strconv.Atoi(s)
	if err != nil || c < 200 || c > 499 {
		return 0, fmt.Errorf("%q is not a status code between 200 and 499", s)
	}
	return c, nil
}

func (m statusMatcher) match(code int) bool {
	for _, r := range m {
		if code >= r.lo && code <= r.hi {
			return true
		}
	}
	return false
}
