package storetest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/store"
)

// NewSharedStores returns two handles on one new, empty state, as two
// processes (two control-plane replicas) have on one etcd. It registers
// their clean-up with t.Cleanup.
type NewSharedStores func(t *testing.T) (a, b store.Store)

// RunShared runs the tests of stores that several processes share, for
// implementations that allow it (store/etcd). Writers on both handles race
// without handling conflicts themselves: Update must re-run a function
// whose reads changed before commit, including the kinds it listed, so
// that no update is lost and nothing is written from a stale read; and a
// watch on either handle sees the same transactions in the same order.
// Run the single-handle suite (Run) as well.
func RunShared(t *testing.T, newStores NewSharedStores) {
	t.Run("NoLostUpdate", func(t *testing.T) { t.Parallel(); testNoLostUpdate(t, newStores) })
	t.Run("ChangedReadReruns", func(t *testing.T) { t.Parallel(); testChangedReadReruns(t, newStores) })
	t.Run("ChangedListReruns", func(t *testing.T) { t.Parallel(); testChangedListReruns(t, newStores) })
	t.Run("SameHistory", func(t *testing.T) { t.Parallel(); testSameHistory(t, newStores) })
}

// Increment adds one to the Value of the Item kind/id in an Update that
// reads it, the way a loop changes state, and returns how many times the
// function ran. It reports a failed Update with t.Errorf, so that it can
// run on any goroutine.
func Increment(t *testing.T, s store.Store, kind, id string) int {
	runs := 0
	assert.NoError(t, s.Update(ctx(t), func(tx store.Tx) error {
		runs++
		cur, err := store.Get[*Item](tx, kind, id)
		if err != nil {
			return err
		}
		next := cur.Clone()
		next.Value++
		return tx.Update(next)
	}))
	return runs
}

func testNoLostUpdate(t *testing.T, newStores NewSharedStores) {
	const writers, increments = 4, 25
	a, b := newStores(t)
	rev := create(t, a, item(KindA, "counter", 0))
	w := watch(t, b, rev)

	var wg sync.WaitGroup
	runs := make([]int, 2*writers)
	for n := range 2 * writers {
		s := a
		if n%2 == 1 {
			s = b
		}
		wg.Go(func() {
			for range increments {
				runs[n] += Increment(t, s, KindA, "counter")
			}
		})
	}
	wg.Wait()

	total := 2 * writers * increments
	got, err := get(t, b, KindA, "counter")
	require.NoError(t, err)
	assert.Equal(t, total, got.Value, "no increment lost")
	for want := 1; want <= total; want++ {
		ev := recv(t, w)
		require.Equal(t, want, ev.Object.(*Item).Value, "the watcher sees every increment once, in order")
		require.Equal(t, want-1, ev.Prev.(*Item).Value)
	}
	t.Logf("%d increments took %d runs of the transaction", total, sum(runs))
}

// testChangedReadReruns changes what an Update read, from the other
// handle, between the read and the commit.
func testChangedReadReruns(t *testing.T, newStores NewSharedStores) {
	s, other := newStores(t)
	create(t, s, item(KindA, "x", 1), item(KindA, "y", 0))

	var seen []int
	require.NoError(t, s.Update(ctx(t), func(tx store.Tx) error {
		x, err := store.Get[*Item](tx, KindA, "x")
		if err != nil {
			return err
		}
		seen = append(seen, x.Value)
		if len(seen) == 1 {
			Increment(t, other, KindA, "x") // a concurrent writer
		}
		y, err := store.Get[*Item](tx, KindA, "y")
		if err != nil {
			return err
		}
		next := y.Clone()
		next.Value = 10 * x.Value // derived from x: must not be stale
		return tx.Update(next)
	}))
	assert.Equal(t, []int{1, 2}, seen, "the function ran again after x changed")
	y, err := get(t, s, KindA, "y")
	require.NoError(t, err)
	assert.Equal(t, 20, y.Value)
}

// testChangedListReruns changes a kind an Update listed: creating,
// updating or deleting any object of it makes the Update run again.
func testChangedListReruns(t *testing.T, newStores NewSharedStores) {
	changes := []struct {
		name   string
		change func(t *testing.T, s store.Store)
		want   int
	}{
		{"Create", func(t *testing.T, s store.Store) { create(t, s, item(KindA, "new", 5)) }, 1 + 2 + 5},
		{"Update", func(t *testing.T, s store.Store) { Increment(t, s, KindA, "one") }, 2 + 2},
		{"Delete", func(t *testing.T, s store.Store) { remove(t, s, KindA, "one") }, 2},
	}
	for _, tt := range changes {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, other := newStores(t)
			create(t, s, item(KindA, "one", 1), item(KindA, "two", 2))

			runs := 0
			require.NoError(t, s.Update(ctx(t), func(tx store.Tx) error {
				runs++
				all, err := store.List[*Item](tx, KindA)
				if err != nil {
					return err
				}
				if runs == 1 {
					tt.change(t, other)
				}
				total := 0
				for _, it := range all {
					total += it.Value
				}
				return tx.Create(item(KindB, "sum", total))
			}))
			assert.Equal(t, 2, runs)
			got, err := get(t, s, KindB, "sum")
			require.NoError(t, err)
			assert.Equal(t, tt.want, got.Value, "the sum counts the list as committed")
		})
	}
}

// testSameHistory writes through both handles and watches through both:
// the two watches deliver the same events, and a View on one handle sees
// what the other committed before it.
func testSameHistory(t *testing.T, newStores NewSharedStores) {
	a, b := newStores(t)
	wa, wb := watch(t, a, 0), watch(t, b, 0)
	var last int64
	for i := range 10 {
		s, other := a, b
		if i%2 == 1 {
			s, other = b, a
		}
		last = create(t, s, item(KindA, fmt.Sprint(i), i))
		got, err := get(t, other, KindA, fmt.Sprint(i))
		require.NoError(t, err, "a View on one handle sees what the other committed")
		assert.Equal(t, last, got.ModRevision)
	}
	ea, eb := recvN(t, wa, 10), recvN(t, wb, 10)
	assert.Equal(t, describeAll(ea), describeAll(eb))
	assert.Equal(t, revisions(ea), revisions(eb))
	assert.Equal(t, last, ea[9].Revision)
}
