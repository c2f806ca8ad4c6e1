package agent_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/network"
	netfake "github.com/stevedore-io/stevedore/network/fake"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/task"
)

// readyNetwork is a fake network.Readier that records when Ready is called
// relative to the runtime's Create and Start calls.
type readyNetwork struct {
	*netfake.Provider
	rt *fake.Runtime

	mu       sync.Mutex
	deferred []bool
	readies  []readyCall
}

type readyCall struct {
	task            string
	creates, starts int
}

func (n *readyNetwork) Setup(ctx context.Context, req network.Request) (*network.Attachment, error) {
	n.mu.Lock()
	n.deferred = append(n.deferred, req.DeferReady)
	n.mu.Unlock()
	return n.Provider.Setup(ctx, req)
}

func (n *readyNetwork) Ready(_ context.Context, taskID string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.readies = append(n.readies, readyCall{taskID, len(n.rt.CallsTo(fake.MethodCreate)), len(n.rt.CallsTo(fake.MethodStart))})
	return nil
}

// TestNetworkReadyOverlapsCreation: with a network.Readier, the agent sets
// up the network with DeferReady and waits for it after creating the
// containers, before starting any.
func TestNetworkReadyOverlapsCreation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		nw := &readyNetwork{Provider: e.net, rt: e.rt}
		e.cfg.Network = nw
		ref := e.register(`{"family": "two", "networkMode": "awsvpc", "containerDefinitions": [
			{"name": "a", "image": "busybox", "memory": 64, "command": ["sleep", "infinity"]},
			{"name": "b", "image": "busybox", "memory": 64, "command": ["sleep", "infinity"]}]}`)
		e.runTask(ref, "t1")
		e.start()
		advance(time.Second)
		require.Equal(t, task.Running, e.task("t1").LastStatus)
		nw.mu.Lock()
		defer nw.mu.Unlock()
		assert.Equal(t, []bool{true}, nw.deferred)
		assert.Equal(t, []readyCall{{task: "t1", creates: 2, starts: 0}}, nw.readies)
	})
}
