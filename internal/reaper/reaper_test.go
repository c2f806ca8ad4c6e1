package reaper_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/reaper"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/memory"
	"github.com/stevedore-io/stevedore/task"
)

type env struct {
	t  *testing.T
	st *memory.Store
}

func start(t *testing.T, retention time.Duration) *env {
	t.Helper()
	st, err := memory.New()
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	r, err := reaper.New(reaper.Config{Store: st, Retention: retention})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return &env{t: t, st: st}
}

func (e *env) update(fn func(tx store.Tx) error) {
	e.t.Helper()
	require.NoError(e.t, e.st.Update(context.Background(), fn))
}

func (e *env) exists(kind, id string) bool {
	e.t.Helper()
	err := e.st.View(context.Background(), func(tx store.ReadTx) error {
		_, err := tx.Get(kind, id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return false
	}
	require.NoError(e.t, err)
	return true
}

func newTask(id, instance string, last task.Status) *state.Task {
	return &state.Task{Task: &task.Task{TaskARN: "arn:aws:ecs:local:0:task/test/" + id, ClusterARN: "test",
		ContainerInstanceARN: instance, LastStatus: last, DesiredStatus: task.Running}}
}

func TestReaperRemovesStoppedTasksPastRetentionAndStaleSamples(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := start(t, time.Hour)
		old := newTask("old", "i-1", task.Stopped)
		old.StoppedAt = time.Now()
		e.update(func(tx store.Tx) error {
			for _, obj := range []store.Object{old, newTask("live", "i-1", task.Running),
				&state.Sample{TaskID: "live"}, &state.Sample{TaskID: "old"}, &state.Sample{TaskID: "gone"}} {
				if err := tx.Create(obj); err != nil {
					return err
				}
			}
			return nil
		})
		time.Sleep(reaper.Interval)
		synctest.Wait()
		assert.True(t, e.exists(state.KindTasks, "old"), "within its retention")
		assert.True(t, e.exists(state.KindSamples, "live"))
		assert.False(t, e.exists(state.KindSamples, "old"), "a stopped task's sample goes")
		assert.False(t, e.exists(state.KindSamples, "gone"))

		time.Sleep(time.Hour)
		synctest.Wait()
		assert.False(t, e.exists(state.KindTasks, "old"), "past its retention")
		assert.True(t, e.exists(state.KindTasks, "live"))
	})
}

func TestReaperReclaimsSpotInstancesAtTheStoredTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := start(t, time.Hour)
		reclaimAt := time.Now().Add(2 * time.Minute)
		e.update(func(tx store.Tx) error {
			inst := &state.Instance{ContainerInstance: cluster.ContainerInstance{ID: "i-1", Cluster: "test", Status: cluster.StatusDraining},
				ReclaimAt: reclaimAt}
			if err := tx.Create(inst); err != nil {
				return err
			}
			return tx.Create(newTask("t1", "i-1", task.Running))
		})
		instance := func() *state.Instance {
			var inst *state.Instance
			require.NoError(t, e.st.View(t.Context(), func(tx store.ReadTx) error {
				var err error
				inst, err = store.Get[*state.Instance](tx, state.KindInstances, "i-1")
				return err
			}))
			return inst
		}
		time.Sleep(2*time.Minute - time.Second)
		synctest.Wait()
		assert.Equal(t, cluster.StatusDraining, instance().Status, "the notice runs")

		time.Sleep(time.Second)
		synctest.Wait()
		assert.Equal(t, cluster.StatusInactive, instance().Status, "reclaimed at the stored time")
		require.NoError(t, e.st.View(t.Context(), func(tx store.ReadTx) error {
			tk, err := store.Get[*state.Task](tx, state.KindTasks, "t1")
			require.NoError(t, err)
			assert.Equal(t, task.Stopped, tk.DesiredStatus)
			assert.Equal(t, task.SpotInterruption, tk.StopCode)
			assert.Equal(t, reaper.SpotStoppedReason, tk.StoppedReason)
			return nil
		}))
	})
}

func TestANewReaperKeepsTheAppointment(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The reclaim time is in the store before any reaper runs, as
		// after a restart.
		st, err := memory.New()
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, st.Close()) })
		require.NoError(t, st.Update(t.Context(), func(tx store.Tx) error {
			return tx.Create(&state.Instance{ContainerInstance: cluster.ContainerInstance{ID: "i-1", Cluster: "test",
				Status: cluster.StatusDraining}, ReclaimAt: time.Now().Add(-time.Second)})
		}))
		r, err := reaper.New(reaper.Config{Store: st, Retention: time.Hour})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		synctest.Wait()
		require.NoError(t, st.View(t.Context(), func(tx store.ReadTx) error {
			inst, err := store.Get[*state.Instance](tx, state.KindInstances, "i-1")
			require.NoError(t, err)
			assert.Equal(t, cluster.StatusInactive, inst.Status, "a reclaim time passed while no reaper ran is acted on at once")
			return nil
		}))
	})
}

// TestReclaimLeavesTasksToAnAgentCutOffFromItsEngine: an instance whose
// agent runs but cannot reach its engine shows AgentConnected false with
// an EngineOutage. Its agent, not the reaper, reports the tasks STOPPED
// once the engine is back: the containers may be running still.
func TestReclaimLeavesTasksToAnAgentCutOffFromItsEngine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := start(t, time.Hour)
		e.update(func(tx store.Tx) error {
			inst := &state.Instance{ContainerInstance: cluster.ContainerInstance{ID: "i-1", Cluster: "test", Status: cluster.StatusDraining,
				EngineOutage: &cluster.EngineOutage{Since: time.Now(), Reason: "connection refused"}},
				ReclaimAt: time.Now().Add(time.Minute)}
			if err := tx.Create(inst); err != nil {
				return err
			}
			return tx.Create(newTask("t1", "i-1", task.Running))
		})
		time.Sleep(time.Minute)
		synctest.Wait()
		require.NoError(t, e.st.View(t.Context(), func(tx store.ReadTx) error {
			inst, err := store.Get[*state.Instance](tx, state.KindInstances, "i-1")
			require.NoError(t, err)
			assert.Equal(t, cluster.StatusInactive, inst.Status)
			tk, err := store.Get[*state.Task](tx, state.KindTasks, "t1")
			require.NoError(t, err)
			assert.Equal(t, task.Stopped, tk.DesiredStatus, "stopping")
			assert.Equal(t, task.Running, tk.LastStatus, "its agent reports the stop")
			return nil
		}))
	})
}
