package discovery

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeClock is a clock the tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// bigRegistry has service big with n IPv4 instances on port 80.
func bigRegistry(t testing.TB, n int) *Registry {
	t.Helper()
	reg := NewRegistry()
	for i := range n {
		require.NoError(t, reg.Register(inst("big", fmt.Sprintf("t%d", i), fmt.Sprintf("10.1.%d.%d", i/250, i%250+1), 80)))
	}
	return reg
}

// ANY is answered with one small record (RFC 8482): a query for a large
// service no longer brings back a reply many times its size.
func TestAnyIsAnsweredMinimally(t *testing.T) {
	t.Parallel()
	srv := startServer(t, bigRegistry(t, 60), nil)
	for _, name := range []string{"big.local.", "t1.big.local.", "_big._tcp.local.", "local."} {
		for _, proto := range []string{"udp", "tcp"} {
			t.Run(proto+"/"+name, func(t *testing.T) {
				t.Parallel()
				q := query(name, dns.TypeANY)
				q.SetEdns0(4096, false)
				qb, err := q.Pack()
				require.NoError(t, err)
				r := exchange(t, srv, proto, q)
				require.Equal(t, dns.RcodeSuccess, r.Rcode)
				assert.Equal(t, []string{name + ` 10 IN HINFO "RFC8482" ""`}, rrs(r.Answer))
				assert.Empty(t, rrs(r.Extra))
				rb, err := r.Pack()
				require.NoError(t, err)
				assert.LessOrEqual(t, len(rb), len(qb)+len(name)+30, "amplification %d/%d", len(rb), len(qb))
			})
		}
	}
	r := exchange(t, srv, "udp", query("nope.local.", dns.TypeANY))
	assert.Equal(t, dns.RcodeNameError, r.Rcode, "a name that does not exist stays NXDOMAIN")
}

func TestLimiterBucketsPerClient(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	l := newLimiter(10, 3, 100)
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	for i := range 3 {
		assert.True(t, l.allow(a, clock.now()), "burst %d", i)
	}
	assert.False(t, l.allow(a, clock.now()), "over the burst")
	assert.True(t, l.allow(b, clock.now()), "another client has its own bucket")
	clock.advance(100 * time.Millisecond) // one token at 10/s
	assert.True(t, l.allow(a, clock.now()))
	assert.False(t, l.allow(a, clock.now()))
	clock.advance(time.Hour)
	for range 3 {
		assert.True(t, l.allow(a, clock.now()))
	}
	assert.False(t, l.allow(a, clock.now()), "refilled to the burst, not beyond")

	// IPv6 clients are counted by /64, and IPv4-mapped addresses as IPv4.
	v6a, v6b := netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::ffff:2")
	for range 3 {
		assert.True(t, l.allow(v6a, clock.now()))
	}
	assert.False(t, l.allow(v6b, clock.now()), "same /64")
	assert.True(t, l.allow(netip.MustParseAddr("fd00:0:0:1::1"), clock.now()), "another /64")
	assert.False(t, l.allow(netip.MustParseAddr("::ffff:10.0.0.1"), clock.now()), "mapped 10.0.0.1 is 10.0.0.1")
}

// The table of clients stays bounded under a flood from many sources:
// new clients share one bucket while the table is full of busy ones, and
// quiet clients are forgotten once their buckets have refilled.
func TestLimiterTableIsBounded(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	l := newLimiter(1, 2, 4)
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 9, byte(i >> 8), byte(i)}) }
	for i := range 4 {
		require.True(t, l.allow(addr(i), clock.now()))
	}
	allowed := 0
	for i := 4; i < 1000; i++ {
		if l.allow(addr(i), clock.now()) {
			allowed++
		}
	}
	assert.Equal(t, 4, l.size(), "the table holds at most 4 clients")
	assert.Equal(t, 2, allowed, "996 new sources share one bucket of 2")
	assert.True(t, l.allow(addr(0), clock.now()), "a tracked client keeps its own bucket")

	clock.advance(2 * time.Second) // every bucket has refilled
	require.True(t, l.allow(addr(2000), clock.now()))
	assert.Equal(t, 1, l.size(), "the quiet clients were forgotten to make room")
}

// recorder is a dns.ResponseWriter that keeps what is written to it.
type recorder struct {
	local, remote net.Addr
	msgs          []*dns.Msg
}

func (r *recorder) LocalAddr() net.Addr         { return r.local }
func (r *recorder) RemoteAddr() net.Addr        { return r.remote }
func (r *recorder) WriteMsg(m *dns.Msg) error   { r.msgs = append(r.msgs, m); return nil }
func (r *recorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *recorder) Close() error                { return nil }
func (r *recorder) TsigStatus() error           { return nil }
func (r *recorder) TsigTimersOnly(bool)         {}
func (r *recorder) Hijack()                     {}
func (r *recorder) Network() string             { return "" }

func writer(tcp bool, client string) *recorder {
	ap := netip.MustParseAddrPort(client)
	if tcp {
		return &recorder{local: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}, remote: net.TCPAddrFromAddrPort(ap)}
	}
	return &recorder{local: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}, remote: net.UDPAddrFromAddrPort(ap)}
}

// Over its limit, a client's UDP queries are dropped, every second one
// answered empty with TC; its TCP queries are REFUSED. Others are served.
func TestServerRateLimitsEachClient(t *testing.T) {
	t.Parallel()
	srv, err := NewServer(bigRegistry(t, 60), Config{Listen: "127.0.0.1:0", RateLimit: 1, RateBurst: 2, NoForward: true})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	clock := newFakeClock()
	srv.now = clock.now

	ask := func(tcp bool, client string) []*dns.Msg {
		w := writer(tcp, client)
		q := query("big.local.", dns.TypeA)
		q.SetEdns0(1232, false)
		srv.ServeDNS(w, q)
		return w.msgs
	}
	for range 2 {
		got := ask(false, "10.0.0.1:5000")
		require.Len(t, got, 1)
		assert.NotEmpty(t, got[0].Answer, "within the burst")
	}
	var dropped, slipped int
	for range 4 {
		switch got := ask(false, "10.0.0.1:5000"); len(got) {
		case 0:
			dropped++
		case 1:
			slipped++
			assert.True(t, got[0].Truncated, "TC: retry over TCP")
			assert.Empty(t, got[0].Answer)
			assert.Empty(t, got[0].Extra)
		}
	}
	assert.Equal(t, 2, dropped)
	assert.Equal(t, 2, slipped)
	got := ask(true, "10.0.0.1:5001")
	require.Len(t, got, 1)
	assert.Equal(t, dns.RcodeRefused, got[0].Rcode, "TCP over the limit")

	got = ask(false, "10.0.0.2:5000")
	require.Len(t, got, 1)
	assert.NotEmpty(t, got[0].Answer, "another client is served")

	clock.advance(time.Second)
	got = ask(true, "10.0.0.1:5001")
	require.Len(t, got, 1)
	assert.Equal(t, dns.RcodeSuccess, got[0].Rcode, "a token back after a second")

	off, err := NewServer(bigRegistry(t, 1), Config{Listen: "127.0.0.1:0", RateLimit: -1, NoForward: true})
	require.NoError(t, err)
	t.Cleanup(func() { off.Close() })
	for range 50 {
		w := writer(false, "10.0.0.1:5000")
		off.ServeDNS(w, query("big.local.", dns.TypeA))
		require.Len(t, w.msgs, 1, "no limit")
	}
}

// Through real sockets: a client past its burst gets REFUSED over TCP.
func TestServerRateLimitOverTCP(t *testing.T) {
	t.Parallel()
	// One token in 1000 s: none comes back while the test runs.
	srv := startServer(t, bigRegistry(t, 3), func(c *Config) { c.RateLimit, c.RateBurst = 0.001, 2 })
	for range 2 {
		assert.Equal(t, dns.RcodeSuccess, exchange(t, srv, "tcp", query("big.local.", dns.TypeA)).Rcode)
	}
	assert.Equal(t, dns.RcodeRefused, exchange(t, srv, "tcp", query("big.local.", dns.TypeA)).Rcode)
}
