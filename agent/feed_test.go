package agent_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/internal/taskfeed"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

// listingStore counts the listings of every task.
type listingStore struct {
	store.Store
	lists atomic.Int32
}

func (s *listingStore) View(ctx context.Context, fn func(tx store.ReadTx) error) error {
	return s.Store.View(ctx, func(tx store.ReadTx) error { return fn(listingTx{ReadTx: tx, s: s}) })
}

type listingTx struct {
	store.ReadTx
	s *listingStore
}

func (tx listingTx) List(kind string) ([]store.Object, error) {
	if kind == state.KindTasks {
		tx.s.lists.Add(1)
	}
	return tx.ReadTx.List(kind)
}

// TestAgentStartsFromTheTaskFeed: on the store the task feed gives it, an
// agent takes its instance's tasks from the feed, which listed every task
// once for all the agents of the process, and follows them as on a plain
// store.
func TestAgentStartsFromTheTaskFeed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fake.WithImage("web:1", fake.Behavior{RunFor: fake.Forever}))
		ref := e.register(`{"family": "w", "containerDefinitions": [{"name": "app", "image": "web:1", "memory": 32}]}`)
		e.runTask(ref, "t1")
		e.runTaskWith(ref, "other", func(t *state.Task) { t.ContainerInstanceARN = "i-other" })
		first := e.start()
		advance(time.Minute)
		require.Equal(t, task.Running, e.task("t1").LastStatus)
		require.NoError(t, first.stop())

		counted := &listingStore{Store: e.store}
		feed, err := taskfeed.New(e.ctx, counted)
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(e.ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = feed.Run(ctx)
		}()
		t.Cleanup(func() {
			cancel()
			<-done
		})
		require.Equal(t, int32(1), counted.lists.Load(), "the feed lists the tasks once")

		e.cfg.Store = feed.Store(instanceID)
		e.start()
		advance(time.Minute)
		assert.Equal(t, int32(1), counted.lists.Load(), "the agent lists none")
		creates := len(e.rt.CallsTo(fake.MethodCreate))
		assert.Equal(t, task.Running, e.task("t1").LastStatus, "adopted")

		e.runTask(ref, "t2")
		e.stopTask("t1", "done")
		advance(time.Minute)
		assert.Equal(t, task.Running, e.task("t2").LastStatus, "a task placed after the snapshot runs")
		assert.Equal(t, task.Stopped, e.task("t1").LastStatus, "a task stopped after it stops")
		assert.Len(t, e.rt.CallsTo(fake.MethodCreate), creates+1)
		assert.Equal(t, task.Provisioning, e.task("other").LastStatus, "another instance's task is not this agent's")
	})
}

// instanceStore gives the tasks of an instance as the task feed does (from
// a store it does not count), and ends the first task watch with
// ErrCompacted, as a store that no longer holds the history does.
type instanceStore struct {
	*listingStore
	raw       store.Store
	snapshots atomic.Int32
	compacted atomic.Bool
}

func (s *instanceStore) InstanceTasks(ctx context.Context, instance string) (tasks []*state.Task, rev int64, err error) {
	s.snapshots.Add(1)
	err = s.raw.View(ctx, func(tx store.ReadTx) error {
		rev = tx.Revision()
		all, err := store.List[*state.Task](tx, state.KindTasks)
		for _, t := range all {
			if t.ContainerInstanceID() == instance {
				tasks = append(tasks, t)
			}
		}
		return err
	})
	return tasks, rev, err
}

func (s *instanceStore) Watch(ctx context.Context, from int64, opts ...store.WatchOption) (store.Watcher, error) {
	if s.compacted.CompareAndSwap(false, true) {
		return nil, store.ErrCompacted
	}
	return s.raw.Watch(ctx, from, opts...)
}

// TestAgentStartsOverFromItsInstanceTasks: when its watch cannot resume,
// an agent on a store with InstanceTasks takes its instance's tasks again
// rather than listing every task, and goes on.
func TestAgentStartsOverFromItsInstanceTasks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fake.WithImage("web:1", fake.Behavior{RunFor: fake.Forever}))
		ref := e.register(`{"family": "w", "containerDefinitions": [{"name": "app", "image": "web:1", "memory": 32}]}`)
		e.runTask(ref, "t1")
		s := &instanceStore{listingStore: &listingStore{Store: e.store}, raw: e.store}
		e.cfg.Store = s
		e.start()
		advance(time.Minute)
		assert.Equal(t, int32(2), s.snapshots.Load(), "taken again when the watch could not resume")
		assert.Zero(t, s.listingStore.lists.Load(), "no listing of every task")
		assert.Equal(t, task.Running, e.task("t1").LastStatus)

		e.runTask(ref, "t2")
		advance(time.Minute)
		assert.Equal(t, task.Running, e.task("t2").LastStatus, "followed after starting over")
		assert.Len(t, e.rt.CallsTo(fake.MethodCreate), 2, "nothing created twice")
	})
}
