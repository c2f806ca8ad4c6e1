package bolt

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/internal/history"
)

// Defaults for Open.
const (
	// DefaultHistory is how many events of history the store keeps, in
	// the file and in memory, for watches that resume from an earlier
	// revision.
	DefaultHistory = 10_000
	// DefaultWatchBuffer is how many events a watcher may fall behind the
	// newest revision before it is ended with store.ErrWatcherTooSlow.
	DefaultWatchBuffer = 1_000
	// DefaultLockTimeout is how long Open waits for another holder of the
	// file to let go before it fails with ErrLocked.
	DefaultLockTimeout = time.Second
	// DefaultMaxBatch is how many transactions at most share one commit
	// (and one fsync).
	DefaultMaxBatch = 1_000
	// DefaultBatchWindow is how long a commit waits at most for as many
	// transactions as the last one held (see WithBatchWindow).
	DefaultBatchWindow = 2 * time.Millisecond
)

// Option configures Open.
type Option func(*options) error

type options struct {
	codec       store.Codec
	history     int
	watchBuffer int
	lockTimeout time.Duration
	maxBatch    int
	batchWindow time.Duration
	segmentSize int64 // of the log's files; tests make it small
}

// WithCodec sets how objects are encoded in the file. It is required: the
// store must know every kind it will read back. Stevedore's own objects use
// state.Codec().
func WithCodec(c store.Codec) Option {
	return func(o *options) error {
		if c == nil {
			return fmt.Errorf("%w: nil codec", store.ErrInvalid)
		}
		o.codec = c
		return nil
	}
}

// WithHistory sets how many events of history the store keeps (at least;
// it drops whole transactions, oldest first), in the file as well as in
// memory. A watch from a revision whose successors are no longer kept
// fails with store.ErrCompacted. n must be larger than the watch buffer.
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
// revision before it is ended with store.ErrWatcherTooSlow.
func WithWatchBuffer(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("%w: watch buffer %d, want at least 1", store.ErrInvalid, n)
		}
		o.watchBuffer = n
		return nil
	}
}

// WithLockTimeout sets how long Open waits for another process (or another
// Store in this one) holding the file before it fails with ErrLocked.
func WithLockTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("%w: lock timeout %v, want more than 0", store.ErrInvalid, d)
		}
		o.lockTimeout = d
		return nil
	}
}

// WithMaxBatch sets how many transactions at most are written to the file
// in one commit, sharing its fsync. 1 turns group commit off: every
// transaction then waits for a commit of its own.
func WithMaxBatch(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("%w: max batch %d, want at least 1", store.ErrInvalid, n)
		}
		o.maxBatch = n
		return nil
	}
}

// WithBatchWindow sets how long a commit waits at most, once concurrent
// writers shared the last one, for as many transactions to be queued as
// that one held, so that they share an fsync rather than split into
// smaller commits. It stops waiting sooner once no transaction came for
// 200 µs: the writers of the last commit stage their next ones within
// microseconds of each other, or are busy elsewhere. A lone writer never
// waits. 0 commits at once.
func WithBatchWindow(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			return fmt.Errorf("%w: batch window %v, want 0 or more", store.ErrInvalid, d)
		}
		o.batchWindow = d
		return nil
	}
}

// Store is the durable store.Store, kept in one bbolt file. Create it with
// Open and close it with Close. It is safe for concurrent use.
type Store struct {
	path string
	opts options
	db   *bbolt.DB

	// writer is held (a value in the channel) while an Update's function
	// runs and its transaction is staged. A channel rather than a mutex
	// lets a waiting Update give up when its context is done.
	writer chan struct{}
	// staged is the state after the newest transaction staged, durable or
	// not; the next transaction starts from it. Only the holder of writer
	// touches it, and lastPending.
	staged      *snapshot
	lastPending *pending
	// marshal encodes with the codec.
	marshal func(dst []byte, obj store.Object) ([]byte, error)
	// snap is the newest durable snapshot; readers load it without locks.
	snap atomic.Pointer[snapshot]

	hist *history.History
	c    *committer

	closeOnce sync.Once
	closing   atomic.Bool
	closed    chan struct{}
	closeErr  error
}

var _ store.Store = (*Store)(nil)

// Path returns the file the store keeps its state in.
func (s *Store) Path() string { return s.path }

// View runs fn against the newest durable snapshot. It takes no lock and
// reads no file: readers never wait for writers nor delay them.
func (s *Store) View(ctx context.Context, fn func(tx store.ReadTx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closing.Load() {
		return store.ErrClosed
	}
	return fn(&readTx{snap: s.snap.Load()})
}

// Update runs fn as the only writer, stages its transaction and returns
// once it is in the log and synced (or failed). fn runs exactly once.
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
	p, err := s.write(fn)
	if err != nil || p == nil {
		return err
	}
	// Waiting ignores ctx: the transaction is already on its way to
	// the file, and the caller must learn whether it got there.
	<-p.done
	return p.err
}

// write runs fn holding the writer slot, which the caller took, and gives
// it up before returning. It returns the pending transaction to wait for:
// the one fn staged, or for a transaction that wrote nothing, the newest
// one staged before it (fn may have read what it wrote), or nil.
func (s *Store) write(fn func(tx store.Tx) error) (p *pending, err error) {
	defer func() { <-s.writer }()
	if s.closing.Load() {
		return nil, store.ErrClosed
	}
	tx := newWriteTx(s.staged)
	staged := false
	defer func() {
		tx.Finished = true
		if !staged {
			tx.rollback()
		}
	}()
	if err := fn(tx); err != nil {
		return nil, err
	}
	if len(tx.events) == 0 {
		staged = true
		return s.lastPending, nil
	}
	p, err = s.stage(tx)
	if err != nil {
		return nil, err
	}
	staged = true
	s.staged = p.snap
	s.lastPending = p
	s.c.enqueue(p)
	return p, nil
}

// Watch starts a watcher on its own goroutine. It ends when ctx is done, on
// Close, when the store closes, or when it falls more than the watch
// buffer behind.
func (s *Store) Watch(ctx context.Context, from int64, opts ...store.WatchOption) (store.Watcher, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if from < 0 {
		return nil, fmt.Errorf("%w: watch from negative revision %d", store.ErrInvalid, from)
	}
	return s.hist.Watch(ctx, from, store.NewWatchFilter(opts...))
}

// Close lets a running Update finish and reach the file, ends every watch
// with store.ErrClosed, and closes the file. Later calls fail with
// store.ErrClosed. It returns the error of closing the file, every time it
// is called.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.writer <- struct{}{}
		s.closing.Store(true)
		close(s.closed)
		<-s.writer
		s.c.stop() // writes what is staged, then returns
		s.c.noteLogEnd()
		s.hist.Close()
		if err := s.c.wal.close(); err != nil {
			s.closeErr = &FileError{Path: s.c.wal.dir, Op: "close", Err: err}
		}
		if err := s.db.Close(); err != nil && s.closeErr == nil {
			s.closeErr = &FileError{Path: s.path, Op: "close", Err: err}
		}
	})
	return s.closeErr
}
