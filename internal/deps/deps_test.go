// Package deps_test keeps Linux-only and container-engine dependencies out
// of Stevedore's pure packages: those build and test on any OS, and only
// runtime/containerd and the Linux network code may import containerd,
// runtime-spec, netlink, netns, nftables or golang.org/x/sys/unix.
package deps_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// forbidden are import-path fragments no pure package may depend on, even
// indirectly.
var forbidden = []string{
	"github.com/containerd/",
	"github.com/opencontainers/runtime-spec",
	"netlink",
	"netns",
	"nftables",
	"golang.org/x/sys/unix",
}

// pure are the packages that must stay pure, as go list patterns relative
// to the module root. A package not written yet is skipped, saying so.
var pure = []string{
	"./task/...",
	"./cluster/...",
	"./placement/...",
	"./service/...",
	"./health/...",
	"./autoscaling/...",
	"./internal/healthcmd/...",
}

// forbiddenIn returns the dependencies that match a forbidden fragment.
func forbiddenIn(deps []string) []string {
	var bad []string
	for _, dep := range deps {
		for _, f := range forbidden {
			if strings.Contains(dep, f) {
				bad = append(bad, dep)
				break
			}
		}
	}
	return bad
}

// listDeps returns the packages pattern depends on, itself included.
func listDeps(t *testing.T, root, pattern string) []string {
	t.Helper()
	dir := filepath.Join(root, strings.TrimSuffix(pattern, "/..."))
	if goFiles, _ := filepath.Glob(filepath.Join(dir, "*.go")); len(goFiles) == 0 {
		t.Skipf("%s has no Go files yet", pattern)
	}
	// -e lists the import graph even when a package does not compile at
	// the moment; test imports are not included.
	cmd := exec.Command(goTool(), "list", "-e", "-deps", "-f", "{{.ImportPath}}", pattern)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go list: %s", out)
	deps := strings.Fields(string(out))
	require.NotEmpty(t, deps)
	return deps
}

func TestPurePackagesHaveNoPlatformDependencies(t *testing.T) {
	t.Parallel()
	root := moduleRoot(t)
	for _, pattern := range pure {
		t.Run(strings.Trim(pattern, "./"), func(t *testing.T) {
			t.Parallel()
			for _, dep := range forbiddenIn(listDeps(t, root, pattern)) {
				t.Errorf("%s depends on %s", pattern, dep)
			}
		})
	}
}

// TestTheCheckCatchesImpurePackages makes sure the check would fail: the
// matcher flags each forbidden module, and the containerd runtime, which
// is meant to be impure, is flagged.
func TestTheCheckCatchesImpurePackages(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{
		"github.com/containerd/containerd/v2/client",
		"github.com/opencontainers/runtime-spec/specs-go",
		"github.com/vishvananda/netlink",
		"github.com/vishvananda/netns",
		"github.com/google/nftables",
		"golang.org/x/sys/unix",
	}, forbiddenIn([]string{
		"fmt",
		"github.com/containerd/containerd/v2/client",
		"github.com/opencontainers/runtime-spec/specs-go",
		"github.com/opencontainers/image-spec/specs-go/v1",
		"github.com/vishvananda/netlink",
		"github.com/vishvananda/netns",
		"github.com/google/nftables",
		"golang.org/x/sys/unix",
		"golang.org/x/sys/windows",
		"golang.org/x/sync/errgroup",
	}))
	require.NotEmpty(t, forbiddenIn(listDeps(t, moduleRoot(t), "./runtime/containerd")),
		"runtime/containerd imports containerd; the check must see it")
}

// moduleRoot walks up from the test's directory to go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, parent, dir, "go.mod not found")
		dir = parent
	}
}

// goTool returns the go command of the toolchain running the test.
func goTool() string {
	name := "go"
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	if p := filepath.Join(runtime.GOROOT(), "bin", name); fileExists(p) {
		return p
	}
	return name
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
