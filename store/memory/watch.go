package memory

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

// txn is one committed transaction in the history. Its events slice is never
// modified after commit, so watchers read it without holding the lock.
type txn struct {
	rev    int64
	seq    int64 // position of its first event in the sequence of all events
	events []store.Event
}

// history is the bounded ring of recent transactions shared by all watchers.
// Writers append to it and never wait for a watcher: each watcher reads the
// ring at its own pace from its own goroutine, and the writer only ends the
// watchers that fall more than watchBuffer events behind.
type history struct {
	limit       int // events kept, at least
	watchBuffer int
	storeClosed <-chan struct{}

	mu        sync.Mutex
	txns      []txn // txns[head:] are kept, oldest first
	head      int
	events    int   // events in txns[head:]
	compacted int64 // a watch from a revision below this misses events
	nextSeq   int64
	notify    chan struct{} // closed on the next append; nil if nobody waits
	watchers  map[*watcher]struct{}
	closed    bool
	running   sync.WaitGroup
}

func newHistory(limit, watchBuffer int, storeClosed <-chan struct{}) *history {
	return &history{
		limit:       limit,
		watchBuffer: watchBuffer,
		storeClosed: storeClosed,
		watchers:    make(map[*watcher]struct{}),
	}
}

// append records a committed transaction, drops the oldest ones beyond the
// limit and ends watchers that fell too far behind. The writer then wakes
// the others (wake).
func (h *history) append(rev int64, events []store.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	newest := h.nextSeq
	h.txns = append(h.txns, txn{rev: rev, seq: newest, events: events})
	h.nextSeq += int64(len(events))
	h.events += len(events)
	for h.events-len(h.txns[h.head].events) >= h.limit {
		old := &h.txns[h.head]
		h.events -= len(old.events)
		h.compacted = old.rev
		*old = txn{}
		h.head++
	}
	if h.head > 64 && h.head > len(h.txns)/2 {
		n := copy(h.txns, h.txns[h.head:])
		clear(h.txns[n:])
		h.txns = h.txns[:n]
		h.head = 0
	}

	for w := range h.watchers {
		pos := w.pos.Load()
		// A watcher whose only undelivered transaction is the newest one
		// is never too slow, however large that transaction is.
		if h.nextSeq-pos > int64(h.watchBuffer) && pos < newest {
			w.tooSlow.Store(true)
		}
	}
}

// wake wakes the watchers waiting for a transaction. A watcher that looks
// between append and wake finds the transaction, so none is missed.
func (h *history) wake() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.notify != nil {
		close(h.notify)
		h.notify = nil
	}
}

// watch registers a watcher for the events after revision from.
func (h *history) watch(ctx context.Context, from int64, filter store.WatchFilter) (*watcher, error) {
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
		events: make(chan store.Event, min(h.watchBuffer, maxEventChan)),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	i := h.find(w.next)
	if i < len(h.txns) {
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
func (h *history) find(rev int64) int {
	kept := h.txns[h.head:]
	return h.head + sort.Search(len(kept), func(i int) bool { return kept[i].rev >= rev })
}

// take appends to batch the transactions w has yet to deliver. When there
// are none it returns a channel closed by the next append.
func (h *history) take(w *watcher, batch []txn) ([]txn, <-chan struct{}, error) {
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
	end := min(len(h.txns), i+maxBatch)
	return append(batch, h.txns[i:end]...), nil, nil
}

func (h *history) remove(w *watcher) {
	h.mu.Lock()
	delete(h.watchers, w)
	h.mu.Unlock()
	h.running.Done()
}

// close ends every watcher and waits for their goroutines. The store's
// closed channel is already closed, which wakes watchers blocked on a send.
func (h *history) close() {
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
	h      *history
	ctx    context.Context
	filter store.WatchFilter
	events chan store.Event
	stop   chan struct{} // closed by Close
	done   chan struct{} // closed when run returns
	once   sync.Once

	next    int64        // next revision to deliver; run's goroutine only
	pos     atomic.Int64 // sequence number of the first event not yet sent
	tooSlow atomic.Bool  // set by the writer; checked between transactions

	errMu sync.Mutex
	err   error
}

var _ store.Watcher = (*watcher)(nil)

func (w *watcher) Events() <-chan store.Event { return w.events }

func (w *watcher) Err() error {
	w.errMu.Lock()
	defer w.errMu.Unlock()
	return w.err
}

func (w *watcher) Close() {
	w.once.Do(func() { close(w.stop) })
	<-w.done
}

func (w *watcher) run() {
	err := w.deliver()
	w.errMu.Lock()
	w.err = err
	w.errMu.Unlock()
	close(w.events)
	w.h.remove(w)
	close(w.done)
}

// deliver sends events until the watch ends, and says why it ended.
func (w *watcher) deliver() error {
	var batch []txn
	for {
		var (
			wake <-chan struct{}
			err  error
		)
		batch, wake, err = w.h.take(w, batch[:0])
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			select {
			case <-wake:
				continue
			case <-w.ctx.Done():
				return w.ctx.Err()
			case <-w.stop:
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
			for i, ev := range t.events {
				if !w.filter.Match(ev) {
					continue
				}
				select {
				case w.events <- ev:
					// Counting progress per event, not per
					// transaction, keeps a consumer that has
					// read a large transaction from looking
					// behind when the next one commits.
					w.pos.Store(t.seq + int64(i) + 1)
				case <-w.ctx.Done():
					return w.ctx.Err()
				case <-w.stop:
					return nil
				case <-w.h.storeClosed:
					return store.ErrClosed
				}
			}
			w.next = t.rev + 1
			w.pos.Store(t.seq + int64(len(t.events)))
		}
		clear(batch) // let delivered events be collected
	}
}
