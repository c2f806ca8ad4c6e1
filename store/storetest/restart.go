package storetest

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/store"
)

// NewDurableStore returns a new, empty durable store that honours limits,
// and reopen, which returns a new store on the same state once the first
// was closed: what a process finds after a restart. Both register their
// own clean-up with t.Cleanup, and Close must be safe to call twice.
type NewDurableStore func(t *testing.T, limits Limits) (s store.Store, reopen func(t *testing.T) store.Store)

// RunRestart checks what a durable implementation keeps across a restart:
// objects with their revisions, deletions, the revision itself (never
// used again), and the bounded history, so that a watch resumes after a
// restart from where it stopped and fails with store.ErrCompacted beyond.
// Run it besides Run.
func RunRestart(t *testing.T, newStore NewDurableStore) {
	t.Run("StateSurvives", func(t *testing.T) {
		t.Parallel()
		s, reopen := newStore(t, Limits{})
		r1 := create(t, s, item(KindA, "a", 1), item(KindB, "b", 2), &Other{ID: "o"})
		r2 := set(t, s, KindA, "a", 10).ModRevision
		remove(t, s, KindB, "b")
		r3 := revision(t, s)
		require.NoError(t, s.Close())

		s = reopen(t)
		assert.Equal(t, r3, revision(t, s), "the revision survives")
		a, err := get(t, s, KindA, "a")
		require.NoError(t, err)
		assert.Equal(t, 10, a.Value)
		assert.Equal(t, store.Meta{CreateRevision: r1, ModRevision: r2}, a.Meta, "revisions survive")
		assert.Empty(t, list(t, s, KindB), "a delete survives")
		require.NoError(t, s.View(ctx(t), func(tx store.ReadTx) error {
			o, err := store.Get[*Other](tx, OtherKind, "o")
			if err == nil {
				assert.Equal(t, r1, o.ModRevision, "every kind survives")
			}
			return err
		}))
		assert.Greater(t, create(t, s, item(KindA, "c", 3)), r3, "revisions are never used again")
	})

	t.Run("HistorySurvives", func(t *testing.T) {
		t.Parallel()
		s, reopen := newStore(t, Limits{})
		r1 := create(t, s, item(KindA, "a", 1))
		r2 := set(t, s, KindA, "a", 2).ModRevision
		remove(t, s, KindA, "a")
		r3 := revision(t, s)
		require.NoError(t, s.Close())

		s = reopen(t)
		w := watch(t, s, 0)
		evs := recvN(t, w, 3)
		assert.Equal(t, []described{
			{Type: store.Created, Kind: KindA, ID: "a", Value: 1, Prev: -1},
			{Type: store.Updated, Kind: KindA, ID: "a", Value: 2, Prev: 1},
			{Type: store.Deleted, Kind: KindA, ID: "a", Value: 2, Prev: 2},
		}, describeAll(evs), "events come back with their previous versions")
		assert.Equal(t, []int64{r1, r2, r3}, revisions(evs))
		assert.Equal(t, store.Meta{CreateRevision: r1, ModRevision: r2}, *evs[1].Object.StoreMeta())
	})

	t.Run("WatchResumesWithinHistory", func(t *testing.T) {
		t.Parallel()
		const history = 8
		s, reopen := newStore(t, Limits{History: history, WatchBuffer: 4})
		var revs []int64
		for i := range 5 * history {
			revs = append(revs, create(t, s, item(KindA, fmt.Sprintf("%03d", i), i)))
		}
		require.NoError(t, s.Close())

		s = reopen(t)
		_, err := s.Watch(ctx(t), 0)
		require.ErrorIs(t, err, store.ErrCompacted, "the history bound holds after a restart")
		_, err = s.Watch(ctx(t), revs[len(revs)-3*history])
		require.ErrorIs(t, err, store.ErrCompacted)

		w := watch(t, s, revs[len(revs)-history-1])
		got := revisions(recvN(t, w, history))
		next := create(t, s, item(KindB, "after", 0))
		got = append(got, recv(t, w).Revision)
		assert.Equal(t, append(revs[len(revs)-history:], next), got, "nothing missed, nothing repeated")
	})
}
