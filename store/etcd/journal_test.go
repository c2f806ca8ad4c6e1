package etcd_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/etcd"
	"github.com/stevedore-io/stevedore/store/storetest"
)

// TestKeysWrittenTwiceInOneTransaction writes keys several times in one
// transaction, which etcd records as one version per key: the watch still
// gets one event per write, in order, with the right Prev, and an object
// deleted and created again starts afresh.
func TestKeysWrittenTwiceInOneTransaction(t *testing.T) {
	t.Parallel()
	s := open(t, shared.Endpoints, etcd.WithPrefix(uniquePrefix(t)))
	first := createItems(t, s, item(storetest.KindA, "x", 1))
	w, err := s.Watch(t.Context(), first)
	require.NoError(t, err)
	t.Cleanup(w.Close)

	y := item(storetest.KindA, "y", 3)
	require.NoError(t, s.Update(t.Context(), func(tx store.Tx) error {
		require.NoError(t, tx.Delete(storetest.KindA, "x"))
		require.NoError(t, tx.Create(item(storetest.KindA, "x", 2)))
		require.NoError(t, tx.Create(y))
		next := y.Clone()
		next.Value = 4
		require.NoError(t, tx.Update(next))
		require.NoError(t, tx.Create(item(storetest.KindB, "z", 5)))
		return tx.Delete(storetest.KindB, "z")
	}))
	rev := y.ModRevision
	require.Greater(t, rev, first)

	type ev struct {
		Type        store.EventType
		ID          string
		Value, Prev int
	}
	var got []ev
	for range 6 {
		e := recv(t, w)
		require.Equal(t, rev, e.Revision)
		g := ev{Type: e.Type, ID: e.ID, Value: -1, Prev: -1}
		if e.Object != nil {
			g.Value = e.Object.(*storetest.Item).Value
			assert.Equal(t, rev, e.Object.StoreMeta().ModRevision)
		}
		if e.Prev != nil {
			g.Prev = e.Prev.(*storetest.Item).Value
		}
		got = append(got, g)
	}
	assert.Equal(t, []ev{
		{store.Deleted, "x", -1, 1},
		{store.Created, "x", 2, -1},
		{store.Created, "y", 3, -1},
		{store.Updated, "y", 4, 3},
		{store.Created, "z", 5, -1},
		{store.Deleted, "z", -1, 5},
	}, got)

	x := getItem(t, s, storetest.KindA, "x")
	assert.Equal(t, store.Meta{CreateRevision: rev, ModRevision: rev}, x.Meta, "x was created again at rev")
	assert.Equal(t, 4, getItem(t, s, storetest.KindA, "y").Value)
	assert.Empty(t, listItems(t, s, storetest.KindB))
}
