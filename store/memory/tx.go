package memory

import (
	"fmt"

	"github.com/google/btree"

	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/internal/txn"
)

// readTx reads one immutable snapshot.
type readTx struct {
	snap *snapshot
}

func (tx *readTx) Revision() int64 { return tx.snap.rev }

func (tx *readTx) Get(kind, id string) (store.Object, error) {
	return get(tx.snap.tree(kind), kind, id)
}

func (tx *readTx) List(kind string) ([]store.Object, error) {
	return list(tx.snap.tree(kind), kind)
}

func get(t *btree.BTreeG[*record], kind, id string) (store.Object, error) {
	if err := store.ValidateKey(kind, id); err != nil {
		return nil, err
	}
	if t != nil {
		if r, ok := t.Get(&record{id: id}); ok {
			return r.obj, nil
		}
	}
	return nil, store.NotFoundError(kind, id)
}

func list(t *btree.BTreeG[*record], kind string) ([]store.Object, error) {
	if err := store.ValidateKind(kind); err != nil {
		return nil, err
	}
	if t == nil {
		return nil, nil
	}
	out := make([]store.Object, 0, t.Len())
	t.Ascend(func(r *record) bool {
		out = append(out, r.obj)
		return true
	})
	return out, nil
}

// writeTx is the transaction of the single running Update. It writes to
// copy-on-write clones of the trees it touches; commit publishes them,
// rollback drops them.
type writeTx struct {
	base  *snapshot
	trees map[string]*btree.BTreeG[*record] // the writer's handles, read-only here
	rev   int64                             // the revision this transaction commits as

	work   []kindTree // kinds written so far: usually one or two
	events []store.Event
	// Guard keeps the Meta of every object given to Create or Update
	// before the transaction changed it, to give it back on rollback.
	txn.Guard
	// workBuf backs work: most transactions write objects of one kind,
	// and then work allocates nothing.
	workBuf [2]kindTree
	// probe is the search key of lookup, kept here so that searching
	// allocates nothing (the writer is a single goroutine).
	probe record
}

type kindTree struct {
	kind string
	tree *btree.BTreeG[*record]
}

func newWriteTx(base *snapshot, trees map[string]*btree.BTreeG[*record]) *writeTx {
	tx := &writeTx{base: base, trees: trees, rev: base.rev + 1}
	tx.work = tx.workBuf[:0]
	return tx
}

func (tx *writeTx) Revision() int64 { return tx.base.rev }

func (tx *writeTx) Get(kind, id string) (store.Object, error) {
	if err := store.ValidateKey(kind, id); err != nil {
		return nil, err
	}
	if r, ok := tx.lookup(kind, id); ok {
		return r.obj, nil
	}
	return nil, store.NotFoundError(kind, id)
}

func (tx *writeTx) List(kind string) ([]store.Object, error) {
	return list(tx.readable(kind), kind)
}

func (tx *writeTx) Create(obj store.Object) error {
	kind, id, meta, err := tx.Check(obj)
	if err != nil {
		return err
	}
	if _, ok := tx.lookup(kind, id); ok {
		return store.AlreadyExistsError(kind, id)
	}
	tx.SetMeta(meta, store.Meta{CreateRevision: tx.rev, ModRevision: tx.rev})
	tx.writable(kind).ReplaceOrInsert(&record{id: id, obj: obj})
	tx.events = append(tx.events, store.Event{
		Type: store.Created, Kind: kind, ID: id, Object: obj, Revision: tx.rev,
	})
	return nil
}

func (tx *writeTx) Update(obj store.Object) error {
	kind, id, meta, err := tx.Check(obj)
	if err != nil {
		return err
	}
	old, ok := tx.lookup(kind, id)
	if !ok {
		return store.NotFoundError(kind, id)
	}
	stored := old.obj.StoreMeta()
	if meta == stored {
		// The caller changed the very object readers share; every
		// snapshot holding it changed with it. Refuse loudly.
		return fmt.Errorf("%w: %s/%s: Update was given the stored object itself; update a copy",
			store.ErrInvalid, kind, id)
	}
	if meta.ModRevision != stored.ModRevision {
		return &store.ConflictError{Kind: kind, ID: id, Expected: meta.ModRevision, Actual: stored.ModRevision}
	}
	tx.SetMeta(meta, store.Meta{CreateRevision: stored.CreateRevision, ModRevision: tx.rev})
	tx.writable(kind).ReplaceOrInsert(&record{id: id, obj: obj})
	tx.events = append(tx.events, store.Event{
		Type: store.Updated, Kind: kind, ID: id, Object: obj, Prev: old.obj, Revision: tx.rev,
	})
	return nil
}

func (tx *writeTx) Delete(kind, id string) error {
	if err := tx.Usable(); err != nil {
		return err
	}
	if err := store.ValidateKey(kind, id); err != nil {
		return err
	}
	old, ok := tx.lookup(kind, id)
	if !ok {
		return store.NotFoundError(kind, id)
	}
	tx.writable(kind).Delete(&tx.probe)
	tx.events = append(tx.events, store.Event{
		Type: store.Deleted, Kind: kind, ID: id, Prev: old.obj, Revision: tx.rev,
	})
	return nil
}

func (tx *writeTx) rollback() {
	tx.Restore()
	tx.work, tx.events = nil, nil
}

// lookup finds kind/id as this transaction sees it, and leaves tx.probe
// set to id.
func (tx *writeTx) lookup(kind, id string) (*record, bool) {
	tx.probe.id = id
	t := tx.readable(kind)
	if t == nil {
		return nil, false
	}
	return t.Get(&tx.probe)
}

// readable returns the tree of kind as this transaction sees it, or nil.
func (tx *writeTx) readable(kind string) *btree.BTreeG[*record] {
	for _, w := range tx.work {
		if w.kind == kind {
			return w.tree
		}
	}
	return tx.base.tree(kind)
}

// writable returns this transaction's private clone of kind's tree.
func (tx *writeTx) writable(kind string) *btree.BTreeG[*record] {
	for _, w := range tx.work {
		if w.kind == kind {
			return w.tree
		}
	}
	var t *btree.BTreeG[*record]
	if mine := tx.trees[kind]; mine != nil {
		t = mine.Clone()
	} else {
		t = btree.NewG(btreeDegree, lessRecord)
	}
	tx.work = append(tx.work, kindTree{kind: kind, tree: t})
	return t
}
