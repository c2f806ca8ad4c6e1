package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// DefaultMaxQueued is how many events a Follower holds for its reader, at
// most, unless FollowConfig.MaxQueued says otherwise.
const DefaultMaxQueued = 1 << 20

// errResync ends a follower's watch when the reader must start from a fresh
// snapshot: the history it needs is gone (ErrCompacted) or it fell more
// than MaxQueued events behind.
var errResync = errors.New("store: follower needs a fresh snapshot")

// FollowConfig says what a Follower reads and watches.
type FollowConfig struct {
	// Snapshot reads the state the reader starts from, against a
	// consistent view. It runs in Follow, and again in Take whenever the
	// changes after the last event taken can no longer be delivered (the
	// store compacted that history, or the reader fell more than
	// MaxQueued events behind): the reader then replaces everything it
	// built from earlier snapshots and events with what Snapshot reads,
	// and Take reports resynced. Nil reads nothing (only the revision).
	Snapshot func(tx ReadTx) error
	// Options narrow the watch (WithKinds, WithFilter).
	Options []WatchOption
	// MaxQueued bounds the events waiting for the reader; a reader that
	// far behind starts again from a snapshot. 0 means DefaultMaxQueued.
	MaxQueued int
}

// Follower is the one way a loop follows the store: a snapshot, then every
// change after it, in order, with nothing missed and nothing seen twice;
// then, when the store ends the watch because it fell behind
// (ErrWatcherTooSlow), the same watch resumed from the last revision
// delivered; and when that history is gone (ErrCompacted), a fresh snapshot.
//
// A goroutine of its own moves the watch's events into a queue that grows
// as needed (up to FollowConfig.MaxQueued), so that a reader busy with its
// own writes does not make the store end the watch. The reader waits on
// Ready and takes what is queued with Take, from one goroutine:
//
//	f, err := store.Follow(ctx, s, store.FollowConfig{
//		Snapshot: func(tx store.ReadTx) error { ... },
//		Options:  []store.WatchOption{store.WithKinds("tasks")},
//	})
//	...
//	defer f.Close()
//	for {
//		select {
//		case <-ctx.Done():
//			return ctx.Err()
//		case <-f.Ready():
//		}
//		evs, resynced, err := f.Take(buf[:0])
//		...
//	}
type Follower struct {
	s   Store
	cfg FollowConfig
	ctx context.Context // the Follow call's

	ready chan struct{} // holds a value when events or the end are waiting

	// The running watch; replaced by a resync, on the reader's goroutine.
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	queue []Event
	rev   int64 // revision of the last event queued, or of the snapshot
	err   error // why the watch ended
}

// Follow runs cfg.Snapshot against a consistent view of s and starts
// following every change after it. The follower ends when ctx is done or
// Close is called. An error from Snapshot is returned as is, and nothing is
// started.
func Follow(ctx context.Context, s Store, cfg FollowConfig) (*Follower, error) {
	f := newFollower(ctx, s, cfg)
	rev, err := f.snapshot()
	if err != nil {
		return nil, err
	}
	if err := f.watch(rev); err != nil {
		return nil, fmt.Errorf("watch after snapshot at revision %d: %w", rev, err)
	}
	return f, nil
}

// Resume follows the changes after revision from without reading a
// snapshot first: for a reader that already holds the state at from (an
// earlier Follower's Revision, or a revision it stored). When the store no
// longer has that history, the first Take runs cfg.Snapshot and reports
// resynced.
func Resume(ctx context.Context, s Store, from int64, cfg FollowConfig) (*Follower, error) {
	f := newFollower(ctx, s, cfg)
	err := f.watch(from)
	if errors.Is(err, ErrCompacted) {
		f.end(errResync)
		return f, nil
	}
	if err != nil {
		return nil, err
	}
	return f, nil
}

func newFollower(ctx context.Context, s Store, cfg FollowConfig) *Follower {
	if cfg.MaxQueued <= 0 {
		cfg.MaxQueued = DefaultMaxQueued
	}
	return &Follower{s: s, cfg: cfg, ctx: ctx, ready: make(chan struct{}, 1)}
}

// snapshot runs cfg.Snapshot and returns the view's revision.
func (f *Follower) snapshot() (int64, error) {
	var rev int64
	err := f.s.View(f.ctx, func(tx ReadTx) error {
		rev = tx.Revision()
		if f.cfg.Snapshot == nil {
			return nil
		}
		return f.cfg.Snapshot(tx)
	})
	return rev, err
}

// watch starts the goroutine that queues the changes after from.
func (f *Follower) watch(from int64) error {
	ctx, cancel := context.WithCancel(f.ctx)
	w, err := f.s.Watch(ctx, from, f.cfg.Options...)
	if err != nil {
		cancel()
		return err
	}
	f.mu.Lock()
	f.queue, f.rev, f.err = f.queue[:0], from, nil
	f.mu.Unlock()
	f.cancel, f.done = cancel, make(chan struct{})
	go f.run(ctx, w, f.done)
	return nil
}

// maxBatch bounds the events the follower's goroutine moves into the
// queue at once: those already waiting in the watch's channel go in under
// one lock, with one signal.
const maxBatch = 256

func (f *Follower) run(ctx context.Context, w Watcher, done chan struct{}) {
	defer close(done)
	batch := make([]Event, 0, 16)
	for {
		events := w.Events()
		for open := true; open; {
			ev, ok := <-events
			if !ok {
				break
			}
			batch = append(batch[:0], ev)
			for open && len(batch) < maxBatch {
				select {
				case ev, ok := <-events:
					if !ok {
						open = false
						break
					}
					batch = append(batch, ev)
					continue
				default:
				}
				break
			}
			if !f.push(batch) {
				w.Close()
				f.end(errResync)
				return
			}
			clear(batch)
		}
		err := w.Err()
		w.Close()
		if errors.Is(err, ErrWatcherTooSlow) {
			f.mu.Lock()
			from := f.rev
			f.mu.Unlock()
			if w, err = f.s.Watch(ctx, from, f.cfg.Options...); err == nil {
				continue
			}
		}
		switch {
		case errors.Is(err, ErrCompacted):
			err = errResync
		case err == nil:
			err = ErrClosed // Close, or a store that ended the watch without saying why
		}
		f.end(err)
		return
	}
}

// push queues evs, or reports false when the queue is full. A full queue
// still takes the rest of the transaction it is in, so that a resync
// never starts between two events of one transaction.
func (f *Follower) push(evs []Event) bool {
	f.mu.Lock()
	for _, ev := range evs {
		if len(f.queue) >= f.cfg.MaxQueued && ev.Revision != f.rev {
			f.queue = nil // a fresh snapshot supersedes it
			f.mu.Unlock()
			return false
		}
		f.queue = append(f.queue, ev)
		f.rev = ev.Revision
	}
	f.mu.Unlock()
	f.signal()
	return true
}

func (f *Follower) end(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
	f.signal()
}

func (f *Follower) signal() {
	select {
	case f.ready <- struct{}{}:
	default:
	}
}

// Ready receives a value when events, a resync or the end of the follower
// wait to be taken.
func (f *Follower) Ready() <-chan struct{} { return f.ready }

// Next waits until something is ready (see Ready), then takes it as Take
// does; when ctx ends first, it returns ctx's error. It is the loop of a
// reader that waits on nothing else:
//
//	for {
//		evs, resynced, err := f.Next(ctx, buf[:0])
//		...
//	}
func (f *Follower) Next(ctx context.Context, buf []Event) (events []Event, resynced bool, err error) {
	select {
	case <-ctx.Done():
		return buf, false, ctx.Err()
	case <-f.Ready():
	}
	return f.Take(buf)
}

// Revision is the revision of the last event queued, or of the last
// snapshot when no event came after it.
func (f *Follower) Revision() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rev
}

// Take appends the queued events to buf and returns it. Once nothing is
// queued before it:
//   - when the changes can no longer be delivered, Take runs
//     FollowConfig.Snapshot again, follows the changes after it, and
//     returns resynced true (with no events): the reader starts over from
//     what Snapshot read;
//   - when the follower ended, Take returns why: the context's error,
//     ErrClosed after Close or when the store was closed, or the
//     Snapshot's error of a failed resync.
func (f *Follower) Take(buf []Event) (events []Event, resynced bool, err error) {
	f.mu.Lock()
	if len(f.queue) > 0 {
		if len(buf) == 0 {
			// Swap the buffers: the queue's array comes back with
			// the next Take.
			buf, f.queue = f.queue, buf[:0]
		} else {
			buf = append(buf, f.queue...)
			clear(f.queue)
			f.queue = f.queue[:0]
		}
		f.mu.Unlock()
		return buf, false, nil
	}
	err = f.err
	f.mu.Unlock()
	if !errors.Is(err, errResync) {
		return buf, false, err
	}
	f.stop()
	rev, err := f.snapshot()
	if err == nil {
		err = f.watch(rev)
	}
	if err != nil {
		if errors.Is(err, ErrCompacted) {
			f.end(errResync) // compacted again already: the next Take retries
			f.signal()
			return buf, false, nil
		}
		f.end(err)
		return buf, false, err
	}
	return buf, true, nil
}

// stop ends the running watch and waits for its goroutine.
func (f *Follower) stop() {
	if f.cancel != nil {
		f.cancel()
		<-f.done
	}
}

// Close ends the follower and waits for its goroutine. Call it from the
// reader's goroutine. Calling it more than once is fine.
func (f *Follower) Close() {
	f.stop()
	f.cancel = nil
	f.mu.Lock()
	f.err = ErrClosed
	f.mu.Unlock()
}
