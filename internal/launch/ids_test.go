package launch_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/internal/launch"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/placement"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/memory"
)

// launchIDs places n tasks on st with a new launcher and returns their IDs.
func launchIDs(t *testing.T, st *memory.Store, seeded bool, n int) []string {
	t.Helper()
	sched, err := placement.New()
	require.NoError(t, err)
	ln, err := launch.New(launch.Config{Scheduler: sched, Seed: 7, SeededIDs: seeded})
	require.NoError(t, err)
	var ids []string
	require.NoError(t, st.Update(t.Context(), func(tx store.Tx) error {
		created, err := ln.Place(tx, &launch.Request{Cluster: "test", Def: definition(t, 64), Count: n, Group: "family:web"}, nil, nil)
		for _, tk := range created {
			ids = append(ids, tk.ID())
		}
		return err
	}))
	require.Len(t, ids, n)
	return ids
}

// TestSeededTaskIDs: with SeededIDs, the same seed gives the same task IDs
// (they break the scheduler's last ties); a launcher with the same seed on
// a store that holds them already (a restart) draws new ones; without
// SeededIDs, IDs differ from run to run.
func TestSeededTaskIDs(t *testing.T) {
	first := launchIDs(t, newStore(t, "i-1"), true, 3)
	again := launchIDs(t, newStore(t, "i-1"), true, 3)
	assert.Equal(t, first, again, "same seed, same IDs")
	for _, id := range first {
		assert.Regexp(t, "^[0-9a-f]{32}$", id)
	}

	st := newStore(t, "i-1")
	before := launchIDs(t, st, true, 2) // the instance has 4 task networks
	after := launchIDs(t, st, true, 2)
	for _, id := range after {
		assert.NotContains(t, before, id, "an ID taken in the store is drawn again")
	}
	require.NoError(t, st.View(t.Context(), func(tx store.ReadTx) error {
		tasks, err := store.List[*state.Task](tx, state.KindTasks)
		assert.Len(t, tasks, 4)
		return err
	}))

	assert.NotEqual(t, launchIDs(t, newStore(t, "i-1"), false, 3), launchIDs(t, newStore(t, "i-1"), false, 3),
		"crypto/rand without SeededIDs")
}

// TestNewIDSeeded: NewID draws from the seed with SeededIDs.
func TestNewIDSeeded(t *testing.T) {
	sched, err := placement.New()
	require.NoError(t, err)
	mk := func(seeded bool) *launch.Launcher {
		ln, err := launch.New(launch.Config{Scheduler: sched, Seed: 3, SeededIDs: seeded})
		require.NoError(t, err)
		return ln
	}
	a, b := mk(true), mk(true)
	for range 3 {
		id := a.NewID(17)
		assert.Len(t, id, 17)
		assert.Equal(t, id, b.NewID(17))
	}
	assert.NotEqual(t, mk(false).NewID(17), mk(false).NewID(17))
	assert.Equal(t, uint64(3), a.Seed())
}
