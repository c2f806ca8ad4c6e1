package agent

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/memory"
)

// createInstance is a write that creates instance id.
func createInstance(id string) func(tx store.Tx) error {
	return func(tx store.Tx) error {
		return tx.Create(&state.Instance{ContainerInstance: cluster.ContainerInstance{ID: id}})
	}
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

// queued returns how many writes wait in w's queue.
func queued(w *writer) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.queue)
}

// hold takes the store's writer slot until the returned func is called.
func hold(t *testing.T, s store.Store) (release func()) {
	t.Helper()
	held, done := make(chan struct{}), make(chan struct{})
	go func() {
		_ = s.Update(context.Background(), func(store.Tx) error {
			close(held)
			<-done
			return nil
		})
	}()
	<-held
	return func() { close(done) }
}

func TestWriterCommitsQueuedWritesTogether(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := memory.New()
		require.NoError(t, err)
		defer s.Close()
		w := &writer{st: s}
		release := hold(t, s)

		// The first write leads and waits for the store; the others
		// queue behind it.
		const n = 5
		errs := make(chan error, n)
		go func() { errs <- w.update(t.Context(), createInstance("i-0")) }()
		synctest.Wait()
		for i := 1; i < n; i++ {
			go func() { errs <- w.update(t.Context(), createInstance(fmt.Sprintf("i-%d", i))) }()
		}
		synctest.Wait()
		require.Equal(t, n-1, queued(w))

		rev := revision(t, s)
		release()
		for range n {
			require.NoError(t, <-errs)
		}
		assert.Equal(t, rev+2, revision(t, s), "one transaction for the leader, one for the rest")
		require.NoError(t, s.View(t.Context(), func(tx store.ReadTx) error {
			insts, err := tx.List(state.KindInstances)
			assert.Len(t, insts, n)
			return err
		}))
	})
}

func TestWriterIsolatesAFailedWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := memory.New()
		require.NoError(t, err)
		defer s.Close()
		w := &writer{st: s}
		release := hold(t, s)

		boom := errors.New("boom")
		type outcome struct {
			id  string
			err error
		}
		out := make(chan outcome, 4)
		write := func(id string, fn func(tx store.Tx) error) {
			go func() { out <- outcome{id, w.update(t.Context(), fn)} }()
			synctest.Wait()
		}
		write("lead", createInstance("i-lead"))
		write("a", createInstance("i-a"))
		write("bad", func(tx store.Tx) error {
			if err := tx.Create(&state.Instance{ContainerInstance: cluster.ContainerInstance{ID: "i-bad"}}); err != nil {
				return err
			}
			return boom
		})
		write("b", createInstance("i-b"))
		release()

		got := map[string]error{}
		for range 4 {
			o := <-out
			got[o.id] = o.err
		}
		assert.NoError(t, got["lead"])
		assert.NoError(t, got["a"])
		assert.NoError(t, got["b"])
		assert.ErrorIs(t, got["bad"], boom)
		require.NoError(t, s.View(t.Context(), func(tx store.ReadTx) error {
			for _, id := range []string{"i-lead", "i-a", "i-b"} {
				_, err := tx.Get(state.KindInstances, id)
				assert.NoError(t, err, id)
			}
			_, err := tx.Get(state.KindInstances, "i-bad")
			assert.ErrorIs(t, err, store.ErrNotFound, "the failed write left nothing")
			return nil
		}))
	})
}
