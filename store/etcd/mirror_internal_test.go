package etcd

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/internal/etcdtest"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/storetest"
)

// TestStaleReadFailsCommit runs transactions on a snapshot of the store's
// copy that another replica's write made stale, as a mirror that is behind
// etcd would give: whatever the transaction did with its stale reads, it
// is not kept, and the store would run it again.
func TestStaleReadFailsCommit(t *testing.T) {
	t.Parallel()
	srv := etcdtest.Start(t)
	codec := store.NewJSONCodec(map[string]func() store.Object{
		storetest.KindA: func() store.Object { return new(storetest.Item) },
		storetest.KindB: func() store.Object { return new(storetest.Item) },
	})
	s, err := Open(t.Context(), srv.Endpoints, WithCodec(codec))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	other, err := Open(t.Context(), srv.Endpoints, WithCodec(codec))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, other.Close()) })

	x := &storetest.Item{Group: storetest.KindA, ID: "x", Value: 1}
	require.NoError(t, s.Update(t.Context(), func(tx store.Tx) error { return tx.Create(x) }))
	before, err := s.mirror.at(t.Context(), x.ModRevision)
	require.NoError(t, err)
	storetest.Increment(t, other, storetest.KindA, "x")
	afterIncrement, err := s.mirror.at(t.Context(), revision(t, other))
	require.NoError(t, err)
	require.NoError(t, other.Update(t.Context(), func(tx store.Tx) error {
		return tx.Create(&storetest.Item{Group: storetest.KindA, ID: "new"})
	}))
	latest := revision(t, other)

	for _, tc := range []struct {
		name  string
		stale *snapshot
		fn    func(tx store.Tx) error
	}{
		{"a write derived from a stale read", before, func(tx store.Tx) error {
			x, err := store.Get[*storetest.Item](tx, storetest.KindA, "x")
			if err != nil {
				return err
			}
			return tx.Create(&storetest.Item{Group: storetest.KindB, ID: "ten-x", Value: 10 * x.Value})
		}},
		{"a write after listing a kind that grew", afterIncrement, func(tx store.Tx) error {
			items, err := tx.List(storetest.KindA)
			if err != nil {
				return err
			}
			return tx.Create(&storetest.Item{Group: storetest.KindB, ID: "count", Value: len(items)})
		}},
		{"a stale read only", before, func(tx store.Tx) error {
			_, err := tx.Get(storetest.KindA, "x")
			return err
		}},
		{"an error from a stale read", afterIncrement, func(tx store.Tx) error {
			_, err := tx.Get(storetest.KindA, "new")
			return err
		}},
		{"a conflict from a stale read", before, func(tx store.Tx) error {
			var fresh *storetest.Item
			if err := other.View(t.Context(), func(rtx store.ReadTx) error {
				var err error
				fresh, err = store.Get[*storetest.Item](rtx, storetest.KindA, "x")
				return err
			}); err != nil {
				return err
			}
			next := fresh.Clone()
			next.Value = 100
			return tx.Update(next)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done, behind, err := s.attempt(t.Context(), newWriteTx(s, tc.stale), nil, tc.fn)
			require.NoError(t, err)
			assert.False(t, done, "the transaction must run again")
			assert.Equal(t, latest, behind, "once the store's copy reached the latest revision")
		})
	}
	require.NoError(t, s.View(t.Context(), func(tx store.ReadTx) error {
		items, err := tx.List(storetest.KindB)
		assert.Empty(t, items, "nothing derived from a stale read was written")
		return err
	}))

	runs := 0
	require.NoError(t, s.Update(t.Context(), func(tx store.Tx) error {
		runs++
		items, err := tx.List(storetest.KindA)
		if err != nil {
			return err
		}
		return tx.Create(&storetest.Item{Group: storetest.KindB, ID: "count", Value: len(items)})
	}))
	assert.Equal(t, 1, runs, "an Update after a View reads at least what the View read")
}

func revision(t *testing.T, s store.Store) int64 {
	t.Helper()
	var rev int64
	require.NoError(t, s.View(t.Context(), func(tx store.ReadTx) error { rev = tx.Revision(); return nil }))
	return rev
}

// TestRevisionValue checks the value of the revision key: a mark, then
// the journal if any; a value without a mark, as stores wrote before marks,
// is a journal alone.
func TestRevisionValue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		value, mark, journal string
	}{
		{revisionValue("abc.1", nil), "abc.1", ""},
		{revisionValue("abc.2", []byte(`{"ops":[]}`)), "abc.2", `{"ops":[]}`},
		{`{"ops":[]}`, "", `{"ops":[]}`},
		{"", "", ""},
	} {
		mark, journal := splitRevisionValue([]byte(tc.value))
		assert.Equal(t, tc.mark, mark, "value %q", tc.value)
		assert.Equal(t, tc.journal, string(journal), "value %q", tc.value)
	}
}
