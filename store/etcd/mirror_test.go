package etcd_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/internal/etcdtest"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/etcd"
	"github.com/stevedore-io/stevedore/store/storetest"
)

// TestReadYourWrites runs Updates one after the other through one store:
// each reads the snapshot of the store's copy, which must already hold the
// previous one's commit, so that none runs twice on a stale read.
func TestReadYourWrites(t *testing.T) {
	t.Parallel()
	s := open(t, shared.Endpoints, etcd.WithPrefix(uniquePrefix(t)))
	createItems(t, s, item(storetest.KindA, "x", 0))
	for want := 1; want <= 50; want++ {
		require.Equal(t, 1, storetest.Increment(t, s, storetest.KindA, "x"), "the Update read its store's last commit")
		require.Equal(t, want, getItem(t, s, storetest.KindA, "x").Value)
	}
}

// TestViewSeesOtherReplicas checks that a View reads the store's latest
// revision, even one another replica committed a moment ago.
func TestViewSeesOtherReplicas(t *testing.T) {
	t.Parallel()
	prefix := etcd.WithPrefix(uniquePrefix(t))
	s, other := open(t, shared.Endpoints, prefix), open(t, shared.Endpoints, prefix)
	createItems(t, s, item(storetest.KindA, "x", 0))
	for want := 1; want <= 50; want++ {
		storetest.Increment(t, other, storetest.KindA, "x")
		require.Equal(t, want, getItem(t, s, storetest.KindA, "x").Value)
	}
}

// TestWatchResumesAfterBreak cuts the connection of a store to etcd while
// another replica writes: once it is back, the store's watch (and its
// watchers) carry on from where they were, without a gap.
func TestWatchResumesAfterBreak(t *testing.T) {
	t.Parallel()
	proxy := etcdtest.StartProxy(t, shared.Endpoints[0])
	prefix := etcd.WithPrefix(uniquePrefix(t))
	s := open(t, []string{proxy.Endpoint}, prefix)
	writer := open(t, shared.Endpoints, prefix)
	rev := createItems(t, writer, item(storetest.KindA, "x", 0))
	w, err := s.Watch(t.Context(), rev)
	require.NoError(t, err)
	t.Cleanup(w.Close)

	storetest.Increment(t, writer, storetest.KindA, "x")
	require.Equal(t, 1, recv(t, w).Object.(*storetest.Item).Value)
	proxy.Cut()
	for range 3 {
		storetest.Increment(t, writer, storetest.KindA, "x")
	}
	createItems(t, writer, item(storetest.KindB, "y", 0))
	proxy.Restore()
	for want := 2; want <= 4; want++ {
		ev := recv(t, w)
		require.Equal(t, want, ev.Object.(*storetest.Item).Value)
		require.Equal(t, want-1, ev.Prev.(*storetest.Item).Value)
	}
	assert.Equal(t, "y", recv(t, w).ID)
	assert.Equal(t, 4, getItem(t, s, storetest.KindA, "x").Value)
}

// TestMirrorCompacted cuts a store off etcd while another replica writes
// and etcd is compacted past what the store saw: the store reads etcd
// afresh, its running watchers end with store.ErrCompacted (they missed
// events), and its reads and new watches carry on.
func TestMirrorCompacted(t *testing.T) {
	t.Parallel()
	srv := etcdtest.Start(t) // compaction is etcd-wide: an etcd of its own
	proxy := etcdtest.StartProxy(t, srv.Endpoints[0])
	s := open(t, []string{proxy.Endpoint})
	writer := open(t, srv.Endpoints)
	rev := createItems(t, writer, item(storetest.KindA, "x", 0))
	w, err := s.Watch(t.Context(), rev)
	require.NoError(t, err)
	t.Cleanup(w.Close)
	storetest.Increment(t, writer, storetest.KindA, "x")
	require.Equal(t, 1, recv(t, w).Object.(*storetest.Item).Value)

	proxy.Cut()
	storetest.Increment(t, writer, storetest.KindA, "x")
	last := createItems(t, writer, item(storetest.KindB, "y", 0))
	_, err = writer.Client().Compact(t.Context(), last)
	require.NoError(t, err)
	proxy.Restore()

	select {
	case ev, ok := <-w.Events():
		require.False(t, ok, "an event reached a watch that missed some: %+v", ev)
	case <-time.After(stuck):
		require.FailNow(t, "the watch did not end")
	}
	require.ErrorIs(t, w.Err(), store.ErrCompacted)
	assert.Equal(t, 2, getItem(t, s, storetest.KindA, "x").Value)
	assert.Equal(t, []string{"y"}, ids(listItems(t, s, storetest.KindB)))

	w2, err := store.ViewAndWatch(t.Context(), s, func(store.ReadTx) error { return nil })
	require.NoError(t, err)
	t.Cleanup(w2.Close)
	storetest.Increment(t, writer, storetest.KindA, "x")
	assert.Equal(t, 3, recv(t, w2).Object.(*storetest.Item).Value)
}

func ids(items []*storetest.Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}
