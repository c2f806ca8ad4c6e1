package chaos_test

import (
	"cmp"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/internal/chaos"
	"github.com/stevedore-io/stevedore/internal/testutil"
)

// TestChaos runs STEVEDORE_CHAOS_TRIALS trials (3 by default; make chaos
// runs 20) against a real server and containerd. STEVEDORE_CHAOS_SEED
// replays a run, STEVEDORE_CHAOS_TRIAL one trial of it.
func TestChaos(t *testing.T) { runChaos(t, chaos.ScenarioBolt) }

// TestChaosEtcd runs the etcd scenario's trials as TestChaos runs the
// bolt scenario's: three servers on three etcd members, the leader killed
// or paused, or a member killed, during a rolling deployment.
func TestChaosEtcd(t *testing.T) { runChaos(t, chaos.ScenarioEtcd) }

func runChaos(t *testing.T, scenario string) {
	addr := needContainerd(t)
	trials := envInt(t, "STEVEDORE_CHAOS_TRIALS", 3)
	only := envInt(t, "STEVEDORE_CHAOS_TRIAL", 0)
	seed, err := strconv.ParseUint(cmp.Or(os.Getenv("STEVEDORE_CHAOS_SEED"), "0"), 10, 64)
	require.NoError(t, err, "STEVEDORE_CHAOS_SEED")
	work := t.TempDir()
	server, err := chaos.BuildServer(t.Context(), os.Getenv("GO"), work)
	require.NoError(t, err)
	var member string
	if scenario == chaos.ScenarioEtcd {
		member, err = chaos.BuildEtcdMember(t.Context(), os.Getenv("GO"), work)
		require.NoError(t, err)
	}

	var out testutil.SyncBuffer
	rep, err := chaos.Run(t.Context(), chaos.Config{
		Server: server, ContainerdAddress: addr, WorkDir: work, Trials: trials, Seed: seed, Only: only,
		Scenario: scenario, EtcdMember: member,
		Out: &lineLogger{t: t, buf: &out},
	})
	if err != nil {
		logs, _ := filepath.Glob(filepath.Join(work, "server*.log"))
		for _, l := range logs {
			if log, rerr := os.ReadFile(l); rerr == nil {
				t.Logf("%s (last 8 KiB):\n%s", filepath.Base(l), tail(string(log), 8<<10))
			}
		}
	}
	require.NoError(t, err)
	want := trials
	if only > 0 {
		want = 1
	}
	assert.Equal(t, want, rep.Passed)
	assert.Contains(t, out.String(), "chaos: "+strconv.Itoa(want)+"/"+strconv.Itoa(want)+" trials passed")
}

func TestRunRefusesABadConfig(t *testing.T) {
	_, err := chaos.Run(t.Context(), chaos.Config{ContainerdAddress: "/x", WorkDir: t.TempDir()})
	assert.ErrorIs(t, err, chaos.ErrInvalid)
	assert.ErrorContains(t, err, "Server")
	_, err = chaos.Run(t.Context(), chaos.Config{Server: "/x", ContainerdAddress: "/x", WorkDir: t.TempDir(), Trials: 3, Only: 4})
	assert.ErrorIs(t, err, chaos.ErrInvalid)
	assert.ErrorContains(t, err, "Only")
	_, err = chaos.Run(t.Context(), chaos.Config{Server: "/x", ContainerdAddress: "/x", WorkDir: t.TempDir(), Scenario: "raft"})
	assert.ErrorContains(t, err, "Scenario")
	_, err = chaos.Run(t.Context(), chaos.Config{Server: "/x", ContainerdAddress: "/x", WorkDir: t.TempDir(), Scenario: chaos.ScenarioEtcd})
	assert.ErrorContains(t, err, "EtcdMember")
}

// lineLogger writes each line to the test's log and to buf.
type lineLogger struct {
	t   *testing.T
	buf *testutil.SyncBuffer
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return l.buf.Write(p)
}

// needContainerd skips the test when it cannot run here (not root, or no
// containerd address), and fails it instead when CI=true: there the
// environment must provide both.
func needContainerd(t *testing.T) string {
	t.Helper()
	addr := os.Getenv("STEVEDORE_CONTAINERD_ADDRESS")
	var reason string
	switch {
	case testing.Short():
		t.Skip("-short: the chaos trials take a minute or more")
	case os.Geteuid() != 0:
		reason = "needs root (network namespaces, bridges, containers)"
	case addr == "":
		reason = "STEVEDORE_CONTAINERD_ADDRESS is not set; run through ./scripts/with-containerd.sh"
	default:
		return addr
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but the chaos trials cannot run: %s", reason)
	}
	t.Skip(reason)
	return ""
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	require.NoError(t, err, name)
	return n
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
