package memory_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/memory"
	"github.com/stevedore-io/stevedore/store/storetest"
)

func newStore(t *testing.T, limits storetest.Limits) store.Store {
	var opts []memory.Option
	if limits.History > 0 {
		opts = append(opts, memory.WithHistory(limits.History))
	}
	if limits.WatchBuffer > 0 {
		opts = append(opts, memory.WithWatchBuffer(limits.WatchBuffer))
	}
	s, err := memory.New(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, newStore)
}

type obj struct {
	store.Meta
	ID    string
	Value int
}

func (*obj) Kind() string       { return "objs" }
func (o *obj) ObjectID() string { return o.ID }

func TestNewOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts []memory.Option
		ok   bool
	}{
		{"Defaults", nil, true},
		{"Small", []memory.Option{memory.WithHistory(2), memory.WithWatchBuffer(1)}, true},
		{"ZeroHistory", []memory.Option{memory.WithHistory(0)}, false},
		{"NegativeBuffer", []memory.Option{memory.WithWatchBuffer(-1)}, false},
		{"HistoryNotLargerThanBuffer", []memory.Option{memory.WithHistory(10), memory.WithWatchBuffer(10)}, false},
		{"DefaultHistoryBelowBuffer", []memory.Option{memory.WithWatchBuffer(memory.DefaultHistory)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := memory.New(tt.opts...)
			if !tt.ok {
				require.ErrorIs(t, err, store.ErrInvalid)
				return
			}
			require.NoError(t, err)
			require.NoError(t, s.Close())
		})
	}
}

func TestUpdateOfStoredValueRefused(t *testing.T) {
	t.Parallel()
	s := newStore(t, storetest.Limits{})
	ctx := t.Context()
	require.NoError(t, s.Update(ctx, func(tx store.Tx) error { return tx.Create(&obj{ID: "a"}) }))

	err := s.Update(ctx, func(tx store.Tx) error {
		cur, err := store.Get[*obj](tx, "objs", "a")
		require.NoError(t, err)
		cur.Value = 1 // the mistake: changing the shared value in place
		return tx.Update(cur)
	})
	require.ErrorIs(t, err, store.ErrInvalid)
	require.Contains(t, err.Error(), "objs/a")
}

func TestTxUnusableAfterUpdate(t *testing.T) {
	t.Parallel()
	s := newStore(t, storetest.Limits{})
	var leaked store.Tx
	require.NoError(t, s.Update(t.Context(), func(tx store.Tx) error {
		leaked = tx
		return nil
	}))
	require.ErrorIs(t, leaked.Create(&obj{ID: "late"}), store.ErrInvalid)
	require.ErrorIs(t, leaked.Update(&obj{ID: "late"}), store.ErrInvalid)
	require.ErrorIs(t, leaked.Delete("objs", "late"), store.ErrInvalid)
}

// TestCloseWaitsForWriter checks that Close lets a running Update commit,
// and that an Update queued behind it either gets its turn before Close or
// fails with ErrClosed, never hangs.
func TestCloseWaitsForWriter(t *testing.T) {
	t.Parallel()
	s, err := memory.New()
	require.NoError(t, err)
	ctx := t.Context()

	entered, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- s.Update(ctx, func(tx store.Tx) error {
			close(entered)
			<-release
			return tx.Create(&obj{ID: "first"})
		})
	}()
	<-entered
	waiting := make(chan error, 1)
	go func() {
		waiting <- s.Update(ctx, func(tx store.Tx) error { return tx.Create(&obj{ID: "second"}) })
	}()
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()

	close(release)
	require.NoError(t, <-first)
	require.NoError(t, <-closed)
	if err := <-waiting; err != nil {
		require.ErrorIs(t, err, store.ErrClosed)
	}
}

// TestWriterNotHeldByStuckWatcher checks that watchers whose consumers
// never read cost writers nothing: thousands of writes go through.
func TestWriterNotHeldByStuckWatcher(t *testing.T) {
	t.Parallel()
	s := newStore(t, storetest.Limits{History: 100, WatchBuffer: 10})
	ctx := t.Context()
	var watchers []store.Watcher
	for range 20 {
		w, err := s.Watch(ctx, 0)
		require.NoError(t, err)
		t.Cleanup(w.Close)
		watchers = append(watchers, w)
	}
	for i := range 2000 {
		require.NoError(t, s.Update(ctx, func(tx store.Tx) error {
			return tx.Create(&obj{ID: fmt.Sprint(i)})
		}))
	}
	for _, w := range watchers {
		for range w.Events() {
		}
		require.ErrorIs(t, w.Err(), store.ErrWatcherTooSlow)
	}
}
