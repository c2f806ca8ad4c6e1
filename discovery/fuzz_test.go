package discovery

import (
	"context"
	"testing"

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
