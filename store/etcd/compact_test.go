package etcd_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/internal/etcdtest"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/etcd"
	"github.com/stevedore-io/stevedore/store/storetest"
)

// TestWatchAfterEtcdCompacted compacts etcd from outside the store, as
// etcd's own auto-compaction does: a watch from before the compaction
// fails with store.ErrCompacted, and a fresh snapshot and watch carry on.
func TestWatchAfterEtcdCompacted(t *testing.T) {
	t.Parallel()
	srv := etcdtest.Start(t) // compaction is etcd-wide: an etcd of its own
	s := open(t, srv.Endpoints)
	first := createItems(t, s, item(storetest.KindA, "a", 1))
	createItems(t, s, item(storetest.KindA, "b", 2))
	last := createItems(t, s, item(storetest.KindA, "c", 3))

	_, err := s.Client().Compact(t.Context(), last)
	require.NoError(t, err)

	_, err = s.Watch(t.Context(), first)
	require.ErrorIs(t, err, store.ErrCompacted)
	_, err = s.Watch(t.Context(), 0)
	require.ErrorIs(t, err, store.ErrCompacted, "the store's history before the compaction is gone")

	var items []*storetest.Item
	w, err := store.ViewAndWatch(t.Context(), s, func(tx store.ReadTx) error {
		var err error
		items, err = store.List[*storetest.Item](tx, storetest.KindA)
		return err
	})
	require.NoError(t, err)
	t.Cleanup(w.Close)
	assert.Len(t, items, 3)
	createItems(t, s, item(storetest.KindA, "d", 4))
	assert.Equal(t, "d", recv(t, w).ID)
}

// TestWithCompaction lets the store compact: etcd keeps at least the
// revisions asked for, and a watch from older ones fails.
func TestWithCompaction(t *testing.T) {
	t.Parallel()
	srv := etcdtest.Start(t)
	s := open(t, srv.Endpoints, etcd.WithCompaction(10))
	var revs []int64
	for i := range 40 {
		revs = append(revs, createItems(t, s, item(storetest.KindA, string(rune('a'+i)), i)))
	}
	_, err := s.Watch(t.Context(), revs[0])
	require.ErrorIs(t, err, store.ErrCompacted)
	w, err := s.Watch(t.Context(), revs[len(revs)-11])
	require.NoError(t, err, "the last 10 revisions are kept")
	t.Cleanup(w.Close)
	for _, want := range revs[len(revs)-10:] {
		require.Equal(t, want, recv(t, w).Revision)
	}
}
