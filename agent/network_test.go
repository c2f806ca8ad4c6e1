package agent_test

import (
	"context"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/network"
	netfake "github.com/stevedore-io/stevedore/network/fake"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

// TestTaskDNSComesFromTheStore: the resolv.conf the control plane chose
// for a task (service discovery) reaches its network, unless the task
// definition names DNS servers of its own.
func TestTaskDNSComesFromTheStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fake.WithImage("web:1", fake.Behavior{RunFor: fake.Forever}))
		dns := network.DNSConfig{Servers: []netip.Addr{netip.MustParseAddr("10.88.0.1")}, Search: []string{"test.local", "local"}}
		var asked []network.Request
		e.net.FailSetup(func(req network.Request) error {
			asked = append(asked, req)
			return nil
		})
		withDNS := func(t *state.Task) { t.DNS = &dns }
		e.runTaskWith(e.register(`{"family": "plain", "networkMode": "awsvpc",
		  "containerDefinitions": [{"name": "app", "image": "web:1", "memory": 32}]}`), "plain", withDNS)
		e.runTaskWith(e.register(`{"family": "own", "networkMode": "bridge",
		  "containerDefinitions": [{"name": "app", "image": "web:1", "memory": 32, "dnsServers": ["1.1.1.1"]}]}`), "own", withDNS)
		e.start()
		advance(time.Second)
		require.Len(t, asked, 2)
		for _, req := range asked {
			switch req.TaskID {
			case "plain":
				assert.Equal(t, dns, req.DNS, "the stored configuration")
			case "own":
				assert.Equal(t, []netip.Addr{netip.MustParseAddr("1.1.1.1")}, req.DNS.Servers, "the definition's own")
			}
		}
	})
}

// TestAdoptionKeepsTheNetworksOfOtherInstancesTasks: instances sharing a
// network provider (several on one host) do not tear down each other's
// task networks when an agent starts.
func TestAdoptionKeepsTheNetworksOfOtherInstancesTasks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fake.WithImage("web:1", fake.Behavior{RunFor: fake.Forever}))
		ref := e.register(`{"family": "w", "networkMode": "awsvpc",
		  "containerDefinitions": [{"name": "app", "image": "web:1", "memory": 32}]}`)
		// Another instance's live task, set up in the shared provider.
		_, err := e.net.Setup(e.ctx, network.Request{TaskID: "elsewhere", Mode: network.ModeAWSVPC})
		require.NoError(t, err)
		_, err = e.net.Setup(e.ctx, network.Request{TaskID: "orphan", Mode: network.ModeAWSVPC})
		require.NoError(t, err)
		e.runTaskWith(ref, "elsewhere", func(t *state.Task) { t.ContainerInstanceARN = "i-other" })
		e.start()
		advance(time.Second)
		assert.Contains(t, e.net.TaskIDs(), "elsewhere", "another instance's live task keeps its network")
		assert.NotContains(t, e.net.TaskIDs(), "orphan", "a network no live task owns goes")
		var tk *state.Task
		require.NoError(t, e.store.View(e.ctx, func(tx store.ReadTx) error {
			tk, err = store.Get[*state.Task](tx, state.KindTasks, "elsewhere")
			return err
		}))
		assert.Equal(t, task.Provisioning, tk.LastStatus, "not this agent's to run")
	})
}

// hookedNetwork runs before ahead of each Reconcile of a shared provider.
type hookedNetwork struct {
	*netfake.Provider
	before func()
}

func (n hookedNetwork) Reconcile(ctx context.Context, keep func(taskID string) bool) error {
	n.before()
	return n.Provider.Reconcile(ctx, keep)
}

// TestAdoptionKeepsTheNetworkOfATaskPlacedElsewhereMeanwhile: the tasks of
// other instances are asked of the store when the provider is reconciled,
// not read with the agent's snapshot: one placed on another instance, and
// set up by its agent, after that snapshot keeps its network. A stopped
// one's network goes.
func TestAdoptionKeepsTheNetworkOfATaskPlacedElsewhereMeanwhile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fake.WithImage("web:1", fake.Behavior{RunFor: fake.Forever}))
		ref := e.register(`{"family": "w", "networkMode": "awsvpc",
		  "containerDefinitions": [{"name": "app", "image": "web:1", "memory": 32}]}`)
		_, err := e.net.Setup(e.ctx, network.Request{TaskID: "stopped", Mode: network.ModeAWSVPC})
		require.NoError(t, err)
		e.runTaskWith(ref, "stopped", func(t *state.Task) {
			t.ContainerInstanceARN = "i-other"
			t.LastStatus = task.Stopped
		})
		e.cfg.Network = hookedNetwork{Provider: e.net, before: func() {
			e.runTaskWith(ref, "late", func(t *state.Task) { t.ContainerInstanceARN = "i-other" })
			_, err := e.net.Setup(e.ctx, network.Request{TaskID: "late", Mode: network.ModeAWSVPC})
			assert.NoError(t, err)
		}}
		e.start()
		advance(time.Second)
		assert.Contains(t, e.net.TaskIDs(), "late", "a task placed on another instance after the snapshot keeps its network")
		assert.NotContains(t, e.net.TaskIDs(), "stopped", "a stopped task's network goes")
	})
}
