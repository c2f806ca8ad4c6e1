package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/stevedore-io/stevedore/errdefs"
	"github.com/stevedore-io/stevedore/health"
	"github.com/stevedore-io/stevedore/internal/healthcmd"
)

// ErrInvalid is wrapped by the errors NewHTTP, NewTCP and NewNet return
// for bad arguments or options. It matches errdefs.ErrInvalid.
var ErrInvalid = errdefs.New(errdefs.ErrInvalid, "health: invalid prober")

// DialFunc opens a network connection, like net.Dialer.DialContext. Agents
// pass one that dials from inside a task's network namespace.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// httpOutputBody is how much of an HTTP response body goes into
// health.Result.Output.
const httpOutputBody = 512

// Option configures an HTTP or a TCP prober.
type Option func(*netOptions) error

type netOptions struct {
	http    bool // the options are for an HTTP prober
	host    string
	timeout time.Duration
	dial    DialFunc
	expect  StatusMatcher
}

func newNetOptions(http bool, opts []Option) (*netOptions, error) {
	o := &netOptions{http: http, host: health.DefaultHost, dial: (&net.Dialer{}).DialContext}
	if http {
		o.expect, _ = ParseStatusMatcher(health.DefaultExpectedStatus)
	}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// withTimeout returns ctx limited by the prober's own timeout, if it has one.
func (o *netOptions) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if o.timeout > 0 {
		return context.WithTimeout(ctx, o.timeout)
	}
	return context.WithCancel(ctx)
}

// WithHost sets the host (name or IP address) to connect to; the default is
// health.DefaultHost.
func WithHost(host string) Option {
	return func(o *netOptions) error {
		if host == "" {
			return fmt.Errorf("%w: WithHost: empty host", ErrInvalid)
		}
		o.host = host
		return nil
	}
}

// WithTimeout bounds every check to d, on top of any deadline the caller
// puts on the context. A Monitor already applies Config.Timeout, so this is
// for probers used on their own.
func WithTimeout(d time.Duration) Option {
	return func(o *netOptions) error {
		if d <= 0 {
			return fmt.Errorf("%w: WithTimeout: timeout %s must be positive", ErrInvalid, d)
		}
		o.timeout = d
		return nil
	}
}

// WithDialer makes the prober open its connections with dial instead of a
// plain net.Dialer.
func WithDialer(dial DialFunc) Option {
	return func(o *netOptions) error {
		if dial == nil {
			return fmt.Errorf("%w: WithDialer: nil DialFunc", ErrInvalid)
		}
		o.dial = dial
		return nil
	}
}

// WithExpectedStatus sets the HTTP statuses that pass, in the syntax of
// ParseStatusMatcher ("200", "200-299", "200,302"). Only for HTTP probers.
func WithExpectedStatus(spec string) Option {
	return func(o *netOptions) error {
		if !o.http {
			return fmt.Errorf("%w: WithExpectedStatus applies to HTTP probers only", ErrInvalid)
		}
		m, err := ParseStatusMatcher(spec)
		if err != nil {
			return fmt.Errorf("%w: WithExpectedStatus: %w", ErrInvalid, err)
		}
		o.expect = m
		return nil
	}
}

func checkPort(port int) error {
	if port < 1 || port > 65535 {
		return fmt.Errorf("%w: port %d out of range [1, 65535]", ErrInvalid, port)
	}
	return nil
}

// HTTP is a prober that checks that GET http://host:port/path answers with an expected
// status. It does not follow redirects, so a 3xx is judged by itself, and
// it opens a new connection for every check.
type HTTP struct {
	opts   *netOptions
	url    string
	client *http.Client
}

// NewHTTP returns a prober for GET http://host:port/path, host being
// health.DefaultHost unless WithHost is given. path must start with "/" and may
// carry a query; empty means "/". Errors wrap ErrInvalid.
func NewHTTP(port int, path string, opts ...Option) (*HTTP, error) {
	o, err := newNetOptions(true, opts)
	if err != nil {
		return nil, err
	}
	if err := checkPort(port); err != nil {
		return nil, err
	}
	if path == "" {
		path = "/"
	}
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("%w: path %q must start with /", ErrInvalid, path)
	}
	raw := "http://" + net.JoinHostPort(o.host, strconv.Itoa(port)) + path
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: url %q: %w", ErrInvalid, raw, err)
	}
	transport := &http.Transport{
		// No Proxy: a health check talks to the task, never through a proxy.
		DialContext:       o.dial,
		DisableKeepAlives: true,
	}
	client := &http.Client{
		Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return &HTTP{opts: o, url: u.String(), client: client}, nil
}

// URL returns the URL the prober requests.
func (p *HTTP) URL() string { return p.url }

// Probe makes one request.
func (p *HTTP) Probe(ctx context.Context) health.Result {
	ctx, cancel := p.opts.withTimeout(ctx)
	defer cancel()
	start := time.Now()
	r := health.Result{Time: start, ExitCode: 1}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		r.Err = fmt.Errorf("GET %s: %w", p.url, err)
		r.Duration = time.Since(start)
		return r
	}
	req.Header.Set("User-Agent", "stevedore-health")
	resp, err := p.client.Do(req)
	if err != nil {
		r.Duration = time.Since(start)
		r.Err = err
		r.TimedOut = isTimeout(ctx, err)
		return r
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, httpOutputBody))
	_ = resp.Body.Close()
	r.Duration = time.Since(start)
	r.Output = fmt.Sprintf("GET %s: %s", p.url, resp.Status)
	if len(body) > 0 {
		r.Output += "\n" + string(body)
	}
	if p.opts.expect.Match(resp.StatusCode) {
		r.OK, r.ExitCode = true, 0
	} else {
		r.Output += fmt.Sprintf("\nstatus %d, want %s", resp.StatusCode, p.opts.expect)
	}
	return r
}

// TCP is a prober that checks that a TCP connection to host:port is accepted.
type TCP struct {
	opts *netOptions
	addr string
}

// NewTCP returns a prober that connects to host:port, host being
// health.DefaultHost unless WithHost is given. Errors wrap ErrInvalid.
func NewTCP(port int, opts ...Option) (*TCP, error) {
	o, err := newNetOptions(false, opts)
	if err != nil {
		return nil, err
	}
	if err := checkPort(port); err != nil {
		return nil, err
	}
	return &TCP{opts: o, addr: net.JoinHostPort(o.host, strconv.Itoa(port))}, nil
}

// Addr returns the host:port the prober connects to.
func (p *TCP) Addr() string { return p.addr }

// Probe opens one connection and closes it.
func (p *TCP) Probe(ctx context.Context) health.Result {
	ctx, cancel := p.opts.withTimeout(ctx)
	defer cancel()
	start := time.Now()
	conn, err := p.opts.dial(ctx, "tcp", p.addr)
	r := health.Result{Time: start, Duration: time.Since(start)}
	if err != nil {
		r.ExitCode = 1
		r.Err = fmt.Errorf("connect %s: %w", p.addr, err)
		r.TimedOut = isTimeout(ctx, err)
		return r
	}
	_ = conn.Close()
	r.OK = true
	r.Output = "connected to " + p.addr
	return r
}

// isTimeout reports whether err, returned while ctx was in force, means the
// check ran out of time.
func isTimeout(ctx context.Context, err error) bool {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// NewNet returns the prober of an HTTP or TCP check: an HTTP or a TCP
// prober for c's host, port, path and expected status, with opts added
// (WithDialer to dial from inside a task's network namespace,
// WithTimeout). An empty Host or ExpectedStatus means the prober's
// default. Errors wrap ErrInvalid, also for a CMD or CMD-SHELL check,
// which NewExec runs.
func NewNet(c health.Check, opts ...Option) (health.Prober, error) {
	var own []Option
	if c.Host != "" {
		own = append(own, WithHost(c.Host))
	}
	switch c.Kind {
	case health.CommandHTTP:
		if c.ExpectedStatus != "" {
			own = append(own, WithExpectedStatus(c.ExpectedStatus))
		}
		return NewHTTP(c.Port, c.Path, append(own, opts...)...)
	case health.CommandTCP:
		return NewTCP(c.Port, append(own, opts...)...)
	default:
		return nil, fmt.Errorf("%w: %q checks are not network checks", ErrInvalid, c.Kind)
	}
}

// ErrInvalidStatusMatcher is wrapped by the errors ParseStatusMatcher returns.
// It matches errdefs.ErrInvalid.
var ErrInvalidStatusMatcher = errdefs.New(errdefs.ErrInvalid, "health: invalid HTTP status matcher")

// StatusMatcher is a set of HTTP status codes, parsed from a spec such as
// "200", "200-299" or "200-299,302". The zero StatusMatcher matches nothing.
type StatusMatcher struct {
	ranges []healthcmd.Range
}

// ParseStatusMatcher parses a comma-separated list of status codes and
// inclusive ranges ("lo-hi"), each within 100-599. Spaces around elements
// are allowed. Errors wrap ErrInvalidStatusMatcher.
func ParseStatusMatcher(spec string) (StatusMatcher, error) {
	ranges, err := healthcmd.ParseStatus(spec)
	if err != nil {
		return StatusMatcher{}, fmt.Errorf("%w: %w", ErrInvalidStatusMatcher, err)
	}
	return StatusMatcher{ranges: ranges}, nil
}

// Match reports whether code is in the set.
func (m StatusMatcher) Match(code int) bool {
	for _, r := range m.ranges {
		if code >= r.Lo && code <= r.Hi {
			return true
		}
	}
	return false
}

// String returns the matcher in the syntax ParseStatusMatcher reads.
func (m StatusMatcher) String() string {
	parts := make([]string, len(m.ranges))
	for i, r := range m.ranges {
		if r.Lo == r.Hi {
			parts[i] = strconv.Itoa(r.Lo)
		} else {
			parts[i] = fmt.Sprintf("%d-%d", r.Lo, r.Hi)
		}
	}
	return strings.Join(parts, ",")
}
