//go:build unix

package agent

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDefaultStateDirIsCreated0700 creates the default state directory
// (moved into a temporary directory: RootStateDir as root, the user cache
// directory otherwise) and prunes it again.
func TestDefaultStateDirIsCreated0700(t *testing.T) {
	base := t.TempDir()
	if os.Geteuid() == 0 {
		old := rootStateDir
		rootStateDir = filepath.Join(base, "var", "lib", "stevedore", "agent")
		t.Cleanup(func() { rootStateDir = old })
	} else {
		t.Setenv("XDG_CACHE_HOME", base)
		t.Setenv("HOME", base)
	}
	d := newStateDir("", "i-1")
	require.NoError(t, d.err)
	require.True(t, filepath.IsAbs(d.path))
	require.Greater(t, len(d.path), len(base))
	assert.Equal(t, base, d.path[:len(base)])

	vol, err := d.mkdir(0o755, "tasks", "t1", "volumes", "v")
	require.NoError(t, err)
	for dir := d.path; len(dir) > len(base); dir = filepath.Dir(dir) {
		fi, err := os.Stat(dir)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), dir)
	}
	fi, err := os.Stat(vol)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755)&^umask(), fi.Mode().Perm(), "the volume itself, as before")

	require.NoError(t, os.RemoveAll(filepath.Join(d.path, "tasks", "t1"))) // the task stopped
	d.prune()
	entries, err := os.ReadDir(base)
	require.NoError(t, err)
	assert.Empty(t, entries, "everything the agent made is gone")
}

// TestStateDirTightensAnOpenStateDir: a state directory that exists with a
// wider mode is made 0700 before anything is made below it.
func TestStateDirTightensAnOpenStateDir(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "state")
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.NoError(t, os.Chmod(dir, 0o755))
	_, err := newStateDir(dir, "i-1").mkdir(0o755, "tasks")
	require.NoError(t, err)
	fi, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
}

// TestStateDirFollowsTrustedLinksAboveIt: a link above the state directory
// that root or the agent's user made is followed (as /var on some systems),
// one another user made is not; the state directory itself is never a link.
func TestStateDirFollowsTrustedLinksAboveIt(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	real := filepath.Join(base, "real")
	require.NoError(t, os.Mkdir(real, 0o700))
	require.NoError(t, os.Symlink(real, filepath.Join(base, "link")))

	vol, err := newStateDir(filepath.Join(base, "link", "state"), "i-1").mkdir(0o755, "tasks", "t1")
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(base, "link", "state", "tasks", "t1"), vol, "mounted by the path given")
	assert.DirExists(t, filepath.Join(real, "state", "tasks", "t1"))

	_, err = newStateDir(filepath.Join(base, "link"), "i-1").mkdir(0o755, "tasks")
	require.ErrorIs(t, err, ErrUnsafeStateDir, "the state directory itself is a link")

	if os.Geteuid() == 0 {
		require.NoError(t, os.Symlink(real, filepath.Join(base, "theirs")))
		require.NoError(t, os.Lchown(filepath.Join(base, "theirs"), 4242, 4242))
		_, err = newStateDir(filepath.Join(base, "theirs", "state"), "i-1").mkdir(0o755, "tasks")
		require.ErrorIs(t, err, ErrUnsafeStateDir, "a link of another user")
		assert.Contains(t, err.Error(), "is a symbolic link")
	}
}

// TestStateDirRefusesAnOpenParent: above the state directory, a directory
// others may write to is refused unless it is sticky, as /tmp is.
func TestStateDirRefusesAnOpenParent(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	open := filepath.Join(base, "open")
	require.NoError(t, os.Mkdir(open, 0o700))
	require.NoError(t, os.Chmod(open, 0o777))
	_, err := newStateDir(filepath.Join(open, "state"), "i-1").mkdir(0o755, "tasks")
	require.ErrorIs(t, err, ErrUnsafeStateDir)
	assert.Contains(t, err.Error(), open+", above the state directory, is writable by others")

	require.NoError(t, os.Chmod(open, 0o777|os.ModeSticky))
	_, err = newStateDir(filepath.Join(open, "state"), "i-1").mkdir(0o755, "tasks")
	require.NoError(t, err, "sticky, as /tmp")
}
