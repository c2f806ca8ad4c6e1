package bolt_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bbolt "go.etcd.io/bbolt"

	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/bolt"
	"github.com/stevedore-io/stevedore/store/storetest"
)

// fileCheckpoint reads the checkpoint revision of a closed store's file.
func fileCheckpoint(t *testing.T, path string) int64 {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	require.NoError(t, err)
	defer db.Close()
	var rev int64
	require.NoError(t, db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket([]byte("meta")).Get([]byte("checkpoint"))
		require.Len(t, v, 8)
		for _, b := range v {
			rev = rev<<8 | int64(b)
		}
		return nil
	}))
	return rev
}

// heldCheckpoint returns hooks whose first checkpoint waits, once started
// (reported on started with its revision), until release is closed.
func heldCheckpoint() (hooks bolt.Hooks, started chan int64, release chan struct{}) {
	started, release = make(chan int64, 1), make(chan struct{})
	var once sync.Once
	hooks.BeforeCheckpoint = func(to int64) error {
		once.Do(func() {
			started <- to
			<-release
		})
		return nil
	}
	return hooks, started, release
}

// reopen opens the store at path with hooks, as a new process would, and
// closes it when the test ends (the test may close it first).
func reopen(t testing.TB, path string, hooks bolt.Hooks, opts ...bolt.Option) *bolt.Store {
	t.Helper()
	s, err := bolt.OpenHooked(path, hooks, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// checkHistory checks that a watch from revision from delivers n events,
// each of an item whose Value is its number in the order written (as
// the tests below write them) with its previous version.
func checkHistory(t *testing.T, s store.Store, from int64, n int) {
	t.Helper()
	w, err := s.Watch(t.Context(), from)
	require.NoError(t, err)
	defer w.Close()
	for _, ev := range recvAll(t, w, n) {
		obj := ev.Object.(*storetest.Item)
		assert.Equal(t, ev.Revision, obj.ModRevision)
		if ev.Type == store.Updated {
			require.NotNil(t, ev.Prev, "event at revision %d", ev.Revision)
			assert.Less(t, ev.Prev.StoreMeta().ModRevision, ev.Revision)
		}
	}
}

// TestCloseWaitsForCheckpoint closes the store while a checkpoint is
// being written and commits go on: Close waits for it, which is written
// whole (the file's checkpoint moved, its segments removed), and every
// commit is there after a restart.
func TestCloseWaitsForCheckpoint(t *testing.T) {
	t.Parallel()
	const history = 4
	path := filepath.Join(t.TempDir(), "state.db")
	hooks, started, release := heldCheckpoint()
	opts := []bolt.Option{bolt.WithCodec(itemCodec()), bolt.WithHistory(history), bolt.WithWatchBuffer(2), bolt.WithSegmentSize(512)}
	s := reopen(t, path, hooks, opts...)
	for i := range 2 * history { // the last one starts the checkpoint
		create(t, s, item(storetest.KindA, fmt.Sprint(i), i))
	}
	to := <-started
	// Commits go on while it runs, up to the next one due.
	for i := 2 * history; i < 3*history-1; i++ {
		create(t, s, item(storetest.KindA, fmt.Sprint(i), i))
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while the checkpoint ran", err)
	default:
	}
	close(release)
	require.NoError(t, <-closed)

	assert.Equal(t, to, fileCheckpoint(t, path), "the checkpoint Close waited for was written")
	n := countHistory(t, path)
	assert.Equal(t, 3*history-1-int(to), n, "the log holds what follows the checkpoint")
	s2 := reopen(t, path, bolt.Hooks{}, opts...)
	got := items(t, s2, storetest.KindA)
	assert.Len(t, got, 3*history-1)
	checkHistory(t, s2, to, n)
}

// TestFailedCheckpoint fails every checkpoint for a while: commits go on,
// the log keeps every transaction after the last checkpoint written (a
// restart finds all of them, with their previous versions), and once
// checkpoints succeed again the log is trimmed.
func TestFailedCheckpoint(t *testing.T) {
	t.Parallel()
	const history = 4
	path := filepath.Join(t.TempDir(), "state.db")
	var failing atomic.Bool
	failing.Store(true)
	var failed atomic.Int32
	hooks := bolt.Hooks{BeforeCheckpoint: func(int64) error {
		if failing.Load() {
			failed.Add(1)
			return errors.New("injected")
		}
		return nil
	}}
	opts := []bolt.Option{bolt.WithCodec(itemCodec()), bolt.WithHistory(history), bolt.WithWatchBuffer(2), bolt.WithSegmentSize(512)}
	s := reopen(t, path, hooks, opts...)
	create(t, s, item(storetest.KindA, "x", 0))
	const writes = 10 * history
	for i := 1; i < writes; i++ {
		set(t, s, storetest.KindA, "x", i)
	}
	require.NoError(t, s.Close())
	assert.Positive(t, failed.Load())
	assert.Zero(t, fileCheckpoint(t, path))
	n := countHistory(t, path)
	assert.Equal(t, writes, n, "the log keeps what no checkpoint covers")

	s2 := reopen(t, path, hooks, opts...)
	assert.Equal(t, writes-1, items(t, s2, storetest.KindA)["x"].Value)
	checkHistory(t, s2, 0, writes)
	failing.Store(false)
	for i := writes; i < writes+2*history; i++ {
		set(t, s2, storetest.KindA, "x", i)
	}
	require.NoError(t, s2.Close())
	n = countHistory(t, path)
	assert.GreaterOrEqual(t, n, history)
	assert.Less(t, n, 3*history, "checkpoints trim the log again")

	s3 := reopen(t, path, bolt.Hooks{}, opts...)
	assert.Equal(t, writes+2*history-1, items(t, s3, storetest.KindA)["x"].Value)
	checkHistory(t, s3, revision(t, s3)-history, history)
}

// TestCommitFailsDuringCheckpoint fails a commit while a checkpoint is
// being written: the commit's Update fails, the checkpoint completes, and
// a restart finds every other commit, with its previous version.
func TestCommitFailsDuringCheckpoint(t *testing.T) {
	t.Parallel()
	const history = 4
	path := filepath.Join(t.TempDir(), "state.db")
	hooks, started, release := heldCheckpoint()
	var failing atomic.Bool
	hooks.BeforeCommit = func(int) error {
		if failing.Load() {
			return errors.New("injected")
		}
		return nil
	}
	opts := []bolt.Option{bolt.WithCodec(itemCodec()), bolt.WithHistory(history), bolt.WithWatchBuffer(2), bolt.WithSegmentSize(512)}
	s := reopen(t, path, hooks, opts...)
	create(t, s, item(storetest.KindA, "x", 0))
	for i := 1; i < 2*history; i++ {
		set(t, s, storetest.KindA, "x", i)
	}
	<-started
	failing.Store(true)
	require.Error(t, s.Update(t.Context(), func(tx store.Tx) error {
		return tx.Create(item(storetest.KindA, "failed", 0))
	}))
	failing.Store(false)
	set(t, s, storetest.KindA, "x", 2*history)
	close(release)
	for i := 2*history + 1; i < 4*history; i++ {
		set(t, s, storetest.KindA, "x", i)
	}
	require.NoError(t, s.Close())
	n := countHistory(t, path)
	assert.GreaterOrEqual(t, n, history)
	checkpoint := fileCheckpoint(t, path)

	s2 := reopen(t, path, bolt.Hooks{}, opts...)
	got := items(t, s2, storetest.KindA)
	assert.NotContains(t, got, "failed")
	assert.Equal(t, 4*history-1, got["x"].Value)
	checkHistory(t, s2, checkpoint, n)
}

// TestCheckpointCutShortBeforeSegmentsRemoved leaves the log as a kill
// leaves it once a checkpoint committed and before it removed the
// segments it covers: Open skips them, with every commit and the history
// after the checkpoint, and a later checkpoint removes them.
func TestCheckpointCutShortBeforeSegmentsRemoved(t *testing.T) {
	t.Parallel()
	const history = 8
	path := filepath.Join(t.TempDir(), "state.db")
	hooks, started, release := heldCheckpoint()
	opts := []bolt.Option{bolt.WithCodec(itemCodec()), bolt.WithHistory(history), bolt.WithWatchBuffer(2), bolt.WithSegmentSize(512)}
	s := reopen(t, path, hooks, opts...)
	want := map[string]int64{}
	for i := range 2 * history {
		want[fmt.Sprint(i)] = create(t, s, item(storetest.KindA, fmt.Sprint(i), i))
	}
	to := <-started
	before := logFiles(t, path)
	close(release)
	require.NoError(t, s.Close())
	require.Equal(t, to, fileCheckpoint(t, path))
	after := logFiles(t, path)
	restored := 0
	for name, data := range before {
		if _, ok := after[name]; !ok {
			require.NoError(t, os.WriteFile(filepath.Join(path+".wal", name), data, 0o600))
			restored++
		}
	}
	require.Positive(t, restored, "the checkpoint removed segments")

	for round := range 3 {
		s, err := bolt.Open(path, opts...)
		require.NoError(t, err, "round %d", round)
		got := items(t, s, storetest.KindA)
		require.Len(t, got, len(want))
		for id, rev := range want {
			assert.Equal(t, rev, got[id].ModRevision, id)
		}
		checkHistory(t, s, revision(t, s)-history, history)
		for i := range 2 * history {
			id := fmt.Sprintf("%d-%d", round, i)
			want[id] = create(t, s, item(storetest.KindA, id, i))
		}
		require.NoError(t, s.Close())
	}
	for name := range before {
		if _, ok := after[name]; !ok {
			_, err := os.Stat(filepath.Join(path+".wal", name))
			assert.ErrorIs(t, err, os.ErrNotExist, "%s is removed by a later checkpoint", name)
		}
	}
}

// TestHistorySameAfterRestart records every event a watcher sees while
// creates, updates and deletes go through several checkpoints, and
// compares them with what a watch from the file's checkpoint delivers
// after a restart: the same events, at the same revisions, with the same
// objects and previous versions.
func TestHistorySameAfterRestart(t *testing.T) {
	t.Parallel()
	const history = 16
	path := filepath.Join(t.TempDir(), "state.db")
	opts := []bolt.Option{bolt.WithCodec(itemCodec()), bolt.WithHistory(history), bolt.WithWatchBuffer(8), bolt.WithSegmentSize(1 << 10)}
	s := reopen(t, path, bolt.Hooks{}, opts...)
	w, err := s.Watch(t.Context(), 0)
	require.NoError(t, err)
	var seen []store.Event
	for i := range 200 {
		id := fmt.Sprint(i % 7)
		switch i % 3 {
		case 0, 1:
			if _, err := storeGet(t, s, id); err == nil {
				set(t, s, storetest.KindA, id, i)
			} else {
				create(t, s, item(storetest.KindA, id, i))
			}
		case 2:
			if _, err := storeGet(t, s, id); err == nil {
				remove(t, s, storetest.KindA, id)
			} else {
				create(t, s, item(storetest.KindA, id, i))
			}
		}
		seen = append(seen, recvAll(t, w, 1)...) // one event per Update
	}
	w.Close()
	require.NoError(t, s.Close())
	checkpoint := fileCheckpoint(t, path)
	n := countHistory(t, path)
	require.GreaterOrEqual(t, n, history)
	require.Positive(t, checkpoint, "checkpoints were written")

	s2 := reopen(t, path, bolt.Hooks{}, opts...)
	w2, err := s2.Watch(t.Context(), checkpoint)
	require.NoError(t, err)
	defer w2.Close()
	value := func(obj store.Object) any {
		if obj == nil {
			return nil
		}
		it := obj.(*storetest.Item)
		return [3]int64{int64(it.Value), it.CreateRevision, it.ModRevision}
	}
	for i, ev := range recvAll(t, w2, n) {
		want := seen[len(seen)-n+i]
		assert.Equal(t, want.Type, ev.Type, "event %d", i)
		assert.Equal(t, want.ID, ev.ID, "event %d", i)
		assert.Equal(t, want.Revision, ev.Revision, "event %d", i)
		assert.Equal(t, value(want.Object), value(ev.Object), "event %d", i)
		assert.Equal(t, value(want.Prev), value(ev.Prev), "event %d", i)
	}
	_, err = s2.Watch(t.Context(), checkpoint-1)
	assert.ErrorIs(t, err, store.ErrCompacted)
}

func storeGet(t *testing.T, s store.Store, id string) (store.Object, error) {
	t.Helper()
	var obj store.Object
	err := s.View(t.Context(), func(tx store.ReadTx) error {
		var err error
		obj, err = tx.Get(storetest.KindA, id)
		return err
	})
	return obj, err
}
