package stevedore_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
)

// TestDataDirOnAReadOnlyFileSystem: New with a data directory it cannot
// write fails with an error naming the directory, whether the directory
// is new or holds an earlier Orchestrator's state, which is there again
// once the file system is writable. A tmpfs of the test's own is
// remounted read-only, since chmod does not stop root.
func TestDataDirOnAReadOnlyFileSystem(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a read-only file system (chmod does not stop root)")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	remount := func(mode string) {
		out, err := exec.Command("mount", "-o", "remount,"+mode, mnt).CombinedOutput()
		require.NoError(t, err, "%s", out)
	}
	existing := filepath.Join(mnt, "existing")
	o, err := stevedore.New(stevedore.WithDataDir(existing))
	require.NoError(t, err)
	_, err = o.CreateCluster(t.Context(), &stevedore.CreateClusterInput{ClusterName: "prod"})
	require.NoError(t, err)
	require.NoError(t, o.Close())

	remount("ro")
	for _, dir := range []string{filepath.Join(mnt, "new"), existing} {
		_, err := stevedore.New(stevedore.WithDataDir(dir))
		t.Log(err)
		require.ErrorIs(t, err, syscall.EROFS, dir)
		assert.Contains(t, err.Error(), dir)
	}

	remount("rw")
	o, err = stevedore.New(stevedore.WithDataDir(existing))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, o.Close()) })
	out, err := o.DescribeClusters(t.Context(), &stevedore.DescribeClustersInput{Clusters: []string{"prod"}})
	require.NoError(t, err)
	assert.Len(t, out.Clusters, 1)
}
