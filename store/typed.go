package store

import (
	"context"
	"fmt"
)

// Get returns kind/id as a T. It fails with ErrNotFound when the object does
// not exist and with ErrInvalid when it is not a T.
//
//	t, err := store.Get[*Task](tx, "tasks", id)
func Get[T Object](tx ReadTx, kind, id string) (T, error) {
	var zero T
	obj, err := tx.Get(kind, id)
	if err != nil {
		return zero, err
	}
	t, ok := obj.(T)
	if !ok {
		return zero, invalidf("%s/%s is a %T, not a %T", kind, id, obj, zero)
	}
	return t, nil
}

// List returns every object of kind as a T, ordered by ID. It fails with
// ErrInvalid when one of them is not a T.
func List[T Object](tx ReadTx, kind string) ([]T, error) {
	objs, err := tx.List(kind)
	if err != nil {
		return nil, err
	}
	out := make([]T, len(objs))
	for i, obj := range objs {
		t, ok := obj.(T)
		if !ok {
			var zero T
			return nil, invalidf("%s/%s is a %T, not a %T", kind, obj.ObjectID(), obj, zero)
		}
		out[i] = t
	}
	return out, nil
}

// ViewAndWatch runs fn against a snapshot, then watches every change after
// that snapshot: together they give a complete picture with nothing missed
// and nothing seen twice. This is how a reconcile loop starts:
//
//	var tasks []*Task
//	w, err := store.ViewAndWatch(ctx, s, func(tx store.ReadTx) error {
//		var err error
//		tasks, err = store.List[*Task](tx, "tasks")
//		return err
//	}, store.WithKinds("tasks"))
//
// An error from fn is returned as is, and no watch is started.
func ViewAndWatch(ctx context.Context, s Store, fn func(tx ReadTx) error, opts ...WatchOption) (Watcher, error) {
	var rev int64
	err := s.View(ctx, func(tx ReadTx) error {
		rev = tx.Revision()
		return fn(tx)
	})
	if err != nil {
		return nil, err
	}
	w, err := s.Watch(ctx, rev, opts...)
	if err != nil {
		return nil, fmt.Errorf("watch after snapshot at revision %d: %w", rev, err)
	}
	return w, nil
}
