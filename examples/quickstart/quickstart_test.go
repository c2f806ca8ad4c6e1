package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/task"
)

// needContainerd skips the test when it cannot run here (not root, or no
// containerd address), and fails it instead when CI=true: there the
// environment must provide both.
func needContainerd(t *testing.T) string {
	t.Helper()
	addr := os.Getenv(addressEnv)
	var reason string
	switch {
	case os.Geteuid() != 0:
		reason = "needs root (network namespaces, bridges, containers)"
	case addr == "":
		reason = addressEnv + " is not set; run through ./scripts/with-containerd.sh"
	default:
		return addr
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but the integration test cannot run: %s", reason)
	}
	t.Skip(reason)
	return ""
}

// testConfig is the demo's configuration with names of its own, so that the
// test does not clash with a demo, or another run of the test, at the same
// time.
func testConfig(t *testing.T, addr string) config {
	cfg := defaultConfig()
	cfg.ContainerdAddress = addr
	// Names of this run only: another run of the test (make test in
	// another tree, say) may share the host.
	suffix := randomHex(3)
	cfg.Namespace = "stevedore-quickstart-test"
	cfg.Subnet = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 213, byte(100 + mrand.IntN(100)), 0}), 24)
	cfg.Bridge = "stvd-qt" + suffix
	cfg.NamePrefix = "sq" + suffix + "-"
	logs := &testLogWriter{t: t}
	t.Cleanup(logs.stop)
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	// Outside names go to a resolver of the test's own, on loopback: a
	// test sends nothing to the host's resolvers.
	cfg.DNSUpstreams = []netip.AddrPort{upstreamDNS(t)}
	return cfg
}

// upstreamOutsideAddr is what the test's upstream resolver answers for
// every A query (a documentation address: nothing is sent to it).
const upstreamOutsideAddr = "192.0.2.80"

// upstreamDNS starts a DNS server on 127.0.0.1 standing in for the host's
// resolvers, which answers every A query with upstreamOutsideAddr.
func upstreamDNS(t *testing.T) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.RecursionAvailable = true
		if len(r.Question) == 1 && r.Question[0].Qtype == dns.TypeA && strings.HasPrefix(r.Question[0].Name, outsideName+".") {
			m.Answer = append(m.Answer, &dns.A{
				Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
				A:   net.ParseIP(upstreamOutsideAddr).To4(),
			})
		} else if len(r.Question) == 1 && !strings.HasPrefix(r.Question[0].Name, outsideName+".") {
			m.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	return netip.MustParseAddrPort(pc.LocalAddr().String())
}

// TestQuickstart runs the whole demo against the real containerd, network
// and agents, and checks what it tells: v1 answers from every task, then v2
// answers only, and a clean clean-up.
func TestQuickstart(t *testing.T) {
	addr := needContainerd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	var out bytes.Buffer
	err := run(ctx, testConfig(t, addr), &out)
	t.Logf("demo output:\n%s", out.String())
	require.NoError(t, err)

	text := out.String()
	firstV1 := strings.Index(text, `"webapp v1 on `)
	lastV1 := strings.LastIndex(text, `"webapp v1 on `)
	firstV2 := strings.Index(text, `"webapp v2 on `)
	require.NotEqual(t, -1, firstV1, "no v1 answer")
	require.NotEqual(t, -1, firstV2, "no v2 answer")
	assert.Less(t, lastV1, firstV2, "every v1 answer comes before the first v2 answer")
	// Per version: 2 requests to each task straight, one line per task of
	// the answers through the load balancer; and 3 by name for v1.
	assert.Equal(t, 3*2+3+3, strings.Count(text, `"webapp v1 on `), "2 requests to each of 3 tasks, 3 tasks via the load balancer, 3 by service name")
	assert.Equal(t, 3, strings.Count(text, "by name  GET http://webapp.quickstart.local:8080/"), "requests by service name")
	assert.Regexp(t, `nslookup webapp -> (\d+\.\d+\.\d+\.\d+ ?){3}\n`, text, "a task resolves the service by name")
	assert.Contains(t, text, "nslookup example.com -> "+upstreamOutsideAddr+" (forwarded to the host's resolvers)", "a task's outside name is forwarded to the upstream, not refused")
	assert.Equal(t, 3*2+3, strings.Count(text, `"webapp v2 on `), "2 requests to each of 3 tasks, 3 tasks via the load balancer")
	assert.Equal(t, 2*3, strings.Count(text, "via LB     2 x "), "each task answered 2 of the requests through the load balancer, for v1 and v2")
	assert.Regexp(t, `through the load balancer during the roll-out: \d+ requests: v1 \d+, v2 \d+, failed 0\n`, text, "no request failed during the roll-out")
	for _, zone := range zones {
		assert.Contains(t, text, zone)
	}
	assert.Contains(t, text, "has reached a steady state")
	assert.Contains(t, text, "all clean")
	assert.NotContains(t, text, "PROBLEM")
	assert.NotContains(t, text, string(task.TaskFailedToStart), "no task failed to start")
	// A busy host can fail a health check now and then (runc exec is slow
	// under load); the service then replaces the task, which may leave the
	// zones unbalanced. That is the system working, not a failure.
	for _, worth := range []string{"UNHEALTHY", "not spread one per zone"} {
		if strings.Contains(text, worth) {
			t.Logf("note: the demo reported %q", worth)
		}
	}
}

// TestPreflight covers the refusals that need no containerd.
func TestPreflight(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		err := run(context.Background(), defaultConfig(), io.Discard)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "must run as root")
		t.Skip("the other refusals come after the root check")
	}
	tests := []struct {
		name string
		edit func(*config)
		want string
	}{
		{"no address", func(c *config) { c.ContainerdAddress = "" }, addressEnv + " is not set"},
		{"IPv6 subnet", func(c *config) { c.Subnet = netip.MustParsePrefix("fd00::/64") }, "need an IPv4 prefix"},
		{"subnet in use", func(c *config) { c.Subnet = netip.MustParsePrefix("127.0.0.0/8") }, "is in use on interface lo"},
		{"too many requests", func(c *config) { c.Requests = 1000 }, "between 1 and 100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := defaultConfig()
			cfg.ContainerdAddress = "/nonexistent.sock"
			tt.edit(&cfg)
			var out bytes.Buffer
			err := run(context.Background(), cfg, &out)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Empty(t, out.String(), "nothing is created, so nothing is cleaned up")
		})
	}
}

func TestBar(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                      string
		healthy, running, pending int
		scale                     int
		want                      string
	}{
		{"empty", 0, 0, 0, 3, "[························]"},
		{"one pending", 0, 0, 1, 3, "[▒▒▒▒▒▒▒▒················]"},
		{"mixed", 1, 2, 1, 3, "[████████▓▓▓▓▓▓▓▓▒▒▒▒▒▒▒▒]"},
		{"over scale", 3, 3, 3, 3, "[████████████████████████]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dep := service.Deployment{HealthyCount: tt.healthy, RunningCount: tt.running, PendingCount: tt.pending}
			got := bar(dep, tt.scale)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, barWidth+2, len([]rune(got)))
		})
	}
}

// testLogWriter sends log lines to the test's log until the test ends.
type testLogWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Helper()
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testLogWriter) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
}
