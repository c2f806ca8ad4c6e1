package bolt

import (
	"fmt"

	"github.com/google/btree"

	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/internal/txn"
)

// btreeDegree is the fan-out of the per-kind trees (see store/memory, which
// measured it).
const btreeDegree = 16

// record is one object in a kind's tree, ordered by ID. Records are never
// modified once in a tree.
type record struct {
	id  string
	obj store.Object
}

func lessRecord(a, b *record) bool { return a.id < b.id }

// snapshot is an immutable view of the whole store at one revision. Its
// trees are never written: a transaction clones the ones it changes.
//
// kinds holds one tree per kind. A store holds a handful of kinds and
// every transaction publishes a new snapshot: a slice, copied, costs one
// allocation where a map cost several, and searching it beats hashing (as
// store/memory measured).
type snapshot struct {
	rev   int64
	kinds []kindTree
}

type kindTree struct {
	kind string
	tree *btree.BTreeG[*record]
}

func emptySnapshot() *snapshot {
	return &snapshot{}
}

// tree returns the tree of kind, or nil.
func (s *snapshot) tree(kind string) *btree.BTreeG[*record] {
	return treeOf(s.kinds, kind)
}

// setTree sets the tree of kind in place: only for a snapshot no reader
// holds yet (one being loaded).
func (s *snapshot) setTree(kind string, t *btree.BTreeG[*record]) {
	s.kinds = withTree(s.kinds, kind, t)
}

func treeOf(kinds []kindTree, kind string) *btree.BTreeG[*record] {
	for i := range kinds {
		if kinds[i].kind == kind {
			return kinds[i].tree
		}
	}
	return nil
}

// withTree sets the tree of kind in kinds, which it may append to.
func withTree(kinds []kindTree, kind string, t *btree.BTreeG[*record]) []kindTree {
	for i := range kinds {
		if kinds[i].kind == kind {
			kinds[i].tree = t
			return kinds
		}
	}
	return append(kinds, kindTree{kind: kind, tree: t})
}

// readTx reads one snapshot.
type readTx struct {
	snap *snapshot
}

func (tx *readTx) Revision() int64 { return tx.snap.rev }

func (tx *readTx) Get(kind, id string) (store.Object, error) {
	if err := store.ValidateKey(kind, id); err != nil {
		return nil, err
	}
	if r, ok := find(tx.snap.tree(kind), id); ok {
		return r.obj, nil
	}
	return nil, store.NotFoundError(kind, id)
}

func (tx *readTx) List(kind string) ([]store.Object, error) {
	return list(tx.snap.tree(kind), kind)
}

func find(t *btree.BTreeG[*record], id string) (*record, bool) {
	if t == nil {
		return nil, false
	}
	return t.Get(&record{id: id})
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

// writeTx is the transaction of the running Update. It writes to clones
// of the trees it touches; staging turns them into the next snapshot.
type writeTx struct {
	base *snapshot
	rev  int64 // the revision this transaction commits as

	work   []kindTree // the trees it cloned to write
	events []store.Event
	// probe is the search key of lookup, kept here so that the writer's
	// searches allocate nothing.
	probe record
	// Guard keeps the Meta of every object given to Create or Update
	// before the transaction changed it, to give it back on rollback or
	// when the commit fails.
	txn.Guard
}

func newWriteTx(base *snapshot) *writeTx {
	return &writeTx{base: base, rev: base.rev + 1}
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

// lookup finds kind/id as this transaction sees it.
func (tx *writeTx) lookup(kind, id string) (*record, bool) {
	t := tx.readable(kind)
	if t == nil {
		return nil, false
	}
	tx.probe.id = id
	return t.Get(&tx.probe)
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
	r := &record{id: id, obj: obj}
	tx.writable(kind).ReplaceOrInsert(r)
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
		return fmt.Errorf("%w: %s/%s: Update was given the stored object itself; update a copy",
			store.ErrInvalid, kind, id)
	}
	if meta.ModRevision != stored.ModRevision {
		return &store.ConflictError{Kind: kind, ID: id, Expected: meta.ModRevision, Actual: stored.ModRevision}
	}
	tx.SetMeta(meta, store.Meta{CreateRevision: stored.CreateRevision, ModRevision: tx.rev})
	r := &record{id: id, obj: obj}
	tx.writable(kind).ReplaceOrInsert(r)
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
	tx.writable(kind).Delete(old)
	tx.events = append(tx.events, store.Event{
		Type: store.Deleted, Kind: kind, ID: id, Prev: old.obj, Revision: tx.rev,
	})
	return nil
}

func (tx *writeTx) rollback() {
	tx.Restore()
	tx.work, tx.events = nil, nil
}

// readable returns the tree of kind as this transaction sees it, or nil.
func (tx *writeTx) readable(kind string) *btree.BTreeG[*record] {
	if t := treeOf(tx.work, kind); t != nil {
		return t
	}
	return tx.base.tree(kind)
}

// writable returns this transaction's private clone of kind's tree.
func (tx *writeTx) writable(kind string) *btree.BTreeG[*record] {
	if t := treeOf(tx.work, kind); t != nil {
		return t
	}
	var t *btree.BTreeG[*record]
	if base := tx.base.tree(kind); base != nil {
		// Clone gives both trees new copy-on-write contexts, and so
		// writes to its receiver: clone a copy of the header, never
		// the snapshot's tree, which readers hold.
		header := *base
		t = header.Clone()
	} else {
		t = btree.NewG(btreeDegree, lessRecord)
	}
	tx.work = append(tx.work, kindTree{kind: kind, tree: t})
	return t
}
