package launch_test

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/errdefs"
	"github.com/stevedore-io/stevedore/internal/launch"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/placement"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/memory"
	"github.com/stevedore-io/stevedore/task"
)

func newStore(t *testing.T, instances ...string) *memory.Store {
	t.Helper()
	st, err := memory.New()
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	require.NoError(t, st.Update(t.Context(), func(tx store.Tx) error {
		for _, id := range instances {
			inst, err := cluster.NewContainerInstance(id, cluster.Resources{CPU: 1024, Memory: 1024, NetworkSlots: 4}, time.Now())
			if err != nil {
				return err
			}
			inst.Cluster = "test"
			if err := tx.Create(&state.Instance{ContainerInstance: inst}); err != nil {
				return err
			}
		}
		return nil
	}))
	return st
}

func definition(t *testing.T, memory int) *task.TaskDefinition {
	t.Helper()
	td, _, err := task.ParseDefinition(fmt.Appendf(nil, `{"family": "web", "networkMode": "awsvpc",
		"containerDefinitions": [{"name": "app", "image": "web", "memory": %d}]}`, memory))
	require.NoError(t, err)
	td.Revision = 1
	return td
}

func TestPlaceCreatesTasksWithWhatTheirAgentNeeds(t *testing.T) {
	st := newStore(t, "i-1")
	sched, err := placement.New()
	require.NoError(t, err)
	dns := network.DNSConfig{Servers: []netip.Addr{netip.MustParseAddr("10.88.0.1")}, Search: []string{"test.local"}}
	ln, err := launch.New(launch.Config{Scheduler: sched, Seed: 1, Drainers: []string{state.DrainTargets, state.DrainDNS},
		DNS: func(clusterName string) network.DNSConfig { assert.Equal(t, "test", clusterName); return dns }})
	require.NoError(t, err)

	var created []*state.Task
	require.NoError(t, st.Update(t.Context(), func(tx store.Tx) error {
		var err error
		created, err = ln.Place(tx, &launch.Request{Cluster: "test", Def: definition(t, 256), Count: 2, Group: "service:web",
			Service: "web", Deployment: "d1", Strategies: []placement.StrategySpec{placement.Random()}}, nil, nil)
		return err
	}))
	require.Len(t, created, 2)
	for _, tk := range created {
		assert.Equal(t, "i-1", tk.ContainerInstanceID())
		assert.Equal(t, task.Provisioning, tk.LastStatus)
		assert.Equal(t, "web", tk.ServiceName)
		assert.Equal(t, "d1", tk.DeploymentID)
		assert.Equal(t, 256, tk.Reserved.Memory)
		require.NotNil(t, tk.DNS)
		assert.Equal(t, dns, *tk.DNS)
		require.NotNil(t, tk.Drain)
		assert.Equal(t, []string{state.DrainTargets, state.DrainDNS}, tk.Drain.By)
	}
	require.NoError(t, st.View(t.Context(), func(tx store.ReadTx) error {
		inst, err := store.Get[*state.Instance](tx, state.KindInstances, "i-1")
		require.NoError(t, err)
		assert.Equal(t, 1024-512, inst.Remaining.Memory, "reserved in the same transaction")
		return nil
	}))

	// What does not fit is a *placement.NoFitError; what fits is created.
	require.NoError(t, st.Update(t.Context(), func(tx store.Tx) error {
		more, err := ln.Place(tx, &launch.Request{Cluster: "test", Def: definition(t, 256), Count: 3, Group: "family:web"}, nil, nil)
		var noFit *placement.NoFitError
		assert.True(t, errors.As(err, &noFit), "%v", err)
		assert.Len(t, more, 2)
		return nil
	}))
}

// TestPlaceRefusesUnassociatedCapacityProvider: a capacity provider
// strategy naming a provider the cluster does not have is an invalid
// request (ECS's InvalidParameterException), and nothing is created; a
// provider of the cluster is placed on.
func TestPlaceRefusesUnassociatedCapacityProvider(t *testing.T) {
	st := newStore(t, "i-1")
	require.NoError(t, st.Update(t.Context(), func(tx store.Tx) error {
		return tx.Create(&state.Cluster{Cluster: cluster.Cluster{Name: "test", CapacityProviders: []string{"spot"}}})
	}))
	sched, err := placement.New()
	require.NoError(t, err)
	ln, err := launch.New(launch.Config{Scheduler: sched, Seed: 1})
	require.NoError(t, err)
	place := func(provider string) ([]*state.Task, error) {
		var created []*state.Task
		err := st.Update(t.Context(), func(tx store.Tx) error {
			var err error
			created, err = ln.Place(tx, &launch.Request{Cluster: "test", Def: definition(t, 64), Count: 1, Group: "family:web",
				Providers: cluster.CapacityProviderStrategy{{CapacityProvider: provider, Weight: 1}}}, nil, nil)
			return err
		})
		return created, err
	}

	created, err := place("on-demand")
	require.ErrorIs(t, err, launch.ErrInvalid)
	var fe *errdefs.FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "capacityProviderStrategy[0].capacityProvider", fe.Path)
	assert.Contains(t, fe.Reason, `"on-demand" is not associated with cluster "test"`)
	assert.Empty(t, created)
	require.NoError(t, st.View(t.Context(), func(tx store.ReadTx) error {
		tasks, err := store.List[*state.Task](tx, state.KindTasks)
		assert.Empty(t, tasks, "nothing created")
		return err
	}))

	// A provider of the cluster: placed on its instances (i-1 has none,
	// so it does not fit, but that is no invalid request).
	_, err = place("spot")
	assert.ErrorIs(t, err, placement.ErrNoFit)
	assert.NotErrorIs(t, err, launch.ErrInvalid)
}
