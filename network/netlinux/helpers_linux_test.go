package netlinux

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/stevedore-io/stevedore/internal/nldump"
	"github.com/stevedore-io/stevedore/network"
)

// requireRoot skips a test that needs root, or fails it when CI=true (CI
// runs as root, where nothing may be skipped). -short skips it as well.
func requireRoot(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test against the kernel; skipped with -short")
	}
	if os.Geteuid() == 0 {
		return
	}
	const why = "needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) to create network namespaces, veths, bridges and nftables tables"
	if os.Getenv("CI") == "true" {
		t.Fatal(why + "; CI=true, so this is a failure")
	}
	t.Skip(why)
}

// subnetCounter gives each test its own 10.213.N.0/24; the start depends
// on the process ID so that two test binaries running at once are unlikely
// to pick the same subnets (the bridge names are random as well).
var subnetCounter atomic.Uint32

var subnetBase = uint32(os.Getpid())

// testConfig returns a configuration with names, a subnet and dynamic host
// ports no other test (or anything else on the host) uses: bridge
// "stb<hex>", prefix "t<hex>-", subnet 10.213.N.0/24, 100 ports from
// 52000 up.
func testConfig(t testing.TB) Config {
	t.Helper()
	var b [2]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	id := hex.EncodeToString(b[:])
	n := subnetBase + subnetCounter.Add(1)
	cfg := DefaultConfig()
	cfg.BridgeName = "stb" + id
	cfg.NamePrefix = "t" + id + "-"
	cfg.Subnet = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 213, byte(n % 250), 0}), 24)
	// Dynamic host ports are the host's, shared by every provider: two
	// tests publishing 49153 at once would each DNAT the other's
	// connections. Each test gets 100 ports of its own, above the ones
	// tests use statically (50100-50110, 50301).
	first := uint16(52000 + n%130*100)
	cfg.DynamicPorts = network.PortRange{First: first, Last: first + 99}
	cfg.StateDir = t.TempDir()
	cfg.HostResolvConf = writeTemp(t, "nameserver 127.0.0.53\nnameserver 192.0.2.53\nsearch example.test\n")
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return cfg
}

func writeTemp(t testing.TB, content string) string {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "resolv")
	require.NoError(t, err)
	_, err = f.WriteString(content)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	return f.Name()
}

// newTestProvider returns a provider whose every object is destroyed and
// leak-checked at the end of the test, whatever its outcome.
func newTestProvider(t testing.TB, cfg Config) *Provider {
	t.Helper()
	requireRoot(t)
	p, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		assert.NoError(t, p.Destroy(context.Background()))
		requireNoLeftovers(t, p)
		p.Close()
	})
	return p
}

// requireNoLeftovers fails if anything of p's remains beyond the objects
// in allowed ("kind name" strings as Leftovers gives them). The kernel
// removes a deleted namespace's veth asynchronously, so it polls Leftovers
// for at most 30 s before failing (on a loaded machine the kernel can
// take seconds to get to it).
func requireNoLeftovers(t testing.TB, p *Provider, allowed ...string) {
	t.Helper()
	var left []string
	deadline := time.Now().Add(30 * time.Second)
	for {
		var err error
		left, err = p.Leftovers()
		require.NoError(t, err)
		left = slices.DeleteFunc(left, func(s string) bool { return slices.Contains(allowed, s) })
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	assert.Empty(t, left, "leftover kernel objects")
}

// inNetNS runs fn on a throwaway thread inside the namespace at path
// (the host namespace when path is empty).
func inNetNS(t testing.TB, path string, fn func() error) {
	t.Helper()
	require.NoError(t, onFreshThread(func() error {
		if path != "" {
			if err := enterNetNS(path); err != nil {
				return err
			}
		}
		return fn()
	}))
}

// serve starts a TCP server in the namespace at path that writes greeting
// to every connection and closes it. It stops at the end of the test.
func serve(t testing.TB, path string, port uint16, greeting string) {
	t.Helper()
	var l net.Listener
	inNetNS(t, path, func() (err error) {
		l, err = net.Listen("tcp4", fmt.Sprintf(":%d", port))
		return err
	})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return // closed
			}
			c.SetDeadline(time.Now().Add(2 * time.Second))
			io.WriteString(c, greeting+"\n")
			c.Close()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
}

// dial connects from the namespace at path (the host when empty) to addr
// and returns the line the server wrote.
func dial(t testing.TB, path string, addr netip.AddrPort, timeout time.Duration) (string, error) {
	t.Helper()
	var c net.Conn
	var dialErr error
	inNetNS(t, path, func() error {
		d := net.Dialer{Timeout: timeout}
		c, dialErr = d.Dial("tcp4", addr.String())
		return nil
	})
	if dialErr != nil {
		return "", dialErr
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	line, err := bufio.NewReader(c).ReadString('\n')
	return line, err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// linksIn returns the links of the namespace at path.
func linksIn(t testing.TB, path string) []netlink.Link {
	t.Helper()
	var links []netlink.Link
	inNetNS(t, path, func() error {
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			return err
		}
		defer h.Close()
		links, err = nldump.Retry(h.LinkList)
		return err
	})
	return links
}

// nft runs the nft command in the namespace at path (the host when empty).
func nft(t testing.TB, path string, args ...string) (string, error) {
	t.Helper()
	if path != "" {
		args = append([]string{"--net=" + path, "nft"}, args...)
		out, err := exec.Command("nsenter", args...).CombinedOutput()
		return string(out), err
	}
	out, err := exec.Command("nft", args...).CombinedOutput()
	return string(out), err
}

func awsvpc(id string) network.Request {
	return network.Request{TaskID: id, Mode: network.ModeAWSVPC}
}

func allowFrom(proto network.Protocol, port uint16, src string) network.IngressRule {
	return network.IngressRule{Protocol: proto, FromPort: port, Sources: []netip.Prefix{netip.MustParsePrefix(src)}}
}
