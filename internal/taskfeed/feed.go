// Package taskfeed fans one store watch of the tasks out to the agents that
// run in the same process, by instance: without it, every agent would watch
// every task change of the cluster and discard all but its own, and n agents
// would cost n deliveries per change. With it a change costs one delivery,
// to the agent concerned.
//
// New fixes the revision the feed starts from; Run dispatches until its
// context ends; Store gives an agent a store.Store whose task watches the
// feed serves.
package taskfeed

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/store"
)

// Sizes of an agent's feed. An agent reads its events from a small
// channel; what does not fit waits in a queue that grows only while the
// agent lags. A channel of feedBuffer events for each of a thousand agents
// would hold hundreds of megabytes of mostly empty buffers that every
// garbage collection scans.
const (
	// feedChan is the capacity of an agent's event channel.
	feedChan = 32
	// feedBuffer is how many events may wait in an agent's queue before
	// the agent is considered too slow (it then resumes from the store
	// directly).
	feedBuffer = 4096
)

// Feed fans the task events of the store out to the agents of this
// process.
type Feed struct {
	s store.Store

	mu   sync.Mutex
	seen int64 // revision of the last event dispatched
	subs map[string]map[*feedWatcher]struct{}
}

// New returns a feed of the tasks of s, dispatching from the store's
// current revision: call it before any agent subscribes, so that no event
// after a subscriber's revision is missed.
func New(ctx context.Context, s store.Store) (*Feed, error) {
	f := &Feed{s: s, subs: map[string]map[*feedWatcher]struct{}{}}
	if err := f.start(ctx); err != nil {
		return nil, err
	}
	return f, nil
}

// start fixes the revision the feed dispatches from.
func (f *Feed) start(ctx context.Context) error {
	return f.s.View(ctx, func(tx store.ReadTx) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.seen = tx.Revision()
		return nil
	})
}

// Run dispatches task events until ctx ends, from the revision New
// fixed. When the store no longer holds the history the feed needs, the
// feed moves on to a fresh revision first and then ends its subscribers,
// so that they resubscribe from snapshots the feed can serve.
func (f *Feed) Run(ctx context.Context) error {
	f.mu.Lock()
	from := f.seen
	f.mu.Unlock()
	fol, err := store.Resume(ctx, f.s, from, store.FollowConfig{
		Snapshot: func(tx store.ReadTx) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.seen = tx.Revision()
			return nil
		},
		Options: []store.WatchOption{store.WithKinds(state.KindTasks)},
	})
	if err != nil {
		return err
	}
	defer fol.Close()
	var buf []store.Event
	for {
		evs, resynced, err := fol.Next(ctx, buf[:0])
		if err != nil {
			return err
		}
		if resynced {
			f.closeAll(store.ErrCompacted)
		}
		for _, ev := range evs {
			f.dispatch(ev)
		}
		clear(evs)
		buf = evs
	}
}

func instanceOf(ev store.Event) string {
	if t, ok := ev.Object.(*state.Task); ok {
		return t.ContainerInstanceID()
	}
	if t, ok := ev.Prev.(*state.Task); ok {
		return t.ContainerInstanceID()
	}
	return ""
}

func (f *Feed) dispatch(ev store.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen = ev.Revision
	for w := range f.subs[instanceOf(ev)] {
		if ev.Revision <= w.from || !w.filter.Match(ev) {
			continue
		}
		f.send(w, ev)
	}
}

// send passes ev to w: into its channel when there is room and nothing is
// queued before it, otherwise into its queue, which a pump goroutine
// empties into the channel. A watcher with a full queue is ended as too
// slow, but only between transactions: it ends after the whole of the
// last transaction it was given, a safe point to resume from. f.mu is
// held.
func (f *Feed) send(w *feedWatcher, ev store.Event) {
	if !w.pumping {
		select {
		case w.events <- ev:
			w.last = ev.Revision
			return
		default:
		}
	}
	if len(w.queue) >= feedBuffer && ev.Revision != w.last {
		f.end(w, store.ErrWatcherTooSlow)
		return
	}
	w.queue = append(w.queue, ev)
	w.last = ev.Revision
	if !w.pumping {
		w.pumping = true
		go f.pump(w)
	}
}

// pump moves w's queue into its channel until the queue is empty. When the
// watch has ended meanwhile, it closes the channel: after the queue for a
// watcher too slow, at once otherwise.
func (f *Feed) pump(w *feedWatcher) {
	var batch []store.Event
	for {
		f.mu.Lock()
		if len(w.queue) == 0 {
			w.pumping = false
			if w.ended {
				w.closeEvents()
			}
			f.mu.Unlock()
			return
		}
		batch, w.queue = w.queue, batch[:0]
		f.mu.Unlock()
		for i := range batch {
			select {
			case w.events <- batch[i]:
			case <-w.quit:
				f.mu.Lock()
				w.pumping = false
				w.closeEvents()
				f.mu.Unlock()
				return
			}
		}
		clear(batch) // let delivered events be collected
	}
}

func (f *Feed) closeAll(err error) {
	if err == nil {
		err = store.ErrClosed
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ws := range f.subs {
		for w := range ws {
			f.end(w, err)
		}
	}
}

// end ends a watcher; f.mu is held. Its channel is closed at once, or by
// its pump: a watcher too slow still receives what was queued for it.
func (f *Feed) end(w *feedWatcher, err error) {
	if !errors.Is(err, store.ErrWatcherTooSlow) {
		w.abandon()
	}
	if w.ended {
		return
	}
	w.ended = true
	w.err = err
	delete(f.subs[w.instance], w)
	if !w.pumping {
		w.closeEvents()
	}
}

// watch subscribes to the task events of one instance after revision from,
// or reports false when the feed has already passed from.
func (f *Feed) watch(ctx context.Context, instance string, from int64, filter store.WatchFilter) (*feedWatcher, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if from < f.seen {
		return nil, false
	}
	w := &feedWatcher{f: f, instance: instance, from: from, filter: filter,
		events: make(chan store.Event, feedChan), quit: make(chan struct{}), closed: make(chan struct{})}
	if f.subs[instance] == nil {
		f.subs[instance] = map[*feedWatcher]struct{}{}
	}
	f.subs[instance][w] = struct{}{}
	stop := context.AfterFunc(ctx, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.end(w, ctx.Err())
	})
	w.stop = stop
	return w, true
}

// feedWatcher is a store.Watcher served by the feed.
type feedWatcher struct {
	f        *Feed
	instance string
	from     int64
	filter   store.WatchFilter
	events   chan store.Event
	stop     func() bool
	quit     chan struct{} // closed when queued events are no longer wanted
	closed   chan struct{} // closed with events

	// Guarded by f.mu.
	queue     []store.Event // events waiting for room in the channel
	pumping   bool          // a pump goroutine owns the queue
	last      int64         // revision of the last event sent or queued
	ended     bool
	err       error
	quitDone  bool
	eventsOut bool // events is closed
}

func (w *feedWatcher) Events() <-chan store.Event { return w.events }

// Err implements store.Watcher: nil until the channel is closed.
func (w *feedWatcher) Err() error {
	w.f.mu.Lock()
	defer w.f.mu.Unlock()
	if !w.eventsOut {
		return nil
	}
	return w.err
}

// Close implements store.Watcher.
func (w *feedWatcher) Close() {
	w.stop()
	w.f.mu.Lock()
	w.f.end(w, nil)
	w.f.mu.Unlock()
	<-w.closed
}

// abandon drops what is queued; f.mu is held.
func (w *feedWatcher) abandon() {
	w.queue = nil
	if !w.quitDone {
		w.quitDone = true
		close(w.quit)
	}
}

// closeEvents closes the channel; f.mu is held.
func (w *feedWatcher) closeEvents() {
	if !w.eventsOut {
		w.eventsOut = true
		close(w.events)
		close(w.closed)
	}
}

// Store returns the store as the agent of instance sees it: everything
// goes to the real store except watches of the instance's tasks, which the
// feed serves when it can.
func (f *Feed) Store(instance string) store.Store {
	return agentStore{Store: f.s, feed: f, instance: instance}
}

// agentStore is the store as one in-process agent sees it.
type agentStore struct {
	store.Store
	feed     *Feed
	instance string
}

// Watch implements store.Store.
func (s agentStore) Watch(ctx context.Context, from int64, opts ...store.WatchOption) (store.Watcher, error) {
	var filter store.WatchFilter
	for _, opt := range opts {
		opt(&filter)
	}
	if slices.Equal(filter.Kinds, []string{state.KindTasks}) {
		if w, ok := s.feed.watch(ctx, s.instance, from, filter); ok {
			return w, nil
		}
	}
	return s.Store.Watch(ctx, from, opts...)
}
