package lb

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Option configures a LoadBalancer in New.
type Option func(*options) error

type options struct {
	log    *slog.Logger
	limits Limits
	listen ListenFunc
}

func newOptions(opts []Option) (options, error) {
	o := options{log: slog.New(slog.DiscardHandler), limits: DefaultLimits(), listen: net.Listen}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return o, err
		}
	}
	return o, nil
}

// WithLogger sets the load balancer's logger; default discards.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return invalid("logger", "is nil")
		}
		o.log = l
		return nil
	}
}

// LoadBalancer is a set of listeners that forward traffic to target groups.
// Its methods are safe for concurrent use.
type LoadBalancer struct {
	log    *slog.Logger
	limits Limits
	listen ListenFunc

	mu        sync.Mutex
	listeners []*Listener
	closed    bool
}

// New returns a load balancer without listeners.
func New(opts ...Option) (*LoadBalancer, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, fmt.Errorf("load balancer: %w", err)
	}
	return &LoadBalancer{log: o.log, limits: o.limits, listen: o.listen}, nil
}

// Listener accepts connections on one address and forwards them: an HTTP
// listener request by request through its rules, a TCP listener connection
// by connection to its group.
type Listener struct {
	lb       *LoadBalancer
	protocol Protocol
	ln       net.Listener
	count    *connCounter
	handler  *Handler        // HTTP
	server   *http.Server    // HTTP
	capped   *cappedListener // HTTP
	served   chan struct{}
	tcp      *tcpProxy // TCP
}

// AddHTTPListener listens on addr (host:port; port 0 picks one, see
// Listener.Addr) and forwards HTTP requests by rules, in order, the others
// to def (nil answers 404).
func (lb *LoadBalancer) AddHTTPListener(addr string, rules []Rule, def *TargetGroup) (*Listener, error) {
	h, err := NewHandler(rules, def, WithLimits(lb.limits))
	if err != nil {
		return nil, fmt.Errorf("load balancer: HTTP listener %s: %w", addr, err)
	}
	return lb.add(addr, HTTP, func(l *Listener) {
		l.handler = h
		l.capped = newCappedListener(l.ln, l.count)
		l.server = &http.Server{
			Handler:           h,
			ReadHeaderTimeout: lb.limits.ReadHeaderTimeout,
			IdleTimeout:       lb.limits.IdleTimeout,
			MaxHeaderBytes:    lb.limits.MaxHeaderBytes,
			ConnState:         clearWriteDeadlineWhenIdle,
			ErrorLog:          log.New(slogWriter{lb.log}, "", 0),
		}
		l.served = make(chan struct{})
		go func() {
			defer close(l.served)
			_ = l.server.Serve(l.capped)
		}()
	})
}

// AddTCPListener listens on addr and forwards each connection to a target
// of g, a TCP group.
func (lb *LoadBalancer) AddTCPListener(addr string, g *TargetGroup) (*Listener, error) {
	switch {
	case g == nil:
		return nil, fmt.Errorf("load balancer: TCP listener %s: %w", addr, invalid("targetGroup", "is required"))
	case g.protocol != TCP:
		return nil, fmt.Errorf("load balancer: TCP listener %s: %w", addr, invalid("targetGroup", "%s has protocol %s, want TCP", g.name, g.protocol))
	}
	return lb.add(addr, TCP, func(l *Listener) {
		l.tcp = newTCPProxy(l.ln, g, l.count, lb.limits.TCPIdleTimeout, l.count.log)
		go l.tcp.serve()
	})
}

func (lb *LoadBalancer) add(addr string, p Protocol, start func(*Listener)) (*Listener, error) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if lb.closed {
		return nil, fmt.Errorf("load balancer: %s listener %s: %w", p, addr, ErrClosed)
	}
	ln, err := lb.listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("load balancer: %s listener: %w", p, err)
	}
	log := lb.log.With("listener", ln.Addr().String())
	l := &Listener{lb: lb, protocol: p, ln: ln, count: &connCounter{max: int64(lb.limits.MaxConns), log: log}}
	start(l)
	lb.listeners = append(lb.listeners, l)
	lb.log.Info("listening", "protocol", p, "addr", ln.Addr().String())
	return l, nil
}

// Listeners returns the open listeners.
func (lb *LoadBalancer) Listeners() []*Listener {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return slices.Clone(lb.listeners)
}

// Shutdown stops every listener accepting and waits for the requests and
// connections in flight to finish; when ctx ends first it cuts them and
// returns ctx's error. No listener can be added afterwards.
func (lb *LoadBalancer) Shutdown(ctx context.Context) error {
	var errs []error
	for _, l := range lb.stop() {
		errs = append(errs, l.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

// Close closes every listener and cuts the traffic in flight.
func (lb *LoadBalancer) Close() error {
	var errs []error
	for _, l := range lb.stop() {
		errs = append(errs, l.Close())
	}
	return errors.Join(errs...)
}

func (lb *LoadBalancer) stop() []*Listener {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	lb.closed = true
	return slices.Clone(lb.listeners)
}

func (lb *LoadBalancer) remove(l *Listener) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	lb.listeners = slices.DeleteFunc(lb.listeners, func(o *Listener) bool { return o == l })
}

// Addr returns the address the listener accepts on.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Protocol returns HTTP or TCP.
func (l *Listener) Protocol() Protocol { return l.protocol }

// Stats returns the listener's connection counters.
func (l *Listener) Stats() ListenerStats { return l.count.stats() }

// SetRules replaces an HTTP listener's rules and default group.
func (l *Listener) SetRules(rules []Rule, def *TargetGroup) error {
	if l.protocol != HTTP {
		return fmt.Errorf("listener %s: %w", l.Addr(), invalid("rules", "a %s listener has no rules", l.protocol))
	}
	if err := l.handler.SetRules(rules, def); err != nil {
		return fmt.Errorf("listener %s: %w", l.Addr(), err)
	}
	return nil
}

// SetDefaultForward makes f the listener's default action in place of its
// default group (nil goes back to the group): for an HTTP listener the
// requests no rule matches (see Handler.SetDefaultForward), for a TCP
// listener every new connection. f's groups must have the listener's
// protocol.
func (l *Listener) SetDefaultForward(f *ForwardAction) error {
	if f != nil && f.protocol != l.protocol {
		return fmt.Errorf("listener %s: %w", l.Addr(), invalid("defaultForward", "%s forwards to %s groups, want %s", f.name, f.protocol, l.protocol))
	}
	if l.tcp != nil {
		l.tcp.forward.Store(f)
		return nil
	}
	l.handler.SetDefaultForward(f)
	return nil
}

// Shutdown stops accepting and waits for the requests or connections in
// flight to finish; when ctx ends first it cuts them and returns ctx's
// error. Idle keep-alive client connections are closed at once.
func (l *Listener) Shutdown(ctx context.Context) error {
	defer l.lb.remove(l)
	if l.tcp != nil {
		return l.tcp.shutdown(ctx)
	}
	err := l.server.Shutdown(ctx)
	if err != nil {
		_ = l.server.Close()
	}
	<-l.served
	l.capped.wait()
	return err
}

// Close stops accepting and cuts the requests or connections in flight.
func (l *Listener) Close() error {
	defer l.lb.remove(l)
	if l.tcp != nil {
		return l.tcp.close()
	}
	err := l.server.Close()
	<-l.served
	l.capped.wait()
	return err
}

// clearWriteDeadlineWhenIdle lifts the write deadline that the Handler
// left on a connection once its response is sent, so that the server's
// own answers on the next request (100 Continue, 400, 431) are not cut by
// a deadline set for the previous one.
func clearWriteDeadlineWhenIdle(c net.Conn, s http.ConnState) {
	if s == http.StateIdle {
		_ = c.SetWriteDeadline(time.Time{})
	}
}

// slogWriter sends the HTTP server's error log (client connection errors)
// to the logger at Debug.
type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.log.Debug("http server", "msg", string(p))
	return len(p), nil
}
