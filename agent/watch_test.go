package agent_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

// breakableStore ends its watches with ErrWatcherTooSlow on demand, and can
// refuse the next watch with ErrCompacted, as a store under load does.
type breakableStore struct {
	store.Store
	mu        sync.Mutex
	watchers  []*breakableWatcher
	compacted bool
}

func (s *breakableStore) Watch(ctx context.Context, from int64, opts ...store.WatchOption) (store.Watcher, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.compacted {
		s.compacted = false
		return nil, store.ErrCompacted
	}
	inner, err := s.Store.Watch(ctx, from, opts...)
	if err != nil {
		return nil, err
	}
	w := &breakableWatcher{inner: inner, out: make(chan store.Event), broken: make(chan struct{}), done: make(chan struct{})}
	go w.forward()
	s.watchers = append(s.watchers, w)
	return w, nil
}

// breakAll ends every watch as too slow; with compacted the next watch
// fails with ErrCompacted.
func (s *breakableStore) breakAll(compacted bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.compacted = compacted
	for _, w := range s.watchers {
		w.breakOnce.Do(func() { close(w.broken) })
	}
	s.watchers = nil
}

type breakableWatcher struct {
	inner     store.Watcher
	out       chan store.Event
	broken    chan struct{}
	breakOnce sync.Once
	done      chan struct{}
	mu        sync.Mutex
	err       error
}

func (w *breakableWatcher) forward() {
	defer close(w.done)
	defer close(w.out)
	defer w.inner.Close()
	for {
		select {
		case <-w.broken:
			w.setErr(store.ErrWatcherTooSlow)
			return
		case ev, ok := <-w.inner.Events():
			if !ok {
				w.setErr(w.inner.Err())
				return
			}
			select {
			case w.out <- ev:
			case <-w.broken:
				w.setErr(store.ErrWatcherTooSlow)
				return
			}
		}
	}
}

func (w *breakableWatcher) setErr(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.err = err
}

func (w *breakableWatcher) Events() <-chan store.Event { return w.out }

func (w *breakableWatcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *breakableWatcher) Close() {
	w.breakOnce.Do(func() { close(w.broken) })
	<-w.done
	w.setErr(nil)
}

func TestWatchResumes(t *testing.T) {
	for _, compacted := range []bool{false, true} {
		name := "too slow"
		if compacted {
			name = "too slow and compacted"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t, fake.WithImage("app", fake.Behavior{RunFor: fake.Forever}))
				bs := &breakableStore{Store: e.store}
				e.cfg.Store = bs
				ref := e.register(`{"family": "w", "networkMode": "awsvpc",
				  "containerDefinitions": [{"name": "app", "image": "app", "memory": 32}]}`)
				e.runTask(ref, "t1")
				e.start()
				advance(time.Second)
				require.Equal(t, task.Running, e.task("t1").LastStatus)

				bs.breakAll(compacted)
				e.stopTask("t1", "bye")
				e.runTask(ref, "t2")
				advance(time.Minute)
				assert.Equal(t, task.Stopped, e.task("t1").LastStatus)
				assert.Equal(t, task.Running, e.task("t2").LastStatus)
				assert.Len(t, e.rt.CallsTo(fake.MethodCreate), 2, "nothing created twice")
			})
		})
	}
}

func TestTaskDeletedWhileRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fake.WithImage("web:1", fake.Behavior{RunFor: fake.Forever}))
		e.runTask(e.register(webDef), "t1")
		e.start()
		advance(time.Second)
		require.Equal(t, task.Running, e.task("t1").LastStatus)

		require.NoError(t, e.store.Update(e.ctx, func(tx store.Tx) error {
			return tx.Delete(state.KindTasks, "t1")
		}))
		advance(time.Minute)
		assert.Empty(t, e.rt.Containers(), "containers removed")
		assert.Empty(t, e.net.TaskIDs(), "network torn down")
		var tasks []*state.Task
		require.NoError(t, e.store.View(e.ctx, func(tx store.ReadTx) error {
			var err error
			tasks, err = store.List[*state.Task](tx, state.KindTasks)
			return err
		}))
		assert.Empty(t, tasks, "the agent did not write the task back")
		assert.Equal(t, 0, e.instance().RunningTasksCount)
	})
}
