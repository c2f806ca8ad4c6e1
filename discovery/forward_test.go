package discovery

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeUpstream is a DNS server on loopback standing for the host's
// resolver: it counts the queries it gets and answers with handle.
type fakeUpstream struct {
	addr    netip.AddrPort
	queries atomic.Int32
}

// startUpstream serves handle over UDP and TCP on a free loopback port
// until the test ends.
func startUpstream(t *testing.T, handle func(w dns.ResponseWriter, r *dns.Msg)) *fakeUpstream {
	t.Helper()
	pc, ln, err := listenBoth(netip.MustParseAddrPort("127.0.0.1:0"))
	require.NoError(t, err)
	up := &fakeUpstream{addr: pc.LocalAddr().(*net.UDPAddr).AddrPort()}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		up.queries.Add(1)
		handle(w, r)
	})
	started := make(chan struct{}, 2)
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h}} {
		srv.NotifyStartedFunc = func() { started <- struct{}{} }
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = srv.ActivateAndServe()
		}()
		t.Cleanup(func() {
			_ = srv.Shutdown()
			<-done
		})
	}
	<-started
	<-started
	return up
}

// answerA answers every query with an A record of ttl seconds.
func answerA(addr string, ttl uint32) func(dns.ResponseWriter, *dns.Msg) {
	return func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.RecursionAvailable = true
		if r.Question[0].Qtype == dns.TypeA {
			m.Answer = append(m.Answer, &dns.A{
				Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl},
				A:   net.ParseIP(addr).To4(),
			})
		}
		_ = w.WriteMsg(m)
	}
}

// answerRcode answers every query with rcode and no records.
func answerRcode(rcode int) func(dns.ResponseWriter, *dns.Msg) {
	return func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetRcode(r, rcode)
		_ = w.WriteMsg(m)
	}
}

// soaRR is example.com's SOA, with a TTL and a minimum.
func soaRR(ttl, minimum uint32) *dns.SOA {
	return &dns.SOA{Hdr: dns.RR_Header{Name: "example.com.", Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: ttl},
		Ns: "ns.example.com.", Mbox: "hostmaster.example.com.", Serial: 1, Refresh: 3600, Retry: 600, Expire: 86400, Minttl: minimum}
}

// forwardingServer starts a discovery server forwarding to ups, on the
// test clock when one is given.
func forwardingServer(t *testing.T, clock *fakeClock, mod func(*Config), ups ...*fakeUpstream) *Server {
	t.Helper()
	cfg := Config{Listen: "127.0.0.1:0", ForwardTimeout: 5 * time.Second, ForwardAttempts: 2}
	for _, up := range ups {
		cfg.Upstreams = append(cfg.Upstreams, up.addr)
	}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := NewServer(testRegistry(t), cfg)
	require.NoError(t, err)
	if clock != nil {
		srv.now = clock.now
	}
	require.NoError(t, srv.Start(context.Background()))
	t.Cleanup(func() { assert.NoError(t, srv.Close()) })
	return srv
}

// Names outside the namespace are forwarded and answered; the
// namespace's own names are still answered by the server itself.
func TestForwardAnswersOutsideNames(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, answerA("192.0.2.7", 30))
	srv := forwardingServer(t, nil, nil, up)
	for _, proto := range []string{"udp", "tcp"} {
		r := exchange(t, srv, proto, query("Example.COM.", dns.TypeA))
		assert.Equal(t, dns.RcodeSuccess, r.Rcode, proto)
		assert.Equal(t, []string{"Example.COM. 30 IN A 192.0.2.7"}, rrs(r.Answer), proto)
		assert.True(t, r.RecursionAvailable, "RA: the server recurses for its clients")
		assert.False(t, r.Authoritative, "not authoritative for the rest of the world")
		assert.Equal(t, "Example.COM.", r.Question[0].Name, "the client's question comes back as asked")
	}
	assert.Equal(t, int32(1), up.queries.Load(), "the second answer came from the cache")

	r := exchange(t, srv, "udp", query("web.local.", dns.TypeA))
	assert.True(t, r.Authoritative)
	assert.Len(t, r.Answer, 2)
	assert.Equal(t, int32(1), up.queries.Load(), "the namespace is never forwarded")
}

// The cache keeps an answer for its TTL and counts the TTL down.
func TestForwardCacheHonoursTTL(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, answerA("192.0.2.7", 30))
	clock := newFakeClock()
	srv := forwardingServer(t, clock, nil, up)
	ask := func() *dns.Msg {
		r := exchange(t, srv, "udp", query("example.com.", dns.TypeA))
		require.Equal(t, dns.RcodeSuccess, r.Rcode)
		require.Len(t, r.Answer, 1)
		return r
	}
	assert.Equal(t, uint32(30), ask().Answer[0].Header().Ttl)
	clock.advance(10 * time.Second)
	assert.Equal(t, uint32(20), ask().Answer[0].Header().Ttl, "from the cache, 10 s older")
	clock.advance(19 * time.Second)
	assert.Equal(t, uint32(1), ask().Answer[0].Header().Ttl)
	assert.Equal(t, int32(1), up.queries.Load(), "answered from the cache within the TTL")
	clock.advance(time.Second)
	assert.Equal(t, uint32(30), ask().Answer[0].Header().Ttl, "asked again once the TTL ran out")
	assert.Equal(t, int32(2), up.queries.Load())
}

// Negative answers are cached for the SOA's TTL and minimum, whichever is
// smaller (RFC 2308); without SOA they are not cached.
func TestForwardNegativeCache(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		switch r.Question[0].Name {
		case "nope.example.com.":
			m.SetRcode(r, dns.RcodeNameError)
			m.Ns = append(m.Ns, soaRR(300, 60))
		case "nodata.example.com.":
			m.SetReply(r)
			m.Ns = append(m.Ns, soaRR(45, 600))
		default: // NODATA without SOA
			m.SetReply(r)
		}
		_ = w.WriteMsg(m)
	})
	clock := newFakeClock()
	srv := forwardingServer(t, clock, nil, up)
	ask := func(name string, rcode int) *dns.Msg {
		r := exchange(t, srv, "udp", query(name, dns.TypeA))
		require.Equal(t, rcode, r.Rcode, name)
		return r
	}

	r := ask("nope.example.com.", dns.RcodeNameError)
	require.Len(t, r.Ns, 1)
	clock.advance(59 * time.Second)
	r = ask("nope.example.com.", dns.RcodeNameError)
	require.Len(t, r.Ns, 1)
	assert.Equal(t, uint32(300-59), r.Ns[0].Header().Ttl, "the cached SOA ages")
	assert.Equal(t, int32(1), up.queries.Load(), "NXDOMAIN cached for the SOA minimum")
	clock.advance(time.Second)
	ask("nope.example.com.", dns.RcodeNameError)
	assert.Equal(t, int32(2), up.queries.Load(), "and no longer")

	ask("nodata.example.com.", dns.RcodeSuccess)
	clock.advance(44 * time.Second)
	ask("nodata.example.com.", dns.RcodeSuccess)
	assert.Equal(t, int32(3), up.queries.Load(), "NODATA cached for the SOA's own TTL")
	clock.advance(time.Second)
	ask("nodata.example.com.", dns.RcodeSuccess)
	assert.Equal(t, int32(4), up.queries.Load())

	ask("bare.example.com.", dns.RcodeSuccess)
	ask("bare.example.com.", dns.RcodeSuccess)
	assert.Equal(t, int32(6), up.queries.Load(), "a negative answer without SOA is not cached")
}

// When the upstreams fail, the client gets SERVFAIL, after a bounded
// number of attempts.
func TestForwardServfail(t *testing.T) {
	t.Parallel()
	t.Run("upstream down", func(t *testing.T) {
		t.Parallel()
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		require.NoError(t, err)
		down := &fakeUpstream{addr: pc.LocalAddr().(*net.UDPAddr).AddrPort()}
		require.NoError(t, pc.Close())
		srv := forwardingServer(t, nil, nil, down)
		r := exchange(t, srv, "udp", query("example.com.", dns.TypeA))
		assert.Equal(t, dns.RcodeServerFailure, r.Rcode)
		assert.Empty(t, r.Answer)
	})
	t.Run("upstream times out", func(t *testing.T) {
		t.Parallel()
		mute := startUpstream(t, func(dns.ResponseWriter, *dns.Msg) {})
		srv := forwardingServer(t, nil, func(c *Config) { c.ForwardTimeout = 50 * time.Millisecond }, mute)
		begin := time.Now()
		r := exchange(t, srv, "udp", query("example.com.", dns.TypeA))
		assert.Equal(t, dns.RcodeServerFailure, r.Rcode)
		assert.Less(t, time.Since(begin), 5*time.Second, "bounded by the timeout, not the client's")
		assert.Equal(t, int32(2), mute.queries.Load(), "two attempts")
	})
	t.Run("upstream refuses", func(t *testing.T) {
		t.Parallel()
		refusing := startUpstream(t, answerRcode(dns.RcodeRefused))
		failing := startUpstream(t, answerRcode(dns.RcodeServerFailure))
		srv := forwardingServer(t, nil, func(c *Config) { c.ForwardAttempts = 3 }, refusing, failing)
		r := exchange(t, srv, "tcp", query("example.com.", dns.TypeA))
		assert.Equal(t, dns.RcodeServerFailure, r.Rcode)
		assert.Equal(t, int32(2), refusing.queries.Load(), "attempts alternate between the upstreams")
		assert.Equal(t, int32(1), failing.queries.Load(), "three attempts in all")
		exchange(t, srv, "udp", query("example.com.", dns.TypeA))
		assert.Equal(t, int32(4), refusing.queries.Load()+failing.queries.Load()-2, "failures are not cached")
	})
	t.Run("no upstream", func(t *testing.T) {
		t.Parallel()
		empty := filepath.Join(t.TempDir(), "resolv.conf")
		require.NoError(t, os.WriteFile(empty, []byte("search example\n"), 0o644))
		srv := forwardingServer(t, nil, func(c *Config) { c.ResolvConf = empty })
		r := exchange(t, srv, "udp", query("example.com.", dns.TypeA))
		assert.Equal(t, dns.RcodeServerFailure, r.Rcode)
	})
}

// With forwarding off, names outside the namespace are REFUSED, and
// nothing is sent upstream.
func TestForwardOff(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, answerA("192.0.2.7", 30))
	srv := forwardingServer(t, nil, func(c *Config) { c.NoForward = true }, up)
	r := exchange(t, srv, "udp", query("example.com.", dns.TypeA))
	assert.Equal(t, dns.RcodeRefused, r.Rcode)
	assert.False(t, r.RecursionAvailable)
	assert.Zero(t, up.queries.Load())
}

// Queries that a forwarder must not pass on: without RD, zone transfers;
// ANY gets the RFC 8482 answer without asking anybody.
func TestForwardOnlyRecursiveQueries(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, answerA("192.0.2.7", 30))
	srv := forwardingServer(t, nil, nil, up)

	norec := query("example.com.", dns.TypeA)
	norec.RecursionDesired = false
	assert.Equal(t, dns.RcodeRefused, exchange(t, srv, "udp", norec).Rcode)
	assert.Equal(t, dns.RcodeRefused, exchange(t, srv, "tcp", query("example.com.", dns.TypeAXFR)).Rcode)
	chaos := query("version.bind.", dns.TypeTXT)
	chaos.Question[0].Qclass = dns.ClassCHAOS
	assert.Equal(t, dns.RcodeRefused, exchange(t, srv, "udp", chaos).Rcode)

	anyQ := query("example.com.", dns.TypeANY)
	r := exchange(t, srv, "udp", anyQ)
	require.Len(t, r.Answer, 1)
	hinfo, ok := r.Answer[0].(*dns.HINFO)
	require.True(t, ok)
	assert.Equal(t, "RFC8482", hinfo.Cpu)
	assert.Zero(t, up.queries.Load())
}

// The rate limit applies before forwarding: a client over its limit
// costs the upstreams nothing.
func TestForwardAfterRateLimit(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, answerA("192.0.2.7", 30))
	srv := forwardingServer(t, newFakeClock(), func(c *Config) { c.RateLimit, c.RateBurst = 1, 1 }, up)
	assert.Equal(t, dns.RcodeSuccess, exchange(t, srv, "tcp", query("a.example.com.", dns.TypeA)).Rcode)
	assert.Equal(t, dns.RcodeRefused, exchange(t, srv, "tcp", query("b.example.com.", dns.TypeA)).Rcode)
	assert.Equal(t, int32(1), up.queries.Load())
}

// At most MaxForwards queries are forwarded at once; past it clients get
// SERVFAIL at once rather than queueing.
func TestForwardBoundsConcurrency(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{}, 4)
	release := make(chan struct{})
	var once atomic.Bool
	t.Cleanup(func() {
		if once.CompareAndSwap(false, true) {
			close(release)
		}
	})
	up := startUpstream(t, func(w dns.ResponseWriter, r *dns.Msg) {
		arrived <- struct{}{}
		<-release
		answerA("192.0.2.7", 30)(w, r)
	})
	srv := forwardingServer(t, nil, func(c *Config) { c.MaxForwards = 1 }, up)

	first := make(chan *dns.Msg, 1)
	go func() {
		c := &dns.Client{Net: "tcp", Timeout: 10 * time.Second}
		r, _, err := c.Exchange(query("slow.example.com.", dns.TypeA), srv.Addr().String())
		if err != nil {
			r = nil
		}
		first <- r
	}()
	<-arrived // the first query holds the only slot
	r := exchange(t, srv, "tcp", query("other.example.com.", dns.TypeA))
	assert.Equal(t, dns.RcodeServerFailure, r.Rcode, "no slot: SERVFAIL at once")
	assert.Equal(t, int32(1), up.queries.Load())

	once.Store(true)
	close(release)
	got := <-first
	require.NotNil(t, got)
	assert.Equal(t, dns.RcodeSuccess, got.Rcode)
	assert.Equal(t, dns.RcodeSuccess, exchange(t, srv, "tcp", query("other.example.com.", dns.TypeA)).Rcode, "the slot is free again")
}

// The cache holds at most CacheSize answers, dropping the least recently
// used.
func TestForwardCacheIsBounded(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, answerA("192.0.2.7", 300))
	srv := forwardingServer(t, newFakeClock(), func(c *Config) { c.CacheSize = 2 }, up)
	ask := func(name string) {
		require.Equal(t, dns.RcodeSuccess, exchange(t, srv, "udp", query(name, dns.TypeA)).Rcode)
	}
	ask("a.example.com.")
	ask("b.example.com.")
	ask("a.example.com.") // a is now the most recently used
	ask("c.example.com.") // drops b
	assert.Equal(t, int32(3), up.queries.Load())
	assert.Equal(t, 2, srv.h.fwd.cache.len())
	ask("a.example.com.")
	assert.Equal(t, int32(3), up.queries.Load(), "a stayed")
	ask("b.example.com.")
	assert.Equal(t, int32(4), up.queries.Load(), "b was dropped")
	assert.Equal(t, 2, srv.h.fwd.cache.len())

	off := forwardingServer(t, nil, func(c *Config) { c.CacheSize = -1 }, up)
	for range 2 {
		require.Equal(t, dns.RcodeSuccess, exchange(t, off, "udp", query("a.example.com.", dns.TypeA)).Rcode)
	}
	assert.Equal(t, int32(6), up.queries.Load(), "no cache")
	assert.Nil(t, off.h.fwd.cache)
}

// A truncated answer over UDP is asked again over TCP.
func TestForwardRetriesTruncatedOverTCP(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, func(w dns.ResponseWriter, r *dns.Msg) {
		if _, udp := w.LocalAddr().(*net.UDPAddr); udp {
			m := new(dns.Msg)
			m.SetReply(r)
			m.Truncated = true
			_ = w.WriteMsg(m)
			return
		}
		answerA("192.0.2.9", 30)(w, r)
	})
	srv := forwardingServer(t, nil, nil, up)
	r := exchange(t, srv, "udp", query("big.example.com.", dns.TypeA))
	assert.Equal(t, []string{"big.example.com. 30 IN A 192.0.2.9"}, rrs(r.Answer))
	assert.Equal(t, int32(2), up.queries.Load())
}

// An answer to another question is not taken (nor cached).
func TestForwardRejectsAnswersToOtherQuestions(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Question[0].Name = "evil.example.net."
		m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: "evil.example.net.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 300},
			A: net.ParseIP("203.0.113.1").To4()})
		_ = w.WriteMsg(m)
	})
	srv := forwardingServer(t, nil, nil, up)
	r := exchange(t, srv, "udp", query("example.com.", dns.TypeA))
	assert.Equal(t, dns.RcodeServerFailure, r.Rcode)
	assert.Zero(t, srv.h.fwd.cache.len())
}

// The server never forwards to itself, wherever resolv.conf points.
func TestForwardNeverToItself(t *testing.T) {
	t.Parallel()
	conf := []byte(`# written by a test
search example
nameserver 127.0.0.1
nameserver 10.88.0.1
nameserver bogus
nameserver 0.0.0.0
nameserver 127.0.0.53
nameserver 127.0.0.53
nameserver ::1 # trailing words are ignored
nameserver 192.0.2.53
`)
	all := parseResolvConf(conf)
	assert.Equal(t, []netip.AddrPort{
		netip.MustParseAddrPort("127.0.0.1:53"), netip.MustParseAddrPort("10.88.0.1:53"),
		netip.MustParseAddrPort("127.0.0.53:53"), netip.MustParseAddrPort("[::1]:53"),
		netip.MustParseAddrPort("192.0.2.53:53"),
	}, all)

	path := filepath.Join(t.TempDir(), "resolv.conf")
	require.NoError(t, os.WriteFile(path, conf, 0o644))
	cfg := Config{ResolvConf: path}.withDefaults()
	f := newForwarder(cfg, newFakeClock().now)
	t.Cleanup(f.close)
	f.setSelf(netip.MustParseAddrPort("127.0.0.1:53"), netip.MustParseAddr("10.88.0.1"))
	assert.Equal(t, []netip.AddrPort{
		netip.MustParseAddrPort("127.0.0.53:53"), netip.MustParseAddrPort("[::1]:53"),
		netip.MustParseAddrPort("192.0.2.53:53"),
	}, f.upstreams(), "the listen and advertised addresses left out; at most three")

	// Listening on every address: the host's own addresses on that port
	// are the server; the resolved stub on 127.0.0.53 is not.
	f.setSelf(netip.MustParseAddrPort("0.0.0.0:53"), netip.MustParseAddr("10.88.0.1"))
	got := f.upstreams()
	assert.NotContains(t, got, netip.MustParseAddrPort("127.0.0.1:53"))
	assert.NotContains(t, got, netip.MustParseAddrPort("10.88.0.1:53"))
	assert.Contains(t, got, netip.MustParseAddrPort("127.0.0.53:53"))

	// End to end: a server whose only upstream is itself answers SERVFAIL
	// at once instead of looping.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	self := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	require.NoError(t, pc.Close())
	srv, err := NewServer(testRegistry(t), Config{Listen: self.String(), Upstreams: []netip.AddrPort{self}})
	require.NoError(t, err)
	if err := srv.Start(context.Background()); err != nil {
		t.Skipf("port %d taken again: %v", self.Port(), err)
	}
	t.Cleanup(func() { assert.NoError(t, srv.Close()) })
	assert.Equal(t, dns.RcodeServerFailure, exchange(t, srv, "udp", query("example.com.", dns.TypeA)).Rcode)
}

// resolv.conf is read again when it changes, at most every few seconds.
func TestForwardRereadsResolvConf(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "resolv.conf")
	require.NoError(t, os.WriteFile(path, []byte("nameserver 192.0.2.1\n"), 0o644))
	clock := newFakeClock()
	f := newForwarder(Config{ResolvConf: path}.withDefaults(), clock.now)
	t.Cleanup(f.close)
	assert.Equal(t, []netip.AddrPort{netip.MustParseAddrPort("192.0.2.1:53")}, f.upstreams())

	require.NoError(t, os.WriteFile(path, []byte("nameserver 192.0.2.2\nnameserver 192.0.2.3\n"), 0o644))
	assert.Equal(t, []netip.AddrPort{netip.MustParseAddrPort("192.0.2.1:53")}, f.upstreams(), "not looked at again yet")
	clock.advance(resolvConfRecheck)
	assert.Equal(t, []netip.AddrPort{netip.MustParseAddrPort("192.0.2.2:53"), netip.MustParseAddrPort("192.0.2.3:53")}, f.upstreams())

	require.NoError(t, os.Remove(path))
	clock.advance(resolvConfRecheck)
	assert.Empty(t, f.upstreams(), "gone: nobody to forward to")
}

// Forwarding settings are checked.
func TestForwardConfigValidate(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]Config{
		"timeout":         {ForwardTimeout: -time.Second},
		"long timeout":    {ForwardTimeout: time.Minute},
		"attempts":        {ForwardAttempts: MaxForwardAttempts + 1},
		"no attempts":     {ForwardAttempts: -1},
		"max forwards":    {MaxForwards: -1},
		"upstream port":   {Upstreams: []netip.AddrPort{netip.MustParseAddrPort("192.0.2.1:0")}},
		"upstream any":    {Upstreams: []netip.AddrPort{netip.MustParseAddrPort("0.0.0.0:53")}},
		"upstream zero":   {Upstreams: []netip.AddrPort{{}}},
		"too many":        {Upstreams: make([]netip.AddrPort, MaxUpstreams+1)},
		"zero is default": {},
	} {
		err := cfg.Validate()
		if name == "zero is default" {
			assert.NoError(t, err)
			continue
		}
		assert.ErrorIs(t, err, ErrInvalid, name)
	}
	d := DefaultConfig()
	assert.False(t, d.NoForward, "forwarding is on by default")
	assert.Equal(t, DefaultResolvConf, d.ResolvConf)
	assert.NoError(t, d.Validate())
}
