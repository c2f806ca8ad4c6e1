//go:build linux

package containerd

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/internal/containerdtest"
	"github.com/stevedore-io/stevedore/runtime"
)

// TestDaemonOutage kills a containerd of the test's own under a running
// container and starts it again on the same directories: meanwhile calls
// fail with runtime.ErrUnavailable and the Wait channel stays open; once
// the daemon is back the runtime reconnects by itself, Exec runs in the
// same process, and the exit that follows reaches the Wait channel taken
// before the outage.
func TestDaemonOutage(t *testing.T) {
	t.Parallel()
	needContainerd(t)
	d := containerdtest.Start(t)
	r, err := New(d.Address(), WithNamespace(testNamespace), WithFIFODir(t.TempDir()))
	require.NoError(t, err)
	// Before the daemon's clean-up, which removes everything.
	t.Cleanup(func() {
		if !d.Running() {
			d.Start()
		}
		_ = r.Close()
	})
	require.NoError(t, importBusybox(r))
	id := start(t, r, runtime.ContainerSpec{Command: []string{"sleep", "3600"}})
	ctx := testCtx(t)
	exited, err := r.Wait(ctx, id)
	require.NoError(t, err)
	before, err := r.Inspect(ctx, id)
	require.NoError(t, err)
	require.Equal(t, runtime.StateRunning, before.State)

	d.Kill()
	_, err = r.Exec(ctx, id, []string{"true"})
	assert.ErrorIs(t, err, runtime.ErrUnavailable, "Exec")
	_, err = r.Inspect(ctx, id)
	assert.ErrorIs(t, err, runtime.ErrUnavailable, "Inspect")
	_, err = r.List(ctx, nil)
	assert.ErrorIs(t, err, runtime.ErrUnavailable, "List")
	assert.ErrorIs(t, r.Signal(ctx, id, syscall.SIGTERM), runtime.ErrUnavailable, "Signal")
	select {
	case st := <-exited:
		t.Fatalf("the wait ended with the daemon: %+v", st)
	default:
	}

	d.Start()
	// The client connects again with its own back-off.
	var res runtime.ExecResult
	deadline := time.Now().Add(time.Minute)
	for {
		callCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		res, err = r.Exec(callCtx, id, []string{"sh", "-c", "echo $$ $PPID"})
		cancel()
		if !errors.Is(err, runtime.ErrUnavailable) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond) // the client's reconnection has no event to wait for
	}
	require.NoError(t, err, "Exec once the daemon is back")
	assert.Zero(t, res.ExitCode)
	after, err := r.Inspect(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, before.PID, after.PID, "the same process")
	assert.Equal(t, runtime.StateRunning, after.State)

	require.NoError(t, r.Signal(ctx, id, syscall.SIGKILL))
	select {
	case st := <-exited:
		require.NoError(t, st.Err)
		assert.Equal(t, 137, st.Code)
	case <-time.After(30 * time.Second):
		t.Fatal("the exit after the outage did not reach the Wait channel taken before it")
	}
}
