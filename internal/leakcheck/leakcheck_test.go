package leakcheck

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLeakString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		leak Leak
		want string
	}{
		{Leak{Kind: "bridge", Name: "stvd0"}, "bridge stvd0"},
		{Leak{Kind: "container", Name: "t-web", Where: "stevedore"}, "container t-web (containerd namespace stevedore)"},
		{Leak{Kind: "snapshot", Name: "t-web", Where: "stevedore", Detail: "Active, snapshotter overlayfs"},
			"snapshot t-web (containerd namespace stevedore, Active, snapshotter overlayfs)"},
		{Leak{Kind: "netns", Name: "/var/run/netns/x", Detail: "task 42"}, "netns /var/run/netns/x (task 42)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, tt.leak.String())
		})
	}
}

func TestErrorListsLeaksAndMatchesErrLeaks(t *testing.T) {
	t.Parallel()
	err := error(&Error{Leaks: []Leak{{Kind: "bridge", Name: "stvd0"}, {Kind: "veth", Name: "stvd-0123456789"}}})
	assert.ErrorIs(t, err, ErrLeaks)
	assert.Equal(t, "leakcheck: resources left behind: 2 left:\n  bridge stvd0\n  veth stvd-0123456789", err.Error())
	var le *Error
	require.True(t, errors.As(err, &le))
	assert.Len(t, le.Leaks, 2)
}

func TestConfigDefaultsAndPrefixes(t *testing.T) {
	t.Parallel()
	cfg := Config{}.withDefaults()
	assert.Equal(t, DefaultContainerdNamespacePrefix, cfg.ContainerdNamespacePrefix)
	assert.Equal(t, DefaultNamePrefixes, cfg.NamePrefixes)
	assert.Equal(t, DefaultNetNSDir, cfg.NetNSDir)
	assert.Equal(t, DefaultFIFODirs, cfg.FIFODirs)
	assert.Equal(t, DefaultAgentStateDirs(), cfg.AgentStateDirs)
	assert.Equal(t, DefaultTimeout, cfg.Timeout)

	assert.True(t, cfg.hasPrefix("stvd0"))
	assert.True(t, cfg.hasPrefix("stvi3a-0123456"))
	assert.False(t, cfg.hasPrefix("eth0"))
	assert.False(t, Config{NamePrefixes: []string{""}}.hasPrefix("eth0"), "an empty prefix matches nothing")

	empty := Config{NamePrefixes: []string{}, FIFODirs: []string{}}.withDefaults()
	assert.Empty(t, empty.NamePrefixes, "an empty list turns the default off")
	assert.Empty(t, empty.FIFODirs)
}

// TestFindFiles finds FIFO directories and agents' task directories, and
// nothing else, with and without an instance level.
func TestFindFiles(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	fifo := filepath.Join(root, "fifo")
	agentDir := filepath.Join(root, "stevedore-agent")
	for _, d := range []string{
		filepath.Join(fifo, "task-web"),
		filepath.Join(agentDir, "i-1", "tasks", "t1", "volumes"),
		filepath.Join(agentDir, "i-2", "tasks"), // empty: fine
		filepath.Join(agentDir, "i-2", "volumes", "shared"),
		filepath.Join(root, "single", "tasks", "t2"),
	} {
		require.NoError(t, os.MkdirAll(d, 0o755))
	}
	require.NoError(t, os.WriteFile(filepath.Join(agentDir, "i-1", "tasks", "not-a-dir"), nil, 0o644))

	cfg := Config{
		FIFODirs:       []string{fifo, filepath.Join(root, "missing")},
		AgentStateDirs: []string{agentDir, filepath.Join(root, "single")},
	}.withDefaults()
	leaks, err := findFiles(cfg)
	require.NoError(t, err)
	assert.ElementsMatch(t, []Leak{
		{Kind: "FIFO directory", Name: filepath.Join(fifo, "task-web")},
		{Kind: "agent task directory", Name: filepath.Join(agentDir, "i-1", "tasks", "t1")},
		{Kind: "agent task directory", Name: filepath.Join(root, "single", "tasks", "t2")},
	}, leaks)
}

// TestCheckCleanDirectories is nil on directories with nothing left, and
// looks at nothing else when told so.
func TestCheckCleanDirectories(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("listing nftables tables needs root")
	}
	cfg := Config{
		NamePrefixes:   []string{"no-such-prefix-" + t.Name()},
		NoLabels:       true,
		NetNSDir:       t.TempDir(),
		FIFODirs:       []string{t.TempDir()},
		AgentStateDirs: []string{t.TempDir()},
	}
	require.NoError(t, Check(context.Background(), cfg))
}
