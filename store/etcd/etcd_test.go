package etcd_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/etcd"
	"github.com/stevedore-io/stevedore/store/storetest"
)

// stuck bounds every wait for a watch event: it only turns a hang into a
// failure.
const stuck = 30 * time.Second

func item(kind, id string, value int) *storetest.Item {
	return &storetest.Item{Group: kind, ID: id, Value: value}
}

func createItems(t *testing.T, s store.Store, items ...*storetest.Item) int64 {
	t.Helper()
	require.NoError(t, s.Update(t.Context(), func(tx store.Tx) error {
		for _, it := range items {
			if err := tx.Create(it); err != nil {
				return err
			}
		}
		return nil
	}))
	return items[len(items)-1].ModRevision
}

func getItem(t *testing.T, s store.Store, kind, id string) *storetest.Item {
	t.Helper()
	var it *storetest.Item
	require.NoError(t, s.View(t.Context(), func(tx store.ReadTx) error {
		var err error
		it, err = store.Get[*storetest.Item](tx, kind, id)
		return err
	}))
	return it
}

func listItems(t *testing.T, s store.Store, kind string) []*storetest.Item {
	t.Helper()
	var items []*storetest.Item
	require.NoError(t, s.View(t.Context(), func(tx store.ReadTx) error {
		var err error
		items, err = store.List[*storetest.Item](tx, kind)
		return err
	}))
	return items
}

func recv(t *testing.T, w store.Watcher) store.Event {
	t.Helper()
	select {
	case ev, ok := <-w.Events():
		require.True(t, ok, "watch ended: %v", w.Err())
		return ev
	case <-time.After(stuck):
		require.FailNow(t, "no watch event")
		return store.Event{}
	}
}

// TestManyReadsStayWithinTxnLimits reads more objects one by one than etcd
// accepts compares in a transaction (128 by default): the store compares
// the kind's guard instead, and still re-runs on a change.
func TestManyReadsStayWithinTxnLimits(t *testing.T) {
	t.Parallel()
	prefix := etcd.WithPrefix(uniquePrefix(t))
	s, other := open(t, shared.Endpoints, prefix), open(t, shared.Endpoints, prefix)
	var items []*storetest.Item
	for i := range 200 {
		items = append(items, item(storetest.KindA, fmt.Sprintf("%03d", i), i))
	}
	createItems(t, s, items[:100]...)
	createItems(t, s, items[100:]...)

	runs := 0
	require.NoError(t, s.Update(t.Context(), func(tx store.Tx) error {
		runs++
		sum := 0
		for i := range 200 {
			it, err := store.Get[*storetest.Item](tx, storetest.KindA, fmt.Sprintf("%03d", i))
			if err != nil {
				return err
			}
			sum += it.Value
		}
		if runs == 1 {
			storetest.Increment(t, other, storetest.KindA, "199")
		}
		return tx.Create(item(storetest.KindB, "sum", sum))
	}))
	assert.Equal(t, 2, runs)
	assert.Equal(t, 199*200/2+1, getItem(t, s, storetest.KindB, "sum").Value)
}

// TestPrefixesSideBySide runs two installations on one etcd: each sees its
// own objects, revisions and events only.
func TestPrefixesSideBySide(t *testing.T) {
	t.Parallel()
	base := uniquePrefix(t)
	a := open(t, shared.Endpoints, etcd.WithPrefix(base+"/east"))
	b := open(t, shared.Endpoints, etcd.WithPrefix(base+"/west/"))
	assert.Equal(t, base+"/west/", b.Prefix())

	var rev int64
	require.NoError(t, b.View(t.Context(), func(tx store.ReadTx) error { rev = tx.Revision(); return nil }))
	assert.Zero(t, rev, "an installation with nothing written is at revision 0, whatever etcd's revision")

	wa, err := a.Watch(t.Context(), 0)
	require.NoError(t, err)
	t.Cleanup(wa.Close)
	wb, err := b.Watch(t.Context(), 0)
	require.NoError(t, err)
	t.Cleanup(wb.Close)

	createItems(t, a, item(storetest.KindA, "x", 1))
	createItems(t, b, item(storetest.KindA, "x", 2), item(storetest.KindA, "y", 2))
	storetest.Increment(t, a, storetest.KindA, "x")

	assert.Equal(t, 2, getItem(t, a, storetest.KindA, "x").Value)
	assert.Equal(t, 2, getItem(t, b, storetest.KindA, "x").Value)
	assert.Len(t, listItems(t, a, storetest.KindA), 1)
	assert.Len(t, listItems(t, b, storetest.KindA), 2)

	assert.Equal(t, []store.EventType{store.Created, store.Updated},
		[]store.EventType{recv(t, wa).Type, recv(t, wa).Type}, "a sees its own events only")
	assert.Equal(t, []string{"x", "y"}, []string{recv(t, wb).ID, recv(t, wb).ID})
	createItems(t, b, item(storetest.KindB, "last", 0))
	assert.Equal(t, "last", recv(t, wb).ID, "b saw nothing of a's update")
}

// TestRevisionsAreEtcdRevisions checks the mapping documented in doc.go:
// an object's ModRevision is its key's ModRevision in etcd, which is the
// revision of the etcd transaction that committed it.
func TestRevisionsAreEtcdRevisions(t *testing.T) {
	t.Parallel()
	s := open(t, shared.Endpoints, etcd.WithPrefix(uniquePrefix(t)))
	x := item(storetest.KindA, "x", 1)
	createItems(t, s, x)
	next := x.Clone()
	next.Value = 2
	require.NoError(t, s.Update(t.Context(), func(tx store.Tx) error { return tx.Update(next) }))

	resp, err := s.Client().Get(t.Context(), s.Prefix()+"objects/"+storetest.KindA+"/x")
	require.NoError(t, err)
	require.Len(t, resp.Kvs, 1)
	assert.Equal(t, resp.Kvs[0].ModRevision, next.ModRevision)
	assert.Equal(t, resp.Kvs[0].CreateRevision, next.CreateRevision)
	assert.Equal(t, resp.Header.Revision, next.ModRevision, "nothing else was written since")
}

// TestNew checks New's options, and that closing its store leaves the
// client open.
func TestNew(t *testing.T) {
	t.Parallel()
	c := client(t, shared.Endpoints)
	_, err := etcd.New(c, etcd.WithCodec(itemCodec()), etcd.WithCredentials("root", "secret"))
	require.ErrorIs(t, err, store.ErrInvalid)
	_, err = etcd.New(c, etcd.WithCodec(itemCodec()), etcd.WithDialTimeout(time.Second))
	require.ErrorIs(t, err, store.ErrInvalid)
	_, err = etcd.New(c)
	require.ErrorIs(t, err, store.ErrInvalid, "a codec is required")
	_, err = etcd.New(c, etcd.WithCodec(itemCodec()), etcd.WithPrefix("/"))
	require.ErrorIs(t, err, store.ErrInvalid, "the prefix cannot be empty")

	s, err := etcd.New(c, etcd.WithCodec(itemCodec()), etcd.WithPrefix(uniquePrefix(t)))
	require.NoError(t, err)
	createItems(t, s, item(storetest.KindA, "x", 1))
	require.NoError(t, s.Close())
	_, err = c.Get(t.Context(), "anything")
	require.NoError(t, err, "closing a store made by New leaves the client open")
	require.ErrorIs(t, s.Update(t.Context(), func(store.Tx) error { return nil }), store.ErrClosed)
}

// TestDecodedObjectsAreShared checks the cache of decoded objects: an
// unchanged version is decoded once and handed out again, a changed one
// is read afresh, and a small cache that overflows stays correct.
func TestDecodedObjectsAreShared(t *testing.T) {
	t.Parallel()
	s := open(t, shared.Endpoints, etcd.WithPrefix(uniquePrefix(t)))
	createItems(t, s, item(storetest.KindA, "x", 1))
	first, again := getItem(t, s, storetest.KindA, "x"), getItem(t, s, storetest.KindA, "x")
	assert.Same(t, first, again, "an unchanged version is decoded once")
	storetest.Increment(t, s, storetest.KindA, "x")
	changed := getItem(t, s, storetest.KindA, "x")
	assert.Equal(t, 2, changed.Value)
	assert.Equal(t, 1, first.Value, "an object handed out is never changed")

	none := open(t, shared.Endpoints, etcd.WithPrefix(s.Prefix()), etcd.WithCacheSize(0))
	assert.Same(t, getItem(t, none, storetest.KindA, "x"), getItem(t, none, storetest.KindA, "x"),
		"Views read the store's copy, whatever the cache size")

	small := open(t, shared.Endpoints, etcd.WithPrefix(uniquePrefix(t)), etcd.WithCacheSize(4))
	var items []*storetest.Item
	for i := range 10 {
		items = append(items, item(storetest.KindA, fmt.Sprint(i), i))
	}
	createItems(t, small, items...)
	for round := range 3 {
		for i, it := range listItems(t, small, storetest.KindA) {
			want := i
			if i == 9 {
				want += round
			}
			require.Equal(t, fmt.Sprint(i), it.ID)
			require.Equal(t, want, it.Value)
		}
		storetest.Increment(t, small, storetest.KindA, "9")
	}
	assert.Equal(t, 12, getItem(t, small, storetest.KindA, "9").Value)
}
