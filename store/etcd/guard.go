package etcd

import (
	"context"
	"fmt"

	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/stevedore-io/stevedore/store"
)

// Guard fences writes: an Update made with it commits only while Key still
// has CreateRevision, checked in the same etcd transaction as the writes.
// A leader elected through clientv3/concurrency passes its election key:
// once it loses the election (its lease expired while it was paused, say)
// that key is deleted, and every write it still attempts is refused with a
// *FencedError, however late it wakes up.
type Guard struct {
	// Key is the etcd key to check, outside any store's prefix.
	Key string
	// CreateRevision is the create revision Key must still have.
	CreateRevision int64
}

// ElectionGuard returns the guard of the leadership e holds: its key and
// the revision at which it was created. Call it after e.Campaign returned.
func ElectionGuard(e *concurrency.Election) Guard {
	return Guard{Key: e.Key(), CreateRevision: e.Rev()}
}

// WithGuard returns a store.Store that reads and watches through s and
// whose Updates commit only while g holds; otherwise they fail with a
// *FencedError (errors.Is(err, ErrFenced)) and write nothing. Give it to
// the loops that only the leader may run. Closing it does not close s.
func (s *Store) WithGuard(g Guard) (*GuardedStore, error) {
	if g.Key == "" || g.CreateRevision <= 0 {
		return nil, fmt.Errorf("%w: guard %+v needs a key and a positive create revision", store.ErrInvalid, g)
	}
	return &GuardedStore{s: s, g: g}, nil
}

// GuardedStore is a Store whose Updates are fenced by a Guard. See
// Store.WithGuard.
type GuardedStore struct {
	s *Store
	g Guard
}

var _ store.Store = (*GuardedStore)(nil)

// Guard returns the guard the store checks.
func (gs *GuardedStore) Guard() Guard { return gs.g }

// View reads through the underlying store; reads are not fenced.
func (gs *GuardedStore) View(ctx context.Context, fn func(tx store.ReadTx) error) error {
	return gs.s.View(ctx, fn)
}

// Update runs fn as Store.Update does, and commits only while the guard
// holds.
func (gs *GuardedStore) Update(ctx context.Context, fn func(tx store.Tx) error) error {
	return gs.s.update(ctx, &gs.g, fn)
}

// Watch watches through the underlying store.
func (gs *GuardedStore) Watch(ctx context.Context, from int64, opts ...store.WatchOption) (store.Watcher, error) {
	return gs.s.Watch(ctx, from, opts...)
}

// Close does nothing: the underlying store stays open.
func (gs *GuardedStore) Close() error { return nil }
