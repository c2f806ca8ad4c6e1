// Package history is the bounded history of committed transactions that a
// store's watchers read, shared by store/memory and store/bolt. Writers
// append to it and never wait for a watcher: each watcher reads the history
// at its own pace from its own goroutine, and the writer only ends the
// watchers that fall more than the watch buffer behind.
package history

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/stevedore-io/stevedore/store"
)

// maxEventChan caps the capacity of a watcher's channel. Events sitting in
// the channel count as delivered; the watch buffer bounds the rest.
const maxEventChan = 64

// maxBatch is how many transactions a watcher takes from the history per
// lock acquisition.
const maxBatch = 256

// Txn is one committed transaction. Its events are never modified once
// appended, so watchers read them without holding the lock.
type Txn struct {
	Rev    int64
	Events []store.Event
	seq    int64 // position of its first event in the sequence of all events
}

// Config says what a History keeps.
type Config struct {
	// Limit, when positive, is how many events the history keeps at
	// least: the oldest transactions beyond it go as new ones come. Zero
	// leaves dropping to Append's compacted.
	Limit int
	// WatchBuffer is how far a watcher may fall behind, in events.
	WatchBuffer int
	// StoreClosed is closed when the store closes; it ends every watch.
	StoreClosed <-chan struct{}
	// Compacted and Txns are a history read back from disk: watches from
	// below Compacted fail, and Txns (oldest first) are kept.
	Compacted int64
	Txns      []Txn
}

// History is the history of a store. It is safe for concurrent use.
type History struct {
	limit       int
	watchBuffer int
	storeClosed <-chan struct{}

	mu        sync.Mutex
	txns      []Txn // txns[head:] are kept, oldest first
	head      int
	events    int   // events in txns[head:]
	compacted int64 // a watch from a revision below this misses events
	nextSeq   int64
	notify    chan struct{} // closed on the next Wake; nil if nobody waits
	watchers  map[*watcher]struct{}
	closed    bool
	running   sync.WaitGroup
}

// New returns a History.
func New(cfg Config) *History {
	h := &History{
		limit:       cfg.Limit,
		watchBuffer: cfg.WatchBuffer,
		storeClosed: cfg.StoreClosed,
		compacted:   cfg.Compacted,
		txns:        cfg.Txns,
		watchers:    make(map[*watcher]struct{}),
	}
	for i := range h.txns {
		h.txns[i].seq = h.nextSeq
		h.nextSeq += int64(len(h.txns[i].Events))
		h.events += len(h.txns[i].Events)
	}
	return h
}

// Append records a committed transaction, drops the transactions at or
// below compacted (0: none) and the oldest beyond the limit, and ends the
// watchers that fell too far behind. The writer then wakes the others
// (Wake).
func (h *History) Append(rev int64, events []store.Event, compacted int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	newest := h.nextSeq
	h.txns = append(h.txns, Txn{Rev: rev, Events: events, seq: newest})
	h.nextSeq += int64(len(events))
	h.events += len(events)
	if compacted > h.compacted {
		for h.head < len(h.txns) && h.txns[h.head].Rev <= compacted {
			h.drop()
		}
		h.compacted = compacted
	}
	for h.limit > 0 && h.events-len(h.txns[h.head].Events) >= h.limit {
		h.compacted = h.txns[h.head].Rev
		h.drop()
	}
	if h.head > 64 && h.head > len(h.txns)/2 {
		n := copy(h.txns, h.txns[h.head:])
		clear(h.txns[n:])
		h.txns, h.head = h.txns[:n], 0
	}

	for w := range h.watchers {
		// A watcher whose only undelivered transaction is the newest one
		// is never too slow, however large that transaction is.
		if pos := w.pos.Load(); h.nextSeq-pos > int64(h.watchBuffer) && pos < newest {
			w.tooSlow.Store(true)
		}
	}
}

// drop forgets the oldest kept transaction; h.mu is held.
func (h *History) drop() {
	h.events -= len(h.txns[h.head].Events)
	h.txns[h.head] = Txn{}
	h.head++
}

// Wake wakes the watchers waiting for a transaction. A watcher that looks
// between Append and Wake finds the transaction, so none is missed.
func (h *History) Wake() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.notify != nil {
		close(h.notify)
		h.notify = nil
	}
}

// Watch starts a watcher of the events after revision from.
func (h *History) Watch(ctx context.Context, from int64, filter store.WatchFilter) (store.Watcher, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, store.ErrClosed
	}
	if from < h.compacted {
		return nil, store.CompactedError(from, h.compacted)
	}
	w := &watcher{
		h:      h,
		ctx:    ctx,
		filter: filter,
		next:   from + 1,
		Outlet: NewOutlet(min(h.watchBuffer, maxEventChan)),
	}
	if i := h.find(w.next); i < len(h.txns) {
		w.pos.Store(h.txns[i].seq)
	} else {
		w.pos.Store(h.nextSeq)
	}
	h.watchers[w] = struct{}{}
	h.running.Add(1)
	go w.run()
	return w, nil
}

// find returns the index in h.txns of the first kept transaction with a
// revision of at least rev, or len(h.txns).
func (h *History) find(rev int64) int {
	kept := h.txns[h.head:]
	return h.head + sort.Search(len(kept), func(i int) bool { return kept[i].Rev >= rev })
}

// take appends to batch the transactions w has yet to deliver. When there
// are none it returns a channel closed by the next Wake.
func (h *History) take(w *watcher, batch []Txn) ([]Txn, <-chan struct{}, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return batch, nil, store.ErrClosed
	}
	if w.next-1 < h.compacted {
		// Only reachable if the watcher was ended for being slow and
		// the history moved on while it finished its last transaction.
		return batch, nil, store.ErrWatcherTooSlow
	}
	i := h.find(w.next)
	if i == len(h.txns) {
		if h.notify == nil {
			h.notify = make(chan struct{})
		}
		return batch, h.notify, nil
	}
	return append(batch, h.txns[i:min(len(h.txns), i+maxBatch)]...), nil, nil
}

func (h *History) remove(w *watcher) {
	h.mu.Lock()
	delete(h.watchers, w)
	h.mu.Unlock()
	h.running.Done()
}

// Close ends every watcher and waits for their goroutines. The store's
// closed channel is already closed, which wakes watchers blocked on a send.
func (h *History) Close() {
	h.mu.Lock()
	h.closed = true
	if h.notify != nil {
		close(h.notify)
		h.notify = nil
	}
	h.mu.Unlock()
	h.running.Wait()
}

// watcher delivers the history to one consumer from its own goroutine.
type watcher struct {
	h      *History
	ctx    context.Context
	filter store.WatchFilter
	*Outlet

	next    int64        // next revision to deliver; run's goroutine only
	pos     atomic.Int64 // sequence number of the first event not yet sent
	tooSlow atomic.Bool  // set by the writer; checked between transactions
}

var _ store.Watcher = (*watcher)(nil)

func (w *watcher) run() {
	w.Finish(w.deliver())
	w.h.remove(w)
	w.Done()
}

// deliver sends events until the watch ends, and says why it ended.
func (w *watcher) deliver() error {
	var batch []Txn
	for {
		var wake <-chan struct{}
		var err error
		if batch, wake, err = w.h.take(w, batch[:0]); err != nil {
			return err
		}
		if len(batch) == 0 {
			select {
			case <-wake:
				continue
			case <-w.ctx.Done():
				return w.ctx.Err()
			case <-w.Stopped():
				return nil
			case <-w.h.storeClosed:
				return store.ErrClosed
			}
		}
		for _, t := range batch {
			// Ending here, between transactions, keeps every
			// transaction whole for the consumer.
			if w.tooSlow.Load() {
				return store.ErrWatcherTooSlow
			}
			for i, ev := range t.Events {
				if !w.filter.Match(ev) {
					continue
				}
				select {
				case w.Out <- ev:
					// Counting progress per event, not per
					// transaction, keeps a consumer that has
					// read a large transaction from looking
					// behind when the next one commits.
					w.pos.Store(t.seq + int64(i) + 1)
				case <-w.ctx.Done():
					return w.ctx.Err()
				case <-w.Stopped():
					return nil
				case <-w.h.storeClosed:
					return store.ErrClosed
				}
			}
			w.next = t.Rev + 1
			w.pos.Store(t.seq + int64(len(t.Events)))
		}
		clear(batch) // let delivered events be collected
	}
}
