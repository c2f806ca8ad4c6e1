package state_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/memory"
)

// TestDisconnectAgentsDatesTheChange: the agents a restarted process finds
// connected are disconnected at now, which their events show; an instance
// already disconnected keeps its time.
func TestDisconnectAgentsDatesTheChange(t *testing.T) {
	t.Parallel()
	s, err := memory.New()
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	t0 := time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC)
	require.NoError(t, s.Update(t.Context(), func(tx store.Tx) error {
		for _, id := range []string{"i-on", "i-off"} {
			ci, err := cluster.NewContainerInstance(id, cluster.Resources{CPU: 1024, Memory: 1024}, t0)
			if err != nil {
				return err
			}
			ci.AgentConnected = id == "i-on"
			if err := tx.Create(&state.Instance{ContainerInstance: ci}); err != nil {
				return err
			}
		}
		return nil
	}))
	now := t0.Add(time.Hour)
	require.NoError(t, state.DisconnectAgents(t.Context(), s, now))
	require.NoError(t, s.View(t.Context(), func(tx store.ReadTx) error {
		on, err := store.Get[*state.Instance](tx, state.KindInstances, "i-on")
		require.NoError(t, err)
		assert.False(t, on.AgentConnected)
		assert.Equal(t, now, on.UpdatedAt)
		off, err := store.Get[*state.Instance](tx, state.KindInstances, "i-off")
		require.NoError(t, err)
		assert.Equal(t, t0, off.UpdatedAt)
		return nil
	}))
}
