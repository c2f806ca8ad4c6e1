package discovery

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/network"
)

// TestGlibcResolvesThroughServer checks the resolv.conf of a task against
// the C library's stub resolver, as a container sees it: getent runs in a
// mount namespace of its own where the rendered resolv.conf is bind-mounted
// over /etc/resolv.conf, which names only the discovery server; a name
// outside its zone is forwarded. The servers listen on port 53 of two loopback
// addresses (resolv.conf cannot name another port); no packet leaves the
// host. It needs root and util-linux's unshare.
func TestGlibcResolvesThroughServer(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the C library check")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root for a mount namespace and port 53")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("unshare not found")
	}
	getent, err := exec.LookPath("getent")
	if err != nil {
		t.Skip("getent not found")
	}

	reg := NewRegistry()
	prod := inst("web", "p1", "10.0.1.1", 80)
	prod.Namespace = "prod"
	require.NoError(t, reg.Register(prod))
	require.NoError(t, reg.Register(inst("db", "d1", "10.0.2.1", 5432)))
	other := NewRegistry()
	require.NoError(t, other.Register(inst("api", "x1", "10.9.0.1", 0)))

	start := func(reg *Registry, cfg Config) *Server {
		srv, err := NewServer(reg, cfg)
		require.NoError(t, err)
		if err := srv.Start(t.Context()); err != nil {
			if errors.Is(err, syscall.EADDRINUSE) || errors.Is(err, syscall.EADDRNOTAVAIL) {
				t.Skipf("cannot listen: %v", err)
			}
			require.NoError(t, err)
		}
		t.Cleanup(func() { assert.NoError(t, srv.Close()) })
		return srv
	}
	// A second server for another zone stands for the host's resolver:
	// the discovery server forwards to it what is not its own, and the
	// task's resolv.conf names only the discovery server.
	upstream := start(other, Config{Listen: "127.0.0.154:53", Namespace: "example", NoForward: true})
	srv := start(reg, Config{Listen: "127.0.0.153:53", Namespace: "local", Upstreams: []netip.AddrPort{upstream.Addr()},
		ForwardTimeout: time.Second, ForwardAttempts: 1})

	dnsCfg := srv.DNSConfig("prod")
	require.Len(t, dnsCfg.Servers, 1)
	resolvConf := filepath.Join(t.TempDir(), "resolv.conf")
	require.NoError(t, os.WriteFile(resolvConf, network.RenderResolvConf(dnsCfg, nil, true), 0o644))

	lookup := func(t *testing.T, name string) (string, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, unshare, "--mount", "--propagation", "private", "sh", "-c",
			`mount --bind "$1" /etc/resolv.conf && exec "$2" ahostsv4 "$3"`, "sh", resolvConf, getent, name)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	tests := []struct {
		name string
		want string // "" for no answer
	}{
		{"web", "10.0.1.1"},      // search prod.local
		{"web.prod", "10.0.1.1"}, // ndots:2: search before absolute
		{"web.local", "10.0.1.1"},
		{"db", "10.0.2.1"}, // search local after prod.local's NXDOMAIN
		{"p1.web.prod.local", "10.0.1.1"},
		{"api.example", "10.9.0.1"}, // forwarded by discovery to the upstream
		{"nope", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := lookup(t, tt.name)
			if tt.want == "" {
				var exit *exec.ExitError
				require.ErrorAs(t, err, &exit, "%s", out)
				assert.Equal(t, 2, exit.ExitCode(), "getent: not found; %s", out)
				return
			}
			require.NoError(t, err, "%s", out)
			fields := strings.Fields(out)
			require.NotEmpty(t, fields)
			assert.Equal(t, tt.want, fields[0], out)
			assert.True(t, netip.MustParseAddr(fields[0]).IsValid())
		})
	}
}
