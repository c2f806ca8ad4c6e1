package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/store"
)

// stuck bounds every wait for a watch event. It only turns a hang into a
// failure; no test relies on it passing.
const stuck = 30 * time.Second

func item(kind, id string, value int) *Item {
	return &Item{Group: kind, ID: id, Value: value}
}

// create stores objs in one transaction and returns its revision.
func create(t *testing.T, s store.Store, objs ...store.Object) int64 {
	t.Helper()
	require.NoError(t, s.Update(ctx(t), func(tx store.Tx) error {
		for _, obj := range objs {
			if err := tx.Create(obj); err != nil {
				return err
			}
		}
		return nil
	}))
	return objs[len(objs)-1].StoreMeta().ModRevision
}

// set reads kind/id, sets its Value and writes it back in one transaction,
// returning the new version.
func set(t *testing.T, s store.Store, kind, id string, value int) *Item {
	t.Helper()
	var next *Item
	require.NoError(t, s.Update(ctx(t), func(tx store.Tx) error {
		cur, err := store.Get[*Item](tx, kind, id)
		if err != nil {
			return err
		}
		next = cur.Clone()
		next.Value = value
		return tx.Update(next)
	}))
	return next
}

func remove(t *testing.T, s store.Store, kind, id string) {
	t.Helper()
	require.NoError(t, s.Update(ctx(t), func(tx store.Tx) error { return tx.Delete(kind, id) }))
}

func get(t *testing.T, s store.Store, kind, id string) (*Item, error) {
	t.Helper()
	var got *Item
	err := s.View(ctx(t), func(tx store.ReadTx) error {
		var err error
		got, err = store.Get[*Item](tx, kind, id)
		return err
	})
	return got, err
}

func list(t *testing.T, s store.Store, kind string) []*Item {
	t.Helper()
	var got []*Item
	require.NoError(t, s.View(ctx(t), func(tx store.ReadTx) error {
		var err error
		got, err = store.List[*Item](tx, kind)
		return err
	}))
	return got
}

func revision(t *testing.T, s store.Store) int64 {
	t.Helper()
	var rev int64
	require.NoError(t, s.View(ctx(t), func(tx store.ReadTx) error {
		rev = tx.Revision()
		return nil
	}))
	return rev
}

func watch(t *testing.T, s store.Store, from int64, opts ...store.WatchOption) store.Watcher {
	t.Helper()
	w, err := s.Watch(ctx(t), from, opts...)
	require.NoError(t, err)
	t.Cleanup(w.Close)
	return w
}

// recv returns the next event, failing if the watch ended.
func recv(t *testing.T, w store.Watcher) store.Event {
	t.Helper()
	select {
	case ev, ok := <-w.Events():
		require.True(t, ok, "watch ended early: %v", w.Err())
		return ev
	case <-time.After(stuck):
		require.FailNow(t, "no watch event")
		return store.Event{}
	}
}

func recvN(t *testing.T, w store.Watcher, n int) []store.Event {
	t.Helper()
	evs := make([]store.Event, n)
	for i := range evs {
		evs[i] = recv(t, w)
	}
	return evs
}

// drain reads events until the watch ends and returns them with its error.
func drain(t *testing.T, w store.Watcher) ([]store.Event, error) {
	t.Helper()
	var evs []store.Event
	timeout := time.After(stuck)
	for {
		select {
		case ev, ok := <-w.Events():
			if !ok {
				return evs, w.Err()
			}
			evs = append(evs, ev)
		case <-timeout:
			require.FailNow(t, "watch did not end")
		}
	}
}

// describe reduces an event to comparable fields.
type described struct {
	Type  store.EventType
	Kind  string
	ID    string
	Value int // Object's, or Prev's for Deleted
	Prev  int // Prev's Value, or -1 without Prev
}

func describe(ev store.Event) described {
	d := described{Type: ev.Type, Kind: ev.Kind, ID: ev.ID, Prev: -1}
	if ev.Prev != nil {
		d.Prev = ev.Prev.(*Item).Value
	}
	if ev.Object != nil {
		d.Value = ev.Object.(*Item).Value
	} else if ev.Prev != nil {
		d.Value = d.Prev
	}
	return d
}

func describeAll(evs []store.Event) []described {
	out := make([]described, len(evs))
	for i, ev := range evs {
		out[i] = describe(ev)
	}
	return out
}
