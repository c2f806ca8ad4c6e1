package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/store"
)

func testWatch(t *testing.T, newStore NewStore) {
	t.Run("EveryChangeInOrder", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, Limits{})
		w := watch(t, s, 0)
		r1 := create(t, s, item(KindA, "a", 1))
		r2 := set(t, s, KindA, "a", 2).ModRevision
		remove(t, s, KindA, "a")
		r3 := revision(t, s)

		evs := recvN(t, w, 3)
		assert.Equal(t, []described{
			{Type: store.Created, Kind: KindA, ID: "a", Value: 1, Prev: -1},
			{Type: store.Updated, Kind: KindA, ID: "a", Value: 2, Prev: 1},
			{Type: store.Deleted, Kind: KindA, ID: "a", Value: 2, Prev: 2},
		}, describeAll(evs))
		assert.Equal(t, []int64{r1, r2, r3}, []int64{evs[0].Revision, evs[1].Revision, evs[2].Revision})
		assert.Nil(t, evs[2].Object, "a Deleted event has no new object")
		assert.Equal(t, r2, evs[2].Prev.StoreMeta().ModRevision, "Prev is the version deleted")
		assert.Equal(t, store.Meta{CreateRevision: r1, ModRevision: r2}, *evs[1].Object.StoreMeta())
	})

	t.Run("TransactionsStayTogether", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, Limits{})
		w := watch(t, s, 0)
		rev := create(t, s, item(KindA, "a", 1), item(KindB, "b", 2), item(KindA, "c", 3))
		create(t, s, item(KindA, "d", 4))
		evs := recvN(t, w, 4)
		for _, ev := range evs[:3] {
			assert.Equal(t, rev, ev.Revision)
		}
		assert.Equal(t, []string{"a", "b", "c", "d"}, ids(evs), "events keep the order of the writes")
		assert.Greater(t, evs[3].Revision, rev)
	})

	t.Run("FromRevision", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, Limits{})
		create(t, s, item(KindA, "a", 1))
		mid := create(t, s, item(KindA, "b", 1))
		create(t, s, item(KindA, "c", 1))
		set(t, s, KindA, "a", 2)

		w := watch(t, s, mid)
		evs := recvN(t, w, 2)
		assert.Equal(t, []string{"c", "a"}, ids(evs), "only changes after the revision given")
	})

	t.Run("Resume", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, Limits{})
		w, err := s.Watch(ctx(t), 0)
		require.NoError(t, err)
		for i := range 3 {
			create(t, s, item(KindA, fmt.Sprint(i), i))
		}
		seen := recvN(t, w, 2)
		w.Close()
		_, err = drain(t, w)
		require.NoError(t, err, "Err is nil after Close")
		for i := 3; i < 6; i++ {
			create(t, s, item(KindA, fmt.Sprint(i), i))
		}

		w = watch(t, s, seen[len(seen)-1].Revision)
		rest := recvN(t, w, 4)
		assert.Equal(t, []string{"2", "3", "4", "5"}, ids(rest), "nothing missed, nothing repeated")
	})

	t.Run("ViewAndWatch", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, Limits{})
		create(t, s, item(KindA, "a", 1), item(KindA, "b", 1))
		var snapshot []*Item
		w, err := store.ViewAndWatch(ctx(t), s, func(tx store.ReadTx) error {
			var err error
			snapshot, err = store.List[*Item](tx, KindA)
			return err
		}, store.WithKinds(KindA))
		require.NoError(t, err)
		t.Cleanup(w.Close)
		assert.Len(t, snapshot, 2)

		set(t, s, KindA, "b", 2)
		ev := recv(t, w)
		assert.Equal(t, described{Type: store.Updated, Kind: KindA, ID: "b", Value: 2, Prev: 1}, describe(ev))

		_, err = store.ViewAndWatch(ctx(t), s, func(tx store.ReadTx) error { return errAbort })
		require.ErrorIs(t, err, errAbort, "fn's error is returned and no watch starts")
	})

	t.Run("Filters", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, Limits{})
		byKind := watch(t, s, 0, store.WithKinds(KindB))
		byValue := watch(t, s, 0, store.WithKinds(KindA, KindB), store.WithFilter(func(ev store.Event) bool {
			return ev.Object != nil && ev.Object.(*Item).Value%2 == 0
		}))
		both := watch(t, s, 0,
			store.WithFilter(func(ev store.Event) bool { return ev.Kind == KindA }),
			store.WithFilter(func(ev store.Event) bool { return ev.ID != "a1" }))
		for i := range 6 {
			kind := KindA
			if i%3 == 0 {
				kind = KindB
			}
			create(t, s, item(kind, fmt.Sprint(kind[:1], i), i))
		}
		create(t, s, &Other{ID: "end"})
		create(t, s, item(KindB, "end", 100))

		assert.Equal(t, []string{"b0", "b3", "end"}, ids(recvN(t, byKind, 3)))
		assert.Equal(t, []string{"b0", "a2", "a4", "end"}, ids(recvN(t, byValue, 4)))
		assert.Equal(t, []string{"a2", "a4", "a5"}, ids(recvN(t, both, 3)))
	})
}

func testWatchLimits(t *testing.T, newStore NewStore) {
	t.Run("Compacted", func(t *testing.T) {
		t.Parallel()
		const history = 8
		s := newStore(t, Limits{History: history, WatchBuffer: 4})
		var revs []int64
		for i := range 5 * history {
			revs = append(revs, create(t, s, item(KindA, fmt.Sprint(i), i)))
		}
		_, err := s.Watch(ctx(t), 0)
		require.ErrorIs(t, err, store.ErrCompacted)
		_, err = s.Watch(ctx(t), revs[len(revs)-3*history])
		require.ErrorIs(t, err, store.ErrCompacted)

		from := revs[len(revs)-history-1]
		w := watch(t, s, from)
		evs := recvN(t, w, history)
		assert.Equal(t, revs[len(revs)-history:], revisions(evs), "the last History events are kept")
	})

	t.Run("SlowWatcherEndsAndResumes", func(t *testing.T) {
		t.Parallel()
		const buffer = 8
		const writes = 4*buffer + 16
		s := newStore(t, Limits{History: 1000, WatchBuffer: buffer})
		w := watch(t, s, 0)
		var revs []int64 // two events, two objects, per transaction
		for i := range writes {
			rev := create(t, s, item(KindA, fmt.Sprintf("%03d", i), i), item(KindB, fmt.Sprintf("%03d", i), i))
			revs = append(revs, rev, rev)
		}

		got, err := drain(t, w)
		require.ErrorIs(t, err, store.ErrWatcherTooSlow)
		require.Less(t, len(got), len(revs))
		assert.Equal(t, revs[:len(got)], revisions(got), "what arrived before the end has no gaps")
		require.Zero(t, len(got)%2, "the watch ended between two events of one transaction")

		last := int64(0) // the revision the watch started from
		if len(got) > 0 {
			last = got[len(got)-1].Revision
		}
		resumed := watch(t, s, last)
		rest := recvN(t, resumed, len(revs)-len(got))
		assert.Equal(t, revs[len(got):], revisions(rest))
	})

	t.Run("KeepingUpIsNeverTooSlow", func(t *testing.T) {
		t.Parallel()
		const buffer = 4
		s := newStore(t, Limits{History: 100, WatchBuffer: buffer})
		w := watch(t, s, 0)
		for i := range 20 * buffer {
			rev := create(t, s, item(KindA, fmt.Sprint(i), i))
			require.Equal(t, rev, recv(t, w).Revision)
		}
	})

	t.Run("LargeTransaction", func(t *testing.T) {
		t.Parallel()
		const buffer = 4
		s := newStore(t, Limits{History: 16, WatchBuffer: buffer})
		w := watch(t, s, 0)
		var objs []store.Object
		for i := range 10 * buffer {
			objs = append(objs, item(KindA, fmt.Sprintf("%03d", i), i))
		}
		rev := create(t, s, objs...)
		evs := recvN(t, w, len(objs))
		for _, ev := range evs {
			require.Equal(t, rev, ev.Revision)
		}
		next := create(t, s, item(KindB, "next", 0))
		assert.Equal(t, next, recv(t, w).Revision, "a transaction larger than the buffer reaches a watcher that keeps up")
	})
}

func testWatchEnd(t *testing.T, newStore NewStore) {
	t.Run("ContextCancelled", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, Limits{})
		c, cancel := context.WithCancel(ctx(t))
		w, err := s.Watch(c, 0)
		require.NoError(t, err)
		t.Cleanup(w.Close)
		create(t, s, item(KindA, "a", 0))
		recv(t, w)
		cancel()
		_, err = drain(t, w)
		require.ErrorIs(t, err, context.Canceled)

		_, err = s.Watch(c, 0)
		require.ErrorIs(t, err, context.Canceled)
	})

	t.Run("Close", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, Limits{})
		w := watch(t, s, 0)
		assert.NoError(t, w.Err(), "no error while the watch runs")
		w.Close()
		w.Close()
		_, err := drain(t, w)
		require.NoError(t, err)
	})

	t.Run("StoreClosed", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, Limits{})
		create(t, s, item(KindA, "a", 0))
		idle := watch(t, s, 1)
		busy := watch(t, s, 0)
		create(t, s, item(KindA, "b", 0), item(KindA, "c", 0))

		require.NoError(t, s.Close())
		require.NoError(t, s.Close(), "closing twice is fine")
		_, err := drain(t, idle)
		require.ErrorIs(t, err, store.ErrClosed)
		_, err = drain(t, busy)
		require.ErrorIs(t, err, store.ErrClosed)

		require.ErrorIs(t, s.View(ctx(t), func(store.ReadTx) error { return nil }), store.ErrClosed)
		require.ErrorIs(t, s.Update(ctx(t), func(store.Tx) error { return nil }), store.ErrClosed)
		_, err = s.Watch(ctx(t), 0)
		require.ErrorIs(t, err, store.ErrClosed)
	})
}

func ids(evs []store.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}

func revisions(evs []store.Event) []int64 {
	out := make([]int64, len(evs))
	for i, ev := range evs {
		out[i] = ev.Revision
	}
	return out
}
