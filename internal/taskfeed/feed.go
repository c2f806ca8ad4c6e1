// Package taskfeed fans one store watch of the tasks out to the agents that
// run in the same process, by instance: without it, every agent would watch
// every task change of the cluster and discard all but its own, and n agents
// would cost n deliveries per change. With it a change costs one delivery,
// to the agent concerned. It also keeps the tasks of each instance, so that
// an agent starting takes its own from the feed instead of listing every
// task of the cluster: a thousand agents starting at once would each list
// them.
//
// New reads the tasks once and fixes the revision the feed starts from;
// Run dispatches until its context ends; Store gives an agent a
// store.Store whose snapshot of its tasks and task watches the feed serves.
package taskfeed

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/store"
)

// tasksOnly is the filter of a watcher before a Watch claims it.
var tasksOnly = store.NewWatchFilter(store.WithKinds(state.KindTasks))

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
// process, and keeps the tasks of each instance, so that an agent starts
// from its own tasks instead of listing every task of the cluster.
type Feed struct {
	s store.Store

	mu   sync.Mutex
	seen int64 // revision of the last event read (of any kind), or of the snapshot
	// base is the revision of the feed's snapshot: every task change
	// after it has been (or is being) dispatched.
	base int64
	// forgotten is the latest revision of an event about an instance the
	// feed no longer holds (its tasks gone and no watcher left): an entry
	// made again for it starts from there.
	forgotten int64
	// replay is the revision whose events a resumed Run gets again.
	replay int64
	// idle are instances that may be forgotten once the revision seen is
	// over (see forgetIdle).
	idle      []string
	instances map[string]*instanceFeed
	// moved is closed when seen moves on, if someone waits for it.
	moved chan struct{}
	// pending are the watchers registered with a snapshot of an
	// instance's tasks, until the Watch that follows it claims them.
	pending map[string]*feedWatcher
}

// instanceFeed is what the feed holds for one container instance.
type instanceFeed struct {
	// tasks are the instance's tasks as of the last event dispatched, by
	// ID.
	tasks map[string]*state.Task
	// last is the revision of the latest event about the instance's
	// tasks, recent the events of that revision dispatched so far, and
	// before the revision of the event before last's: a watch from a
	// revision between before and last is served, recent first.
	last, before int64
	recent       []store.Event
	subs         map[*feedWatcher]struct{}
}

// New returns a feed of the tasks of s, dispatching from the store's
// current revision: call it before any agent subscribes, so that no event
// after a subscriber's revision is missed. It reads every task once.
func New(ctx context.Context, s store.Store) (*Feed, error) {
	f := &Feed{s: s, instances: map[string]*instanceFeed{}, pending: map[string]*feedWatcher{}}
	if err := f.s.View(ctx, f.load); err != nil {
		return nil, err
	}
	return f, nil
}

// load takes in a snapshot of the tasks: the feed starts over from tx's
// revision, and ends its watchers, which resubscribe from snapshots the
// feed can serve.
func (f *Feed) load(tx store.ReadTx) error {
	all, err := store.List[*state.Task](tx, state.KindTasks)
	if err != nil {
		return err
	}
	instances := map[string]*instanceFeed{}
	for _, t := range all {
		if t.Task == nil {
			continue
		}
		id := t.ContainerInstanceID()
		in := instances[id]
		if in == nil {
			in = &instanceFeed{tasks: map[string]*state.Task{}}
			instances[id] = in
		}
		in.tasks[t.ID()] = t
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, in := range f.instances {
		for w := range in.subs {
			f.end(w, store.ErrCompacted)
		}
	}
	f.instances = instances
	f.seen, f.base, f.forgotten, f.idle, f.replay = tx.Revision(), tx.Revision(), 0, nil, 0
	if f.moved != nil {
		close(f.moved)
		f.moved = nil
	}
	return nil
}

// Run dispatches task events until ctx ends, from the revision New
// fixed. When the store no longer holds the history the feed needs, the
// feed moves on to a fresh snapshot first and then ends its subscribers,
// so that they resubscribe from snapshots the feed can serve.
func (f *Feed) Run(ctx context.Context) error {
	f.mu.Lock()
	from := f.seen
	f.replay = 0
	if from > f.base {
		// A Run that ended may have dispatched part of the transaction
		// of seen: it comes again, and dispatch skips what was given.
		f.replay = from
		from--
	}
	f.mu.Unlock()
	// Every kind, though only tasks are dispatched: the feed then knows
	// how far it has read the store (see caughtUp).
	fol, err := store.Resume(ctx, f.s, from, store.FollowConfig{Snapshot: f.load})
	if err != nil {
		return err
	}
	defer fol.Close()
	var buf []store.Event
	for {
		evs, _, err := fol.Next(ctx, buf[:0])
		if err != nil {
			return err
		}
		for _, ev := range evs {
			f.dispatch(ev)
		}
		clear(evs)
		buf = evs
	}
}

// instanceOf returns the instance of a version of a task, or "".
func instanceOf(obj store.Object) string {
	if t, ok := obj.(*state.Task); ok && t.Task != nil {
		return t.ContainerInstanceID()
	}
	return ""
}

// instance returns the entry of an instance, made when missing; f.mu is
// held.
func (f *Feed) instance(id string) *instanceFeed {
	in := f.instances[id]
	if in == nil {
		in = &instanceFeed{tasks: map[string]*state.Task{}, last: f.forgotten, before: f.forgotten,
			subs: map[*feedWatcher]struct{}{}}
		f.instances[id] = in
	} else if in.subs == nil {
		in.subs = map[*feedWatcher]struct{}{}
	}
	return in
}

// forgetIdle drops the entry of an instance without tasks or watchers;
// f.mu is held. An entry that has an event of the last revision
// dispatched is dropped once that revision is over: more events of its
// transaction may come, which a snapshot taken meanwhile must be able to
// take back.
func (f *Feed) forgetIdle(id string, in *instanceFeed) {
	if len(in.tasks) > 0 || len(in.subs) > 0 || f.instances[id] != in {
		return
	}
	if in.last >= f.seen {
		f.idle = append(f.idle, id)
		return
	}
	f.forgotten = max(f.forgotten, in.last)
	delete(f.instances, id)
}

func (f *Feed) dispatch(ev store.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ev.Kind != state.KindTasks {
		f.advance(ev.Revision)
		return
	}
	if f.dispatched(ev) {
		return
	}
	f.advance(ev.Revision)
	// A task is on one instance; were it moved, the event would be about
	// both.
	ids := [2]string{instanceOf(ev.Object), instanceOf(ev.Prev)}
	for i, id := range ids {
		if id == "" || (i == 1 && id == ids[0]) {
			continue
		}
		in := f.instance(id)
		in.apply(id, ev)
		for w := range in.subs {
			if ev.Revision <= w.from || !w.filter.Match(ev) {
				continue
			}
			f.send(w, ev)
		}
		f.forgetIdle(id, in)
	}
}

// advance notes that the feed has read the store up to revision rev;
// f.mu is held.
func (f *Feed) advance(rev int64) {
	if rev <= f.seen {
		return
	}
	f.seen = rev
	if f.moved != nil {
		close(f.moved)
		f.moved = nil
	}
	idle := f.idle
	f.idle = nil
	for _, id := range idle {
		if in := f.instances[id]; in != nil {
			f.forgetIdle(id, in)
		}
	}
}

// caughtUp waits until the feed has read the store up to its present
// revision, so that a snapshot it gives is no older than one the store
// would give.
func (f *Feed) caughtUp(ctx context.Context) error {
	var rev int64
	if err := f.s.View(ctx, func(tx store.ReadTx) error {
		rev = tx.Revision()
		return nil
	}); err != nil {
		return err
	}
	for {
		f.mu.Lock()
		if f.seen >= rev {
			f.mu.Unlock()
			return nil
		}
		if f.moved == nil {
			f.moved = make(chan struct{})
		}
		moved := f.moved
		f.mu.Unlock()
		select {
		case <-moved:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// dispatched reports whether ev, of a transaction Run gets again, was
// dispatched already; f.mu is held. The events of the last revision dispatched about an instance are
// in its recent events.
func (f *Feed) dispatched(ev store.Event) bool {
	if ev.Revision != f.replay {
		return false
	}
	id := instanceOf(ev.Object)
	if id == "" {
		id = instanceOf(ev.Prev)
	}
	in := f.instances[id]
	if in == nil || in.last != ev.Revision {
		return false
	}
	return slices.ContainsFunc(in.recent, func(r store.Event) bool { return r.ID == ev.ID })
}

// apply takes an event about the tasks of instance id into in.
func (in *instanceFeed) apply(id string, ev store.Event) {
	if ev.Revision != in.last {
		clear(in.recent)
		in.before, in.last, in.recent = in.last, ev.Revision, in.recent[:0]
	}
	in.recent = append(in.recent, ev)
	in.set(id, ev.ID, ev.Object)
}

// set makes obj the version of task tid on instance id: a task that is
// not there (deleted, or on another instance) is dropped.
func (in *instanceFeed) set(id, tid string, obj store.Object) {
	if instanceOf(obj) == id {
		in.tasks[tid] = obj.(*state.Task)
	} else {
		delete(in.tasks, tid)
	}
}

// snapshot returns the tasks of instance id, by ID, and the revision of
// the last event dispatched, rev, whose transaction may not be complete.
// It registers the watcher of the instance's tasks that claim gives the
// Watch from rev that follows: it gets every event dispatched after the
// snapshot, the rest of that transaction included, so that the snapshot
// and the watch never miss or repeat a change. A snapshot of an instance
// replaces the watcher of the last one, if no Watch claimed it.
func (f *Feed) snapshot(ctx context.Context, id string) ([]*state.Task, int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if old := f.pending[id]; old != nil {
		f.end(old, store.ErrClosed)
	}
	in := f.instance(id)
	out := slices.SortedFunc(maps.Values(in.tasks), func(a, b *state.Task) int { return strings.Compare(a.ID(), b.ID()) })
	// Every event dispatched from now on is after the snapshot, whatever
	// its revision: from is 0.
	w := f.subscribe(ctx, id, in, 0, tasksOnly)
	w.snapshot = f.seen
	f.pending[id] = w
	return out, f.seen
}

// claim returns the watcher that the last snapshot of instance id
// registered, if it was taken at revision from, for a Watch of the
// instance's tasks from there. It may have ended meanwhile (the feed
// started over from a snapshot of its own): the watch then ends at once.
func (f *Feed) claim(ctx context.Context, id string, from int64, filter store.WatchFilter) *feedWatcher {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.pending[id]
	if w == nil || w.snapshot != from {
		return nil
	}
	delete(f.pending, id)
	w.stop()
	w.filter = filter
	w.stop = context.AfterFunc(ctx, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.end(w, ctx.Err())
	})
	return w
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
	if in := f.instances[w.instance]; in != nil {
		delete(in.subs, w)
		f.forgetIdle(w.instance, in)
	}
	if !w.pumping {
		w.closeEvents()
	}
}

// watch subscribes to the task events of one instance after revision from,
// or reports false when the feed cannot serve them: it has dispatched
// events about the instance after from that it no longer holds, or from
// is older than its snapshot. The events of the instance's last revision
// it holds (see snapshot) are given to the watcher first.
func (f *Feed) watch(ctx context.Context, instance string, from int64, filter store.WatchFilter) (*feedWatcher, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if from < f.base {
		return nil, false
	}
	in := f.instance(instance)
	if from < in.before {
		f.forgetIdle(instance, in)
		return nil, false
	}
	w := f.subscribe(ctx, instance, in, from, filter)
	if from < in.last {
		for _, ev := range in.recent {
			if filter.Match(ev) {
				f.send(w, ev)
			}
		}
	}
	return w, true
}

// subscribe registers a watcher of the tasks of instance id after revision
// from, which ends with ctx; f.mu is held.
func (f *Feed) subscribe(ctx context.Context, id string, in *instanceFeed, from int64, filter store.WatchFilter) *feedWatcher {
	w := &feedWatcher{f: f, instance: id, from: from, filter: filter,
		events: make(chan store.Event, feedChan), quit: make(chan struct{}), closed: make(chan struct{})}
	in.subs[w] = struct{}{}
	w.stop = context.AfterFunc(ctx, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.end(w, ctx.Err())
	})
	return w
}

// feedWatcher is a store.Watcher served by the feed.
type feedWatcher struct {
	f        *Feed
	instance string
	from     int64
	snapshot int64 // revision of the snapshot it was registered with, if any
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
// goes to the real store except the snapshot of the instance's tasks
// (InstanceTasks, which package agent looks for) and watches of them,
// which the feed serves when it can.
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
		if w := s.feed.claim(ctx, s.instance, from, filter); w != nil {
			return w, nil
		}
		if w, ok := s.feed.watch(ctx, s.instance, from, filter); ok {
			return w, nil
		}
	}
	return s.Store.Watch(ctx, from, opts...)
}

// InstanceTasks returns the tasks of the store's instance, sorted by ID,
// as of a revision rev no older than the store's when it is called (it
// waits until the feed has read that far): the Watch of the tasks from rev that follows delivers
// every change after them (see Feed.snapshot). rev may be that of a
// transaction only part of which the tasks include: only that Watch may
// follow from it, not one on the store itself. The agent of the instance starts from it instead of listing
// every task of the cluster.
func (s agentStore) InstanceTasks(ctx context.Context, instance string) (tasks []*state.Task, rev int64, err error) {
	if instance != s.instance {
		return nil, 0, fmt.Errorf("taskfeed: tasks of instance %q asked of the store of %q", instance, s.instance)
	}
	if err := s.feed.caughtUp(ctx); err != nil {
		return nil, 0, err
	}
	tasks, rev = s.feed.snapshot(ctx, instance)
	return tasks, rev, nil
}
