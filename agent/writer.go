package agent

import (
	"context"
	"sync"

	"github.com/stevedore-io/stevedore/store"
)

// writer commits the store writes of one agent's runners and session,
// several in one transaction when they come together: while one
// transaction is under way (often waiting for the store, behind the writes
// of every other agent), the writes that arrive queue up, and the next
// transaction takes them all. Each write still changes only its own task
// (or the instance), compare-and-swap, and watchers still see one event
// per change; only the transactions are fewer. With a thousand tasks
// starting, that is fewer transactions to commit and fewer wake-ups of
// every watcher.
//
// A batch that fails is tried again one write at a time, so that a write
// that fails (a task deleted meanwhile) never fails another.
type writer struct {
	st store.Store

	mu      sync.Mutex
	queue   []*write
	leading bool // a goroutine is committing the queue
}

// write is one queued write: fn as given to store.Update. A write that
// waits for the leader (waits) waits on done, which the leader marks done
// when it is committed; the leader's own write does not wait. (A WaitGroup
// in the write, not a channel: one allocation less per write.)
type write struct {
	fn    func(tx store.Tx) error
	err   error
	waits bool
	done  sync.WaitGroup
}

// update runs fn in a transaction, with whatever other writes are queued,
// and returns fn's outcome. The first caller commits the queue until it is
// empty; the others wait for it.
func (w *writer) update(ctx context.Context, fn func(tx store.Tx) error) error {
	mine := &write{fn: fn}
	w.mu.Lock()
	if w.leading {
		mine.waits = true
		mine.done.Add(1)
		w.queue = append(w.queue, mine)
		w.mu.Unlock()
		mine.done.Wait() // the leader commits it, whatever happens
		return mine.err
	}
	w.queue = append(w.queue, mine)
	w.leading = true
	for len(w.queue) > 0 {
		batch := w.queue
		w.queue = nil
		w.mu.Unlock()
		w.commit(ctx, batch)
		w.mu.Lock()
	}
	w.leading = false
	w.mu.Unlock()
	return mine.err
}

// commit writes a batch and tells each write its outcome.
func (w *writer) commit(ctx context.Context, batch []*write) {
	defer func() {
		for _, wr := range batch {
			if wr.waits {
				wr.done.Done()
			}
		}
	}()
	if len(batch) == 1 {
		batch[0].err = w.st.Update(ctx, batch[0].fn)
		return
	}
	err := w.st.Update(ctx, func(tx store.Tx) error {
		for _, wr := range batch {
			if err := wr.fn(tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil || ctx.Err() != nil {
		for _, wr := range batch {
			wr.err = err
		}
		return
	}
	for _, wr := range batch {
		wr.err = w.st.Update(ctx, wr.fn)
	}
}
