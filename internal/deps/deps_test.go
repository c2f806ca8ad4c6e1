// Package deps_test tests the arrows between Stevedore's packages:
//
//   - Linux-only and container-engine dependencies stay out of the pure
//     packages, which build and test on any OS: only runtime/containerd and
//     the Linux network code may import containerd, runtime-spec, netlink,
//     netns, nftables or golang.org/x/sys/unix.
//   - The pure packages (task, cluster, placement, service, autoscaling and
//     health's state machine) decide from state and time alone: they depend
//     on no runtime, network, store, internal/state, net/http or os/exec.
//   - No internal package (the loops among them) depends on the root
//     package, which wires them.
package deps_test

import (
	"errors"
	"io/fs"
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

// pure are the packages that must stay pure (and errdefs, the error kinds
// they use), as go list patterns relative
// to the module root. A package not written yet is skipped, saying so.
var pure = []string{
	"./task/...",
	"./cluster/...",
	"./placement/...",
	"./service/...",
	"./health/...",
	"./autoscaling/...",
	"./internal/healthcmd/...",
	"./errdefs/...",
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
	dir, tree := strings.CutSuffix(pattern, "/...")
	if !hasGoFiles(filepath.Join(root, dir), tree) {
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

// checkDeps fails a subtest per pattern for each of its dependencies that
// bad returns.
func checkDeps(t *testing.T, patterns []string, bad func(deps []string) []string) {
	t.Helper()
	root := moduleRoot(t)
	for _, pattern := range patterns {
		t.Run(strings.Trim(pattern, "./"), func(t *testing.T) {
			t.Parallel()
			for _, dep := range bad(listDeps(t, root, pattern)) {
				t.Errorf("%s depends on %s", pattern, dep)
			}
		})
	}
}

func TestPurePackagesHaveNoPlatformDependencies(t *testing.T) {
	t.Parallel()
	checkDeps(t, pure, forbiddenIn)
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

// module is the import path of Stevedore's module and its root package.
const module = "github.com/stevedore-io/stevedore"

// planners are the packages that decide from state and time alone, as go
// list patterns relative to the module root. health is its state machine
// only: its probers, in health/probe, do I/O.
var planners = []string{
	"./task/...",
	"./cluster/...",
	"./placement/...",
	"./service/...",
	"./autoscaling/...",
	"./health",
	"./internal/healthcmd/...",
	"./errdefs/...",
}

// plannerForbidden are the packages, each with the packages under it, that
// no planner may depend on, even indirectly: containers, networking, state
// storage and processes belong to the loops and agents that carry out a
// planner's decisions.
var plannerForbidden = []string{
	module + "/runtime",
	module + "/network",
	module + "/store",
	module + "/internal/state",
	"net/http",
	"os/exec",
}

// within returns the dependencies that are one of pkgs or under one of
// them.
func within(deps, pkgs []string) []string {
	var bad []string
	for _, dep := range deps {
		for _, p := range pkgs {
			if dep == p || strings.HasPrefix(dep, p+"/") {
				bad = append(bad, dep)
				break
			}
		}
	}
	return bad
}

func TestPlannersDoNoIO(t *testing.T) {
	t.Parallel()
	checkDeps(t, planners, func(deps []string) []string { return within(deps, plannerForbidden) })
}

// TestInternalPackagesDoNotImportTheRoot keeps the loops components that
// the root wires: they get their dependencies in a Config, never the
// orchestrator.
func TestInternalPackagesDoNotImportTheRoot(t *testing.T) {
	t.Parallel()
	for _, dep := range listDeps(t, moduleRoot(t), "./internal/...") {
		if dep == module {
			t.Errorf("a package under internal/ depends on the root package %s", module)
		}
	}
}

// TestTheArrowChecksCatchViolations makes sure the I/O check would fail:
// the matcher flags each forbidden package and the packages under it but
// not its neighbours, and health/probe, which does I/O on purpose, is
// flagged.
func TestTheArrowChecksCatchViolations(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{
		module + "/runtime",
		module + "/runtime/fake",
		module + "/network",
		module + "/store/memory",
		module + "/internal/state",
		"net/http",
		"net/http/httptrace",
		"os/exec",
	}, within([]string{
		"fmt",
		"net",
		"net/netip",
		"os",
		module,
		module + "/runtime",
		module + "/runtime/fake",
		module + "/runtimeinfo",
		module + "/network",
		module + "/store/memory",
		module + "/internal/state",
		module + "/internal/statex",
		"net/http",
		"net/http/httptrace",
		"os/exec",
	}, plannerForbidden))
	require.NotEmpty(t, within(listDeps(t, moduleRoot(t), "./health/probe"), plannerForbidden),
		"health/probe imports the runtime and net/http; the check must see it")
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

// hasGoFiles reports whether dir, or with tree any directory under it,
// holds a Go file.
func hasGoFiles(dir string, tree bool) bool {
	if !tree {
		goFiles, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		return len(goFiles) > 0
	}
	found := errors.New("found")
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".go") {
			return found
		}
		return err
	})
	return errors.Is(err, found)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
