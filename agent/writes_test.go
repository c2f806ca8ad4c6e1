package agent_test

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

// plainDef is a one-container definition without host ports, so that
// several of its tasks fit on the instance.
const plainDef = `{"family": "plain", "containerDefinitions": [{"name": "app", "image": "web:1", "memory": 128}]}`

// taskWrites returns the events that wrote task id (its creation included).
func (e *env) taskWrites(id string) []store.Event {
	var out []store.Event
	for _, ev := range e.history() {
		if ev.Kind == state.KindTasks && ev.ID == id {
			out = append(out, ev)
		}
	}
	return out
}

// countWrites returns the instance writes that changed its task counts.
func (e *env) countWrites() int {
	n := 0
	for _, ev := range e.history() {
		p, ok := ev.Prev.(*state.Instance)
		if !ok {
			continue
		}
		o := ev.Object.(*state.Instance)
		if p.RunningTasksCount != o.RunningTasksCount || p.PendingTasksCount != o.PendingTasksCount {
			n++
		}
	}
	return n
}

func TestTaskStartsInThreeWrites(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fake.WithImage("web:1", fake.Behavior{RunFor: fake.Forever}))
		e.runTask(e.register(webDef), "t1")
		e.start()
		advance(time.Second)

		writes := e.taskWrites("t1")
		require.Len(t, writes, 4, "created, then PENDING, ACTIVATING and RUNNING")
		var statuses []task.Status
		for _, ev := range writes {
			statuses = append(statuses, ev.Object.(*state.Task).LastStatus)
		}
		assert.Equal(t, []task.Status{task.Provisioning, task.Pending, task.Activating, task.Running}, statuses)

		// What was kept for later went in with the status writes, in
		// order: the pull began with PENDING; the pull's end, the
		// runtime ID and the running container with ACTIVATING.
		pending := writes[1].Object.(*state.Task)
		assert.False(t, pending.PullStartedAt.IsZero())
		assert.NotNil(t, pending.Network)
		activating := writes[2].Object.(*state.Task)
		assert.False(t, activating.PullStoppedAt.IsZero())
		assert.Equal(t, task.ContainerRunning, activating.Container("app").LastStatus)
		assert.Equal(t, "t1-app", activating.Container("app").RuntimeID)
		running := writes[3].Object.(*state.Task)
		assert.False(t, running.StartedAt.IsZero())
		assert.False(t, running.ConnectivityAt.IsZero())
	})
}

func TestCountsAreWrittenOncePerBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fake.WithImage("web:1", fake.Behavior{RunFor: fake.Forever}))
		ref := e.register(plainDef)
		e.start()
		before := e.countWrites()
		// The burst arrives in one transaction, as a service's scale-out
		// writes it: tasks written one by one may each start before the
		// next arrives, and then each is a burst of its own.
		const n = 5
		var ids []string
		for i := range n {
			ids = append(ids, fmt.Sprintf("t%d", i))
		}
		e.runTasks(ref, ids...)
		advance(time.Second)

		inst := e.instance()
		assert.Equal(t, n, inst.RunningTasksCount)
		assert.Equal(t, 0, inst.PendingTasksCount)
		// Without batching the counts change twice per task (pending,
		// then running): here at most once when the tasks arrive and
		// once when they all run.
		assert.LessOrEqual(t, e.countWrites()-before, 2)
	})
}

func TestCountsWaitWhileTasksStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Images that take a minute to pull keep the tasks PENDING.
		e := newEnv(t, fake.WithImage("web:1", fake.Behavior{RunFor: fake.Forever, PullDelay: time.Minute}))
		ref := e.register(plainDef)
		e.start()
		advance(time.Second)
		e.runTask(ref, "t1")
		synctest.Wait()
		assert.Equal(t, 1, e.instance().PendingTasksCount, "the first change is written at once")

		e.runTask(ref, "t2")
		synctest.Wait()
		assert.Equal(t, 1, e.instance().PendingTasksCount, "the next waits while tasks start")
		advance(time.Second)
		assert.Equal(t, 2, e.instance().PendingTasksCount)
	})
}
