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
