package taskfeed

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/memory"
	"github.com/stevedore-io/stevedore/task"
)

// taskOn returns version v of task id on an instance.
func taskOn(id, instance, v string) *state.Task {
	return &state.Task{Task: &task.Task{TaskARN: id, ContainerInstanceARN: instance, StartedBy: v}}
}

// change returns the event of a task going from prev to next (either nil).
func change(rev int64, prev, next *state.Task) store.Event {
	ev := store.Event{Type: store.Updated, Kind: state.KindTasks, Revision: rev}
	switch {
	case prev == nil:
		ev.Type, ev.ID, ev.Object = store.Created, next.ID(), next
	case next == nil:
		ev.Type, ev.ID, ev.Prev = store.Deleted, prev.ID(), prev
	default:
		ev.ID, ev.Object, ev.Prev = next.ID(), next, prev
	}
	return ev
}

// drain returns what w has received so far; every event it was given fits
// its channel.
func drain(w *feedWatcher) []store.Event {
	var out []store.Event
	for {
		select {
		case ev := <-w.Events():
			out = append(out, ev)
		default:
			return out
		}
	}
}

// byID indexes tasks by ID.
func byID(tasks []*state.Task) map[string]*state.Task {
	out := map[string]*state.Task{}
	for _, t := range tasks {
		out[t.ID()] = t
	}
	return out
}

// follow applies the events about instance to tasks, checking that each
// comes after the version tasks hold: none missed, none twice.
func follow(t require.TestingT, instance string, tasks map[string]*state.Task, evs []store.Event) {
	for _, ev := range evs {
		var prev *state.Task
		if instanceOf(ev.Prev) == instance {
			prev = ev.Prev.(*state.Task)
		}
		require.Same(t, prev, tasks[ev.ID], "event %s at %d follows the version held", ev.ID, ev.Revision)
		if instanceOf(ev.Object) == instance {
			tasks[ev.ID] = ev.Object.(*state.Task)
		} else {
			delete(tasks, ev.ID)
		}
	}
}

func TestTaskFeedSnapshotInTheMiddleOfATransaction(t *testing.T) {
	s := newMemoryStore(t)
	createTasks(t, s, "i-1", "t", 2)
	f, err := New(t.Context(), s)
	require.NoError(t, err)
	base := revision(t, s)
	var v1 map[string]*state.Task
	f.mu.Lock()
	v1 = maps.Clone(f.instances["i-1"].tasks)
	f.mu.Unlock()

	// One transaction changes both tasks; the feed has dispatched the
	// first event only when the agent takes its snapshot.
	t0, t1 := taskOn("t-0", "i-1", "v2"), taskOn("t-1", "i-1", "v2")
	f.dispatch(change(base+1, v1["t-0"], t0))
	tasks, rev := f.snapshot(t.Context(), "i-1")
	assert.Equal(t, base+1, rev)
	assert.Equal(t, map[string]*state.Task{"t-0": t0, "t-1": v1["t-1"]}, byID(tasks), "what was dispatched")
	f.dispatch(change(base+1, v1["t-1"], t1))
	w := f.claim(t.Context(), "i-1", rev, tasksOnly)
	require.NotNil(t, w, "the Watch from the snapshot gets the watcher it registered")
	t.Cleanup(w.Close)
	assert.Nil(t, f.claim(t.Context(), "i-1", rev, tasksOnly), "once")

	got := byID(tasks)
	follow(t, "i-1", got, drain(w))
	assert.Equal(t, map[string]*state.Task{"t-0": t0, "t-1": t1}, got, "the rest of the transaction, once")
}

func TestTaskFeedSnapshotAndWatchSeeEveryChangeOnce(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		s, err := memory.New()
		require.NoError(rt, err)
		defer s.Close()
		f, err := New(context.Background(), s)
		require.NoError(rt, err)
		rev := f.seen
		instances := []string{"i-0", "i-1", "i-2"}
		model := map[string]*state.Task{}                    // every task, as the store has it
		history := map[int64]map[string]*state.Task{rev: {}} // model after each transaction
		on := func(tasks map[string]*state.Task, instance string) map[string]*state.Task {
			out := map[string]*state.Task{}
			for id, tk := range tasks {
				if tk.ContainerInstanceID() == instance {
					out[id] = tk
				}
			}
			return out
		}

		// An agent takes the feed's snapshot and claims its watcher, or
		// (resuming) holds its tasks as of a transaction's end and
		// watches from there.
		type agent struct {
			instance string
			resuming bool
			tasks    map[string]*state.Task
			rev      int64
			wait     int // events before it subscribes
			w        *feedWatcher
		}
		var agents []*agent
		pending := map[string]*agent{} // the last snapshot of each instance
		subscribe := func(a *agent) {
			if !a.resuming {
				a.w = f.claim(context.Background(), a.instance, a.rev, tasksOnly)
				require.NotNil(rt, a.w, "the watcher of the snapshot")
				return
			}
			if w, ok := f.watch(context.Background(), a.instance, a.rev, tasksOnly); ok {
				a.w = w
			}
		}
		// At most feedChan events in all, so that every watcher's events
		// are in its channel.
		for range rapid.IntRange(1, 7).Draw(rt, "transactions") {
			rev++
			touched := map[string]bool{}
			for range rapid.IntRange(1, 4).Draw(rt, "events") {
				if rapid.Bool().Draw(rt, "snapshot") {
					a := &agent{instance: rapid.SampledFrom(instances).Draw(rt, "instance"), wait: rapid.IntRange(0, 3).Draw(rt, "wait"),
						resuming: rapid.Bool().Draw(rt, "resuming")}
					if a.resuming {
						a.rev = rev - 1 // the last transaction over
						a.tasks = on(history[a.rev], a.instance)
					} else {
						if old := pending[a.instance]; old != nil {
							old.wait = -1 // replaced before it claimed
						}
						pending[a.instance] = a
						var tasks []*state.Task
						tasks, a.rev = f.snapshot(context.Background(), a.instance)
						a.tasks = byID(tasks)
					}
					agents = append(agents, a)
				}
				for _, a := range agents {
					if a.w == nil && a.wait >= 0 {
						if a.wait == 0 {
							subscribe(a)
							if pending[a.instance] == a {
								delete(pending, a.instance)
							}
						}
						a.wait--
					}
				}
				id := fmt.Sprintf("t%d", rapid.IntRange(0, 5).Draw(rt, "task"))
				if touched[id] {
					continue // one event per task and transaction
				}
				touched[id] = true
				prev := model[id]
				var next *state.Task
				if prev == nil || !rapid.Bool().Draw(rt, "delete") {
					inst := rapid.SampledFrom(instances).Draw(rt, "on")
					if prev != nil && !rapid.Bool().Draw(rt, "moved") {
						inst = prev.ContainerInstanceID()
					}
					next = taskOn(id, inst, fmt.Sprint(rev))
				}
				f.dispatch(change(rev, prev, next))
				if next == nil {
					delete(model, id)
				} else {
					model[id] = next
				}
			}
			history[rev] = maps.Clone(model)
		}
		for _, a := range agents {
			if a.w == nil {
				continue // refused (the agent watches the store itself), or replaced
			}
			follow(rt, a.instance, a.tasks, drain(a.w))
			require.Equal(rt, on(model, a.instance), a.tasks, "instance %s from revision %d", a.instance, a.rev)
			a.w.Close()
		}
		for _, id := range instances {
			var got map[string]*state.Task
			if in := f.instances[id]; in != nil {
				got = in.tasks
			}
			require.ElementsMatch(rt, slices.Collect(maps.Keys(on(model, id))), slices.Collect(maps.Keys(got)), "the feed's tasks of %s", id)
		}
	})
}

func TestTaskFeedServesAnAgentItsTasksThenTheirChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		s := newMemoryStore(t)
		createTasks(t, s, "i-1", "a", 3)
		createTasks(t, s, "i-2", "b", 3)
		f := startFeed(t, s)
		as := f.Store("i-1").(agentStore)

		// Writers go on while the agent takes its snapshot.
		var wg sync.WaitGroup
		wg.Go(func() {
			for i := range 20 {
				assert.NoError(t, s.Update(ctx, func(tx store.Tx) error {
					for _, tk := range []*state.Task{taskOn(fmt.Sprintf("c%d-0", i), "i-1", ""),
						taskOn(fmt.Sprintf("c%d-1", i), "i-1", ""), taskOn(fmt.Sprintf("d%d-0", i), "i-2", "")} {
						if err := tx.Create(tk); err != nil {
							return err
						}
					}
					return nil
				}))
				assert.NoError(t, s.Update(ctx, func(tx store.Tx) error {
					return tx.Delete(state.KindTasks, fmt.Sprintf("c%d-1", i))
				}))
			}
		})
		tasks, rev, err := as.InstanceTasks(ctx, "i-1")
		require.NoError(t, err)
		fol, err := store.Resume(ctx, as, rev, store.FollowConfig{Options: []store.WatchOption{store.WithKinds(state.KindTasks)}})
		require.NoError(t, err)
		defer fol.Close()
		f.mu.Lock()
		served := len(f.instances["i-1"].subs)
		f.mu.Unlock()
		assert.Equal(t, 1, served, "the feed serves the watch")
		wg.Wait()
		createTasks(t, s, "i-1", "last", 1)

		got := byID(tasks)
		var evs []store.Event
		for got["last-0"] == nil {
			var resynced bool
			evs, resynced, err = fol.Next(ctx, evs[:0])
			require.NoError(t, err)
			require.False(t, resynced)
			follow(t, "i-1", got, evs)
		}
		var want []*state.Task
		require.NoError(t, s.View(ctx, func(tx store.ReadTx) error {
			all, err := store.List[*state.Task](tx, state.KindTasks)
			for _, tk := range all {
				if tk.ContainerInstanceID() == "i-1" {
					want = append(want, tk)
				}
			}
			return err
		}))
		assert.Equal(t, byID(want), got)
		assert.Len(t, got, 3+20+1)

		_, _, err = as.InstanceTasks(ctx, "i-2")
		assert.Error(t, err, "the store of one instance serves that instance only")
	})
}

func TestTaskFeedStartsOverFromASnapshot(t *testing.T) {
	s := newMemoryStore(t)
	createTasks(t, s, "i-1", "a", 2)
	f, err := New(t.Context(), s)
	require.NoError(t, err)
	old := revision(t, s)
	w, ok := f.watch(t.Context(), "i-1", old, tasksOnly)
	require.True(t, ok)
	_, pendingRev := f.snapshot(t.Context(), "i-2") // not claimed yet
	createTasks(t, s, "i-1", "b", 1)
	createTasks(t, s, "i-2", "c", 1)

	// What Run does when the store no longer holds the changes it needs.
	require.NoError(t, s.View(t.Context(), f.load))
	for range w.Events() {
	}
	assert.ErrorIs(t, w.Err(), store.ErrCompacted, "its watchers start over too")
	pending := f.claim(t.Context(), "i-2", pendingRev, tasksOnly)
	require.NotNil(t, pending, "a snapshot's watch is the feed's, ended or not")
	for range pending.Events() {
	}
	assert.ErrorIs(t, pending.Err(), store.ErrCompacted, "and starts over too")
	tasks, rev := f.snapshot(t.Context(), "i-1")
	assert.Equal(t, revision(t, s), rev)
	assert.Len(t, tasks, 3)
	_, ok = f.watch(t.Context(), "i-1", old, tasksOnly)
	assert.False(t, ok, "changes before the snapshot are not the feed's to serve")
}

// TestTaskFeedRunAgainDispatchesTheRestOfATransaction: a Run that ended
// between two events of a transaction is run again (as the supervisor
// does): the watchers get the rest of the transaction, and nothing twice.
func TestTaskFeedRunAgainDispatchesTheRestOfATransaction(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newMemoryStore(t)
		f, err := New(t.Context(), s)
		require.NoError(t, err)
		base := revision(t, s)
		w, ok := f.watch(t.Context(), "i-1", base, tasksOnly)
		require.True(t, ok)
		defer w.Close()
		createTasks(t, s, "i-1", "t", 2) // one transaction, two events
		sw, err := s.Watch(t.Context(), base)
		require.NoError(t, err)
		f.dispatch(<-sw.Events()) // where the first Run ended
		sw.Close()

		runFeed(t, f)
		synctest.Wait()
		var got []string
		for _, ev := range drain(w) {
			got = append(got, ev.ID)
		}
		assert.Equal(t, []string{"t-0", "t-1"}, got)
		f.mu.Lock()
		defer f.mu.Unlock()
		assert.Len(t, f.instances["i-1"].tasks, 2)
	})
}

// TestTaskFeedSnapshotIsNoOlderThanTheStore: an agent's snapshot waits
// until the feed has read every change committed before it was asked,
// tasks and (to know how far it has read) every other kind.
func TestTaskFeedSnapshotIsNoOlderThanTheStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newMemoryStore(t)
		f, err := New(t.Context(), s)
		require.NoError(t, err)
		createTasks(t, s, "i-1", "t", 1)
		ci, err := cluster.NewContainerInstance("i-9", cluster.Resources{CPU: 1024, Memory: 1024}, time.Now())
		require.NoError(t, err)
		require.NoError(t, s.Update(t.Context(), func(tx store.Tx) error {
			return tx.Create(&state.Instance{ContainerInstance: ci})
		}))

		type snapshot struct {
			tasks []*state.Task
			rev   int64
		}
		got := make(chan snapshot, 1)
		go func() {
			tasks, rev, err := f.Store("i-1").(agentStore).InstanceTasks(t.Context(), "i-1")
			assert.NoError(t, err)
			got <- snapshot{tasks, rev}
		}()
		synctest.Wait()
		select {
		case <-got:
			t.Fatal("a snapshot older than the store")
		default:
		}
		runFeed(t, f)
		snap := <-got
		assert.Len(t, snap.tasks, 1, "the task created before")
		assert.Equal(t, revision(t, s), snap.rev)
		w := f.claim(t.Context(), "i-1", snap.rev, tasksOnly)
		require.NotNil(t, w)
		w.Close()
	})
}
