package stevedore

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/store"
)

// feedBuffer is how many events an agent's feed holds before the agent is
// considered too slow (it then resumes from the store directly).
const feedBuffer = 4096

// taskFeed fans one store watch of the tasks out to the agents running in
// this process, by instance. Without it, every agent would watch every task
// change of the cluster and discard all but its own: n agents would cost n
// deliveries per change. With it a change costs one delivery to the agent
// concerned.
type taskFeed struct {
	s store.Store

	mu   sync.Mutex
	seen int64 // revision of the last event dispatched
	subs map[string]map[*feedWatcher]struct{}
}

func newTaskFeed(s store.Store) *taskFeed {
	return &taskFeed{s: s, subs: map[string]map[*feedWatcher]struct{}{}}
}

// start fixes the revision the feed dispatches from. It must be called
// before any agent can subscribe, so that no event after a subscriber's
// revision is missed.
func (f *taskFeed) start(ctx context.Context) error {
	return f.s.View(ctx, func(tx store.ReadTx) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.seen = tx.Revision()
		return nil
	})
}

// run dispatches task events until ctx ends. After an error it resumes
// from the last revision dispatched; when the store's history no longer
// reaches back that far, its subscribers are ended and resubscribe.
func (f *taskFeed) run(ctx context.Context, _ *Orchestrator) error {
	f.mu.Lock()
	from := f.seen
	f.mu.Unlock()
	w, err := f.s.Watch(ctx, from, store.WithKinds(state.KindTasks))
	if errors.Is(err, store.ErrCompacted) {
		f.closeAll(err)
		return f.start(ctx)
	}
	if err != nil {
		return err
	}
	defer w.Close()
	for ev := range w.Events() {
		f.dispatch(ev)
	}
	return w.Err()
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

func (f *taskFeed) dispatch(ev store.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen = ev.Revision
	for w := range f.subs[instanceOf(ev)] {
		if ev.Revision <= w.from || !w.filter.Match(ev) {
			continue
		}
		select {
		case w.events <- ev:
		default:
			f.end(w, store.ErrWatcherTooSlow)
		}
	}
}

func (f *taskFeed) closeAll(err error) {
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

// end closes a watcher; f.mu is held.
func (f *taskFeed) end(w *feedWatcher, err error) {
	if w.ended {
		return
	}
	w.ended = true
	w.err = err
	delete(f.subs[w.instance], w)
	close(w.events)
}

// watch subscribes to the task events of one instance after revision from,
// or reports false when the feed has already passed from.
func (f *taskFeed) watch(ctx context.Context, instance string, from int64, filter store.WatchFilter) (*feedWatcher, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if from < f.seen {
		return nil, false
	}
	w := &feedWatcher{f: f, instance: instance, from: from, filter: filter, events: make(chan store.Event, feedBuffer)}
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
	f        *taskFeed
	instance string
	from     int64
	filter   store.WatchFilter
	events   chan store.Event
	stop     func() bool
	ended    bool  // guarded by f.mu
	err      error // guarded by f.mu
}

func (w *feedWatcher) Events() <-chan store.Event { return w.events }

func (w *feedWatcher) Err() error {
	w.f.mu.Lock()
	defer w.f.mu.Unlock()
	return w.err
}

func (w *feedWatcher) Close() {
	w.stop()
	w.f.mu.Lock()
	defer w.f.mu.Unlock()
	if !w.ended {
		w.ended = true
		delete(w.f.subs[w.instance], w)
		close(w.events)
	}
}

// agentStore is the store as one in-process agent sees it: everything goes
// to the real store except watches of the instance's tasks, which the feed
// serves when it can.
type agentStore struct {
	store.Store
	feed     *taskFeed
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
