package agent_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/agent"
	"github.com/stevedore-io/stevedore/internal/reaper"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

// heldStore is the store as a process that is paused or killed writes to
// it: while held, nothing the agent writes arrives.
type heldStore struct {
	store.Store
	mu   sync.Mutex
	held chan struct{} // closed on release; nil while writes go through
}

func (h *heldStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	h.mu.Lock()
	held := h.held
	h.mu.Unlock()
	if held != nil {
		select {
		case <-held:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return h.Store.Update(ctx, fn)
}

func (h *heldStore) hold() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.held == nil {
		h.held = make(chan struct{})
	}
}

func (h *heldStore) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.held != nil {
		close(h.held)
		h.held = nil
	}
}

// withReaper runs the control plane's reaper on the environment's store
// (not through the agent's held store) until the test ends.
func (e *env) withReaper() {
	e.t.Helper()
	r, err := reaper.New(reaper.Config{Store: e.store, Retention: time.Hour})
	require.NoError(e.t, err)
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	e.t.Cleanup(func() { cancel(); <-done })
}

// holdWrites puts the agent's writes behind a heldStore.
func (e *env) holdWrites() *heldStore {
	h := &heldStore{Store: e.store}
	e.cfg.Store = h
	return h
}

// connections returns the AgentConnected values the instance went
// through, as written to the store.
func (e *env) connections() []bool {
	var out []bool
	for _, ev := range e.history() {
		if inst, ok := ev.Object.(*state.Instance); ok {
			if len(out) == 0 || out[len(out)-1] != inst.AgentConnected {
				out = append(out, inst.AgentConnected)
			}
		}
	}
	return out
}

// TestKilledAgentIsTakenForGone runs an agent for a while (it is never
// taken for gone), then kills it: nothing it writes arrives any more, not
// even the disconnection of a graceful end. The reaper takes it for gone
// after state.HeartbeatMisses intervals, and its task keeps its last
// reported status.
func TestKilledAgentIsTakenForGone(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fake.WithImage("app", fake.Behavior{RunFor: fake.Forever}))
		held := e.holdWrites()
		e.withReaper()
		e.runTask(e.register(checkedDef), "t1")
		r := e.start()
		advance(10 * time.Minute)
		inst := e.instance()
		require.True(t, inst.AgentConnected)
		assert.Nil(t, inst.AgentLost)
		assert.Equal(t, agent.DefaultHeartbeatInterval, inst.HeartbeatInterval)
		assert.WithinDuration(t, time.Now(), inst.HeartbeatAt, agent.DefaultHeartbeatInterval)
		assert.Equal(t, []bool{false, true}, e.connections(), "a live agent never flaps")

		held.hold() // SIGKILL: the process is gone, with what it would write
		killed := time.Now()
		require.NoError(t, r.stop())
		advance(state.HeartbeatMisses*agent.DefaultHeartbeatInterval - 2*agent.DefaultHeartbeatInterval)
		assert.True(t, e.instance().AgentConnected, "not before its heartbeat is late")

		advance(2 * agent.DefaultHeartbeatInterval)
		inst = e.instance()
		assert.False(t, inst.AgentConnected, "taken for gone")
		require.NotNil(t, inst.AgentLost)
		assert.False(t, inst.AgentLost.LastHeartbeat.After(killed))
		assert.Contains(t, inst.AgentLost.Reason, "no heartbeat")
		tk := e.task("t1")
		assert.Equal(t, task.Running, tk.LastStatus, "the task keeps its last reported status")
		assert.Equal(t, task.Running, tk.DesiredStatus)
	})
}

// TestResumedAgentIsConnectedAgain pauses an agent (its writes held) until
// the reaper takes it for gone, then resumes it: its next write connects
// the instance again, with a fresh heartbeat.
func TestResumedAgentIsConnectedAgain(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fake.WithImage("app", fake.Behavior{RunFor: fake.Forever}))
		held := e.holdWrites()
		e.withReaper()
		e.runTask(e.register(checkedDef), "t1")
		e.start()
		advance(time.Minute)
		require.True(t, e.instance().AgentConnected)

		held.hold() // SIGSTOP
		advance(2 * time.Minute)
		require.False(t, e.instance().AgentConnected)
		require.NotNil(t, e.instance().AgentLost)

		held.release() // SIGCONT
		advance(agent.DefaultHeartbeatInterval)
		inst := e.instance()
		assert.True(t, inst.AgentConnected, "the agent that writes again is connected")
		assert.Nil(t, inst.AgentLost)
		assert.WithinDuration(t, time.Now(), inst.HeartbeatAt, agent.DefaultHeartbeatInterval)

		advance(10 * time.Minute)
		assert.True(t, e.instance().AgentConnected, "and stays so")
		assert.Equal(t, []bool{false, true, false, true}, e.connections())
		assert.Equal(t, task.Running, e.task("t1").LastStatus)
	})
}

// TestAgentBeatsThroughAnEngineOutage takes the engine away for longer
// than the heartbeat timeout: the agent, alive, goes on with its
// heartbeat, so the instance shows the outage (disconnected, for its
// engine) and is never taken for gone. An agent paused during the outage
// and resumed records the outage again, not a connection.
func TestAgentBeatsThroughAnEngineOutage(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fake.WithImage("app", fake.Behavior{RunFor: fake.Forever}))
		held := e.holdWrites()
		e.withReaper()
		e.runTask(e.register(checkedDef), "t1")
		e.start()
		advance(time.Minute)

		e.rt.SetUnavailable(true)
		advance(5 * time.Minute)
		inst := e.instance()
		assert.False(t, inst.AgentConnected)
		assert.NotNil(t, inst.EngineOutage)
		assert.Nil(t, inst.AgentLost, "an agent whose engine is away is alive")
		assert.WithinDuration(t, time.Now(), inst.HeartbeatAt, agent.DefaultHeartbeatInterval)

		held.hold()
		advance(2 * time.Minute)
		inst = e.instance()
		require.NotNil(t, inst.AgentLost)
		assert.Nil(t, inst.EngineOutage, "the outage went with the agent, as far as the store knows")

		held.release()
		advance(agent.DefaultHeartbeatInterval)
		inst = e.instance()
		assert.Nil(t, inst.AgentLost)
		assert.False(t, inst.AgentConnected, "its engine is still away")
		assert.NotNil(t, inst.EngineOutage)

		e.rt.SetUnavailable(false)
		advance(agent.EngineProbeInterval)
		assert.True(t, e.instance().AgentConnected)
	})
}

// TestNoHeartbeat turns the heartbeat off: the agent writes none, and an
// agent that had written one before leaves no interval behind for the
// reaper to count.
func TestNoHeartbeat(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.withReaper()
		r := e.start()
		advance(time.Minute)
		require.NotZero(t, e.instance().HeartbeatInterval)
		require.NoError(t, r.stop())

		e.cfg.HeartbeatInterval = -1
		e.start()
		advance(10 * time.Minute)
		inst := e.instance()
		assert.True(t, inst.AgentConnected)
		assert.Zero(t, inst.HeartbeatInterval)
		assert.True(t, inst.HeartbeatAt.IsZero())
	})
}
