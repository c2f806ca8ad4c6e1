package reaper_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/placement"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

const every = 10 * time.Second

// heartbeatInstance returns an ACTIVE instance whose agent is connected and
// wrote its heartbeat now.
func heartbeatInstance(t *testing.T, id string) *state.Instance {
	t.Helper()
	ci, err := cluster.NewContainerInstance(id, cluster.Resources{CPU: 1024, Memory: 1024}, time.Now())
	require.NoError(t, err)
	ci.Cluster = "test"
	return &state.Instance{ContainerInstance: ci, HeartbeatAt: time.Now(), HeartbeatInterval: every}
}

func (e *env) instance(id string) *state.Instance {
	e.t.Helper()
	var inst *state.Instance
	require.NoError(e.t, e.st.View(context.Background(), func(tx store.ReadTx) error {
		var err error
		inst, err = store.Get[*state.Instance](tx, state.KindInstances, id)
		return err
	}))
	return inst
}

// beat writes instance id's heartbeat, as its agent does.
func (e *env) beat(id string) {
	e.update(func(tx store.Tx) error {
		inst, err := store.Get[*state.Instance](tx, state.KindInstances, id)
		if err != nil {
			return err
		}
		next := inst.Copy()
		next.HeartbeatAt = time.Now()
		return tx.Update(next)
	})
}

// TestReaperTakesSilentAgentsForGone: of two connected agents, the one
// that stops writing its heartbeat is taken for gone after
// state.HeartbeatMisses intervals (with a reason; its task keeps its
// status) and placement then goes to the other, which keeps writing and is
// never taken for gone. An agent that writes no heartbeat, and one already
// disconnected, are left alone.
func TestReaperTakesSilentAgentsForGone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := start(t, time.Hour)
		off := heartbeatInstance(t, "i-off")
		off.HeartbeatInterval, off.HeartbeatAt = 0, time.Time{}
		e.update(func(tx store.Tx) error {
			for _, obj := range []store.Object{heartbeatInstance(t, "i-silent"), heartbeatInstance(t, "i-live"), off,
				newTask("t1", "i-silent", task.Running)} {
				if err := tx.Create(obj); err != nil {
					return err
				}
			}
			return nil
		})
		start := time.Now()
		for range 3 {
			time.Sleep(every - time.Second)
			e.beat("i-live")
		}
		synctest.Wait()
		require.True(t, e.instance("i-silent").AgentConnected, "not before %v", state.HeartbeatMisses*every)

		time.Sleep(start.Add(state.HeartbeatMisses * every).Sub(time.Now()))
		synctest.Wait()
		silent := e.instance("i-silent")
		assert.False(t, silent.AgentConnected, "taken for gone")
		require.NotNil(t, silent.AgentLost)
		assert.Equal(t, start, silent.AgentLost.LastHeartbeat)
		assert.Equal(t, "agent silent: no heartbeat for 30s (3 times its interval of 10s); taken for disconnected", silent.AgentLost.Reason)
		assert.Equal(t, start.Add(state.HeartbeatMisses*every), silent.UpdatedAt, "the disconnection is dated")
		assert.True(t, e.instance("i-live").AgentConnected)
		assert.True(t, e.instance("i-off").AgentConnected, "no heartbeat, no timeout")
		require.NoError(t, e.st.View(t.Context(), func(tx store.ReadTx) error {
			tk, err := store.Get[*state.Task](tx, state.KindTasks, "t1")
			require.NoError(t, err)
			assert.Equal(t, task.Running, tk.LastStatus, "the task keeps its last reported status")
			assert.Equal(t, task.Running, tk.DesiredStatus)
			return nil
		}))

		sched, err := placement.New()
		require.NoError(t, err)
		round := sched.NewRound([]cluster.ContainerInstance{silent.ContainerInstance, e.instance("i-live").ContainerInstance}, 1)
		for range 5 {
			got, err := round.Place(&placement.Request{Family: "web", CPU: 10, Memory: 10}, 1)
			require.NoError(t, err)
			assert.Equal(t, "i-live", got[0].Instance)
		}
		_, err = sched.NewRound([]cluster.ContainerInstance{silent.ContainerInstance}, 1).Place(&placement.Request{Family: "web", CPU: 10, Memory: 10}, 1)
		require.ErrorIs(t, err, placement.ErrNoFit)
		assert.Contains(t, err.Error(), string(placement.ReasonAgent))

		for range 60 {
			time.Sleep(every)
			e.beat("i-live")
		}
		synctest.Wait()
		assert.True(t, e.instance("i-live").AgentConnected, "a live agent is never taken for gone")
	})
}

// TestReaperGivesAnAgentRegisteredAgainAFullTimeout: an instance
// registered again shows its previous agent's old heartbeat until the new
// agent writes; it gets a full timeout from when the reaper sees it
// connected. So does an instance it first sees with its agent running (as
// when the reaper starts, or takes over on a new leader).
func TestReaperGivesAnAgentRegisteredAgainAFullTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		old := heartbeatInstance(t, "i-1")
		old.HeartbeatAt = time.Now().Add(-time.Hour)
		old.AgentConnected = false
		before := heartbeatInstance(t, "i-2")
		before.HeartbeatAt = time.Now().Add(-time.Hour)
		e := start(t, time.Hour)
		e.update(func(tx store.Tx) error {
			if err := tx.Create(old); err != nil {
				return err
			}
			return tx.Create(before)
		})
		synctest.Wait()
		assert.True(t, e.instance("i-2").AgentConnected, "a full timeout from when the reaper saw it first")
		time.Sleep(time.Minute)
		synctest.Wait()
		assert.False(t, e.instance("i-2").AgentConnected, "then taken for gone")

		e.update(func(tx store.Tx) error {
			next := old.Copy()
			next.AgentConnected = true // registered again
			return tx.Update(next)
		})
		time.Sleep(state.HeartbeatMisses*every - time.Second)
		synctest.Wait()
		assert.True(t, e.instance("i-1").AgentConnected, "its agent has a full timeout to write")
		e.beat("i-1")
		time.Sleep(state.HeartbeatMisses*every - time.Second)
		synctest.Wait()
		assert.True(t, e.instance("i-1").AgentConnected)
		time.Sleep(time.Second)
		synctest.Wait()
		assert.False(t, e.instance("i-1").AgentConnected)
	})
}

// TestReaperCountsFromWhatItSees: an agent whose host clock is a minute
// behind the reaper's writes heartbeats that look stale; the reaper counts
// from when it saw each one, and takes the agent for gone only once it
// stops writing.
func TestReaperCountsFromWhatItSees(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := start(t, time.Hour)
		behind := heartbeatInstance(t, "i-1")
		behind.HeartbeatAt = time.Now().Add(-time.Minute)
		e.update(func(tx store.Tx) error { return tx.Create(behind) })
		beatBehind := func() {
			e.update(func(tx store.Tx) error {
				inst, err := store.Get[*state.Instance](tx, state.KindInstances, "i-1")
				if err != nil {
					return err
				}
				next := inst.Copy()
				next.HeartbeatAt = time.Now().Add(-time.Minute)
				return tx.Update(next)
			})
		}
		for range 30 {
			time.Sleep(every)
			beatBehind()
		}
		synctest.Wait()
		assert.True(t, e.instance("i-1").AgentConnected, "heard from every interval")
		time.Sleep(state.HeartbeatMisses * every)
		synctest.Wait()
		inst := e.instance("i-1")
		assert.False(t, inst.AgentConnected, "silent for %v", state.HeartbeatMisses*every)
		require.NotNil(t, inst.AgentLost)
		assert.Contains(t, inst.AgentLost.Reason, "no heartbeat for 30s")
	})
}
