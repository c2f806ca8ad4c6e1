package bolt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/bolt"
	"github.com/stevedore-io/stevedore/store/storetest"
)

// tmpfs mounts a small tmpfs of its own and returns its directory and a
// function that remounts it read-only (true) or writable again. chmod
// does not stop root, and root is what mounts: the test is skipped
// without it. The file system is unmounted at clean-up. Tests that mount
// one do not run in parallel: a child process that a parallel test forks
// holds a copy of every open file until it execs, and a remount or an
// unmount in that window fails with "mount point is busy".
func tmpfs(t *testing.T) (string, func(readOnly bool)) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a read-only file system (chmod does not stop root)")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	remount := func(readOnly bool) {
		t.Helper()
		mode := "remount,rw"
		if readOnly {
			mode = "remount,ro"
		}
		out, err := exec.Command("mount", "-o", mode, dir).CombinedOutput()
		require.NoError(t, err, "%s", out)
	}
	return dir, remount
}

// TestReadOnlyDirectory opens a store in a directory on a read-only file
// system: without a file (Open would create one) and with one written
// before. Open fails with an error naming the file and its directory,
// wrapping the system's error, and leaves the file as it was.
func TestReadOnlyDirectory(t *testing.T) {
	t.Run("NoFile", func(t *testing.T) {
		dir, remount := tmpfs(t)
		remount(true)
		path := filepath.Join(dir, "state.db")
		_, err := bolt.Open(path, bolt.WithCodec(itemCodec()))
		t.Log(err)
		require.ErrorIs(t, err, syscall.EROFS)
		var fileErr *bolt.FileError
		require.ErrorAs(t, err, &fileErr)
		assert.Equal(t, path, fileErr.Path)
		assert.Contains(t, err.Error(), dir)
		_, err = os.Stat(path)
		assert.ErrorIs(t, err, os.ErrNotExist)
	})
	t.Run("ExistingFile", func(t *testing.T) {
		dir, remount := tmpfs(t)
		path := filepath.Join(dir, "state.db")
		s, err := bolt.Open(path, bolt.WithCodec(itemCodec()))
		require.NoError(t, err)
		create(t, s, item(storetest.KindA, "a", 1))
		require.NoError(t, s.Close())
		before, err := os.ReadFile(path)
		require.NoError(t, err)

		remount(true)
		_, err = bolt.Open(path, bolt.WithCodec(itemCodec()))
		t.Log(err)
		require.ErrorIs(t, err, syscall.EROFS)
		assert.Contains(t, err.Error(), path)
		after, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.True(t, bytes.Equal(before, after), "the file is left as it was")

		remount(false)
		s = open(t, path)
		assert.Equal(t, 1, items(t, s, storetest.KindA)["a"].Value, "once writable again, the store opens as it was")
	})
}

// TestFileSystemTurnsReadOnly: the file system of an open store turning
// read-only (as ext4 does with errors=remount-ro) makes its writes to the
// file fail with EROFS. The kernel refuses to remount a file system
// read-only while a file on it is open for writing, so the failure is
// injected where the commit writes the file. Updates then fail with an
// error naming the file and wrapping EROFS; nothing of them is visible,
// then or after a restart; writes succeed again once the file system
// does.
func TestFileSystemTurnsReadOnly(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	var readOnly atomic.Bool
	s, err := bolt.OpenHooked(path, bolt.Hooks{BeforeCommit: func(int) error {
		if readOnly.Load() {
			return &os.PathError{Op: "write", Path: path, Err: syscall.EROFS}
		}
		return nil
	}}, bolt.WithCodec(itemCodec()))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	before := create(t, s, item(storetest.KindA, "before", 1))

	readOnly.Store(true)
	for _, id := range []string{"x", "y"} {
		obj := item(storetest.KindA, id, 2)
		err := s.Update(context.Background(), func(tx store.Tx) error { return tx.Create(obj) })
		t.Log(err)
		require.ErrorIs(t, err, syscall.EROFS)
		assert.Contains(t, err.Error(), path)
		assert.Zero(t, obj.Meta, "the object gets its Meta back")
		err = s.View(context.Background(), func(tx store.ReadTx) error {
			_, err := tx.Get(storetest.KindA, id)
			assert.True(t, errors.Is(err, store.ErrNotFound), "nothing of a failed write is visible")
			assert.Equal(t, before, tx.Revision())
			return nil
		})
		require.NoError(t, err)
	}

	readOnly.Store(false)
	after := create(t, s, item(storetest.KindA, "after", 3))
	assert.Greater(t, after, before)
	require.NoError(t, s.Close())
	s = open(t, path)
	got := items(t, s, storetest.KindA)
	assert.Contains(t, got, "before")
	assert.Contains(t, got, "after")
	assert.NotContains(t, got, "x", "a failed write is not in the file")
	assert.NotContains(t, got, "y")
}

// TestFileSystemFills writes to a store on a small tmpfs until its
// commits fail with ENOSPC: wherever the space runs out (making the next
// segment ahead, starting it, writing a commit, writing a checkpoint),
// the Update that fails says so and leaves nothing visible, and every
// Update that returned nil is there after a restart, with its history.
func TestFileSystemFills(t *testing.T) {
	dir, _ := tmpfs(t)
	path := filepath.Join(dir, "state.db")
	const history = 64
	opts := []bolt.Option{bolt.WithCodec(itemCodec()), bolt.WithHistory(history), bolt.WithWatchBuffer(8), bolt.WithSegmentSize(256 << 10)}
	s := reopen(t, path, bolt.Hooks{}, opts...)
	acked := map[string]int64{}
	pad := strings.Repeat("x", 8<<10)
	failures := 0
	for i := 0; failures < 20 && i < 100_000; i++ {
		// Many objects, each changed a few times: checkpoints grow the
		// state file while segments come and go.
		id := fmt.Sprintf("%05d-%s", i%400, pad[:(i*7919)%len(pad)])
		obj := item(storetest.KindA, id, i)
		err := s.Update(t.Context(), func(tx store.Tx) error {
			cur, err := store.Get[*storetest.Item](tx, storetest.KindA, id)
			if errors.Is(err, store.ErrNotFound) {
				return tx.Create(obj)
			}
			if err != nil {
				return err
			}
			obj.Meta = cur.Meta
			return tx.Update(obj)
		})
		if err != nil {
			failures++
			if failures == 1 {
				t.Log(err)
			}
			require.ErrorIs(t, err, syscall.ENOSPC)
			var fileErr *bolt.FileError
			require.ErrorAs(t, err, &fileErr)
			require.NoError(t, s.View(t.Context(), func(tx store.ReadTx) error {
				cur, err := store.Get[*storetest.Item](tx, storetest.KindA, id)
				if err == nil {
					assert.Less(t, cur.Value, i, "nothing of a failed Update is visible")
				}
				return nil
			}))
			continue
		}
		acked[id] = obj.ModRevision
	}
	require.Equal(t, 20, failures, "the file system never filled")
	require.NoError(t, s.Close())
	n := countHistory(t, path)
	assert.GreaterOrEqual(t, n, history)
	checkpoint := fileCheckpoint(t, path)

	s2 := reopen(t, path, bolt.Hooks{}, opts...)
	got := items(t, s2, storetest.KindA)
	for id, rev := range acked {
		require.Contains(t, got, id)
		require.Equal(t, rev, got[id].ModRevision, id)
	}
	assert.Len(t, got, len(acked))
	checkHistory(t, s2, checkpoint, n)
}
