package dnssync_test

import (
	"context"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/discovery"
	"github.com/stevedore-io/stevedore/internal/dnssync"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/memory"
	"github.com/stevedore-io/stevedore/task"
)

func webTask(t *testing.T, id string, last task.Status) *state.Task {
	t.Helper()
	td, _, err := task.ParseDefinition([]byte(`{"family": "web", "networkMode": "awsvpc",
		"containerDefinitions": [{"name": "app", "image": "web", "memory": 16}]}`))
	require.NoError(t, err)
	tk, err := task.NewTask("arn:aws:ecs:local:0:task/test/"+id, td, nil, time.Now())
	require.NoError(t, err)
	tk.ClusterARN, tk.DesiredStatus, tk.LastStatus = "test", task.Running, last
	return &state.Task{Task: tk, ServiceName: "web", Drain: &state.Drain{By: []string{state.DrainDNS}},
		Network: &network.Attachment{TaskID: id, Mode: network.ModeAWSVPC, Address: netip.MustParsePrefix("10.0.0.2/24")}}
}

func TestDiscoveryFollowsTasksAndDrainsThem(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st, err := memory.New()
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, st.Close()) })
		d, err := dnssync.New(dnssync.Config{Store: st, Discovery: discovery.Config{Listen: "127.0.0.1:0"}})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })

		a := webTask(t, "a", task.Running)
		require.NoError(t, st.Update(ctx, func(tx store.Tx) error { return tx.Create(a) }))
		synctest.Wait()
		addrs, err := d.Resolver().LookupHost(ctx, "web.local")
		require.NoError(t, err)
		assert.Equal(t, []netip.Addr{netip.MustParseAddr("10.0.0.2")}, addrs, "a running task answers")

		require.NoError(t, st.Update(ctx, func(tx store.Tx) error {
			next := a.Copy()
			next.DesiredStatus = task.Stopped
			next.LastStatus = task.Deactivating
			return tx.Update(next)
		}))
		synctest.Wait()
		_, err = d.Resolver().LookupHost(ctx, "web.local")
		assert.Error(t, err, "a deactivating task no longer answers")
		require.NoError(t, st.View(ctx, func(tx store.ReadTx) error {
			got, err := store.Get[*state.Task](tx, state.KindTasks, "a")
			require.NoError(t, err)
			assert.False(t, got.Drain.Holds(time.Now()), "and its drain says so")
			return nil
		}))
	})
}
