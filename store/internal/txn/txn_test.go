package txn_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/internal/txn"
	"github.com/stevedore-io/stevedore/store/storetest"
)

// TestGuard: an object changed twice gets back the Meta it had before the
// first change, others theirs, and a finished transaction refuses use.
func TestGuard(t *testing.T) {
	t.Parallel()
	var g txn.Guard
	a := &storetest.Item{Group: storetest.KindA, ID: "a", Meta: store.Meta{CreateRevision: 1, ModRevision: 2}}
	b := &storetest.Item{Group: storetest.KindA, ID: "b"}
	c := &storetest.Item{Group: storetest.KindA, ID: "c"}
	for i, obj := range []*storetest.Item{a, b, a, c} {
		_, _, meta, err := g.Check(obj)
		require.NoError(t, err)
		g.SetMeta(meta, store.Meta{CreateRevision: 9, ModRevision: int64(10 + i)})
	}
	assert.Len(t, g.Saved(), 4)
	g.Restore()
	assert.Equal(t, store.Meta{CreateRevision: 1, ModRevision: 2}, a.Meta)
	assert.Zero(t, b.Meta)
	assert.Zero(t, c.Meta)
	assert.Empty(t, g.Saved())

	_, _, _, err := g.Check(nil)
	require.ErrorIs(t, err, store.ErrInvalid)
	_, _, _, err = g.Check(&storetest.Item{Group: storetest.KindA})
	require.ErrorIs(t, err, store.ErrInvalid, "no ID")
	g.Finished = true
	require.ErrorIs(t, g.Usable(), store.ErrInvalid)
	_, _, _, err = g.Check(a)
	require.ErrorIs(t, err, store.ErrInvalid)
}
