package discovery

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"
)

// FuzzReply feeds arbitrary messages to the query handler: it never panics,
// and every reply is a well-formed response that packs within the UDP
// size limit.
func FuzzReply(f *testing.F) {
	seed := func(name string, qtype uint16, edns uint16) {
		m := query(name, qtype)
		if edns != 0 {
			m.SetEdns0(edns, true)
		}
		b, err := m.Pack()
		require.NoError(f, err)
		f.Add(b)
	}
	seed("web.local.", dns.TypeA, 0)
	seed("_web._tcp.local.", dns.TypeSRV, 1232)
	seed("a1.web.prod.local.", dns.TypeANY, 4096)
	seed("local.", dns.TypeSOA, 0)
	seed("example.com.", dns.TypeA, 0)
	seed("big.local.", dns.TypeA, 600)
	f.Add([]byte{})
	f.Add([]byte{0, 1, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0})

	reg := testRegistry(f)
	for i := range 60 {
		in := inst("big", "t"+string(rune('a'+i%26))+string(rune('a'+i/26)), "10.1.0.1", 80)
		require.NoError(f, reg.Register(in))
	}
	h := newResponder(reg, "local", 10)

	f.Fuzz(func(t *testing.T, data []byte) {
		req := new(dns.Msg)
		if err := req.Unpack(data); err != nil {
			return
		}
		for _, udp := range []bool{true, false} {
			resp := h.reply(req, udp)
			if req.Response {
				require.Nil(t, resp)
				continue
			}
			require.NotNil(t, resp)
			require.Equal(t, req.Id, resp.Id)
			require.True(t, resp.Response)
			require.False(t, resp.RecursionAvailable)
			out, err := resp.Pack()
			if _, qerr := req.Pack(); qerr != nil {
				continue // a question that cannot be packed back
			}
			require.NoError(t, err)
			if udp {
				require.LessOrEqual(t, len(out), maxUDPSize)
			}
			back := new(dns.Msg)
			require.NoError(t, back.Unpack(out))
		}
	})
}

// FuzzResolve tries arbitrary names on the DNS handler and the in-process
// resolver: neither panics, and they agree on whether the name has
// addresses.
func FuzzResolve(f *testing.F) {
	for _, s := range []string{"web", "web.local.", "_web._tcp", "a1.web.prod", "..", "a\\.b.local.", "WEB.PROD.LOCAL", ""} {
		f.Add(s, dns.TypeA)
	}
	reg := testRegistry(f)
	h := newResponder(reg, "local", 10)
	r, err := NewResolver(reg, "local")
	require.NoError(f, err)

	f.Fuzz(func(t *testing.T, name string, qtype uint16) {
		ctx := context.Background()
		addrs, hostErr := r.LookupHost(ctx, name)
		_, _ = r.LookupSRV(ctx, name)
		if _, ok := dns.IsDomainName(name); !ok {
			return
		}
		resp := h.reply(query(dns.Fqdn(name), qtype), true)
		require.NotNil(t, resp)
		if qtype != dns.TypeA || !dns.IsFqdn(name) || len(name) > 200 {
			return
		}
		var got int
		for _, rr := range resp.Answer {
			if _, ok := rr.(*dns.A); ok {
				got++
			}
		}
		if hostErr == nil {
			var v4 int
			for _, a := range addrs {
				if a.Is4() {
					v4++
				}
			}
			require.Equal(t, v4, got, "%q", name)
		}
	})
}

// FuzzServeDNS feeds raw wire bytes to the server as its UDP and TCP
// listeners would (the same header check, then the same unpacking), from
// many clients, with a rate limit small enough to be reached: the server
// never panics, writes at most one message per query, and each is a
// well-formed response to it that fits UDP's limit over UDP. An answer to
// ANY is never much larger than the query.
func FuzzServeDNS(f *testing.F) {
	for _, q := range []*dns.Msg{query("big.local.", dns.TypeANY), query("big.local.", dns.TypeA), query("_big._tcp.local.", dns.TypeSRV)} {
		q.SetEdns0(4096, false)
		b, err := q.Pack()
		require.NoError(f, err)
		f.Add(b, uint16(1), false)
		f.Add(b, uint16(2), true)
	}
	f.Add([]byte{0, 1, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0}, uint16(0), false)
	f.Add([]byte{}, uint16(0), true)

	reg := NewRegistry()
	for i := range 60 {
		require.NoError(f, reg.Register(inst("big", fmt.Sprintf("t%d", i), fmt.Sprintf("10.1.0.%d", i+1), 80)))
	}
	srv, err := NewServer(reg, Config{Listen: "127.0.0.1:0", RateLimit: 5, RateBurst: 10, RateClients: 8, NoForward: true})
	require.NoError(f, err)
	f.Cleanup(func() { srv.Close() })
	clock := newFakeClock()
	srv.now = clock.now

	f.Fuzz(func(t *testing.T, data []byte, client uint16, tcp bool) {
		if len(data) < 12 {
			return // the listeners drop what has no header
		}
		be := binary.BigEndian
		dh := dns.Header{Id: be.Uint16(data), Bits: be.Uint16(data[2:]), Qdcount: be.Uint16(data[4:]),
			Ancount: be.Uint16(data[6:]), Nscount: be.Uint16(data[8:]), Arcount: be.Uint16(data[10:])}
		if dns.DefaultMsgAcceptFunc(dh) != dns.MsgAccept {
			return // answered or dropped by the listeners themselves
		}
		req := new(dns.Msg)
		if err := req.Unpack(data); err != nil {
			return
		}
		clock.advance(time.Duration(client%5) * 100 * time.Millisecond)
		w := writer(tcp, netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 2, byte(client >> 8), byte(client)}), 40000).String())
		srv.ServeDNS(w, req)

		require.LessOrEqual(t, len(w.msgs), 1, "one answer at most")
		if req.Response {
			require.Empty(t, w.msgs, "responses are not answered")
		}
		for _, resp := range w.msgs {
			require.True(t, resp.Response)
			require.Equal(t, req.Id, resp.Id)
			require.False(t, resp.RecursionAvailable)
			out, err := resp.Pack()
			if _, qerr := req.Pack(); qerr != nil {
				continue // a question that cannot be packed back
			}
			require.NoError(t, err)
			if !tcp {
				require.LessOrEqual(t, len(out), maxUDPSize)
			}
			back := new(dns.Msg)
			require.NoError(t, back.Unpack(out))
			if len(req.Question) == 1 && req.Question[0].Qtype == dns.TypeANY {
				require.LessOrEqual(t, len(out), len(data)+len(req.Question[0].Name)+64, "ANY amplifies")
			}
		}
	})
}

// FuzzForwardedAnswer hands arbitrary upstream answers to the forwarding
// path, with the ID of the query (as the client checks it): the server
// never panics, its answer is a well-formed response to the client's
// question that fits the UDP limit, a cached answer never gains TTL, and
// the cache stays within its bound.
func FuzzForwardedAnswer(f *testing.F) {
	seed := func(m *dns.Msg) {
		b, err := m.Pack()
		require.NoError(f, err)
		f.Add(b, uint16(dns.TypeA), uint8(0))
	}
	ok := new(dns.Msg)
	ok.SetQuestion("example.com.", dns.TypeA)
	ok.Response = true
	ok.Answer = append(ok.Answer, &dns.A{Hdr: dns.RR_Header{Name: "example.com.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 30}, A: []byte{192, 0, 2, 1}})
	seed(ok)
	nx := new(dns.Msg)
	nx.SetQuestion("example.com.", dns.TypeA)
	nx.Response, nx.Rcode = true, dns.RcodeNameError
	nx.Ns = append(nx.Ns, soaRR(4294967295, 0))
	nx.SetEdns0(4096, true)
	seed(nx)
	big := ok.Copy()
	for i := range 200 {
		big.Answer = append(big.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: "example.com.", Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: uint32(i)}, Txt: []string{strings.Repeat("x", 200)}})
	}
	seed(big)
	f.Add([]byte{0, 0, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0}, uint16(dns.TypeAAAA), uint8(3))

	cfg := Config{CacheSize: 4, NoForward: false, Upstreams: []netip.AddrPort{netip.MustParseAddrPort("192.0.2.53:53")}}.withDefaults()
	h := newResponder(NewRegistry(), "local", 10)
	clock := newFakeClock()
	h.fwd = newForwarder(cfg, clock.now)
	f.Cleanup(h.fwd.close)

	f.Fuzz(func(t *testing.T, data []byte, qtype uint16, age uint8) {
		upstream := new(dns.Msg)
		if err := upstream.Unpack(data); err != nil {
			return
		}
		h.fwd.cache = newAnswerCache(1) // what earlier inputs cached is not this one's
		h.fwd.exchange = func(_ string, m *dns.Msg, _ netip.AddrPort) (*dns.Msg, error) {
			r := upstream.Copy()
			r.Id = m.Id
			return r, nil
		}
		name := "example.com."
		if len(upstream.Question) == 1 {
			name = upstream.Question[0].Name // so that some answers match
		}
		req := query(name, qtype)
		req.SetEdns0(1232, false)
		for i := range 3 { // a miss, then perhaps hits, and another name
			if i == 2 {
				req = query("other."+strings.TrimPrefix(name, "."), qtype)
			}
			clock.advance(time.Duration(age) * time.Second)
			resp := h.reply(req, true)
			require.NotNil(t, resp)
			require.Equal(t, req.Id, resp.Id)
			require.True(t, resp.Response)
			require.Equal(t, req.Question, resp.Question)
			if _, err := req.Pack(); err != nil {
				return
			}
			out, err := resp.Pack()
			require.NoError(t, err)
			require.LessOrEqual(t, len(out), maxUDPSize)
			require.NoError(t, new(dns.Msg).Unpack(out))
			for _, rr := range append(slices.Clone(resp.Answer), resp.Ns...) {
				require.LessOrEqual(t, rr.Header().Ttl, maxTTL(upstream), "a cached record gained TTL")
			}
		}
		require.LessOrEqual(t, h.fwd.cache.len(), 1)
	})
}

// maxTTL is the largest TTL of m's records.
func maxTTL(m *dns.Msg) uint32 {
	var ttl uint32
	for _, rr := range append(append(slices.Clone(m.Answer), m.Ns...), m.Extra...) {
		ttl = max(ttl, rr.Header().Ttl)
	}
	return ttl
}
