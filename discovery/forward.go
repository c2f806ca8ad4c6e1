package discovery

import (
	"bufio"
	"bytes"
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Defaults and limits of forwarding (Config.ResolvConf, Upstreams,
// ForwardTimeout, ForwardAttempts, MaxForwards, CacheSize).
const (
	// DefaultResolvConf is where the host's resolvers are read from.
	DefaultResolvConf = "/etc/resolv.conf"
	// DefaultForwardTimeout bounds one attempt at an upstream.
	DefaultForwardTimeout = 2 * time.Second
	// MaxForwardTimeout is the longest ForwardTimeout a Config accepts.
	MaxForwardTimeout = 30 * time.Second
	// DefaultForwardAttempts is how many times a query is sent upstream
	// (to the upstreams in turn) before the client gets SERVFAIL.
	DefaultForwardAttempts = 3
	// MaxForwardAttempts is the most attempts a Config accepts.
	MaxForwardAttempts = 10
	// DefaultMaxForwards bounds the queries being forwarded at once; past
	// it, clients get SERVFAIL at once instead of queueing.
	DefaultMaxForwards = 256
	// DefaultCacheSize is how many forwarded answers the cache keeps.
	DefaultCacheSize = 2048
	// MaxUpstreams is how many upstream servers are used, as glibc reads
	// at most three nameserver lines.
	MaxUpstreams = 3
	// MaxCacheTTL caps how long a forwarded answer, positive or negative,
	// is cached whatever its TTL says (RFC 2308 suggests hours at most
	// for negative answers).
	MaxCacheTTL = time.Hour
)

const (
	// maxCachedSize is the largest answer (packed) the cache keeps, so
	// that the cache holds at most CacheSize × 4 KiB.
	maxCachedSize = 4096
	// resolvConfRecheck is how often, at most, resolv.conf is looked at
	// again for changes (DHCP and resolvconf rewrite it).
	resolvConfRecheck = 5 * time.Second
	// maxResolvConfSize bounds how much of resolv.conf is read.
	maxResolvConfSize = 64 << 10
)

// errNoUpstream: forwarding is on but there is nobody to forward to.
var errNoUpstream = errors.New("no upstream server")

// forwarder answers the names outside the zone by asking the host's
// upstream resolvers, with a cache that honours the answers' TTLs.
type forwarder struct {
	explicit   []netip.AddrPort // Config.Upstreams; nil: from resolvConf
	resolvConf string
	timeout    time.Duration
	attempts   int
	sem        chan struct{} // one token per forward in flight
	cache      *answerCache  // nil when caching is off
	now        func() time.Time
	// exchange sends m to up over proto ("udp" or "tcp"); netExchange,
	// or a stand-in in fuzz tests.
	exchange func(proto string, m *dns.Msg, up netip.AddrPort) (*dns.Msg, error)
	log      *slog.Logger
	ctx      context.Context // cancelled by close: forwards in flight end
	cancel   context.CancelFunc

	mu       sync.Mutex
	self     []netip.AddrPort // the server's own addresses: never upstreams
	selfAny  uint16           // the port, when listening on every address
	local    map[netip.Addr]bool
	fromFile []netip.AddrPort
	checked  time.Time // when resolvConf was last looked at
	stamp    fileStamp
}

// fileStamp tells whether resolv.conf changed since it was read.
type fileStamp struct {
	mod  time.Time
	size int64
}

func newForwarder(cfg Config, now func() time.Time) *forwarder {
	ctx, cancel := context.WithCancel(context.Background())
	f := &forwarder{
		explicit:   cfg.Upstreams,
		resolvConf: cfg.ResolvConf,
		timeout:    cfg.ForwardTimeout,
		attempts:   cfg.ForwardAttempts,
		sem:        make(chan struct{}, cfg.MaxForwards),
		now:        now,
		log:        cfg.Logger,
		ctx:        ctx,
		cancel:     cancel,
	}
	f.exchange = f.netExchange
	if cfg.CacheSize > 0 {
		f.cache = newAnswerCache(cfg.CacheSize)
	}
	return f
}

// close ends the forwards in flight.
func (f *forwarder) close() { f.cancel() }

// setSelf records the server's own address, which is never forwarded to:
// a host whose resolv.conf names the discovery server would loop. When
// listen is an unspecified address, every address of the host's
// interfaces on that port is the server too.
func (f *forwarder) setSelf(listen netip.AddrPort, advertise netip.Addr) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.self = []netip.AddrPort{netip.AddrPortFrom(listen.Addr().Unmap(), listen.Port())}
	if advertise.IsValid() {
		f.self = append(f.self, netip.AddrPortFrom(advertise.Unmap(), listen.Port()))
	}
	f.selfAny, f.local = 0, nil
	if listen.Addr().IsUnspecified() {
		f.selfAny = listen.Port()
		f.local = map[netip.Addr]bool{}
		addrs, _ := net.InterfaceAddrs()
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				f.local[p.Addr().Unmap()] = true
			}
		}
	}
}

// isSelf reports whether ap is the server itself. f.mu is held.
func (f *forwarder) isSelf(ap netip.AddrPort) bool {
	addr := ap.Addr().Unmap()
	for _, s := range f.self {
		if s.Addr() == addr && s.Port() == ap.Port() {
			return true
		}
	}
	return f.selfAny != 0 && ap.Port() == f.selfAny && (addr.IsUnspecified() || f.local[addr])
}

// upstreams returns the servers to forward to, the server itself left
// out: Config.Upstreams, or the nameservers of resolv.conf, read again
// when it changed.
func (f *forwarder) upstreams() []netip.AddrPort {
	f.mu.Lock()
	defer f.mu.Unlock()
	all := f.explicit
	if len(all) == 0 {
		f.reload()
		all = f.fromFile
	}
	var out []netip.AddrPort
	for _, ap := range all {
		if !f.isSelf(ap) && len(out) < MaxUpstreams {
			out = append(out, ap)
		}
	}
	return out
}

// reload reads resolv.conf again when it changed, looking at most every
// resolvConfRecheck. f.mu is held.
func (f *forwarder) reload() {
	now := f.now()
	if !f.checked.IsZero() && now.Sub(f.checked) < resolvConfRecheck && !now.Before(f.checked) {
		return
	}
	f.checked = now
	st, err := os.Stat(f.resolvConf)
	if err != nil {
		if f.stamp.size != -1 { // said once, not every recheck
			f.log.Warn("discovery: cannot read the upstream resolvers: names outside the namespace get SERVFAIL", "path", f.resolvConf, "error", err)
		}
		f.fromFile, f.stamp = []netip.AddrPort{}, fileStamp{size: -1}
		return
	}
	stamp := fileStamp{mod: st.ModTime(), size: st.Size()}
	if stamp == f.stamp {
		return
	}
	file, err := os.Open(f.resolvConf)
	if err != nil {
		f.log.Warn("discovery: cannot read the upstream resolvers", "path", f.resolvConf, "error", err)
		return
	}
	defer file.Close()
	data, err := io.ReadAll(io.LimitReader(file, maxResolvConfSize))
	if err != nil {
		f.log.Warn("discovery: cannot read the upstream resolvers", "path", f.resolvConf, "error", err)
		return
	}
	f.fromFile, f.stamp = parseResolvConf(data), stamp
	f.log.Info("discovery: forwarding names outside the namespace", "upstreams", f.fromFile, "from", f.resolvConf)
}

// parseResolvConf returns the nameservers of a resolv.conf, on port 53
// (resolv.conf cannot name another), in their order. Lines that are not a
// valid "nameserver <IP>" are skipped, as the C library skips them; a
// local stub such as 127.0.0.53 is kept: the server runs on the host,
// where it is reachable.
func parseResolvConf(data []byte) []netip.AddrPort {
	out := []netip.AddrPort{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxResolvConfSize)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || fields[0] != "nameserver" {
			continue
		}
		addr, err := netip.ParseAddr(fields[1])
		if err != nil || addr.IsUnspecified() {
			continue
		}
		ap := netip.AddrPortFrom(addr.Unmap(), 53)
		if !containsAddrPort(out, ap) {
			out = append(out, ap)
		}
	}
	return out
}

func containsAddrPort(list []netip.AddrPort, ap netip.AddrPort) bool {
	for _, x := range list {
		if x == ap {
			return true
		}
	}
	return false
}

// forwardable reports whether queries of type qtype go upstream: not zone
// transfers nor meta types.
func forwardable(qtype uint16) bool {
	switch qtype {
	case dns.TypeAXFR, dns.TypeIXFR, dns.TypeMAILA, dns.TypeMAILB, dns.TypeOPT, dns.TypeTSIG, dns.TypeTKEY, dns.TypeNone:
		return false
	}
	return true
}

// answer fills resp for q, a question outside the zone: from the cache,
// or from an upstream. resp gets SERVFAIL when no upstream answers, and
// at once when too many queries are being forwarded already.
func (f *forwarder) answer(resp *dns.Msg, q dns.Question) {
	key := cacheKey{name: strings.ToLower(q.Name), qtype: q.Qtype}
	if f.cache != nil {
		now := f.now()
		if a, ok := f.cache.get(key, now); ok {
			a.fill(resp, now)
			return
		}
	}
	select {
	case f.sem <- struct{}{}:
		defer func() { <-f.sem }()
	default:
		f.log.Debug("discovery: too many queries forwarded at once", "name", q.Name)
		resp.Rcode = dns.RcodeServerFailure
		return
	}
	a, err := f.resolve(q)
	if err != nil {
		f.log.Debug("discovery: forwarding failed", "name", q.Name, "type", dns.TypeToString[q.Qtype], "error", err)
		resp.Rcode = dns.RcodeServerFailure
		return
	}
	if f.cache != nil {
		f.cache.put(key, a)
	}
	a.fill(resp, a.at)
}

// resolve asks the upstreams in turn, at most f.attempts times in all.
func (f *forwarder) resolve(q dns.Question) (*forwarded, error) {
	ups := f.upstreams()
	if len(ups) == 0 {
		return nil, errNoUpstream
	}
	var errs []error
	for i := range f.attempts {
		if err := f.ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		up := ups[i%len(ups)]
		a, err := f.try(q, up)
		if err == nil {
			return a, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", up, err))
	}
	return nil, errors.Join(errs...)
}

// try sends q to up over UDP, and again over TCP when the answer is
// truncated, each within f.timeout.
func (f *forwarder) try(q dns.Question, up netip.AddrPort) (*forwarded, error) {
	m := new(dns.Msg)
	m.SetQuestion(q.Name, q.Qtype)
	m.Question[0].Qclass = q.Qclass
	m.RecursionDesired = true
	m.SetEdns0(maxUDPSize, false)
	r, err := f.exchange("udp", m, up)
	if err == nil && r.Truncated {
		r, err = f.exchange("tcp", m, up)
	}
	if err != nil {
		return nil, err
	}
	a, err := accept(q, r)
	if err != nil {
		return nil, err
	}
	a.at = f.now()
	return a, nil
}

func (f *forwarder) netExchange(proto string, m *dns.Msg, up netip.AddrPort) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(f.ctx, f.timeout)
	defer cancel()
	c := &dns.Client{Net: proto, Timeout: f.timeout, UDPSize: maxUDPSize}
	r, _, err := c.ExchangeContext(ctx, m, up.String())
	return r, err
}

// forwarded is an upstream's answer, as cached.
type forwarded struct {
	rcode             int
	answer, ns, extra []dns.RR
	// ttl is how long the answer may be cached: 0 when it may not.
	ttl  time.Duration
	size int       // packed, for the cache's bound
	at   time.Time // when it was received
}

// accept checks an upstream's answer to q and keeps what a client needs:
// an answer (NOERROR or NXDOMAIN) to the very question asked, without
// EDNS or signature records of its own. Anything else is an error, and
// the next upstream is asked.
func accept(q dns.Question, m *dns.Msg) (*forwarded, error) {
	switch {
	case m == nil:
		return nil, errors.New("no answer")
	case !m.Response || m.Opcode != dns.OpcodeQuery:
		return nil, errors.New("not an answer to a query")
	case len(m.Question) != 1 || m.Question[0].Qtype != q.Qtype || m.Question[0].Qclass != q.Qclass ||
		!strings.EqualFold(m.Question[0].Name, q.Name):
		return nil, errors.New("an answer to another question")
	case m.Rcode != dns.RcodeSuccess && m.Rcode != dns.RcodeNameError:
		return nil, fmt.Errorf("answer %s", dns.RcodeToString[m.Rcode])
	}
	a := &forwarded{rcode: m.Rcode, answer: keepRRs(m.Answer), ns: keepRRs(m.Ns), extra: keepRRs(m.Extra)}
	kept := &dns.Msg{Question: m.Question, Answer: a.answer, Ns: a.ns, Extra: a.extra}
	// A record the upstream sent short (an SOA without its counters, say)
	// unpacks, but packs into one that does not: pass on only what a
	// client can read back.
	packed, err := kept.Pack()
	if err == nil {
		err = new(dns.Msg).Unpack(packed)
	}
	if err != nil {
		return nil, fmt.Errorf("a malformed answer: %w", err)
	}
	a.size = kept.Len()
	a.ttl = cacheTTL(a)
	return a, nil
}

// keepRRs drops what belongs to the upstream's own transport (OPT, TSIG,
// SIG(0)) and what is not a record at all.
func keepRRs(rrs []dns.RR) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		if rr == nil || rr.Header() == nil {
			continue
		}
		switch rr.Header().Rrtype {
		case dns.TypeOPT, dns.TypeTSIG, dns.TypeSIG:
			continue
		}
		out = append(out, rr)
	}
	return out
}

// cacheTTL is how long a may be cached: the smallest TTL of its records,
// and for a negative answer (NXDOMAIN, or NOERROR without answer) the
// SOA's TTL and minimum as RFC 2308 says; a negative answer without SOA
// is not cached. Capped at MaxCacheTTL.
func cacheTTL(a *forwarded) time.Duration {
	ttl := uint32(MaxCacheTTL / time.Second)
	for _, rrs := range [][]dns.RR{a.answer, a.ns, a.extra} {
		for _, rr := range rrs {
			ttl = min(ttl, rr.Header().Ttl)
		}
	}
	if a.rcode == dns.RcodeNameError || len(a.answer) == 0 {
		var soa *dns.SOA
		for _, rr := range a.ns {
			if s, ok := rr.(*dns.SOA); ok {
				soa = s
				break
			}
		}
		if soa == nil {
			return 0
		}
		ttl = min(ttl, soa.Hdr.Ttl, soa.Minttl)
	}
	return time.Duration(ttl) * time.Second
}

// fill writes a into resp as it stands at now: every TTL lowered by the
// time since it was received. The records are copied; a is not changed.
func (a *forwarded) fill(resp *dns.Msg, now time.Time) {
	age := uint32(0)
	if d := now.Sub(a.at); d > 0 {
		age = uint32(min(d, MaxCacheTTL) / time.Second)
	}
	aged := func(rrs []dns.RR) []dns.RR {
		if len(rrs) == 0 {
			return nil
		}
		out := make([]dns.RR, len(rrs))
		for i, rr := range rrs {
			out[i] = dns.Copy(rr)
			h := out[i].Header()
			h.Ttl -= min(h.Ttl, age)
		}
		return out
	}
	resp.Rcode = a.rcode
	resp.Answer = aged(a.answer)
	resp.Ns = aged(a.ns)
	resp.Extra = aged(a.extra)
}

// cacheKey names a cached answer. Only class IN is forwarded.
type cacheKey struct {
	name  string // lower-cased
	qtype uint16
}

// answerCache keeps at most max forwarded answers until their TTL runs
// out, dropping the least recently used when full.
type answerCache struct {
	max int

	mu      sync.Mutex
	order   *list.List // of *cacheEntry, most recently used first
	entries map[cacheKey]*list.Element
}

type cacheEntry struct {
	key     cacheKey
	a       *forwarded
	expires time.Time
}

func newAnswerCache(size int) *answerCache {
	return &answerCache{max: size, order: list.New(), entries: map[cacheKey]*list.Element{}}
}

// get returns the answer cached under key, if it has not expired at now.
func (c *answerCache) get(key cacheKey, now time.Time) (*forwarded, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.expires) {
		c.order.Remove(el)
		delete(c.entries, key)
		return nil, false
	}
	c.order.MoveToFront(el)
	return e.a, true
}

// put caches a under key until its TTL runs out; answers that may not be
// cached, or are too large, are not.
func (c *answerCache) put(key cacheKey, a *forwarded) {
	if a.ttl <= 0 || a.size > maxCachedSize {
		return
	}
	e := &cacheEntry{key: key, a: a, expires: a.at.Add(a.ttl)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		el.Value = e
		c.order.MoveToFront(el)
		return
	}
	c.entries[key] = c.order.PushFront(e)
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.entries, last.Value.(*cacheEntry).key)
	}
}

// len is the number of answers cached.
func (c *answerCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
