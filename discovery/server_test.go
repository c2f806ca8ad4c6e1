package discovery

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/network"
)

// startServer serves reg on a free loopback port until the test ends.
func startServer(t testing.TB, reg *Registry, mod func(*Config)) *Server {
	t.Helper()
	// Never the host's resolvers: forwarding tests name their upstream.
	cfg := Config{Listen: "127.0.0.1:0", NoForward: true}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := NewServer(reg, cfg)
	require.NoError(t, err)
	require.NoError(t, srv.Start(context.Background()))
	t.Cleanup(func() { assert.NoError(t, srv.Close()) })
	return srv
}

// exchange sends m to srv over proto ("udp" or "tcp") with a real client.
func exchange(t testing.TB, srv *Server, proto string, m *dns.Msg) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: proto, Timeout: 10 * time.Second}
	r, _, err := c.Exchange(m, srv.Addr().String())
	require.NoError(t, err)
	require.NotNil(t, r)
	return r
}

func query(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	return m
}

// rrs renders records sorted, one space between fields, OPT left out.
func rrs(in []dns.RR) []string {
	var out []string
	for _, rr := range in {
		if rr.Header().Rrtype == dns.TypeOPT {
			continue
		}
		out = append(out, strings.Join(strings.Fields(rr.String()), " "))
	}
	slices.Sort(out)
	return out
}

// testRegistry: web with two healthy awsvpc tasks (one in namespace prod),
// one unhealthy; api with an IPv6 task without port; db all unhealthy.
func testRegistry(t testing.TB) *Registry {
	t.Helper()
	reg := NewRegistry()
	prod := inst("web", "p1", "10.0.1.1", 8080)
	prod.Namespace = "prod"
	sick := inst("web", "s1", "10.0.9.9", 8080)
	sick.Healthy = false
	db := inst("db", "d1", "10.0.2.1", 5432)
	db.Healthy = false
	for _, in := range []Instance{inst("web", "a1", "10.0.0.1", 8080), prod, sick, inst("api", "v6", "fd00::6", 0), db} {
		require.NoError(t, reg.Register(in))
	}
	return reg
}

func TestServerAnswers(t *testing.T) {
	t.Parallel()
	reg := testRegistry(t)
	srv := startServer(t, reg, nil)
	soa := []uint16{dns.TypeSOA}
	tests := []struct {
		name   string
		q      string
		qtype  uint16
		rcode  int
		aa     bool
		answer []string
		ns     []uint16 // types of the authority section
		extra  []string
	}{
		{name: "A", q: "web.local.", qtype: dns.TypeA, rcode: dns.RcodeSuccess, aa: true,
			answer: []string{"web.local. 10 IN A 10.0.0.1", "web.local. 10 IN A 10.0.1.1"}},
		{name: "case kept in answer, ignored in match", q: "WeB.LOCAL.", qtype: dns.TypeA, aa: true,
			answer: []string{"WeB.LOCAL. 10 IN A 10.0.0.1", "WeB.LOCAL. 10 IN A 10.0.1.1"}},
		{name: "namespace", q: "web.prod.local.", qtype: dns.TypeA, aa: true,
			answer: []string{"web.prod.local. 10 IN A 10.0.1.1"}},
		{name: "instance", q: "a1.web.local.", qtype: dns.TypeA, aa: true,
			answer: []string{"a1.web.local. 10 IN A 10.0.0.1"}},
		{name: "instance in namespace", q: "p1.web.prod.local.", qtype: dns.TypeA, aa: true,
			answer: []string{"p1.web.prod.local. 10 IN A 10.0.1.1"}},
		{name: "AAAA", q: "api.local.", qtype: dns.TypeAAAA, aa: true,
			answer: []string{"api.local. 10 IN AAAA fd00::6"}},
		{name: "ANY", q: "api.local.", qtype: dns.TypeANY, aa: true,
			answer: []string{`api.local. 10 IN HINFO "RFC8482" ""`}},
		{name: "SRV form", q: "_web._tcp.local.", qtype: dns.TypeSRV, aa: true,
			answer: []string{
				"_web._tcp.local. 10 IN SRV 1 1 8080 a1.web.local.",
				"_web._tcp.local. 10 IN SRV 1 1 8080 p1.web.local.",
			},
			extra: []string{"a1.web.local. 10 IN A 10.0.0.1", "p1.web.local. 10 IN A 10.0.1.1"}},
		{name: "SRV on service name", q: "web.local.", qtype: dns.TypeSRV, aa: true,
			answer: []string{"web.local. 10 IN SRV 1 1 8080 a1.web.local.", "web.local. 10 IN SRV 1 1 8080 p1.web.local."},
			extra:  []string{"a1.web.local. 10 IN A 10.0.0.1", "p1.web.local. 10 IN A 10.0.1.1"}},
		{name: "SRV in namespace", q: "_web._tcp.prod.local.", qtype: dns.TypeSRV, aa: true,
			answer: []string{"_web._tcp.prod.local. 10 IN SRV 1 1 8080 p1.web.prod.local."},
			extra:  []string{"p1.web.prod.local. 10 IN A 10.0.1.1"}},
		{name: "SRV of an instance", q: "a1.web.local.", qtype: dns.TypeSRV, aa: true,
			answer: []string{"a1.web.local. 10 IN SRV 1 1 8080 a1.web.local."},
			extra:  []string{"a1.web.local. 10 IN A 10.0.0.1"}},
		{name: "NXDOMAIN", q: "nope.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError, aa: true, ns: soa},
		{name: "NXDOMAIN deep", q: "a.b.c.d.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError, aa: true, ns: soa},
		{name: "NXDOMAIN unknown instance", q: "zz.web.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError, aa: true, ns: soa},
		{name: "NODATA all unhealthy", q: "db.local.", qtype: dns.TypeA, aa: true, ns: soa},
		{name: "NODATA unhealthy instance", q: "s1.web.local.", qtype: dns.TypeA, aa: true, ns: soa},
		{name: "NODATA AAAA of IPv4", q: "web.local.", qtype: dns.TypeAAAA, aa: true, ns: soa},
		{name: "NODATA A of IPv6", q: "api.local.", qtype: dns.TypeA, aa: true, ns: soa},
		{name: "NODATA TXT", q: "web.local.", qtype: dns.TypeTXT, aa: true, ns: soa},
		{name: "NODATA SRV without port", q: "api.local.", qtype: dns.TypeSRV, aa: true, ns: soa},
		{name: "NODATA A on SRV name", q: "_web._tcp.local.", qtype: dns.TypeA, aa: true, ns: soa},
		{name: "NODATA namespace", q: "prod.local.", qtype: dns.TypeA, aa: true, ns: soa},
		{name: "SOA", q: "local.", qtype: dns.TypeSOA, aa: true,
			answer: []string{fmt.Sprintf("local. 10 IN SOA local. hostmaster.local. %d 3600 600 86400 10", reg.Version())}},
		{name: "NS", q: "local.", qtype: dns.TypeNS, aa: true,
			answer: []string{"local. 10 IN NS local."}, extra: []string{"local. 10 IN A 127.0.0.1"}},
		{name: "apex A is the server", q: "local.", qtype: dns.TypeA, aa: true,
			answer: []string{"local. 10 IN A 127.0.0.1"}},
		{name: "apex MX", q: "local.", qtype: dns.TypeMX, aa: true, ns: soa},
		{name: "REFUSED outside", q: "example.com.", qtype: dns.TypeA, rcode: dns.RcodeRefused},
		{name: "REFUSED look-alike", q: "web.localhost.", qtype: dns.TypeA, rcode: dns.RcodeRefused},
		{name: "REFUSED root", q: ".", qtype: dns.TypeNS, rcode: dns.RcodeRefused},
	}
	for _, proto := range []string{"udp", "tcp"} {
		for _, tt := range tests {
			t.Run(proto+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				r := exchange(t, srv, proto, query(tt.q, tt.qtype))
				assert.Equal(t, dns.RcodeToString[tt.rcode], dns.RcodeToString[r.Rcode])
				assert.Equal(t, tt.aa, r.Authoritative, "AA")
				assert.False(t, r.RecursionAvailable, "RA")
				assert.True(t, r.RecursionDesired, "RD copied")
				assert.False(t, r.Truncated)
				assert.Equal(t, tt.answer, rrs(r.Answer))
				var ns []uint16
				for _, rr := range r.Ns {
					ns = append(ns, rr.Header().Rrtype)
					assert.Equal(t, uint32(10), rr.Header().Ttl, "negative TTL")
				}
				assert.Equal(t, tt.ns, ns)
				assert.Equal(t, tt.extra, rrs(r.Extra))
			})
		}
	}
}

func TestServerRefusesOtherClasses(t *testing.T) {
	t.Parallel()
	srv := startServer(t, testRegistry(t), nil)
	m := query("web.local.", dns.TypeA)
	m.Question[0].Qclass = dns.ClassCHAOS
	r := exchange(t, srv, "udp", m)
	assert.Equal(t, dns.RcodeRefused, r.Rcode)
	assert.Empty(t, r.Answer)
}

func TestServerTTLAndNamespace(t *testing.T) {
	t.Parallel()
	reg := NewRegistry()
	require.NoError(t, reg.Register(inst("web", "a", "10.0.0.1", 80)))
	srv := startServer(t, reg, func(c *Config) { c.Namespace = "Svc.Example."; c.TTL = 3 * time.Second })
	assert.Equal(t, "svc.example.", srv.Namespace())
	r := exchange(t, srv, "udp", query("web.svc.example.", dns.TypeA))
	assert.Equal(t, []string{"web.svc.example. 3 IN A 10.0.0.1"}, rrs(r.Answer))
	r = exchange(t, srv, "udp", query("web.local.", dns.TypeA))
	assert.Equal(t, dns.RcodeRefused, r.Rcode)
	r = exchange(t, srv, "udp", query("nope.svc.example.", dns.TypeA))
	require.Len(t, r.Ns, 1)
	assert.Equal(t, uint32(3), r.Ns[0].(*dns.SOA).Minttl)
}

func TestServerTruncation(t *testing.T) {
	t.Parallel()
	reg := NewRegistry()
	const n = 200
	for i := range n {
		require.NoError(t, reg.Register(inst("big", fmt.Sprintf("t%03d", i), fmt.Sprintf("10.1.%d.%d", i/250, i%250+1), 80)))
	}
	srv := startServer(t, reg, nil)
	c := &dns.Client{Net: "udp", Timeout: 10 * time.Second}

	tests := []struct {
		name    string
		edns    uint16 // 0: no EDNS0
		qtype   uint16
		maxSize int
	}{
		{"A without EDNS0", 0, dns.TypeA, 512},
		{"A with EDNS0 4096", 4096, dns.TypeA, maxUDPSize},
		{"A with EDNS0 below 512", 100, dns.TypeA, 512},
		{"SRV", 1232, dns.TypeSRV, maxUDPSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := query("big.local.", tt.qtype)
			if tt.edns != 0 {
				m.SetEdns0(tt.edns, false)
			}
			// The client must accept what the server may send.
			c := *c
			c.UDPSize = dns.MaxMsgSize
			r, _, err := c.Exchange(m, srv.Addr().String())
			require.NoError(t, err)
			assert.True(t, r.Truncated, "TC")
			assert.NotEmpty(t, r.Answer, "as many records as fit")
			assert.Less(t, len(r.Answer), n)
			r.Compress = true // as sent
			assert.LessOrEqual(t, r.Len(), tt.maxSize)
			if tt.edns != 0 {
				require.NotNil(t, r.IsEdns0(), "OPT kept")
				assert.Equal(t, uint16(maxUDPSize), r.IsEdns0().UDPSize())
			}

			full := exchange(t, srv, "tcp", m)
			assert.False(t, full.Truncated)
			assert.Len(t, full.Answer, n, "TCP has room for everything")
		})
	}

}

func TestServerEDNS(t *testing.T) {
	t.Parallel()
	srv := startServer(t, testRegistry(t), nil)
	m := query("web.local.", dns.TypeA)
	m.SetEdns0(1232, false)
	r := exchange(t, srv, "udp", m)
	require.NotNil(t, r.IsEdns0())
	assert.Len(t, r.Answer, 2)

	m.IsEdns0().SetVersion(1)
	r = exchange(t, srv, "udp", m)
	assert.Equal(t, dns.RcodeBadVers, r.Rcode)
	assert.Empty(t, r.Answer)
}

func TestServerRotatesAnswers(t *testing.T) {
	t.Parallel()
	reg := NewRegistry()
	for i := range 3 {
		require.NoError(t, reg.Register(inst("web", fmt.Sprintf("t%d", i), fmt.Sprintf("10.0.0.%d", i+1), 80)))
	}
	srv := startServer(t, reg, nil)
	firsts := map[string]bool{}
	for range 3 {
		r := exchange(t, srv, "udp", query("web.local.", dns.TypeA))
		require.Len(t, r.Answer, 3)
		firsts[r.Answer[0].(*dns.A).A.String()] = true
	}
	assert.Len(t, firsts, 3, "each instance comes first in turn")
}

func TestServerFollowsRegistry(t *testing.T) {
	t.Parallel()
	reg := NewRegistry()
	srv := startServer(t, reg, nil)
	ask := func() *dns.Msg { return exchange(t, srv, "udp", query("web.local.", dns.TypeA)) }

	assert.Equal(t, dns.RcodeNameError, ask().Rcode, "not registered yet")
	sick := inst("web", "a", "10.0.0.1", 80)
	sick.Healthy = false
	require.NoError(t, reg.Register(sick)) // ACTIVATING, health checks not passed
	r := ask()
	assert.Equal(t, dns.RcodeSuccess, r.Rcode)
	assert.Empty(t, r.Answer, "unhealthy: NODATA")
	require.NoError(t, reg.SetHealth("web", "a", true))
	assert.Equal(t, []string{"web.local. 10 IN A 10.0.0.1"}, rrs(ask().Answer))
	reg.Deregister("web", "a") // DEACTIVATING
	assert.Equal(t, dns.RcodeNameError, ask().Rcode)
}

// Registrations while clients query, over both transports.
func TestServerConcurrent(t *testing.T) {
	t.Parallel()
	reg := NewRegistry()
	require.NoError(t, reg.Register(inst("web", "base", "10.0.0.1", 80)))
	srv := startServer(t, reg, nil)
	const rounds = 100
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range rounds {
			id := fmt.Sprintf("t%d", i%7)
			_ = reg.Register(inst("web", id, fmt.Sprintf("10.0.1.%d", i%7+1), 80))
			_ = reg.SetHealth("web", id, i%2 == 0)
			if i%3 == 0 {
				reg.Deregister("web", id)
			}
		}
	})
	for _, proto := range []string{"udp", "tcp", "udp", "tcp"} {
		wg.Go(func() {
			c := &dns.Client{Net: proto, Timeout: 10 * time.Second}
			for i := range rounds {
				qtype := dns.TypeA
				if i%2 == 1 {
					qtype = dns.TypeSRV
				}
				r, _, err := c.Exchange(query("web.local.", qtype), srv.Addr().String())
				if !assert.NoError(t, err) {
					return
				}
				assert.Equal(t, dns.RcodeSuccess, r.Rcode)
				assert.NotEmpty(t, r.Answer, "base is always there")
			}
		})
	}
	wg.Wait()
}

func TestServerNetResolver(t *testing.T) {
	t.Parallel()
	srv := startServer(t, testRegistry(t), nil)
	r := srv.Resolver()
	ctx := t.Context()

	addrs, err := r.LookupNetIP(ctx, "ip4", "web.local.")
	require.NoError(t, err)
	assert.ElementsMatch(t, []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.1.1")}, addrs)

	cname, srvs, err := r.LookupSRV(ctx, "web", "tcp", "local.")
	require.NoError(t, err)
	assert.Equal(t, "_web._tcp.local.", cname)
	var got []string
	for _, s := range srvs {
		got = append(got, fmt.Sprintf("%s:%d", s.Target, s.Port))
	}
	assert.ElementsMatch(t, []string{"a1.web.local.:8080", "p1.web.local.:8080"}, got)

	_, err = r.LookupNetIP(ctx, "ip4", "nope.local.")
	var dnsErr *net.DNSError
	require.ErrorAs(t, err, &dnsErr)
	assert.True(t, dnsErr.IsNotFound)

	unstarted, err := NewServer(NewRegistry(), Config{Listen: "127.0.0.1:0"})
	require.NoError(t, err)
	_, err = unstarted.Resolver().LookupNetIP(ctx, "ip4", "web.local.")
	require.Error(t, err)
}

func TestServerLifecycle(t *testing.T) {
	t.Parallel()
	t.Run("start twice, close twice", func(t *testing.T) {
		t.Parallel()
		srv, err := NewServer(NewRegistry(), Config{Listen: "127.0.0.1:0"})
		require.NoError(t, err)
		assert.False(t, srv.Addr().IsValid())
		require.NoError(t, srv.Start(t.Context()))
		assert.True(t, srv.Addr().IsValid())
		assert.NotZero(t, srv.Addr().Port())
		require.ErrorIs(t, srv.Start(t.Context()), ErrClosed)
		require.NoError(t, srv.Close())
		require.NoError(t, srv.Close())
		require.ErrorIs(t, srv.Start(t.Context()), ErrClosed)
		// The port is free again.
		pc, err := net.ListenPacket("udp", srv.Addr().String())
		require.NoError(t, err)
		require.NoError(t, pc.Close())
	})
	t.Run("close unstarted", func(t *testing.T) {
		t.Parallel()
		srv, err := NewServer(NewRegistry(), Config{Listen: "127.0.0.1:0"})
		require.NoError(t, err)
		require.NoError(t, srv.Close())
		require.ErrorIs(t, srv.Start(t.Context()), ErrClosed)
	})
	t.Run("done context", func(t *testing.T) {
		t.Parallel()
		srv, err := NewServer(NewRegistry(), Config{Listen: "127.0.0.1:0"})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		require.ErrorIs(t, srv.Start(ctx), context.Canceled)
	})
	t.Run("run until cancelled", func(t *testing.T) {
		t.Parallel()
		reg := testRegistry(t)
		srv, err := NewServer(reg, Config{Listen: "127.0.0.1:0"})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- srv.Run(ctx) }()
		<-srv.Ready()
		r := exchange(t, srv, "udp", query("web.local.", dns.TypeA))
		assert.Len(t, r.Answer, 2)
		cancel()
		require.NoError(t, <-done)
	})
	t.Run("run reports a socket that fails", func(t *testing.T) {
		t.Parallel()
		srv, err := NewServer(NewRegistry(), Config{Listen: "127.0.0.1:0"})
		require.NoError(t, err)
		done := make(chan error, 1)
		go func() { done <- srv.Run(t.Context()) }()
		<-srv.Ready()
		srv.mu.Lock()
		pc := srv.servers[0].PacketConn
		srv.mu.Unlock()
		require.NoError(t, pc.Close()) // behind the server's back
		require.ErrorContains(t, <-done, "discovery: serve on")
		require.ErrorIs(t, srv.Start(t.Context()), ErrClosed, "closed")
	})
	t.Run("cancel stops Start", func(t *testing.T) {
		t.Parallel()
		srv, err := NewServer(NewRegistry(), Config{Listen: "127.0.0.1:0"})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(t.Context())
		require.NoError(t, srv.Start(ctx))
		cancel()
		<-srv.stopped
		require.ErrorIs(t, srv.Start(t.Context()), ErrClosed)
	})
	t.Run("port taken", func(t *testing.T) {
		t.Parallel()
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		require.NoError(t, err)
		t.Cleanup(func() { _ = pc.Close() })
		srv, err := NewServer(NewRegistry(), Config{Listen: pc.LocalAddr().String()})
		require.NoError(t, err)
		require.ErrorContains(t, srv.Start(t.Context()), "listen on")
		require.NoError(t, srv.Close())
	})
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"defaults", Config{}, ""},
		{"DefaultConfig", DefaultConfig(), ""},
		{"multi-label zone", Config{Namespace: "svc.example."}, ""},
		{"ipv6 listen", Config{Listen: "[::1]:0"}, ""},
		{"unspecified with advertise", Config{Listen: "0.0.0.0:53", Advertise: netip.MustParseAddr("10.88.0.1")}, ""},
		{"bad zone", Config{Namespace: "a..b"}, "namespace"},
		{"root zone", Config{Namespace: "."}, "namespace"},
		{"zone label", Config{Namespace: "_x"}, "namespace"},
		{"host name listen", Config{Listen: "localhost:53"}, "want IP:port"},
		{"no port", Config{Listen: "127.0.0.1"}, "want IP:port"},
		{"unspecified without advertise", Config{Listen: "0.0.0.0:53"}, "advertise: required"},
		{"unspecified advertise", Config{Advertise: netip.IPv4Unspecified()}, "advertise"},
		{"negative ttl", Config{TTL: -time.Second}, "ttl"},
		{"sub-second ttl", Config{TTL: 1500 * time.Millisecond}, "ttl"},
		{"long ttl", Config{TTL: 2 * time.Hour}, "ttl"},
		{"rate limit off", Config{RateLimit: -1}, ""},
		{"fractional rate", Config{RateLimit: 0.5, RateBurst: 1}, ""},
		{"rate limit NaN", Config{RateLimit: math.NaN()}, "rate limit"},
		{"rate limit infinite", Config{RateLimit: math.Inf(1)}, "rate limit"},
		{"negative burst", Config{RateBurst: -1}, "rate burst"},
		{"negative clients", Config{RateClients: -5}, "rate clients"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.Validate()
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalid)
			assert.ErrorContains(t, err, tt.wantErr)
			_, err = NewServer(NewRegistry(), tt.cfg)
			require.ErrorIs(t, err, ErrInvalid)
		})
	}
	_, err := NewServer(nil, Config{})
	require.ErrorIs(t, err, ErrInvalid)
}

func TestDNSConfig(t *testing.T) {
	t.Parallel()
	srv, err := NewServer(NewRegistry(), Config{Listen: "0.0.0.0:53", Advertise: netip.MustParseAddr("10.88.0.1")})
	require.NoError(t, err)
	assert.Equal(t, network.DNSConfig{
		Servers: []netip.Addr{netip.MustParseAddr("10.88.0.1")},
		Search:  []string{"local"},
		Options: []string{"ndots:1"},
	}, srv.DNSConfig(""))
	cfg := srv.DNSConfig("Prod")
	assert.Equal(t, network.DNSConfig{
		Servers: []netip.Addr{netip.MustParseAddr("10.88.0.1")},
		Search:  []string{"prod.local", "local"},
		Options: []string{"ndots:2"},
	}, cfg)
	require.NoError(t, (&network.Request{TaskID: "t1", Mode: network.ModeAWSVPC, DNS: cfg}).Validate())

	host := []byte("nameserver 127.0.0.53\nsearch corp.example\noptions edns0\n")
	assert.Equal(t, "# Generated by Stevedore.\n"+
		"nameserver 10.88.0.1\n"+
		"search prod.local local\n"+
		"options ndots:2\n", string(network.RenderResolvConf(cfg, host, true)))

	loop := startServer(t, NewRegistry(), nil)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("127.0.0.1")}, loop.DNSConfig("").Servers, "listen address by default")
	assert.Empty(t, TaskDNSConfig(netip.Addr{}, "local.", "").Servers)
	assert.Equal(t, []string{"local"}, TaskDNSConfig(netip.Addr{}, "local.", "my.cluster").Search, "not a label: ignored")
}

// The responder on its own: what never reaches it through miekg's server.
func TestReplyEdgeCases(t *testing.T) {
	t.Parallel()
	h := newResponder(testRegistry(t), "local", 10)

	resp := query("web.local.", dns.TypeA)
	resp.Response = true
	assert.Nil(t, h.reply(resp, true), "responses are not answered")

	notify := query("local.", dns.TypeSOA)
	notify.Opcode = dns.OpcodeNotify
	assert.Equal(t, dns.RcodeNotImplemented, h.reply(notify, true).Rcode)

	none := new(dns.Msg)
	assert.Equal(t, dns.RcodeFormatError, h.reply(none, true).Rcode)

	two := query("web.local.", dns.TypeA)
	two.Question = append(two.Question, two.Question[0])
	assert.Equal(t, dns.RcodeFormatError, h.reply(two, true).Rcode)

	r := h.reply(query("web.local.", dns.TypeA), false)
	_, err := r.Pack()
	require.NoError(t, err)
}
