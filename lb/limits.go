package lb

import (
	"cmp"
	"net"
	"time"
)

// Limits bound what one client or one target can hold in a load balancer,
// so that a slow, silent or greedy one cannot hurt the rest. WithLimits
// sets them for every listener of a LoadBalancer, and for a Handler
// (NewHandler) the ones that act on requests. Zero fields take their
// defaults (DefaultLimits); negative ones are ErrInvalid.
type Limits struct {
	// IdleTimeout is ALB's idle timeout on the client side of an HTTP
	// listener: a keep-alive connection waiting for its next request, a
	// request body that sends nothing, a response the client does not
	// read, and an upgraded connection (WebSocket) on which neither side
	// sends anything, are each cut after this long. A request body that
	// stalls gets 408 Request Timeout. Default 60 s.
	IdleTimeout time.Duration
	// ReadHeaderTimeout bounds the reading of a request's header, from
	// its first byte. Default 30 s.
	ReadHeaderTimeout time.Duration
	// TargetTimeout bounds how long a target may stay silent: from the
	// end of the request to its response header (the client gets
	// 504 Gateway Timeout), while it does not read the request body
	// (504), and between two reads of its response body (the response is
	// cut). ALB's idle timeout plays this part; default 60 s.
	TargetTimeout time.Duration
	// MaxConns caps the client connections open at once on one listener.
	// An HTTP listener answers the connections beyond it with
	// 503 Service Unavailable and closes them; a TCP listener closes them
	// at once. Both count them in ListenerStats.Refused and log a warning
	// (at most one a second). Default 10000.
	MaxConns int
	// MaxHeaderBytes bounds a request's header, request line included
	// (net/http allows 4 KiB beyond it); a larger one gets 431 Request
	// Header Fields Too Large. Default 64 KiB, ALB's limit.
	MaxHeaderBytes int
	// MaxBodyBytes bounds a request's body; a larger one gets
	// 413 Content Too Large, at once when its Content-Length says so,
	// otherwise when it passes the limit (the target's request is then
	// cut). Default 0: no limit, as ALB, since bodies stream through
	// without being stored and IdleTimeout cuts a stalled one.
	MaxBodyBytes int64
	// TCPIdleTimeout closes a TCP listener's connection, and its target's,
	// when neither side has sent anything for this long. Default 350 s,
	// the Network Load Balancer's.
	TCPIdleTimeout time.Duration
	// AllowH2CUpgrade passes "Upgrade: h2c" on to targets. Off by
	// default: a target that accepts it speaks HTTP/2 with the client
	// through a tunnel in which the load balancer routes nothing, so that
	// a client could reach paths that the rules send elsewhere (h2c
	// smuggling). Without it the load balancer takes h2c out of the
	// Upgrade header (and drops HTTP2-Settings) and forwards the request
	// as plain HTTP/1.1; WebSocket and other upgrades pass. HTTP/2 with
	// prior knowledge ("PRI * HTTP/2.0") is always refused with
	// 505 HTTP Version Not Supported.
	AllowH2CUpgrade bool
}

// Default limits; see Limits.
const (
	DefaultIdleTimeout       = 60 * time.Second
	DefaultReadHeaderTimeout = 30 * time.Second
	DefaultTargetTimeout     = 60 * time.Second
	DefaultMaxConns          = 10000
	DefaultMaxHeaderBytes    = 64 << 10
	DefaultTCPIdleTimeout    = 350 * time.Second
)

// DefaultLimits returns the limits a load balancer has without WithLimits.
func DefaultLimits() Limits {
	return Limits{
		IdleTimeout:       DefaultIdleTimeout,
		ReadHeaderTimeout: DefaultReadHeaderTimeout,
		TargetTimeout:     DefaultTargetTimeout,
		MaxConns:          DefaultMaxConns,
		MaxHeaderBytes:    DefaultMaxHeaderBytes,
		TCPIdleTimeout:    DefaultTCPIdleTimeout,
	}
}

// Validate reports the first negative field as an *errdefs.FieldError.
func (l Limits) Validate() error {
	for _, d := range []struct {
		field string
		neg   bool
	}{
		{"limits.idleTimeout", l.IdleTimeout < 0},
		{"limits.readHeaderTimeout", l.ReadHeaderTimeout < 0},
		{"limits.targetTimeout", l.TargetTimeout < 0},
		{"limits.maxConns", l.MaxConns < 0},
		{"limits.maxHeaderBytes", l.MaxHeaderBytes < 0},
		{"limits.maxBodyBytes", l.MaxBodyBytes < 0},
		{"limits.tcpIdleTimeout", l.TCPIdleTimeout < 0},
	} {
		if d.neg {
			return invalid(d.field, "must not be negative")
		}
	}
	return nil
}

// withDefaults fills the zero fields.
func (l Limits) withDefaults() Limits {
	def := DefaultLimits()
	l.IdleTimeout = cmp.Or(l.IdleTimeout, def.IdleTimeout)
	l.ReadHeaderTimeout = cmp.Or(l.ReadHeaderTimeout, def.ReadHeaderTimeout)
	l.TargetTimeout = cmp.Or(l.TargetTimeout, def.TargetTimeout)
	l.MaxConns = cmp.Or(l.MaxConns, def.MaxConns)
	l.MaxHeaderBytes = cmp.Or(l.MaxHeaderBytes, def.MaxHeaderBytes)
	l.TCPIdleTimeout = cmp.Or(l.TCPIdleTimeout, def.TCPIdleTimeout)
	return l
}

// WithLimits sets the limits of the load balancer's listeners (New) or of
// a Handler (NewHandler); zero fields keep their defaults.
func WithLimits(l Limits) Option {
	return func(o *options) error {
		if err := l.Validate(); err != nil {
			return err
		}
		o.limits = l.withDefaults()
		return nil
	}
}

// ListenFunc opens a listener, like net.Listen.
type ListenFunc func(network, addr string) (net.Listener, error)

// WithListenFunc sets how the load balancer opens its listeners; default
// net.Listen. It serves listeners in another network namespace, and
// in-memory ones in tests.
func WithListenFunc(listen ListenFunc) Option {
	return func(o *options) error {
		if listen == nil {
			return invalid("listenFunc", "is nil")
		}
		o.listen = listen
		return nil
	}
}
