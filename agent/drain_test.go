package agent_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/agent"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

// drained names the drainers of a task in the store.
func drained(by ...string) func(*state.Task) {
	return func(t *state.Task) { t.Drain = &state.Drain{By: by} }
}

// changeDrain writes a change to task id's drain, as a drainer does.
func (e *env) changeDrain(id string, change func(d *state.Drain)) {
	e.t.Helper()
	require.NoError(e.t, e.store.Update(e.ctx, func(tx store.Tx) error {
		cur, err := store.Get[*state.Task](tx, state.KindTasks, id)
		if err != nil {
			return err
		}
		next := cur.Copy()
		change(next.Drain)
		return tx.Update(next)
	}))
}

func TestSIGTERMWaitsForTheDrainers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fake.WithImage("web:1", fake.Behavior{RunFor: fake.Forever}))
		e.runTaskWith(e.register(webDef), "t1", drained(state.DrainTargets, state.DrainDNS))
		e.start()
		advance(time.Second)
		require.Equal(t, task.Running, e.task("t1").LastStatus)

		e.stopTask("t1", "scale in")
		advance(agent.MaxDrainWait / 3) // as long as the drainers take
		assert.Equal(t, task.Deactivating, e.task("t1").LastStatus)
		assert.Empty(t, e.rt.CallsTo(fake.MethodSignal), "no SIGTERM while draining")

		e.changeDrain("t1", func(d *state.Drain) { d.Done = append(d.Done, state.DrainDNS) })
		advance(agent.MaxDrainWait / 3)
		assert.Empty(t, e.rt.CallsTo(fake.MethodSignal), "one drainer is not all")

		e.changeDrain("t1", func(d *state.Drain) { d.Done = append(d.Done, state.DrainTargets) })
		synctest.Wait()
		signals := e.rt.CallsTo(fake.MethodSignal)
		require.NotEmpty(t, signals, "SIGTERM once drained")
		assert.Equal(t, time.Now(), signals[0].Time, "at once")
		advance(time.Minute)
		assert.Equal(t, task.Stopped, e.task("t1").LastStatus)
		assert.Equal(t, []task.Status{task.Provisioning, task.Pending, task.Activating, task.Running,
			task.Deactivating, task.Stopping, task.Deprovisioning, task.Stopped}, e.statuses("t1"))
	})
}

func TestDrainDeadlineEndsTheWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fake.WithImage("web:1", fake.Behavior{RunFor: fake.Forever}))
		e.runTaskWith(e.register(webDef), "t1", drained(state.DrainTargets))
		e.start()
		advance(time.Second)
		e.stopTask("t1", "scale in")
		synctest.Wait()
		deadline := time.Now().Add(35 * time.Second)
		e.changeDrain("t1", func(d *state.Drain) { d.Deadline = deadline })
		advance(34 * time.Second)
		assert.Empty(t, e.rt.CallsTo(fake.MethodSignal), "before the deadline")
		advance(time.Second)
		signals := e.rt.CallsTo(fake.MethodSignal)
		require.NotEmpty(t, signals)
		assert.Equal(t, deadline, signals[0].Time, "SIGTERM at the deadline")
	})
}

func TestDrainersThatNeverAnswerHoldNoTaskForever(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fake.WithImage("web:1", fake.Behavior{RunFor: fake.Forever}))
		e.runTaskWith(e.register(webDef), "t1", drained(state.DrainTargets))
		e.start()
		advance(time.Second)
		asked := time.Now()
		e.stopTask("t1", "scale in")
		advance(agent.MaxDrainWait + time.Minute)
		signals := e.rt.CallsTo(fake.MethodSignal)
		require.NotEmpty(t, signals)
		assert.Equal(t, asked.Add(agent.MaxDrainWait), signals[0].Time)
		assert.Equal(t, task.Stopped, e.task("t1").LastStatus)
	})
}

func TestNoDrainForTasksThatNeverStarted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fake.WithImage("web:1", fake.Behavior{PullDelay: time.Hour, RunFor: fake.Forever}))
		e.runTaskWith(e.register(webDef), "t1", drained(state.DrainTargets))
		e.start()
		advance(time.Second)
		e.stopTask("t1", "never mind")
		advance(time.Minute)
		assert.Equal(t, task.Stopped, e.task("t1").LastStatus)
		assert.NotContains(t, e.statuses("t1"), task.Deactivating)
	})
}

func TestDrainResumesAfterAgentRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fake.WithImage("web:1", fake.Behavior{RunFor: fake.Forever}))
		e.runTaskWith(e.register(webDef), "t1", drained(state.DrainTargets))
		first := e.start()
		advance(time.Second)
		e.stopTask("t1", "scale in")
		advance(time.Minute)

		// The agent goes away mid-drain: Run returns, the task stays
		// DEACTIVATING with its containers running.
		require.NoError(t, first.stop())
		assert.Equal(t, task.Deactivating, e.task("t1").LastStatus)
		assert.Empty(t, e.rt.CallsTo(fake.MethodSignal))

		// The next agent waits on the stored drain, and stops the task
		// once it is drained.
		e.start()
		advance(time.Minute)
		assert.Empty(t, e.rt.CallsTo(fake.MethodSignal))
		e.changeDrain("t1", func(d *state.Drain) { d.Done = append(d.Done, state.DrainTargets) })
		advance(time.Minute)
		assert.Equal(t, task.Stopped, e.task("t1").LastStatus)
		assert.NotEmpty(t, e.rt.CallsTo(fake.MethodSignal))
	})
}
