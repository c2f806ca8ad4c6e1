package discovery

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"
)

// benchRegistry: 100 services of 3 healthy instances with ports.
func benchRegistry(b *testing.B) *Registry {
	b.Helper()
	reg := NewRegistry()
	for s := range 100 {
		for i := range 3 {
			id := fmt.Sprintf("%032x", s*3+i)
			require.NoError(b, reg.Register(inst(fmt.Sprintf("svc%d", s), id, fmt.Sprintf("10.0.%d.%d", s, i+1), 8080)))
		}
	}
	return reg
}

func reportQPS(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
}

// BenchmarkServeA measures DNS answers per second from the server over
// loopback: A queries for a 3-instance service, one outstanding query per
// client. The client side is raw packets (no parsing) so that the figure
// is the server's.
func BenchmarkServeA(b *testing.B) {
	reg := benchRegistry(b)
	srv := startServer(b, reg, nil)
	req, err := query("svc42.local.", dns.TypeA).Pack()
	require.NoError(b, err)

	ask := func(b *testing.B, conn net.Conn, buf []byte) {
		if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
			b.Error(err)
			return
		}
		if _, err := conn.Write(req); err != nil {
			b.Error(err)
			return
		}
		n, err := conn.Read(buf)
		if err != nil {
			b.Error(err)
			return
		}
		if n < 12 || buf[3]&0xf != 0 || buf[7] != 3 { // NOERROR, 3 answers
			b.Errorf("unexpected answer % x", buf[:n])
		}
	}
	dial := func(b *testing.B, proto string) net.Conn {
		conn, err := net.Dial(proto, srv.Addr().String())
		require.NoError(b, err)
		return conn
	}

	b.Run("udp/1client", func(b *testing.B) {
		conn := dial(b, "udp")
		defer conn.Close()
		buf := make([]byte, 1500)
		for b.Loop() {
			ask(b, conn, buf)
		}
		reportQPS(b)
	})
	// Baseline: a bare UDP echo server on loopback, the floor of what any
	// UDP server can do here (the same client, no DNS work).
	b.Run("udp/1client/echo-baseline", func(b *testing.B) {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		require.NoError(b, err)
		echoDone := make(chan struct{})
		go func() {
			defer close(echoDone)
			buf := make([]byte, 1500)
			for {
				n, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				_, _ = pc.WriteTo(buf[:n], from)
			}
		}()
		defer func() { _ = pc.Close(); <-echoDone }()
		conn, err := net.Dial("udp", pc.LocalAddr().String())
		require.NoError(b, err)
		defer conn.Close()
		buf := make([]byte, 1500)
		for b.Loop() {
			if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
				b.Fatal(err)
			}
			if _, err := conn.Write(req); err != nil {
				b.Fatal(err)
			}
			if _, err := conn.Read(buf); err != nil {
				b.Fatal(err)
			}
		}
		reportQPS(b)
	})
	b.Run("udp/parallel", func(b *testing.B) {
		b.SetParallelism(4) // 4 x GOMAXPROCS clients
		b.RunParallel(func(pb *testing.PB) {
			conn := dial(b, "udp")
			defer conn.Close()
			buf := make([]byte, 1500)
			for pb.Next() {
				ask(b, conn, buf)
			}
		})
		reportQPS(b)
	})
	b.Run("tcp/parallel", func(b *testing.B) {
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			var c *dns.Conn
			defer func() {
				if c != nil {
					_ = c.Close()
				}
			}()
			m := query("svc42.local.", dns.TypeA)
			for i := 0; pb.Next(); i++ {
				// The server closes a connection after 128 queries
				// (miekg/dns's default), like many servers do.
				if i%100 == 0 {
					if c != nil {
						_ = c.Close()
					}
					c = &dns.Conn{Conn: dial(b, "tcp")}
				}
				if err := c.WriteMsg(m); err != nil {
					b.Error(err)
					return
				}
				r, err := c.ReadMsg()
				if err != nil || len(r.Answer) != 3 {
					b.Errorf("answer %v, %v", r, err)
					return
				}
			}
		})
		reportQPS(b)
	})
}

// BenchmarkReply measures the query handler without the network: unpack
// the query, resolve, build and pack the answer.
func BenchmarkReply(b *testing.B) {
	h := newResponder(benchRegistry(b), "local", 10)
	for _, bc := range []struct {
		name  string
		qname string
		qtype uint16
	}{
		{"A", "svc42.local.", dns.TypeA},
		{"SRV", "_svc42._tcp.local.", dns.TypeSRV},
		{"NXDOMAIN", "nope.local.", dns.TypeA},
	} {
		b.Run(bc.name, func(b *testing.B) {
			wire, err := query(bc.qname, bc.qtype).Pack()
			require.NoError(b, err)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				buf := make([]byte, 0, 1500)
				for pb.Next() {
					req := new(dns.Msg)
					if err := req.Unpack(wire); err != nil {
						b.Error(err)
						return
					}
					if _, err := h.reply(req, true).PackBuffer(buf); err != nil {
						b.Error(err)
						return
					}
				}
			})
			reportQPS(b)
		})
	}
}

// BenchmarkResolverLookupHost measures the in-process resolver.
func BenchmarkResolverLookupHost(b *testing.B) {
	r, err := NewResolver(benchRegistry(b), "local")
	require.NoError(b, err)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if addrs, err := r.LookupHost(ctx, "svc42"); err != nil || len(addrs) != 3 {
				b.Errorf("LookupHost: %v, %v", addrs, err)
				return
			}
		}
	})
	reportQPS(b)
}
