package memory

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/google/btree"

	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/internal/history"
)

// Defaults for New.
const (
	// DefaultHistory is how many events of history the store keeps for
	// watches that start from, or resume at, an earlier revision.
	DefaultHistory = 10_000
	// DefaultWatchBuffer is how many events a watcher may fall behind the
	// newest revision before it is ended with store.ErrWatcherTooSlow.
	DefaultWatchBuffer = 1_000
)

// btreeDegree sets the fan-out of the per-kind trees: nodes hold up to
// 2*degree-1 records. Smaller nodes make the copy-on-write of a path cheaper;
// larger ones make the tree shallower. 16 did as well as any degree tried
// (see BENCHMARKS.md).
const btreeDegree = 16

// Option configures a Store.
type Option func(*options) error

type options struct {
	history     int
	watchBuffer int
}

// WithHistory sets how many events of history the store keeps (at least;
// it drops whole transactions, oldest first). A watch from a revision whose
// successors are no longer kept fails with store.ErrCompacted. n must be
// larger than the watch buffer.
func WithHistory(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("%w: history %d, want at least 1", store.ErrInvalid, n)
		}
		o.history = n
		return nil
	}
}

// WithWatchBuffer sets how many events a watcher may fall behind the newest
// revision before it is ended with store.ErrWatcherTooSlow. A watcher that
// has only the newest transaction left to deliver is never ended, however
// large that transaction is.
func WithWatchBuffer(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("%w: watch buffer %d, want at least 1", store.ErrInvalid, n)
		}
		o.watchBuffer = n
		return nil
	}
}

// Store is the in-memory store.Store. It is for a single process; its state
// is lost when the process exits. Create it with New.
type Store struct {
	opts options

	// writer is held (a value in the channel) by the running Update. A
	// channel rather than a mutex lets a waiting Update give up when its
	// context is done.
	writer chan struct{}
	// trees holds the writer's own handle on each kind's tree. Only the
	// goroutine holding writer touches it. Published snapshots hold clones,
	// so the writer never modifies a node a reader can reach.
	trees map[string]*btree.BTreeG[*record]
	// snap is the latest committed snapshot; readers load it without locks.
	snap atomic.Pointer[snapshot]

	hist *history.History

	closeOnce sync.Once
	closing   atomic.Bool
	closed    chan struct{}
}

var _ store.Store = (*Store)(nil)

// record is one object in a kind's tree, ordered by ID. Records are never
// modified once in a tree: an update inserts a new one. The trees hold
// pointers, not records, because copy-on-write copies whole nodes: 8-byte
// items make that copy (and the garbage it leaves) four times smaller.
type record struct {
	id  string
	obj store.Object
}

func lessRecord(a, b *record) bool { return a.id < b.id }

// snapshot is an immutable view of the whole store at one revision.
type snapshot struct {
	rev int64
	// kinds holds one tree per kind, by value: publishing a snapshot
	// copies a few tree headers and allocates nothing else. A store holds
	// a handful of kinds, so a slice beats a map here.
	kinds []kindSnap
}

type kindSnap struct {
	kind string
	tree btree.BTreeG[*record]
}

// tree returns the tree of kind, or nil.
func (s *snapshot) tree(kind string) *btree.BTreeG[*record] {
	for i := range s.kinds {
		if s.kinds[i].kind == kind {
			return &s.kinds[i].tree
		}
	}
	return nil
}

// New returns an empty store at revision 0.
func New(opts ...Option) (*Store, error) {
	o := options{history: DefaultHistory, watchBuffer: DefaultWatchBuffer}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if o.history <= o.watchBuffer {
		return nil, fmt.Errorf("%w: history %d must be larger than the watch buffer %d",
			store.ErrInvalid, o.history, o.watchBuffer)
	}
	s := &Store{
		opts:   o,
		writer: make(chan struct{}, 1),
		trees:  make(map[string]*btree.BTreeG[*record]),
		closed: make(chan struct{}),
	}
	s.hist = history.New(history.Config{Limit: o.history, WatchBuffer: o.watchBuffer, StoreClosed: s.closed})
	s.snap.Store(&snapshot{})
	return s, nil
}

// View runs fn against the latest committed snapshot. It takes no lock:
// readers never wait for writers nor delay them.
func (s *Store) View(ctx context.Context, fn func(tx store.ReadTx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closing.Load() {
		return store.ErrClosed
	}
	return fn(&readTx{snap: s.snap.Load()})
}

// Update runs fn as the only writer. fn runs exactly once.
func (s *Store) Update(ctx context.Context, fn func(tx store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case s.writer <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closed:
		return store.ErrClosed
	}
	appended, err := s.write(fn)
	if appended {
		// The watchers are woken only now, after the writer slot was
		// given up. Giving it up hands it to the next waiting writer,
		// and the runtime runs the goroutine readied last first: woken
		// in this order, the watchers run before that writer. Woken
		// before, they would wait behind every writer in line, and
		// with thousands of goroutines writing (one per task starting)
		// a watcher would fall thousands of events behind.
		s.hist.Wake()
	}
	return err
}

// write runs fn holding the writer slot, which the caller took, and gives
// the slot up before it returns. It reports whether a transaction was
// appended to the history.
func (s *Store) write(fn func(tx store.Tx) error) (appended bool, err error) {
	defer func() { <-s.writer }()
	if s.closing.Load() {
		return false, store.ErrClosed
	}

	tx := newWriteTx(s.snap.Load(), s.trees)
	committed := false
	defer func() {
		tx.Finished = true
		if !committed {
			tx.rollback()
		}
	}()
	if err := fn(tx); err != nil {
		return false, err
	}
	appended = s.commit(tx)
	committed = true
	return appended, nil
}

// commit publishes tx's trees as the next snapshot and its events as the
// next transaction of the history, and reports whether there was anything
// to publish. The caller holds writer, and wakes the watchers after giving
// it up.
func (s *Store) commit(tx *writeTx) bool {
	if len(tx.events) == 0 {
		return false
	}
	kinds := make([]kindSnap, len(tx.base.kinds), len(tx.base.kinds)+len(tx.work))
	copy(kinds, tx.base.kinds)
	for _, w := range tx.work {
		// Readers get a copy of the tree's header; the writer keeps the
		// tree itself and clones it before its next write. That Clone
		// gives it a new copy-on-write context, so the nodes published
		// here belong to no writable tree and are never modified again.
		published := false
		for i := range kinds {
			if kinds[i].kind == w.kind {
				kinds[i].tree = *w.tree
				published = true
			}
		}
		if !published {
			kinds = append(kinds, kindSnap{kind: w.kind, tree: *w.tree})
		}
		s.trees[w.kind] = w.tree
	}
	s.snap.Store(&snapshot{rev: tx.rev, kinds: kinds})
	s.hist.Append(tx.rev, tx.events, 0)
	return true
}

// Watch starts a watcher on its own goroutine. It ends when ctx is done, on
// Close, when the store closes, or when it falls more than the watch buffer
// behind.
func (s *Store) Watch(ctx context.Context, from int64, opts ...store.WatchOption) (store.Watcher, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if from < 0 {
		return nil, fmt.Errorf("%w: watch from negative revision %d", store.ErrInvalid, from)
	}
	return s.hist.Watch(ctx, from, store.NewWatchFilter(opts...))
}

// Close ends every watch with store.ErrClosed and waits for their goroutines
// to finish. It waits for a running Update first.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.writer <- struct{}{}
		s.closing.Store(true)
		close(s.closed)
		<-s.writer
		s.hist.Close()
	})
	return nil
}
