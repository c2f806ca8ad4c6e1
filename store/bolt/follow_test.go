package bolt_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/bolt"
	"github.com/stevedore-io/stevedore/store/storetest"
)

// TestFollowerResumesAfterRestart is how a loop picks up after a restart:
// it kept the revision it had reached, and store.Resume on the reopened
// file delivers exactly the changes after it; when the file no longer
// holds that history, the follower starts over from a snapshot.
func TestFollowerResumesAfterRestart(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	opts := []bolt.Option{bolt.WithHistory(16), bolt.WithWatchBuffer(8)}
	s := open(t, path, opts...)
	create(t, s, item(storetest.KindA, "before", 0))
	reached := revision(t, s) // what the loop had handled when the process died
	for i := range 3 {
		create(t, s, item(storetest.KindA, fmt.Sprint("while-down-", i), i))
	}
	require.NoError(t, s.Close())

	s = open(t, path, opts...)
	var snapshots int
	cfg := store.FollowConfig{
		Snapshot: func(store.ReadTx) error { snapshots++; return nil },
		Options:  []store.WatchOption{store.WithKinds(storetest.KindA)},
	}
	f, err := store.Resume(t.Context(), s, reached, cfg)
	require.NoError(t, err)
	defer f.Close()
	var got []string
	for len(got) < 3 {
		evs, resynced, err := f.Next(t.Context(), nil)
		require.NoError(t, err)
		require.False(t, resynced)
		for _, ev := range evs {
			got = append(got, ev.ID)
		}
	}
	assert.Equal(t, []string{"while-down-0", "while-down-1", "while-down-2"}, got)
	assert.Zero(t, snapshots, "no snapshot needed")

	for i := range 40 { // more than the history keeps
		create(t, s, item(storetest.KindB, fmt.Sprint(i), i))
	}
	stale, err := store.Resume(t.Context(), s, reached, cfg)
	require.NoError(t, err)
	defer stale.Close()
	_, resynced, err := stale.Next(t.Context(), nil)
	require.NoError(t, err)
	assert.True(t, resynced, "history gone: a fresh snapshot")
	assert.Equal(t, 1, snapshots)
}
