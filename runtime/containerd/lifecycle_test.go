//go:build linux

package containerd

import (
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/runtime/runtimetest"
)

func TestExitCodes(t *testing.T) {
	t.Parallel()
	r := newRuntime(t)
	tests := []struct {
		name string
		cmd  []string
		want int
	}{
		{"success", []string{"true"}, 0},
		{"failure", []string{"false"}, 1},
		{"explicit code", []string{"sh", "-c", "exit 42"}, 42},
		{"missing file in shell", []string{"sh", "-c", "exec /nonexistent"}, 127},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id := start(t, r, runtime.ContainerSpec{Command: tt.cmd})
			st := waitExit(t, r, id)
			assert.Equal(t, tt.want, st.Code)
			assert.False(t, st.ExitedAt.IsZero())

			info, err := r.Inspect(testCtx(t), id)
			require.NoError(t, err)
			assert.Equal(t, runtime.StateStopped, info.State)
			assert.Equal(t, tt.want, info.ExitCode)
			assert.Equal(t, testImage, info.Image)
			assert.False(t, info.StartedAt.IsZero())
			assert.False(t, info.ExitedAt.Before(info.StartedAt))

			// Wait on an exited container still delivers.
			assert.Equal(t, tt.want, waitExit(t, r, id).Code)
		})
	}
}

func TestSignals(t *testing.T) {
	t.Parallel()
	r := newRuntime(t)

	t.Run("SIGTERM handled", func(t *testing.T) {
		t.Parallel()
		out := runtimetest.NewOutput()
		id := start(t, r, runtime.ContainerSpec{
			Command: []string{"sh", "-c", `trap "exit 42" TERM; echo ready; while :; do sleep 0.05; done`},
			Stdout:  out,
		})
		out.WaitContains(t, "ready")
		require.NoError(t, r.Signal(testCtx(t), id, syscall.SIGTERM))
		assert.Equal(t, 42, waitExit(t, r, id).Code)
		require.ErrorIs(t, r.Signal(testCtx(t), id, syscall.SIGTERM), runtime.ErrNotRunning)
	})

	t.Run("SIGTERM ignored then SIGKILL", func(t *testing.T) {
		t.Parallel()
		out := runtimetest.NewOutput()
		id := start(t, r, runtime.ContainerSpec{
			Command: []string{"sh", "-c", `trap "" TERM; echo ready; while :; do sleep 1; done`},
			Stdout:  out,
		})
		out.WaitContains(t, "ready")
		require.NoError(t, r.Signal(testCtx(t), id, syscall.SIGTERM))
		// An ignored signal is discarded when sent: the container runs on.
		info, err := r.Inspect(testCtx(t), id)
		require.NoError(t, err)
		assert.Equal(t, runtime.StateRunning, info.State)
		assert.Positive(t, info.PID)

		require.NoError(t, r.Signal(testCtx(t), id, syscall.SIGKILL))
		assert.Equal(t, 128+int(syscall.SIGKILL), waitExit(t, r, id).Code)
	})

	t.Run("delete kills a running container", func(t *testing.T) {
		t.Parallel()
		id := start(t, r, runtime.ContainerSpec{Command: []string{"sleep", "1000"}})
		ch, err := r.Wait(testCtx(t), id)
		require.NoError(t, err)
		require.NoError(t, r.Delete(testCtx(t), id))
		st := <-ch
		require.NoError(t, st.Err)
		assert.Equal(t, 137, st.Code)
		_, err = r.Inspect(testCtx(t), id)
		require.ErrorIs(t, err, runtime.ErrNotFound)
	})
}
