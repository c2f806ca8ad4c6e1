package etcd

import (
	"context"
	"sync"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/stevedore-io/stevedore/store"
)

// latest asks etcd for the store's revision on behalf of Views: one
// linearizable read of the revision key, shared by every View that began
// before it was sent. A View that arrives while a read is on its way waits
// for the next one, which it may share with others: a reconcile loop's
// thousand concurrent Views cost a few requests, not a thousand.
type latest struct {
	ctx context.Context // the store's; ends at Close

	mu      sync.Mutex
	running *revRead // sent, not answered yet
	queued  *revRead // to send when running is answered
	closed  bool
	sending sync.WaitGroup
}

// revRead is one read of the revision key.
type revRead struct {
	done chan struct{}
	rev  int64
	err  error
}

// get returns the store's revision as etcd knows it at some point after
// get was called.
func (l *latest) get(ctx context.Context, s *Store) (int64, error) {
	l.mu.Lock()
	r := l.queued
	switch {
	case l.closed:
		l.mu.Unlock()
		return 0, store.ErrClosed
	case r != nil:
	case l.running == nil:
		r = &revRead{done: make(chan struct{})}
		l.running = r
		l.sending.Add(1)
		go l.send(s, r)
	default:
		r = &revRead{done: make(chan struct{})}
		l.queued = r
	}
	l.mu.Unlock()
	select {
	case <-r.done:
		return r.rev, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-s.closed:
		return 0, store.ErrClosed
	}
}

// send reads the revision key for r, then sends the queued read if any.
func (l *latest) send(s *Store, r *revRead) {
	defer l.sending.Done()
	for r != nil {
		resp, err := s.client.Get(l.ctx, s.keys.revision, clientv3.WithKeysOnly())
		if err != nil {
			r.err = s.rpcError(l.ctx, "read revision", err)
		} else if len(resp.Kvs) == 1 {
			r.rev = resp.Kvs[0].ModRevision
		}
		close(r.done)
		l.mu.Lock()
		r, l.queued = l.queued, nil
		l.running = r
		l.mu.Unlock()
	}
}

// close waits for the read on its way, which the end of the store's
// context cuts short.
func (l *latest) close() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.sending.Wait()
}
