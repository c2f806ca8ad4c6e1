// Package txn is what the write transactions of store/memory, store/bolt
// and store/etcd share: checking what Create and Update are given, and
// giving objects their Meta back when a transaction does not commit.
package txn

import (
	"fmt"

	"github.com/stevedore-io/stevedore/store"
)

// Guard checks a write transaction's use and input, and keeps the Meta
// every object had before the transaction gave it revisions. Embed it in
// the transaction; it must not be copied once used.
type Guard struct {
	// Finished is set once the transaction's Update returned: it may not
	// be used any more.
	Finished bool

	saved Saved
	// buf backs saved: most transactions write one or two objects, and
	// then keeping their Meta allocates nothing.
	buf [2]Change
}

// Change is the Meta an object had before a transaction changed it.
type Change struct {
	Meta *store.Meta // the object's own
	Was  store.Meta
}

// Saved lists the Meta changed by a transaction, oldest change first.
type Saved []Change

// Restore gives the objects their Meta back, latest change first.
func (s Saved) Restore() {
	for i := len(s) - 1; i >= 0; i-- {
		*s[i].Meta = s[i].Was
	}
}

// Usable fails once the transaction is finished.
func (g *Guard) Usable() error {
	if g.Finished {
		return fmt.Errorf("%w: transaction used after its Update returned", store.ErrInvalid)
	}
	return nil
}

// Check validates an object given to Create or Update and returns its
// kind, ID and Meta. Errors wrap store.ErrInvalid.
func (g *Guard) Check(obj store.Object) (kind, id string, meta *store.Meta, err error) {
	if err := g.Usable(); err != nil {
		return "", "", nil, err
	}
	if obj == nil {
		return "", "", nil, fmt.Errorf("%w: nil object", store.ErrInvalid)
	}
	kind, id = obj.Kind(), obj.ObjectID()
	if err := store.ValidateKey(kind, id); err != nil {
		return "", "", nil, err
	}
	meta = obj.StoreMeta()
	if meta == nil {
		return "", "", nil, fmt.Errorf("%w: %s/%s: StoreMeta returned nil", store.ErrInvalid, kind, id)
	}
	return kind, id, meta, nil
}

// SetMeta sets *m to to, keeping what it was.
func (g *Guard) SetMeta(m *store.Meta, to store.Meta) {
	if g.saved == nil {
		g.saved = g.buf[:0]
	}
	g.saved = append(g.saved, Change{Meta: m, Was: *m})
	*m = to
}

// Saved returns the Meta changed so far, for a caller that restores them
// later (a commit that fails after the transaction was staged) or settles
// them.
func (g *Guard) Saved() Saved { return g.saved }

// Restore gives every object its Meta back and forgets them.
func (g *Guard) Restore() {
	g.saved.Restore()
	g.saved = nil
}
