package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/store"
)

func testCRUD(t *testing.T, newStore NewStore) {
	t.Run("CreateGet", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, Limits{})
		a := item(KindA, "a", 1)
		rev := create(t, s, a)
		assert.Equal(t, store.Meta{CreateRevision: rev, ModRevision: rev}, a.Meta,
			"Create fills in the revisions of the object given")

		got, err := get(t, s, KindA, "a")
		require.NoError(t, err)
		assert.Equal(t, a.Meta, got.Meta)
		assert.Equal(t, 1, got.Value)
		assert.Equal(t, rev, revision(t, s))
	})

	t.Run("CreateExisting", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, Limits{})
		rev := create(t, s, item(KindA, "a", 1))
		err := s.Update(ctx(t), func(tx store.Tx) error { return tx.Create(item(KindA, "a", 2)) })
		require.ErrorIs(t, err, store.ErrAlreadyExists)
		assert.Contains(t, err.Error(), KindA+"/a")
		got, err := get(t, s, KindA, "a")
		require.NoError(t, err)
		assert.Equal(t, 1, got.Value)
		assert.Equal(t, rev, revision(t, s))
	})

	t.Run("SameIDInOtherKind", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, Limits{})
		create(t, s, item(KindA, "x", 1), item(KindB, "x", 2))
		a, err := get(t, s, KindA, "x")
		require.NoError(t, err)
		b, err := get(t, s, KindB, "x")
		require.NoError(t, err)
		assert.Equal(t, []int{1, 2}, []int{a.Value, b.Value})
	})

	t.Run("Missing", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, Limits{})
		create(t, s, item(KindA, "present", 0))
		tests := []struct {
			name string
			op   func(tx store.Tx) error
			key  string
		}{
			{"Get", func(tx store.Tx) error { _, err := tx.Get(KindA, "absent"); return err }, KindA + "/absent"},
			{"GetUnknownKind", func(tx store.Tx) error { _, err := tx.Get("nosuchkind", "present"); return err }, "nosuchkind/present"},
			{"Update", func(tx store.Tx) error { return tx.Update(item(KindA, "absent", 1)) }, KindA + "/absent"},
			{"Delete", func(tx store.Tx) error { return tx.Delete(KindA, "absent") }, KindA + "/absent"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := s.Update(ctx(t), tt.op)
				require.ErrorIs(t, err, store.ErrNotFound)
				assert.Contains(t, err.Error(), tt.key, "the error names the object")
			})
		}
		_, err := get(t, s, KindA, "absent")
		require.ErrorIs(t, err, store.ErrNotFound)
		assert.Contains(t, err.Error(), KindA+"/absent")
	})

	t.Run("UpdateCompareAndSwap", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, Limits{})
		created := create(t, s, item(KindA, "a", 1))
		v1, err := get(t, s, KindA, "a")
		require.NoError(t, err)

		v2 := set(t, s, KindA, "a", 2)
		assert.Equal(t, created, v2.CreateRevision, "update keeps CreateRevision")
		assert.Greater(t, v2.ModRevision, created)

		stale := v1.Clone()
		stale.Value = 3
		err = s.Update(ctx(t), func(tx store.Tx) error { return tx.Update(stale) })
		require.ErrorIs(t, err, store.ErrConflict)
		var conflict *store.ConflictError
		require.ErrorAs(t, err, &conflict)
		assert.Equal(t, store.ConflictError{Kind: KindA, ID: "a", Expected: created, Actual: v2.ModRevision}, *conflict)
		assert.Equal(t, created, stale.ModRevision, "a failed update leaves the object's Meta alone")

		got, err := get(t, s, KindA, "a")
		require.NoError(t, err)
		assert.Equal(t, 2, got.Value)
		assert.Equal(t, v2.Meta, got.Meta)
	})

	t.Run("Delete", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, Limits{})
		create(t, s, item(KindA, "a", 1), item(KindA, "b", 2))
		remove(t, s, KindA, "a")
		_, err := get(t, s, KindA, "a")
		require.ErrorIs(t, err, store.ErrNotFound)
		assert.Len(t, list(t, s, KindA), 1)

		again := item(KindA, "a", 3)
		rev := create(t, s, again)
		assert.Equal(t, rev, again.CreateRevision, "a re-created object starts afresh")
	})

	t.Run("ListOrderedByID", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, Limits{})
		for _, id := range []string{"m", "b", "z", "a", "k"} {
			create(t, s, item(KindA, id, 0))
		}
		create(t, s, item(KindB, "c", 0))
		var ids []string
		for _, it := range list(t, s, KindA) {
			ids = append(ids, it.ID)
		}
		assert.Equal(t, []string{"a", "b", "k", "m", "z"}, ids)
		assert.Empty(t, list(t, s, "nosuchkind"))
	})
}

func testInvalid(t *testing.T, newStore NewStore) {
	s := newStore(t, Limits{})
	create(t, s, item(KindA, "a", 0))
	tests := []struct {
		name string
		op   func(tx store.Tx) error
	}{
		{"CreateNil", func(tx store.Tx) error { return tx.Create(nil) }},
		{"CreateEmptyID", func(tx store.Tx) error { return tx.Create(item(KindA, "", 0)) }},
		{"CreateEmptyKind", func(tx store.Tx) error { return tx.Create(item("", "a", 0)) }},
		{"CreateSlashInKind", func(tx store.Tx) error { return tx.Create(item("al/pha", "a", 0)) }},
		{"UpdateNil", func(tx store.Tx) error { return tx.Update(nil) }},
		{"UpdateEmptyID", func(tx store.Tx) error { return tx.Update(item(KindA, "", 0)) }},
		{"DeleteEmptyID", func(tx store.Tx) error { return tx.Delete(KindA, "") }},
		{"DeleteEmptyKind", func(tx store.Tx) error { return tx.Delete("", "a") }},
		{"GetEmptyID", func(tx store.Tx) error { _, err := tx.Get(KindA, ""); return err }},
		{"ListEmptyKind", func(tx store.Tx) error { _, err := tx.List(""); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := revision(t, s)
			require.ErrorIs(t, s.Update(ctx(t), tt.op), store.ErrInvalid)
			assert.Equal(t, before, revision(t, s))
		})
	}

	t.Run("NegativeWatchRevision", func(t *testing.T) {
		_, err := s.Watch(ctx(t), -1)
		require.ErrorIs(t, err, store.ErrInvalid)
	})
}

func testTyped(t *testing.T, newStore NewStore) {
	s := newStore(t, Limits{})
	create(t, s, item(KindA, "a", 1), &Other{ID: "o"})
	require.NoError(t, s.View(ctx(t), func(tx store.ReadTx) error {
		it, err := store.Get[*Item](tx, KindA, "a")
		require.NoError(t, err)
		assert.Equal(t, 1, it.Value)

		_, err = store.Get[*Item](tx, OtherKind, "o")
		require.ErrorIs(t, err, store.ErrInvalid, "an Other is not an *Item")
		_, err = store.List[*Item](tx, OtherKind)
		require.ErrorIs(t, err, store.ErrInvalid)
		_, err = store.Get[*Other](tx, OtherKind, "absent")
		require.ErrorIs(t, err, store.ErrNotFound)

		others, err := store.List[*Other](tx, OtherKind)
		require.NoError(t, err)
		require.Len(t, others, 1)
		assert.Equal(t, "o", others[0].ID)
		return nil
	}))
}

func testRevisions(t *testing.T, newStore NewStore) {
	t.Run("OnePerTransaction", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, Limits{})
		assert.Zero(t, revision(t, s), "an empty store is at revision 0")
		a, b := item(KindA, "a", 0), item(KindB, "b", 0)
		rev := create(t, s, a, b)
		assert.Positive(t, rev)
		assert.Equal(t, a.Meta, b.Meta, "objects written together share the revision")
		assert.Equal(t, rev, revision(t, s))

		next := set(t, s, KindA, "a", 1)
		assert.Greater(t, next.ModRevision, rev)
		assert.Equal(t, next.ModRevision, revision(t, s))
	})

	t.Run("ReadOnlyTransactionTakesNone", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, Limits{})
		rev := create(t, s, item(KindA, "a", 0))
		require.NoError(t, s.Update(ctx(t), func(tx store.Tx) error {
			_, err := tx.Get(KindA, "a")
			return err
		}))
		assert.Equal(t, rev, revision(t, s))
	})

	t.Run("StrictlyIncreasing", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, Limits{})
		var last int64
		for i := range 50 {
			var rev int64
			switch i % 3 {
			case 0:
				rev = create(t, s, item(KindA, string(rune('a'+i/3)), i))
			case 1:
				rev = set(t, s, KindA, string(rune('a'+i/3)), i).ModRevision
			case 2:
				remove(t, s, KindA, string(rune('a'+i/3)))
				rev = revision(t, s)
			}
			require.Greater(t, rev, last)
			last = rev
		}
	})
}

var errAbort = errors.New("abort")

func testTransactions(t *testing.T, newStore NewStore) {
	t.Run("Atomic", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, Limits{})
		create(t, s, item(KindA, "keep", 1), item(KindA, "gone", 2))
		before := revision(t, s)
		w := watch(t, s, before)

		fresh := item(KindB, "new", 3)
		var changed *Item
		var readMeta store.Meta
		err := s.Update(ctx(t), func(tx store.Tx) error {
			require.NoError(t, tx.Create(fresh))
			cur, err := store.Get[*Item](tx, KindA, "keep")
			require.NoError(t, err)
			changed = cur.Clone()
			readMeta = changed.Meta
			changed.Value = 10
			require.NoError(t, tx.Update(changed))
			require.NoError(t, tx.Delete(KindA, "gone"))
			return errAbort
		})
		require.ErrorIs(t, err, errAbort)

		assert.Equal(t, before, revision(t, s), "a failed transaction takes no revision")
		assert.Zero(t, fresh.Meta, "a failed Create gives the object its Meta back")
		assert.Equal(t, readMeta, changed.Meta, "a failed Update gives the object its Meta back")
		_, err = get(t, s, KindB, "new")
		require.ErrorIs(t, err, store.ErrNotFound)
		keep, err := get(t, s, KindA, "keep")
		require.NoError(t, err)
		assert.Equal(t, 1, keep.Value)
		_, err = get(t, s, KindA, "gone")
		require.NoError(t, err)

		// The failed transaction sent no events: the next one is the
		// first the watcher sees.
		create(t, s, item(KindB, "after", 4))
		assert.Equal(t, "after", recv(t, w).ID)
	})

	t.Run("Panic", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, Limits{})
		before := revision(t, s)
		obj := item(KindA, "a", 1)
		require.PanicsWithValue(t, "boom", func() {
			_ = s.Update(ctx(t), func(tx store.Tx) error {
				if err := tx.Create(obj); err != nil {
					return err
				}
				panic("boom")
			})
		})
		assert.Zero(t, obj.Meta)
		assert.Equal(t, before, revision(t, s))
		_, err := get(t, s, KindA, "a")
		require.ErrorIs(t, err, store.ErrNotFound)
		create(t, s, item(KindA, "b", 1)) // the writer was released
	})

	t.Run("ReadsOwnWrites", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, Limits{})
		create(t, s, item(KindA, "old", 0))
		require.NoError(t, s.Update(ctx(t), func(tx store.Tx) error {
			require.NoError(t, tx.Create(item(KindA, "new", 1)))
			got, err := store.Get[*Item](tx, KindA, "new")
			require.NoError(t, err)
			assert.Equal(t, 1, got.Value)

			next := got.Clone()
			next.Value = 2
			require.NoError(t, tx.Update(next), "an object written earlier in the transaction can be updated again")
			got, err = store.Get[*Item](tx, KindA, "new")
			require.NoError(t, err)
			assert.Equal(t, 2, got.Value)

			require.NoError(t, tx.Delete(KindA, "old"))
			_, err = tx.Get(KindA, "old")
			require.ErrorIs(t, err, store.ErrNotFound)

			all, err := store.List[*Item](tx, KindA)
			require.NoError(t, err)
			require.Len(t, all, 1)
			assert.Equal(t, "new", all[0].ID)
			return nil
		}))
		got, err := get(t, s, KindA, "new")
		require.NoError(t, err)
		assert.Equal(t, 2, got.Value)
		assert.Equal(t, got.CreateRevision, got.ModRevision)
	})

	t.Run("FailedOperationDoesNotSpoilTransaction", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, Limits{})
		create(t, s, item(KindA, "a", 0))
		require.NoError(t, s.Update(ctx(t), func(tx store.Tx) error {
			require.ErrorIs(t, tx.Create(item(KindA, "a", 9)), store.ErrAlreadyExists)
			require.ErrorIs(t, tx.Update(item(KindA, "a", 9)), store.ErrConflict)
			require.ErrorIs(t, tx.Delete(KindA, "zzz"), store.ErrNotFound)
			return tx.Create(item(KindA, "b", 1))
		}))
		a, err := get(t, s, KindA, "a")
		require.NoError(t, err)
		assert.Equal(t, 0, a.Value)
		_, err = get(t, s, KindA, "b")
		require.NoError(t, err)
	})

	t.Run("CancelledContext", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, Limits{})
		c, cancel := context.WithCancel(ctx(t))
		cancel()
		ran := false
		err := s.Update(c, func(tx store.Tx) error { ran = true; return nil })
		require.ErrorIs(t, err, context.Canceled)
		err = s.View(c, func(tx store.ReadTx) error { ran = true; return nil })
		require.ErrorIs(t, err, context.Canceled)
		assert.False(t, ran)
	})

	t.Run("WaitingWriterGivesUp", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, Limits{})
		entered, release := make(chan struct{}), make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			assert.NoError(t, s.Update(ctx(t), func(tx store.Tx) error {
				close(entered)
				<-release
				return tx.Create(item(KindA, "first", 0))
			}))
		})
		<-entered
		c, cancel := context.WithCancel(ctx(t))
		done := make(chan error, 1)
		ran := false
		go func() {
			done <- s.Update(c, func(tx store.Tx) error { ran = true; return nil })
		}()
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
		assert.False(t, ran)
		close(release)
		wg.Wait()
		_, err := get(t, s, KindA, "first")
		require.NoError(t, err)
	})
}

func testSnapshots(t *testing.T, newStore NewStore) {
	s := newStore(t, Limits{})
	rev := create(t, s, item(KindA, "a", 1), item(KindA, "b", 1))

	// A View keeps seeing its snapshot while a writer commits, and does
	// not hold the writer up.
	require.NoError(t, s.View(ctx(t), func(tx store.ReadTx) error {
		before, err := store.Get[*Item](tx, KindA, "a")
		require.NoError(t, err)

		wrote := make(chan struct{})
		go func() {
			defer close(wrote)
			assert.NoError(t, s.Update(ctx(t), func(wtx store.Tx) error {
				next := before.Clone()
				next.Value = 2
				if err := wtx.Update(next); err != nil {
					return err
				}
				if err := wtx.Delete(KindA, "b"); err != nil {
					return err
				}
				return wtx.Create(item(KindA, "c", 2))
			}))
		}()
		<-wrote

		assert.Equal(t, rev, tx.Revision())
		after, err := store.Get[*Item](tx, KindA, "a")
		require.NoError(t, err)
		assert.Equal(t, 1, after.Value)
		_, err = tx.Get(KindA, "b")
		require.NoError(t, err, "the snapshot still holds what was deleted since")
		_, err = tx.Get(KindA, "c")
		require.ErrorIs(t, err, store.ErrNotFound, "the snapshot does not hold what was created since")
		all, err := tx.List(KindA)
		require.NoError(t, err)
		assert.Len(t, all, 2)
		assert.Equal(t, 1, before.Value, "an object read earlier is never changed under the reader")
		return nil
	}))

	a, err := get(t, s, KindA, "a")
	require.NoError(t, err)
	assert.Equal(t, 2, a.Value)
}
