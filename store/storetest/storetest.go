// Package storetest is the conformance suite for store.Store
// implementations. Every implementation runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, l storetest.Limits) store.Store {
//			s, err := memory.New(memory.WithHistory(l.History), ...)
//			require.NoError(t, err)
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// The suite covers creation, reads, compare-and-swap updates, deletion,
// atomic transactions (a failing or panicking transaction changes nothing),
// snapshot isolation, watches (order, filters, resumption, compaction, slow
// watchers, large transactions, cancellation, closing), concurrent writers,
// and a property test that checks random transactions against a model and
// rebuilds the final state from the watch history.
//
// Durable implementations also run RunRestart, which checks what survives a
// restart, and encode the suite's objects with Codec; SchemaCodecs gives two
// releases of one kind for testing schema migrations.
package storetest

import (
	"context"
	"testing"

	"github.com/stevedore-io/stevedore/store"
)

// Limits are the bounds a test asks of the store it gets. A zero field means
// the implementation's default.
type Limits struct {
	// History is how many events of history the store keeps at least. A
	// watch from a revision whose successors are no longer kept must fail
	// with store.ErrCompacted. The suite only writes one object per
	// transaction when it relies on this bound.
	History int
	// WatchBuffer is how many events a watcher may fall behind the newest
	// revision before the store ends it with store.ErrWatcherTooSlow. The
	// suite expects a watcher whose consumer reads nothing to be ended
	// once it is 4×WatchBuffer+16 transactions behind, and a watcher whose
	// consumer keeps up never to be ended.
	WatchBuffer int
}

// NewStore returns a new, empty store that honours limits. It registers its
// own clean-up with t.Cleanup. The suite may close the store itself; Close
// must therefore be safe to call twice.
type NewStore func(t *testing.T, limits Limits) store.Store

// Item is the object type the suite stores. Its kind is a field, so that one
// type serves every kind the suite uses.
type Item struct {
	store.Meta
	Group string `json:"group"`
	ID    string `json:"id"`
	Value int    `json:"value"`
}

// Kind returns the item's Group.
func (i *Item) Kind() string { return i.Group }

// ObjectID returns the item's ID.
func (i *Item) ObjectID() string { return i.ID }

// Clone returns a copy to change and pass to Update.
func (i *Item) Clone() *Item {
	c := *i
	return &c
}

// Other is a second object type, used to check typed reads of the wrong
// type. Its kind is always OtherKind.
type Other struct {
	store.Meta
	ID string `json:"id"`
}

// OtherKind is the kind of every Other.
const OtherKind = "others"

// Kind returns OtherKind.
func (*Other) Kind() string { return OtherKind }

// ObjectID returns the ID.
func (o *Other) ObjectID() string { return o.ID }

// Kinds used by the suite for Items.
const (
	KindA = "alpha"
	KindB = "beta"
)

// Run runs the whole suite against stores made by newStore.
func Run(t *testing.T, newStore NewStore) {
	t.Run("CRUD", func(t *testing.T) { t.Parallel(); testCRUD(t, newStore) })
	t.Run("Invalid", func(t *testing.T) { t.Parallel(); testInvalid(t, newStore) })
	t.Run("Typed", func(t *testing.T) { t.Parallel(); testTyped(t, newStore) })
	t.Run("Revisions", func(t *testing.T) { t.Parallel(); testRevisions(t, newStore) })
	t.Run("Transactions", func(t *testing.T) { t.Parallel(); testTransactions(t, newStore) })
	t.Run("Snapshots", func(t *testing.T) { t.Parallel(); testSnapshots(t, newStore) })
	t.Run("Watch", func(t *testing.T) { t.Parallel(); testWatch(t, newStore) })
	t.Run("WatchLimits", func(t *testing.T) { t.Parallel(); testWatchLimits(t, newStore) })
	t.Run("WatchEnd", func(t *testing.T) { t.Parallel(); testWatchEnd(t, newStore) })
	t.Run("Concurrency", func(t *testing.T) { t.Parallel(); testConcurrency(t, newStore) })
	t.Run("Model", func(t *testing.T) { t.Parallel(); testModel(t, newStore) })
}

// ctx returns a context cancelled when the test ends.
func ctx(t *testing.T) context.Context { return t.Context() }
