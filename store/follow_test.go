package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/memory"
)

func newMemory(t *testing.T, opts ...memory.Option) *memory.Store {
	t.Helper()
	s, err := memory.New(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// create creates tasks named id in one transaction each.
func create(t *testing.T, s store.Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		require.NoError(t, s.Update(context.Background(), func(tx store.Tx) error {
			return tx.Create(&Task{ID: id, Status: "PENDING"})
		}))
	}
}

// ids lists the IDs of tasks 0..n-1 named prefix-i.
func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range n {
		out[i] = fmt.Sprintf("%s-%03d", prefix, i)
	}
	return out
}

// taskFollower follows the tasks of s into a set, counting snapshots.
type taskFollower struct {
	seen      map[string]bool
	snapshots int
}

func (tf *taskFollower) config() store.FollowConfig {
	return store.FollowConfig{
		Snapshot: func(tx store.ReadTx) error {
			tasks, err := store.List[*Task](tx, "tasks")
			tf.seen = map[string]bool{}
			for _, t := range tasks {
				tf.seen[t.ID] = true
			}
			tf.snapshots++
			return err
		},
		Options: []store.WatchOption{store.WithKinds("tasks")},
	}
}

func eventIDs(evs []store.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}

func TestFollowDeliversTheSnapshotThenEveryChangeOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newMemory(t)
		create(t, s, ids("old", 3)...)
		tf := &taskFollower{}
		f, err := store.Follow(t.Context(), s, tf.config())
		require.NoError(t, err)
		t.Cleanup(f.Close)
		assert.Len(t, tf.seen, 3)

		create(t, s, ids("new", 5)...)
		synctest.Wait()
		<-f.Ready()
		evs, resynced, err := f.Take(nil)
		require.NoError(t, err)
		assert.False(t, resynced)
		assert.Equal(t, ids("new", 5), eventIDs(evs))
		assert.Equal(t, evs[4].Revision, f.Revision())

		evs, _, err = f.Take(evs[:0])
		require.NoError(t, err)
		assert.Empty(t, evs, "nothing twice")
	})
}

func TestFollowKeepsWhatTheStoreWouldEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The store ends a watcher more than 4 events behind; the
		// follower's queue takes everything in and holds it for its
		// reader.
		s := newMemory(t, memory.WithHistory(20), memory.WithWatchBuffer(4))
		f, err := store.Follow(t.Context(), s, store.FollowConfig{Options: []store.WatchOption{store.WithKinds("tasks")}})
		require.NoError(t, err)
		t.Cleanup(f.Close)
		for _, id := range ids("t", 100) {
			create(t, s, id)
			synctest.Wait() // the follower keeps up; its reader does not
		}
		<-f.Ready()
		evs, resynced, err := f.Take(nil)
		require.NoError(t, err)
		assert.False(t, resynced)
		assert.Equal(t, ids("t", 100), eventIDs(evs))
		f.Close()
		_, _, err = f.Take(nil)
		assert.ErrorIs(t, err, store.ErrClosed, "a closed follower says it ended")
	})
}

// slowOnceStore ends its first watch as too slow after three events.
type slowOnceStore struct {
	store.Store
	mu      sync.Mutex
	watches int
}

func (s *slowOnceStore) Watch(ctx context.Context, from int64, opts ...store.WatchOption) (store.Watcher, error) {
	s.mu.Lock()
	s.watches++
	n := s.watches
	s.mu.Unlock()
	w, err := s.Store.Watch(ctx, from, opts...)
	if err != nil || n > 1 {
		return w, err
	}
	out := &cutWatcher{inner: w, events: make(chan store.Event)}
	go out.run(3)
	return out, nil
}

// cutWatcher passes on n events, then ends with store.ErrWatcherTooSlow.
type cutWatcher struct {
	inner  store.Watcher
	events chan store.Event
}

func (w *cutWatcher) run(n int) {
	defer close(w.events)
	for range n {
		ev, ok := <-w.inner.Events()
		if !ok {
			return
		}
		w.events <- ev
	}
	w.inner.Close()
}

func (w *cutWatcher) Events() <-chan store.Event { return w.events }
func (w *cutWatcher) Err() error                 { return store.ErrWatcherTooSlow }
func (w *cutWatcher) Close()                     { w.inner.Close() }

func TestFollowResumesAWatchTooSlowWhereItEnded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &slowOnceStore{Store: newMemory(t)}
		tf := &taskFollower{}
		f, err := store.Follow(t.Context(), s, tf.config())
		require.NoError(t, err)
		t.Cleanup(f.Close)
		create(t, s, ids("t", 10)...)
		synctest.Wait()
		evs, resynced, err := f.Take(nil)
		require.NoError(t, err)
		assert.False(t, resynced)
		assert.Equal(t, ids("t", 10), eventIDs(evs), "every event once, in order")
		assert.Equal(t, 2, s.watches)
		assert.Equal(t, 1, tf.snapshots, "resumed, not read again")
	})
}

func TestResumeFromCompactedHistoryTakesAFreshSnapshot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newMemory(t, memory.WithHistory(4), memory.WithWatchBuffer(2))
		tf := &taskFollower{}
		create(t, s, "a")
		var from int64
		require.NoError(t, s.View(t.Context(), func(tx store.ReadTx) error { from = tx.Revision(); return nil }))
		create(t, s, ids("t", 20)...) // far past the history kept
		f, err := store.Resume(t.Context(), s, from, tf.config())
		require.NoError(t, err)
		t.Cleanup(f.Close)
		assert.Equal(t, 0, tf.snapshots, "no snapshot until the reader takes")

		<-f.Ready()
		evs, resynced, err := f.Take(nil)
		require.NoError(t, err)
		assert.True(t, resynced)
		assert.Empty(t, evs)
		assert.Equal(t, 1, tf.snapshots)
		assert.Len(t, tf.seen, 21)

		create(t, s, "after")
		synctest.Wait()
		evs, resynced, err = f.Take(nil)
		require.NoError(t, err)
		assert.False(t, resynced)
		assert.Equal(t, []string{"after"}, eventIDs(evs))
	})
}

func TestResumeFromAKeptRevisionReadsNoSnapshot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newMemory(t)
		create(t, s, "a")
		var from int64
		require.NoError(t, s.View(t.Context(), func(tx store.ReadTx) error { from = tx.Revision(); return nil }))
		create(t, s, "b", "c")
		tf := &taskFollower{}
		f, err := store.Resume(t.Context(), s, from, tf.config())
		require.NoError(t, err)
		t.Cleanup(f.Close)
		synctest.Wait()
		evs, resynced, err := f.Take(nil)
		require.NoError(t, err)
		assert.False(t, resynced)
		assert.Equal(t, []string{"b", "c"}, eventIDs(evs))
		assert.Equal(t, 0, tf.snapshots)
	})
}

func TestFollowerTooFarBehindStartsOverFromASnapshot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newMemory(t)
		tf := &taskFollower{}
		cfg := tf.config()
		cfg.MaxQueued = 5
		f, err := store.Follow(t.Context(), s, cfg)
		require.NoError(t, err)
		t.Cleanup(f.Close)
		create(t, s, ids("t", 8)...)
		synctest.Wait()

		evs, resynced, err := f.Take(nil)
		require.NoError(t, err)
		assert.True(t, resynced, "more than MaxQueued behind")
		assert.Empty(t, evs, "the snapshot supersedes what was queued")
		assert.Equal(t, 2, tf.snapshots)
		assert.Len(t, tf.seen, 8)

		create(t, s, "after")
		synctest.Wait()
		evs, _, err = f.Take(nil)
		require.NoError(t, err)
		assert.Equal(t, []string{"after"}, eventIDs(evs))
	})
}

func TestFollowEndsWithItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newMemory(t)
		ctx, cancel := context.WithCancel(t.Context())
		f, err := store.Follow(ctx, s, store.FollowConfig{})
		require.NoError(t, err)
		t.Cleanup(f.Close)
		cancel()
		<-f.Ready()
		_, _, err = f.Take(nil)
		assert.ErrorIs(t, err, context.Canceled)
	})
}

func TestFollowReturnsTheSnapshotError(t *testing.T) {
	s := newMemory(t)
	boom := fmt.Errorf("boom")
	_, err := store.Follow(t.Context(), s, store.FollowConfig{Snapshot: func(store.ReadTx) error { return boom }})
	assert.ErrorIs(t, err, boom)
}

func TestFollowerNextWaitsForEventsOrTheContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newMemory(t)
		f, err := store.Follow(t.Context(), s, store.FollowConfig{})
		require.NoError(t, err)
		t.Cleanup(f.Close)
		create(t, s, "a")
		evs, resynced, err := f.Next(t.Context(), nil)
		require.NoError(t, err)
		assert.False(t, resynced)
		assert.Equal(t, []string{"a"}, eventIDs(evs))

		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, _, err = f.Next(ctx, nil)
		assert.ErrorIs(t, err, context.Canceled)
	})
}
