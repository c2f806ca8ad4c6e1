package taskfeed

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/memory"
	"github.com/stevedore-io/stevedore/task"
)

// createTasks creates, in one transaction, tasks named prefix-0.. on an
// instance.
func createTasks(t *testing.T, s store.Store, instance, prefix string, n int) {
	t.Helper()
	require.NoError(t, s.Update(context.Background(), func(tx store.Tx) error {
		for i := range n {
			tk := &task.Task{TaskARN: fmt.Sprintf("%s-%d", prefix, i), ContainerInstanceARN: instance}
			if err := tx.Create(&state.Task{Task: tk}); err != nil {
				return err
			}
		}
		return nil
	}))
}

// startFeed runs a task feed on s until the test ends.
func startFeed(t *testing.T, s store.Store) *Feed {
	t.Helper()
	f, err := New(t.Context(), s)
	require.NoError(t, err)
	runFeed(t, f)
	return f
}

// runFeed runs f until the test ends.
func runFeed(t *testing.T, f *Feed) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

func newMemoryStore(t *testing.T, opts ...memory.Option) *memory.Store {
	t.Helper()
	s, err := memory.New(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func TestTaskFeedQueuesWhatItsChannelCannotHold(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newMemoryStore(t)
		f := startFeed(t, s)
		w, ok := f.watch(t.Context(), "i-1", revision(t, s), store.NewWatchFilter(store.WithKinds(state.KindTasks)))
		require.True(t, ok)
		defer w.Close()

		const n = 10 * feedChan
		for i := range n {
			createTasks(t, s, "i-1", fmt.Sprintf("a%d", i), 1)
			createTasks(t, s, "i-2", fmt.Sprintf("b%d", i), 1) // not for this watcher
		}
		synctest.Wait()
		var got []string
		for range n {
			ev := <-w.Events()
			got = append(got, ev.ID)
		}
		for i := range n {
			assert.Equal(t, fmt.Sprintf("a%d-0", i), got[i])
		}
		select {
		case ev := <-w.Events():
			t.Fatalf("unexpected event %s", ev.ID)
		default:
		}
		assert.NoError(t, w.Err())
	})
}

func TestTaskFeedEndsASlowWatcherBetweenTransactions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newMemoryStore(t, memory.WithHistory(100_000), memory.WithWatchBuffer(50_000))
		f := startFeed(t, s)
		w, ok := f.watch(t.Context(), "i-1", revision(t, s), store.NewWatchFilter(store.WithKinds(state.KindTasks)))
		require.True(t, ok)
		defer w.Close()

		// Transactions of three events each, until the watcher, which
		// reads nothing, is too slow.
		const per = 3
		for i := range (feedChan+feedBuffer)/per + 10 {
			createTasks(t, s, "i-1", fmt.Sprintf("t%d", i), per)
			synctest.Wait()
		}
		revs := map[int64]int{}
		n := 0
		for ev := range w.Events() {
			revs[ev.Revision]++
			n++
		}
		assert.ErrorIs(t, w.Err(), store.ErrWatcherTooSlow)
		assert.GreaterOrEqual(t, n, feedChan+feedBuffer)
		for rev, events := range revs {
			assert.Equal(t, per, events, "transaction %d delivered whole", rev)
		}
	})
}

func TestTaskFeedWatcherClosesWhileItsQueueWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newMemoryStore(t)
		f := startFeed(t, s)
		w, ok := f.watch(t.Context(), "i-1", revision(t, s), store.NewWatchFilter(store.WithKinds(state.KindTasks)))
		require.True(t, ok)
		createTasks(t, s, "i-1", "t", 3*feedChan)
		synctest.Wait()
		w.Close() // returns once the channel is closed; no pump is left
		n := 0
		for range w.Events() {
			n++
		}
		assert.LessOrEqual(t, n, feedChan)
		assert.NoError(t, w.Err())
	})
}

func revision(t *testing.T, s store.Store) int64 {
	t.Helper()
	var rev int64
	require.NoError(t, s.View(t.Context(), func(tx store.ReadTx) error {
		rev = tx.Revision()
		return nil
	}))
	return rev
}
