package storetest

import (
	"errors"
	"fmt"
	"maps"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/stevedore-io/stevedore/store"
)

type modelKey struct{ kind, id string }

type modelValue struct {
	value       int
	create, mod int64
}

type opType int

const (
	opCreate opType = iota
	opUpdate
	opUpdateStale
	opDelete
)

type op struct {
	typ   opType
	key   modelKey
	value int
}

// testModel runs random transactions (some failing on purpose) against the
// store and a map, compares them after every transaction, and finally
// rebuilds the state from the full watch history.
func testModel(t *testing.T, newStore NewStore) {
	rapid.Check(t, func(rt *rapid.T) {
		s := newStore(t, Limits{History: 100_000, WatchBuffer: 50_000})
		defer s.Close()

		model := map[modelKey]modelValue{}
		var rev int64
		events := 0
		keyGen := rapid.Custom(func(rt *rapid.T) modelKey {
			return modelKey{
				kind: rapid.SampledFrom([]string{KindA, KindB}).Draw(rt, "kind"),
				id:   fmt.Sprint(rapid.IntRange(0, 4).Draw(rt, "id")),
			}
		})
		opGen := rapid.Custom(func(rt *rapid.T) op {
			return op{
				typ:   opType(rapid.IntRange(0, 3).Draw(rt, "type")),
				key:   keyGen.Draw(rt, "key"),
				value: rapid.IntRange(0, 1000).Draw(rt, "value"),
			}
		})

		for range rapid.IntRange(1, 25).Draw(rt, "transactions") {
			ops := rapid.SliceOfN(opGen, 1, 6).Draw(rt, "ops")
			abort := rapid.IntRange(0, 3).Draw(rt, "abort") == 0

			var pending map[modelKey]modelValue
			var written map[modelKey]store.Object
			var created map[modelKey]bool
			var writes int
			var given map[store.Object]store.Meta // Meta of objects before the store saw them
			err := s.Update(ctx(t), func(tx store.Tx) error {
				// fn may run again: start from the model each time.
				pending = maps.Clone(model)
				written = map[modelKey]store.Object{}
				created = map[modelKey]bool{}
				writes = 0
				given = map[store.Object]store.Meta{}
				for _, o := range ops {
					wrote, err := apply(tx, o, pending, written, created, given)
					if err != nil {
						return err
					}
					if wrote {
						writes++
					}
				}
				if abort {
					return errAbort
				}
				return nil
			})
			switch {
			case abort:
				if !errors.Is(err, errAbort) {
					rt.Fatalf("aborted transaction returned %v", err)
				}
				for obj, was := range given {
					if *obj.StoreMeta() != was {
						rt.Fatalf("aborted write of %s/%s left Meta %+v, was %+v",
							obj.Kind(), obj.ObjectID(), *obj.StoreMeta(), was)
					}
				}
			case err != nil:
				rt.Fatalf("update: %v", err)
			default:
				if writes > 0 {
					next := revision(t, s)
					if next <= rev {
						rt.Fatalf("revision %d after commit, %d before", next, rev)
					}
					for k, obj := range written {
						if got := obj.StoreMeta().ModRevision; got != next {
							rt.Fatalf("%v written with revision %d, store at %d", k, got, next)
						}
						v := pending[k]
						v.mod = next
						if created[k] {
							v.create = next
						}
						pending[k] = v
					}
					rev = next
					events += writes
				}
				model = pending
			}
			checkModel(t, rt, s, model, rev)
		}

		replayHistory(t, rt, s, model, events)
	})
}

// apply performs o in tx and on pending, checking that the store's answer
// matches the model's, and says whether o changed anything. It returns an
// error only for a broken expectation.
func apply(tx store.Tx, o op, pending map[modelKey]modelValue, written map[modelKey]store.Object, created map[modelKey]bool, given map[store.Object]store.Meta) (bool, error) {
	cur, exists := pending[o.key]
	switch o.typ {
	case opCreate:
		obj := item(o.key.kind, o.key.id, o.value)
		given[obj] = obj.Meta
		err := tx.Create(obj)
		if exists {
			return false, expect(err, store.ErrAlreadyExists, o)
		}
		if err != nil {
			return false, fmt.Errorf("create %v: %w", o.key, err)
		}
		pending[o.key] = modelValue{value: o.value}
		written[o.key] = obj
		created[o.key] = true
	case opUpdate, opUpdateStale:
		if !exists {
			return false, expect(tx.Update(item(o.key.kind, o.key.id, o.value)), store.ErrNotFound, o)
		}
		got, err := store.Get[*Item](tx, o.key.kind, o.key.id)
		if err != nil {
			return false, fmt.Errorf("get %v: %w", o.key, err)
		}
		if got.Value != cur.value {
			return false, fmt.Errorf("get %v: value %d, model %d", o.key, got.Value, cur.value)
		}
		next := got.Clone()
		next.Value = o.value
		if o.typ == opUpdateStale {
			next.ModRevision--
			return false, expect(tx.Update(next), store.ErrConflict, o)
		}
		given[next] = next.Meta
		if err := tx.Update(next); err != nil {
			return false, fmt.Errorf("update %v: %w", o.key, err)
		}
		cur.value = o.value
		pending[o.key] = cur
		written[o.key] = next
	case opDelete:
		err := tx.Delete(o.key.kind, o.key.id)
		if !exists {
			return false, expect(err, store.ErrNotFound, o)
		}
		if err != nil {
			return false, fmt.Errorf("delete %v: %w", o.key, err)
		}
		delete(pending, o.key)
		delete(written, o.key)
		delete(created, o.key)
	}
	return true, nil
}

// expect turns an operation that was meant to fail with want into nil, so
// that the transaction goes on; any other outcome becomes an error.
func expect(err, want error, o op) error {
	if errors.Is(err, want) {
		return nil
	}
	return fmt.Errorf("op %+v: got %v, want %v", o, err, want)
}

func checkModel(t *testing.T, rt *rapid.T, s store.Store, model map[modelKey]modelValue, rev int64) {
	err := s.View(ctx(t), func(tx store.ReadTx) error {
		if tx.Revision() != rev {
			return fmt.Errorf("revision %d, model %d", tx.Revision(), rev)
		}
		got := map[modelKey]modelValue{}
		for _, kind := range []string{KindA, KindB} {
			items, err := store.List[*Item](tx, kind)
			if err != nil {
				return err
			}
			for _, it := range items {
				got[modelKey{kind, it.ID}] = modelValue{value: it.Value, create: it.CreateRevision, mod: it.ModRevision}
			}
		}
		if len(got) != len(model) {
			return fmt.Errorf("store holds %d objects, model %d", len(got), len(model))
		}
		for k, want := range model {
			g, ok := got[k]
			if !ok {
				return fmt.Errorf("%v missing", k)
			}
			if g.value != want.value ||
				g.mod != want.mod || g.create != want.create {
				return fmt.Errorf("%v is %+v, model %+v", k, g, want)
			}
		}
		return nil
	})
	if err != nil {
		rt.Fatal(err)
	}
}

// replayHistory rebuilds the final state from every event since revision 0.
func replayHistory(t *testing.T, rt *rapid.T, s store.Store, model map[modelKey]modelValue, events int) {
	w, err := s.Watch(ctx(t), 0)
	require.NoError(t, err)
	defer w.Close()
	state := map[modelKey]int{}
	var last int64
	for range events {
		ev := recv(t, w)
		k := modelKey{ev.Kind, ev.ID}
		prev, exists := state[k]
		if ev.Revision < last {
			rt.Fatalf("revision %d after %d", ev.Revision, last)
		}
		last = ev.Revision
		switch ev.Type {
		case store.Created:
			if exists || ev.Prev != nil {
				rt.Fatalf("created %v which existed", k)
			}
			state[k] = ev.Object.(*Item).Value
		case store.Updated, store.Deleted:
			if !exists || ev.Prev == nil || ev.Prev.(*Item).Value != prev {
				rt.Fatalf("%s %v: replayed %d (exists %v), event's Prev %v", ev.Type, k, prev, exists, ev.Prev)
			}
			if ev.Type == store.Deleted {
				delete(state, k)
			} else {
				state[k] = ev.Object.(*Item).Value
			}
		}
	}
	if len(state) != len(model) {
		rt.Fatalf("replay holds %d objects, model %d", len(state), len(model))
	}
	for k, v := range model {
		if state[k] != v.value {
			rt.Fatalf("replay has %v=%d, model %d", k, state[k], v.value)
		}
	}
}
