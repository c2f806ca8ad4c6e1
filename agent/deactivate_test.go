package agent_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/task"
)

// drainHook is a Deactivate hook that blocks until the test releases it.
type drainHook struct {
	calls   chan *state.Task
	release chan error
}

func newDrainHook() *drainHook {
	return &drainHook{calls: make(chan *state.Task, 8), release: make(chan error, 8)}
}

func (h *drainHook) deactivate(ctx context.Context, t *state.Task) error {
	h.calls <- t
	select {
	case err := <-h.release:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestSIGTERMWaitsForDeactivation(t *testing.T) {
	for _, hookErr := range []error{nil, errors.New("target group gone")} {
		t.Run(sprintf("hook error %v", hookErr), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t, fake.WithImage("web:1", fake.Behavior{RunFor: fake.Forever}))
				hook := newDrainHook()
				e.cfg.Deactivate = hook.deactivate
				e.runTask(e.register(webDef), "t1")
				e.start()
				advance(time.Second)
				require.Equal(t, task.Running, e.task("t1").LastStatus)

				e.stopTask("t1", "scale in")
				synctest.Wait()
				var seen *state.Task
				select {
				case seen = <-hook.calls:
				default:
					t.Fatal("Deactivate not called")
				}
				assert.Equal(t, task.Deactivating, seen.LastStatus, "the hook sees the task DEACTIVATING")
				advance(time.Hour) // as long as the hook takes
				assert.Equal(t, task.Deactivating, e.task("t1").LastStatus)
				assert.Empty(t, e.rt.CallsTo(fake.MethodSignal), "no SIGTERM while deactivating")

				hook.release <- hookErr
				advance(time.Minute)
				signals := e.rt.CallsTo(fake.MethodSignal)
				require.NotEmpty(t, signals, "SIGTERM once the hook returned")
				tk := e.task("t1")
				assert.Equal(t, task.Stopped, tk.LastStatus)
				assert.Equal(t, []task.Status{task.Provisioning, task.Pending, task.Activating, task.Running,
					task.Deactivating, task.Stopping, task.Deprovisioning, task.Stopped}, e.statuses("t1"))
				assert.Empty(t, hook.calls, "called once")
			})
		})
	}
}

func TestDeactivationNotForTasksThatNeverStarted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fake.WithImage("web:1", fake.Behavior{PullDelay: time.Hour, RunFor: fake.Forever}))
		hook := newDrainHook()
		e.cfg.Deactivate = hook.deactivate
		e.runTask(e.register(webDef), "t1")
		e.start()
		advance(time.Second)
		e.stopTask("t1", "never mind")
		advance(time.Minute)
		assert.Equal(t, task.Stopped, e.task("t1").LastStatus)
		assert.Empty(t, hook.calls)
	})
}

func TestDeactivationResumesAfterAgentRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fake.WithImage("web:1", fake.Behavior{RunFor: fake.Forever}))
		hook := newDrainHook()
		e.cfg.Deactivate = hook.deactivate
		e.runTask(e.register(webDef), "t1")
		first := e.start()
		advance(time.Second)
		e.stopTask("t1", "scale in")
		synctest.Wait()
		require.Len(t, hook.calls, 1)
		<-hook.calls

		// The agent goes away mid-drain: Run returns, the task stays
		// DEACTIVATING with its containers running.
		require.NoError(t, first.stop())
		assert.Equal(t, task.Deactivating, e.task("t1").LastStatus)
		assert.Empty(t, e.rt.CallsTo(fake.MethodSignal))

		// The next agent deactivates again (the hook is idempotent), then
		// stops the task.
		e.start()
		synctest.Wait()
		require.Len(t, hook.calls, 1, "called again after the restart")
		<-hook.calls
		assert.Empty(t, e.rt.CallsTo(fake.MethodSignal))
		hook.release <- nil
		advance(time.Minute)
		assert.Equal(t, task.Stopped, e.task("t1").LastStatus)
		assert.NotEmpty(t, e.rt.CallsTo(fake.MethodSignal))
	})
}
