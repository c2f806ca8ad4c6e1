package bolt

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/stevedore-io/stevedore/store"
)

// maxEventChan caps the capacity of a watcher's channel; the watch buffer
// bounds the rest.
const maxEventChan = 64

// maxBatch is how many transactions a watcher takes from the history per
// lock acquisition.
const maxBatch = 256

// txn is one durable transaction in the history. Its events are never
// modified once appended, so watchers read them without the lock.
type txn struct {
	rev    int64
	seq    int64 // position of its first event in the sequence of all events
	events []store.Event
}

// history is the in-memory copy of the history bucket: the transactions a
// watch may start after, oldest first. The committer appends to it after
// every commit and says what the file dropped; watchers read it at their
// own pace from their own goroutines, and the committer never waits for
// one: it marks the watchers that fall more than watchBuffer events behind,
// and they end.
type history struct {
	watchBuffer int
	storeClosed <-chan struct{}

	mu        sync.Mutex
	txns      []txn // txns[head:] are kept
	head      int
	compacted int64 // a watch from a revision below this misses events
	nextSeq   int64
	notify    chan struct{} // closed on the next wake; nil if nobody waits
	watchers  map[*watcher]struct{}
	closed    bool
	running   sync.WaitGroup
}

func newHistory(watchBuffer int, storeClosed <-chan struct{}, compacted int64, txns []txn) *history {
	h := &history{
		watchBuffer: watchBuffer,
		storeClosed: storeClosed,
		compacted:   compacted,
		txns:        txns,
		watchers:    make(map[*watcher]struct{}),
	}
	for i := range h.txns {
		h.txns[i].seq = h.nextSeq
		h.nextSeq += int64(len(h.txns[i].events))
	}
	return h
}

// append records a durable transaction and drops those at or below
// compacted, as the file did. The committer wakes the watchers after a
// batch (wake).
func (h *history) append(rev int64, events []store.Event, compacted int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	newest := h.nextSeq
	h.txns = append(h.txns, txn{rev: rev, seq: newest, events: events})
	h.nextSeq += int64(len(events))
	if compacted > h.compacted {
		for h.head < len(h.txns) && h.txns[h.head].rev <= compacted {
			h.txns[h.head] = txn{}
			h.head++
		}
		h.compacted = compacted
	}
	if h.head > 64 && h.head > len(h.txns)/2 {
		n := copy(h.txns, h.txns[h.head:])
		clear(h.txns[n:])
		h.txns, h.head = h.txns[:n], 0
	}
	for w := range h.watchers {
		// A watcher whose only undelivered transaction is the newest
		// is never too slow, however large that transaction is.
		if pos := w.pos.Load(); h.nextSeq-pos > int64(h.watchBuffer) && pos < newest {
			w.tooSlow.Store(true)
		}
	}
}

// wake wakes the watchers waiting for a transaction.
func (h *history) wake() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.notify != nil {
		close(h.notify)
		h.notify = nil
	}
}

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

// find returns the index of the first kept transaction at revision rev or
// later, or len(h.txns).
func (h *history) find(rev int64) int {
	kept := h.txns[h.head:]
	return h.head + sort.Search(len(kept), func(i int) bool { return kept[i].rev >= rev })
}

// take appends to batch the transactions w has yet to deliver; when there
// are none, it returns a channel closed by the next wake.
func (h *history) take(w *watcher, batch []txn) ([]txn, <-chan struct{}, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return batch, nil, store.ErrClosed
	}
	if w.next-1 < h.compacted {
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

func (h *history) remove(w *watcher) {
	h.mu.Lock()
	delete(h.watchers, w)
	h.mu.Unlock()
	h.running.Done()
}

// close ends every watcher and waits for their goroutines.
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
	tooSlow atomic.Bool

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
			case <-w.stop:
				return nil
			case <-w.h.storeClosed:
				return store.ErrClosed
			}
		}
		for _, t := range batch {
			// Ending only here, between transactions, keeps each
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
		clear(batch)
	}
}
