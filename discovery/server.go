package discovery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"github.com/stevedore-io/stevedore/network"
)

// Defaults of Config.
const (
	DefaultNamespace = "local"
	DefaultListen    = "127.0.0.1:53"
	DefaultTTL       = 10 * time.Second
	// MaxTTL is the longest TTL a Config accepts: discovery answers must
	// not outlive the tasks they name for long.
	MaxTTL = time.Hour
)

// shutdownTimeout bounds how long Close waits for open TCP connections.
const shutdownTimeout = 5 * time.Second

// Config configures a Server. Start from DefaultConfig or leave fields zero
// for their defaults.
type Config struct {
	// Namespace is the zone the server is authoritative for, "local" by
	// default: service web answers as web.local. It may have several
	// labels ("svc.example"). Names outside it are forwarded (see
	// NoForward).
	Namespace string
	// Listen is the IP:port the server binds, for UDP and TCP both
	// ("127.0.0.1:53" by default). In production, the bridge gateway's
	// address with port 53, which every task reaches; in tests
	// "127.0.0.1:0" (a free port, the same for UDP and TCP).
	Listen string
	// Advertise is the address written into tasks' resolv.conf
	// (DNSConfig). By default the Listen address; required when Listen's
	// address is unspecified (0.0.0.0 or ::).
	Advertise netip.Addr
	// TTL of every record and of negative answers: 10 s by default, whole
	// seconds from 1 s to MaxTTL. Short, so that clients notice stopped
	// and new tasks soon.
	TTL time.Duration
	// RateLimit is how many queries per second each client may send on
	// average (DefaultRateLimit when 0; negative turns limiting off), with
	// bursts of up to RateBurst (DefaultRateBurst when 0). A client is an
	// IPv4 address, or an IPv6 /64. Over the limit, a UDP query is
	// dropped, except every second one, which gets an empty truncated
	// answer (TC): a spoofed source is never sent more than it sent, and
	// a real client retries over TCP. A TCP query over the limit gets
	// REFUSED: its source is real, and resolvers move on to the next
	// server at once instead of waiting for a timeout.
	RateLimit float64
	RateBurst int
	// RateClients bounds how many clients the limiter tracks
	// (DefaultRateClients when 0). When that many are busy, new ones
	// share one bucket.
	RateClients int
	// NoForward turns forwarding off: names outside the namespace are then
	// REFUSED, as by a server that recurses for nobody.
	//
	// By default the server forwards every name outside its namespace to
	// the host's resolvers, so that tasks, whose resolv.conf names only
	// this server, resolve the rest of the world as an ECS task does
	// through the VPC resolver. Answers are cached (see CacheSize), and a
	// client gets SERVFAIL when no upstream answers.
	NoForward bool
	// ResolvConf is the host's resolv.conf whose nameservers (at most
	// MaxUpstreams, on port 53) receive the forwarded queries;
	// DefaultResolvConf by default. A local stub such as 127.0.0.53 is
	// fine: the server runs on the host. The file is read at the first
	// forwarded query, and again when it changes. The server's own
	// address is never forwarded to.
	ResolvConf string
	// Upstreams, when set, are the servers forwarded to instead of those
	// of ResolvConf (at most MaxUpstreams, with their ports).
	Upstreams []netip.AddrPort
	// ForwardTimeout bounds each attempt at an upstream
	// (DefaultForwardTimeout when 0, at most MaxForwardTimeout), and
	// ForwardAttempts how many attempts a query gets, the upstreams taken
	// in turn (DefaultForwardAttempts when 0, at most
	// MaxForwardAttempts). A client waits at most their product.
	ForwardTimeout  time.Duration
	ForwardAttempts int
	// MaxForwards bounds the queries forwarded at once
	// (DefaultMaxForwards when 0); past it, clients get SERVFAIL at once.
	MaxForwards int
	// CacheSize is how many forwarded answers are cached
	// (DefaultCacheSize when 0; negative turns the cache off). An answer
	// is kept for its smallest TTL, a negative answer for its SOA's TTL
	// and minimum (RFC 2308), never longer than MaxCacheTTL; answers of
	// more than 4 KiB are not kept.
	CacheSize int
	// Logger receives start, stop and serving errors; nothing by default.
	Logger *slog.Logger
}

// DefaultConfig returns the defaults: namespace "local", listening on
// 127.0.0.1:53, TTL 10 s, DefaultRateLimit queries per second per client,
// names outside the namespace forwarded to the resolvers of
// /etc/resolv.conf.
func DefaultConfig() Config {
	return Config{Namespace: DefaultNamespace, Listen: DefaultListen, TTL: DefaultTTL,
		RateLimit: DefaultRateLimit, RateBurst: DefaultRateBurst, RateClients: DefaultRateClients,
		ResolvConf: DefaultResolvConf, ForwardTimeout: DefaultForwardTimeout, ForwardAttempts: DefaultForwardAttempts,
		MaxForwards: DefaultMaxForwards, CacheSize: DefaultCacheSize}
}

// withDefaults fills the zero fields.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Namespace == "" {
		c.Namespace = d.Namespace
	}
	if c.Listen == "" {
		c.Listen = d.Listen
	}
	if c.TTL == 0 {
		c.TTL = d.TTL
	}
	if c.RateLimit == 0 {
		c.RateLimit = d.RateLimit
	}
	if c.RateBurst == 0 {
		c.RateBurst = d.RateBurst
	}
	if c.RateClients == 0 {
		c.RateClients = d.RateClients
	}
	if c.ResolvConf == "" {
		c.ResolvConf = d.ResolvConf
	}
	if c.ForwardTimeout == 0 {
		c.ForwardTimeout = d.ForwardTimeout
	}
	if c.ForwardAttempts == 0 {
		c.ForwardAttempts = d.ForwardAttempts
	}
	if c.MaxForwards == 0 {
		c.MaxForwards = d.MaxForwards
	}
	if c.CacheSize == 0 {
		c.CacheSize = d.CacheSize
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c
}

// Validate reports every problem of c (after defaults are applied, as
// NewServer does) as errors wrapping ErrInvalid.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if err := validZone(c.Namespace); err != nil {
		errs = append(errs, fmt.Errorf("discovery: config: namespace: %w", err))
	}
	listen, err := netip.ParseAddrPort(c.Listen)
	if err != nil {
		errs = append(errs, fmt.Errorf("discovery: config: listen %s: want IP:port: %w", quote(c.Listen), ErrInvalid))
	} else if listen.Addr().IsUnspecified() && !c.Advertise.IsValid() {
		errs = append(errs, fmt.Errorf("discovery: config: advertise: required when listening on %s: %w", listen.Addr(), ErrInvalid))
	}
	if c.Advertise.IsValid() && c.Advertise.IsUnspecified() {
		errs = append(errs, fmt.Errorf("discovery: config: advertise: %s is unspecified: %w", c.Advertise, ErrInvalid))
	}
	if c.TTL < time.Second || c.TTL > MaxTTL || c.TTL%time.Second != 0 {
		errs = append(errs, fmt.Errorf("discovery: config: ttl %v: want whole seconds from 1s to %v: %w", c.TTL, MaxTTL, ErrInvalid))
	}
	if math.IsNaN(c.RateLimit) || math.IsInf(c.RateLimit, 0) {
		errs = append(errs, fmt.Errorf("discovery: config: rate limit %v: want a number of queries per second: %w", c.RateLimit, ErrInvalid))
	}
	if c.RateBurst < 1 {
		errs = append(errs, fmt.Errorf("discovery: config: rate burst %d: want at least 1: %w", c.RateBurst, ErrInvalid))
	}
	if c.RateClients < 1 {
		errs = append(errs, fmt.Errorf("discovery: config: rate clients %d: want at least 1: %w", c.RateClients, ErrInvalid))
	}
	if c.ForwardTimeout <= 0 || c.ForwardTimeout > MaxForwardTimeout {
		errs = append(errs, fmt.Errorf("discovery: config: forward timeout %v: want more than 0 and at most %v: %w", c.ForwardTimeout, MaxForwardTimeout, ErrInvalid))
	}
	if c.ForwardAttempts < 1 || c.ForwardAttempts > MaxForwardAttempts {
		errs = append(errs, fmt.Errorf("discovery: config: forward attempts %d: want 1 to %d: %w", c.ForwardAttempts, MaxForwardAttempts, ErrInvalid))
	}
	if c.MaxForwards < 1 {
		errs = append(errs, fmt.Errorf("discovery: config: max forwards %d: want at least 1: %w", c.MaxForwards, ErrInvalid))
	}
	if len(c.Upstreams) > MaxUpstreams {
		errs = append(errs, fmt.Errorf("discovery: config: upstreams: %d, want at most %d: %w", len(c.Upstreams), MaxUpstreams, ErrInvalid))
	}
	for i, up := range c.Upstreams {
		if !up.IsValid() || up.Port() == 0 || up.Addr().IsUnspecified() {
			errs = append(errs, fmt.Errorf("discovery: config: upstreams[%d] %s: want IP:port: %w", i, up, ErrInvalid))
		}
	}
	return errors.Join(errs...)
}

// validZone checks a namespace: one or more labels, fully qualified or not.
func validZone(zone string) error {
	z := strings.TrimSuffix(zone, ".")
	if z == "" {
		return fmt.Errorf("%s is not a domain name: %w", quote(zone), ErrInvalid)
	}
	for l := range strings.SplitSeq(z, ".") {
		if err := validLabel(l); err != nil {
			return fmt.Errorf("%s: label %w", quote(zone), err)
		}
	}
	return nil
}

// Server is a DNS server authoritative for one namespace, answering from a
// Registry. It serves UDP and TCP on one address; it is also a dns.Handler,
// so it can be mounted on another miekg/dns server without Start. Its
// methods are safe for concurrent use.
type Server struct {
	cfg   Config
	reg   *Registry
	h     *responder
	log   *slog.Logger
	limit *limiter // nil when rate limiting is off
	now   func() time.Time

	mu      sync.Mutex
	started bool
	closed  bool
	addr    netip.AddrPort
	servers []*dns.Server
	ready   chan struct{} // closed when Start succeeded
	failed  chan error    // serving errors, one per socket at most
	stopped chan struct{} // closed when Close is done
	wg      sync.WaitGroup
}

// NewServer returns a Server for reg with cfg (zero fields take their
// defaults). It fails with ErrInvalid when cfg is not valid. Call Start (or
// Run) to serve, and Close to stop.
func NewServer(reg *Registry, cfg Config) (*Server, error) {
	if reg == nil {
		return nil, fmt.Errorf("discovery: NewServer: nil registry: %w", ErrInvalid)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Server{
		cfg:     cfg,
		reg:     reg,
		h:       newResponder(reg, cfg.Namespace, uint32(cfg.TTL/time.Second)),
		log:     cfg.Logger,
		now:     time.Now,
		ready:   make(chan struct{}),
		failed:  make(chan error, 2),
		stopped: make(chan struct{}),
	}
	if cfg.RateLimit > 0 {
		s.limit = newLimiter(cfg.RateLimit, cfg.RateBurst, cfg.RateClients)
	}
	listen := netip.MustParseAddrPort(cfg.Listen)
	a := s.advertised(listen.Addr())
	if a.IsValid() {
		s.h.self.Store(&a)
	}
	if !cfg.NoForward {
		s.h.fwd = newForwarder(cfg, func() time.Time { return s.now() })
		s.h.fwd.setSelf(listen, a)
	}
	return s, nil
}

// Namespace returns the zone the server is authoritative for, fully
// qualified and lower-cased ("local.").
func (s *Server) Namespace() string { return s.h.zone }

// Start binds the UDP and TCP sockets and serves in the background until
// ctx is done or Close is called. It returns once both sockets accept
// queries. A Server starts once: a second Start, or a Start after Close,
// fails with ErrClosed.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.closed {
		return fmt.Errorf("discovery: start: %w", ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("discovery: start: %w", err)
	}
	listen := netip.MustParseAddrPort(s.cfg.Listen)
	pc, ln, err := listenBoth(listen)
	if err != nil {
		return fmt.Errorf("discovery: listen on %s: %w", listen, err)
	}
	s.addr = netip.AddrPortFrom(listen.Addr(), pc.LocalAddr().(*net.UDPAddr).AddrPort().Port())
	if s.h.fwd != nil {
		s.h.fwd.setSelf(s.addr, s.advertised(listen.Addr()))
	}

	ready := make(chan struct{}, 2)
	failed := s.failed
	for _, srv := range []*dns.Server{
		{PacketConn: pc, Handler: s, UDPSize: dns.DefaultMsgSize},
		{Listener: ln, Handler: s},
	} {
		srv.NotifyStartedFunc = func() { ready <- struct{}{} }
		s.servers = append(s.servers, srv)
		s.wg.Go(func() {
			if err := srv.ActivateAndServe(); err != nil {
				failed <- err
				s.log.Error("discovery: serving stopped", "addr", s.addr, "error", err)
			}
		})
	}
	for range 2 {
		select {
		case <-ready:
		case err := <-failed:
			// The other socket may be serving: closing both ends it.
			_ = pc.Close()
			_ = ln.Close()
			s.wg.Wait()
			s.closed = true
			close(s.stopped)
			return fmt.Errorf("discovery: serve on %s: %w", s.addr, err)
		}
	}
	s.started = true
	close(s.ready)
	go func() {
		select {
		case <-ctx.Done():
			_ = s.Close()
		case <-s.stopped:
		}
	}()
	s.log.Info("discovery: serving", "addr", s.addr, "namespace", s.h.zone, "ttl", s.cfg.TTL)
	return nil
}

// Ready returns a channel closed once Start has succeeded (the server
// answers queries from then on until Close), for callers of Run.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Run serves until ctx is done, then closes the server: Start and Close in
// one call, for an errgroup. It returns nil after a clean stop, and the
// error when a socket stops serving on its own (the server is then
// closed).
func (s *Server) Run(ctx context.Context) error {
	if err := s.Start(ctx); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case <-s.stopped:
	case err := <-s.failed:
		return errors.Join(fmt.Errorf("discovery: serve on %s: %w", s.Addr(), err), s.Close())
	}
	return s.Close()
}

// Close stops serving, closes the sockets and waits for the queries in
// flight. It is idempotent; a Server that was never started just becomes
// closed.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.h.fwd != nil {
		s.h.fwd.close() // forwards in flight end now, not after their timeouts
	}
	var errs []error
	if s.started {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		for _, srv := range s.servers {
			if err := srv.ShutdownContext(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		s.wg.Wait()
		s.log.Info("discovery: stopped", "addr", s.addr)
	}
	close(s.stopped)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("discovery: close: %w", err)
	}
	return nil
}

// Addr returns the address the server listens on, for UDP and TCP (with
// the port picked when Listen's port was 0). It is the zero AddrPort
// before Start.
func (s *Server) Addr() netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// ServeDNS answers one query: it makes Server a dns.Handler. Clients
// over the rate limit are answered as Config.RateLimit says.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	_, tcp := w.LocalAddr().(*net.TCPAddr)
	var resp *dns.Msg
	if s.limit != nil && !s.limit.allow(remoteAddr(w), s.now()) {
		resp = s.overLimit(req, tcp)
	} else {
		resp = s.h.reply(req, !tcp)
	}
	if resp == nil {
		return
	}
	if err := w.WriteMsg(resp); err != nil {
		s.log.Debug("discovery: write answer", "remote", w.RemoteAddr(), "error", err)
	}
}

// overLimit is the answer to a query over the rate limit: REFUSED over
// TCP; over UDP nothing, or every second time an empty truncated answer.
// Neither is larger than the query.
func (s *Server) overLimit(req *dns.Msg, tcp bool) *dns.Msg {
	if req.Response || (!tcp && !s.limit.slip()) {
		return nil
	}
	resp := new(dns.Msg)
	resp.SetReply(req)
	resp.Extra = nil // no OPT: EDNS would make the answer larger
	resp.RecursionAvailable = false
	if tcp {
		resp.Rcode = dns.RcodeRefused
	} else {
		resp.Truncated = true
	}
	if len(resp.Question) > 1 {
		resp.Question = resp.Question[:1]
	}
	return resp
}

// remoteAddr is the client's address; the zero Addr when unknown.
func remoteAddr(w dns.ResponseWriter) netip.Addr {
	switch a := w.RemoteAddr().(type) {
	case *net.UDPAddr:
		return a.AddrPort().Addr()
	case *net.TCPAddr:
		return a.AddrPort().Addr()
	}
	return netip.Addr{}
}

// Resolver returns a net.Resolver that sends every query to this server
// (UDP, then TCP when an answer is truncated), for Go programs that want
// net.Resolver's API. It honours the host's /etc/hosts and resolv.conf
// search list like any net.Resolver, so ask for names in the namespace
// ("web.local"); names outside it are forwarded like any other client's
// (or refused with Config.NoForward). Use it after Start.
func (s *Server) Resolver() *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			addr := s.Addr()
			if !addr.IsValid() {
				return nil, fmt.Errorf("discovery: resolver: server not started: %w", ErrClosed)
			}
			var d net.Dialer
			return d.DialContext(ctx, network, addr.String())
		},
	}
}

// DNSConfig returns the resolver settings of a task's /etc/resolv.conf
// that point at this server (see TaskDNSConfig): pass it to the network
// provider in network.Request.DNS. namespace is the task's sub-namespace
// (its cluster, as in Instance.Namespace) or "".
//
// resolv.conf cannot name a port: the server must listen on port 53 for
// tasks to use it.
func (s *Server) DNSConfig(namespace string) network.DNSConfig {
	var addr netip.Addr
	if a := s.h.self.Load(); a != nil {
		addr = *a
	}
	return TaskDNSConfig(addr, s.h.zone, namespace)
}

// TaskDNSConfig returns the resolver settings that make a task resolve
// service names through the discovery server at server for zone:
//
//	nameserver <server>
//	search <namespace>.<zone> <zone>    (just <zone> without a namespace)
//	options ndots:2                      (ndots:1 without a namespace)
//
// so that a container resolves "web" (and "web.<namespace>") by service
// name. ndots:2 with a namespace lets "web.prod" go through the search list
// before being tried as a fully qualified name. A namespace that is not a
// valid label is ignored, as FromTask does with such a cluster name.
//
// The server forwards the names outside its zone to the host's resolvers,
// so tasks need no other nameserver. With Config.NoForward it refuses them;
// to let tasks resolve other names then, append upstream servers to
// Servers: glibc moves to the next nameserver on REFUSED, and musl takes
// the first answer that is not a refusal.
func TaskDNSConfig(server netip.Addr, zone, namespace string) network.DNSConfig {
	zone = strings.ToLower(strings.TrimSuffix(zone, "."))
	cfg := network.DNSConfig{Search: []string{zone}, Options: []string{"ndots:1"}}
	if namespace != "" && validLabel(namespace) == nil {
		cfg.Search = []string{strings.ToLower(namespace) + "." + zone, zone}
		cfg.Options = []string{"ndots:2"}
	}
	if server.IsValid() {
		cfg.Servers = []netip.Addr{server}
	}
	return cfg
}

// advertised is the address tasks should use for the server.
func (s *Server) advertised(listen netip.Addr) netip.Addr {
	if s.cfg.Advertise.IsValid() {
		return s.cfg.Advertise.Unmap()
	}
	if listen.IsUnspecified() {
		return netip.Addr{}
	}
	return listen.Unmap()
}

// listenBoth binds UDP and TCP on the same address and port. With port 0
// it retries when the UDP port picked is taken for TCP.
func listenBoth(ap netip.AddrPort) (*net.UDPConn, *net.TCPListener, error) {
	const attempts = 20
	for attempt := 1; ; attempt++ {
		pc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(ap))
		if err != nil {
			return nil, nil, fmt.Errorf("udp: %w", err)
		}
		tcpAddr := netip.AddrPortFrom(ap.Addr(), pc.LocalAddr().(*net.UDPAddr).AddrPort().Port())
		ln, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(tcpAddr))
		if err == nil {
			return pc, ln, nil
		}
		_ = pc.Close()
		if ap.Port() != 0 || !errors.Is(err, syscall.EADDRINUSE) || attempt == attempts {
			return nil, nil, fmt.Errorf("tcp: %w", err)
		}
	}
}
