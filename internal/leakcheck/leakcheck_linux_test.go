//go:build linux

package leakcheck

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/internal/ocitest"
	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/runtime/containerd"
)

// needRoot skips without root, and fails under CI=true.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	const why = "needs root to create bridges, veths, network namespaces and nftables tables"
	if os.Getenv("CI") == "true" {
		t.Fatal(why + " (CI=true: must run)")
	}
	t.Skip(why)
}

func run(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	require.NoError(t, err, "%s: %s", strings.Join(args, " "), out)
}

func randomID(t *testing.T) string {
	var b [3]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	return hex.EncodeToString(b[:])
}

// TestFindNetwork creates what network/netlinux leaves when it leaks — a
// bridge, a veth on it, a host nftables table with the prefix, a
// namespace with the prefix and one with only the label — and finds each,
// then finds nothing once they are removed.
func TestFindNetwork(t *testing.T) {
	needRoot(t)
	id := randomID(t)
	prefix := "stlk" + id[:3] // not a prefix of anything else on the host
	bridge, veth, peer := prefix+"br", prefix+"-veth", prefix+"-peer"
	table := prefix + "host"
	named, labelled := prefix+"-ns", "leakcheck-test-"+id

	t.Cleanup(func() {
		for _, cmd := range [][]string{
			{"ip", "link", "del", veth}, {"ip", "link", "del", bridge},
			{"nft", "delete", "table", "ip", table},
			{"ip", "netns", "del", named}, {"ip", "netns", "del", labelled},
		} {
			_ = exec.Command(cmd[0], cmd[1:]...).Run()
		}
	})
	run(t, "ip", "link", "add", bridge, "type", "bridge")
	run(t, "ip", "link", "add", veth, "type", "veth", "peer", "name", peer)
	run(t, "ip", "link", "set", veth, "master", bridge)
	run(t, "nft", "add", "table", "ip", table)
	run(t, "ip", "netns", "add", named)
	run(t, "ip", "netns", "add", labelled)
	run(t, "ip", "-n", labelled, "link", "set", "lo", "alias", TaskLabel+"task-"+id)

	cfg := Config{NamePrefixes: []string{prefix}, FIFODirs: []string{}, AgentStateDirs: []string{}}
	leaks, err := Find(context.Background(), cfg)
	require.NoError(t, err)
	netnsDir := DefaultNetNSDir
	want := []Leak{
		{Kind: "bridge", Name: bridge},
		{Kind: "veth", Name: veth},
		{Kind: "veth", Name: peer},
		{Kind: "nftables table", Name: "ip " + table},
		{Kind: "netns", Name: filepath.Join(netnsDir, named)},
		{Kind: "netns", Name: filepath.Join(netnsDir, labelled), Detail: "task task-" + id},
	}
	for _, w := range want {
		assert.Contains(t, leaks, w)
	}

	cfg.NoLabels = true
	leaks, err = Find(context.Background(), cfg)
	require.NoError(t, err)
	assert.NotContains(t, leaks, want[5], "without labels only prefixes count")

	run(t, "ip", "link", "del", veth)
	run(t, "ip", "link", "del", bridge)
	run(t, "nft", "delete", "table", "ip", table)
	run(t, "ip", "netns", "del", named)
	run(t, "ip", "netns", "del", labelled)
	cfg.NoLabels = false
	leaks, err = Find(context.Background(), cfg)
	require.NoError(t, err)
	for _, l := range leaks {
		assert.False(t, strings.Contains(l.Name, prefix) || strings.Contains(l.Name, labelled), "still found: %s", l)
	}
}

// TestFindContainerd creates a container (not started: a container record
// and a writable snapshot) in a namespace of its own and finds both, then
// nothing once it is deleted. Images are not leaks.
func TestFindContainerd(t *testing.T) {
	needRoot(t)
	address := os.Getenv("STEVEDORE_CONTAINERD_ADDRESS")
	if address == "" {
		const why = "STEVEDORE_CONTAINERD_ADDRESS is not set (run under ./scripts/with-containerd.sh)"
		if os.Getenv("CI") == "true" {
			t.Fatal(why + " (CI=true: must run)")
		}
		t.Skip(why)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := "stevedore-leakcheck-" + randomID(t)
	rt, err := containerd.New(address, containerd.WithNamespace(ns), containerd.WithFIFODir(t.TempDir()))
	require.NoError(t, err)
	t.Cleanup(func() { removeNamespace(t, address, ns) })
	t.Cleanup(func() { _ = rt.Close() })

	const ref = "stevedore.local/busybox:leakcheck"
	var archive bytes.Buffer
	require.NoError(t, ocitest.BusyboxArchive(&archive, ref, nil))
	_, err = rt.ImportArchive(ctx, &archive)
	require.NoError(t, err)

	cfg := Config{ContainerdAddress: address, ContainerdNamespacePrefix: ns,
		NamePrefixes: []string{}, NoLabels: true, FIFODirs: []string{}, AgentStateDirs: []string{}}
	leaks, err := Find(ctx, cfg)
	require.NoError(t, err)
	assert.Empty(t, leaks, "an image alone is not a leak")

	require.NoError(t, rt.Create(ctx, runtime.ContainerSpec{ID: "left-behind", Image: ref, Command: []string{"true"}}))
	t.Cleanup(func() { _ = rt.Delete(context.Background(), "left-behind") })
	leaks, err = Find(ctx, cfg)
	require.NoError(t, err)
	var kinds []string
	for _, l := range leaks {
		assert.Equal(t, ns, l.Where)
		kinds = append(kinds, l.Kind+" "+l.Name)
	}
	assert.Contains(t, kinds, "container left-behind")
	assert.Contains(t, kinds, "snapshot left-behind")
	err = Check(ctx, cfg)
	assert.ErrorIs(t, err, ErrLeaks)

	require.NoError(t, rt.Delete(ctx, "left-behind"))
	require.NoError(t, Check(ctx, cfg))
}

// removeNamespace removes the test's images and then its containerd
// namespace, so that a shared daemon keeps nothing of the test.
func removeNamespace(t *testing.T, address, ns string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.New(address)
	if err != nil {
		t.Logf("remove namespace %s: %v", ns, err)
		return
	}
	defer c.Close()
	ctx = namespaces.WithNamespace(ctx, ns)
	imgs, err := c.ImageService().List(ctx)
	if err == nil {
		for _, img := range imgs {
			_ = c.ImageService().Delete(ctx, img.Name, images.SynchronousDelete())
		}
	}
	if err := c.NamespaceService().Delete(ctx, ns); err != nil {
		t.Logf("note: containerd namespace %s not removed: %v", ns, err)
	}
}
