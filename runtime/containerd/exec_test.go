//go:build linux

package containerd

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/runtime/runtimetest"
)

func TestExec(t *testing.T) {
	t.Parallel()
	r := newRuntime(t)
	id := start(t, r, runtime.ContainerSpec{
		Command: []string{"sleep", "1000"}, Env: []string{"GREETING=hello"}, User: "1000", WorkingDir: "/tmp",
	})

	tests := []struct {
		name     string
		cmd      []string
		wantCode int
		want     string
	}{
		{"output and exit code", []string{"sh", "-c", "echo out; echo err >&2; exit 3"}, 3, "out\nerr\n"},
		{"container's env, user and dir", []string{"sh", "-c", `echo "$GREETING $(id -u) $(pwd)"`}, 0, "hello 1000 /tmp\n"},
		{"missing command", []string{"/no/such/binary"}, 127, "no such file"},
		{"not executable", []string{"/etc/passwd"}, 126, "permission denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := r.Exec(testCtx(t), id, tt.cmd)
			require.NoError(t, err)
			assert.Equal(t, tt.wantCode, res.ExitCode)
			for _, line := range strings.Split(strings.TrimSpace(tt.want), "\n") {
				// stdout and stderr are copied concurrently: their
				// relative order is not kept.
				assert.Contains(t, strings.ToLower(string(res.Output)), line)
			}
		})
	}

	t.Run("output is bounded", func(t *testing.T) {
		t.Parallel()
		res, err := r.Exec(testCtx(t), id, []string{"sh", "-c", "yes | head -c 100000"})
		require.NoError(t, err)
		assert.Equal(t, 0, res.ExitCode)
		assert.Len(t, res.Output, maxExecOutput)
	})

	t.Run("deadline kills the command", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(testCtx(t), 300*time.Millisecond)
		defer cancel()
		_, err := r.Exec(ctx, id, []string{"sh", "-c", "echo started; exec sleep 999"})
		require.ErrorIs(t, err, context.DeadlineExceeded)
		res, err := r.Exec(testCtx(t), id, []string{"ps", "-o", "args"})
		require.NoError(t, err)
		assert.NotContains(t, string(res.Output), "sleep 999", "timed-out exec left running")
	})

	t.Run("empty command", func(t *testing.T) {
		t.Parallel()
		_, err := r.Exec(testCtx(t), id, nil)
		require.ErrorIs(t, err, runtime.ErrInvalidSpec)
	})
}

func TestExecNeedsARunningContainer(t *testing.T) {
	t.Parallel()
	r := newRuntime(t)
	created := create(t, r, runtime.ContainerSpec{Command: []string{"sleep", "1000"}})
	_, err := r.Exec(testCtx(t), created, []string{"true"})
	require.ErrorIs(t, err, runtime.ErrNotRunning)

	exited := start(t, r, runtime.ContainerSpec{Command: []string{"true"}})
	waitExit(t, r, exited)
	_, err = r.Exec(testCtx(t), exited, []string{"true"})
	require.ErrorIs(t, err, runtime.ErrNotRunning)

	_, err = r.Exec(testCtx(t), "no-such-container", []string{"true"})
	require.ErrorIs(t, err, runtime.ErrNotFound)
}

func TestLifecycleErrors(t *testing.T) {
	t.Parallel()
	r := newRuntime(t)
	ctx := testCtx(t)

	id := create(t, r, runtime.ContainerSpec{Command: []string{"sleep", "1000"}})
	require.ErrorIs(t, r.Create(ctx, runtime.ContainerSpec{ID: id, Image: testImage}), runtime.ErrAlreadyExists)
	require.ErrorIs(t, r.Signal(ctx, id, syscall.SIGTERM), runtime.ErrNotRunning)
	info, err := r.Inspect(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, runtime.StateCreated, info.State)
	assert.True(t, info.StartedAt.IsZero())

	require.NoError(t, r.Start(ctx, id))
	require.ErrorIs(t, r.Start(ctx, id), runtime.ErrAlreadyStarted)

	err = r.Create(ctx, runtime.ContainerSpec{ID: uniqueID(t), Image: "stevedore.local/missing:1"})
	require.ErrorIs(t, err, runtime.ErrNotFound)

	missing := create(t, r, runtime.ContainerSpec{Command: []string{"/no/such/binary"}})
	require.ErrorIs(t, r.Start(ctx, missing), runtime.ErrStart)
	info, err = r.Inspect(ctx, missing)
	require.NoError(t, err)
	assert.Equal(t, runtime.StateCreated, info.State)

	const unknown = "no-such-container"
	require.ErrorIs(t, r.Start(ctx, unknown), runtime.ErrNotFound)
	require.ErrorIs(t, r.Signal(ctx, unknown, syscall.SIGTERM), runtime.ErrNotFound)
	require.ErrorIs(t, r.Delete(ctx, unknown), runtime.ErrNotFound)
	_, err = r.Wait(ctx, unknown)
	require.ErrorIs(t, err, runtime.ErrNotFound)
	_, err = r.Inspect(ctx, unknown)
	require.ErrorIs(t, err, runtime.ErrNotFound)
	_, err = r.Stats(ctx, unknown)
	require.ErrorIs(t, err, runtime.ErrNotFound)
}

func TestWaitBeforeStartAndAfterDelete(t *testing.T) {
	t.Parallel()
	r := newRuntime(t)
	id := create(t, r, runtime.ContainerSpec{Command: []string{"sh", "-c", "exit 5"}})
	ch, err := r.Wait(testCtx(t), id)
	require.NoError(t, err)
	require.NoError(t, r.Start(testCtx(t), id))
	st := <-ch
	require.NoError(t, st.Err)
	assert.Equal(t, 5, st.Code)
	_, open := <-ch
	assert.False(t, open, "channel is closed after the status")

	never := create(t, r, runtime.ContainerSpec{Command: []string{"true"}})
	ch, err = r.Wait(testCtx(t), never)
	require.NoError(t, err)
	require.NoError(t, r.Delete(testCtx(t), never))
	st = <-ch
	require.ErrorIs(t, st.Err, runtime.ErrNotFound)

	ctx, cancel := context.WithCancel(testCtx(t))
	running := start(t, r, runtime.ContainerSpec{Command: []string{"sleep", "1000"}})
	ch, err = r.Wait(ctx, running)
	require.NoError(t, err)
	cancel()
	st = <-ch
	require.ErrorIs(t, st.Err, context.Canceled)
}

func TestDeleteRemovesSnapshotAndFIFOs(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, WithFIFODir(filepath.Join(t.TempDir(), "fifo")))
	out := runtimetest.NewOutput()
	id := start(t, r, runtime.ContainerSpec{Command: []string{"sh", "-c", "echo ready; exec sleep 1000"}, Stdout: out})
	out.WaitContains(t, "ready")

	ctx, err := r.begin(testCtx(t))
	require.NoError(t, err)
	sn := r.client.SnapshotService(r.Snapshotter())
	_, err = sn.Stat(ctx, id)
	require.NoError(t, err, "the container has a writable snapshot")
	dirs, err := os.ReadDir(r.opts.fifoDir)
	require.NoError(t, err)
	require.Len(t, dirs, 1)
	assert.True(t, strings.HasPrefix(dirs[0].Name(), id+"-"))

	res, err := r.Exec(testCtx(t), id, []string{"true"})
	require.NoError(t, err)
	require.Equal(t, 0, res.ExitCode)
	dirs, err = os.ReadDir(r.opts.fifoDir)
	require.NoError(t, err)
	assert.Len(t, dirs, 1, "exec FIFOs are removed after the exec")

	require.NoError(t, r.Delete(testCtx(t), id))
	_, err = sn.Stat(ctx, id)
	require.Error(t, err, "snapshot removed")
	dirs, err = os.ReadDir(r.opts.fifoDir)
	require.NoError(t, err)
	assert.Empty(t, dirs, "FIFO directory removed")
}

func TestLabelsAndList(t *testing.T) {
	t.Parallel()
	r := newRuntime(t)
	ctx := testCtx(t)
	group := uniqueID(t)
	tricky := `a "quoted", value=with,commas`
	web := start(t, r, runtime.ContainerSpec{Command: []string{"sleep", "1000"}, Labels: map[string]string{"group": group, "role": "web", "note": tricky}})
	worker := create(t, r, runtime.ContainerSpec{Command: []string{"true"}, Labels: map[string]string{"group": group, "role": "worker", "io.example/k": "v"}})

	tests := []struct {
		name     string
		selector map[string]string
		want     []string
	}{
		{"group", map[string]string{"group": group}, []string{web, worker}},
		{"two labels", map[string]string{"group": group, "role": "web"}, []string{web}},
		{"quoted value", map[string]string{"group": group, "note": tricky}, []string{web}},
		{"key with slash", map[string]string{"group": group, "io.example/k": "v"}, []string{worker}},
		{"no match", map[string]string{"group": group, "role": "db"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			infos, err := r.List(ctx, tt.selector)
			require.NoError(t, err)
			var ids []string
			for _, i := range infos {
				ids = append(ids, i.ID)
			}
			want := tt.want
			if len(want) == 2 && want[0] > want[1] {
				want = []string{want[1], want[0]}
			}
			assert.Equal(t, want, ids)
		})
	}

	all, err := r.List(ctx, nil)
	require.NoError(t, err)
	byID := map[string]runtime.ContainerInfo{}
	for _, i := range all {
		byID[i.ID] = i
	}
	require.Contains(t, byID, web)
	require.Contains(t, byID, worker)
	assert.Equal(t, runtime.StateRunning, byID[web].State)
	assert.Positive(t, byID[web].PID)
	assert.Equal(t, map[string]string{"group": group, "role": "web", "note": tricky}, byID[web].Labels, "internal labels are hidden")
	assert.Equal(t, runtime.StateCreated, byID[worker].State)
	assert.False(t, byID[web].CreatedAt.IsZero())

	err = r.Create(ctx, runtime.ContainerSpec{ID: uniqueID(t), Image: testImage, Labels: map[string]string{labelStartedAt: "x"}})
	require.ErrorIs(t, err, runtime.ErrInvalidSpec)
}

func TestAdoptionByANewRuntime(t *testing.T) {
	t.Parallel()
	first := newRuntime(t)
	out := runtimetest.NewOutput()
	id := start(t, first, runtime.ContainerSpec{
		Command: []string{"sh", "-c", "echo ready; while :; do echo tick; sleep 0.1; done"},
		Labels:  map[string]string{"adopt": "yes"},
		Stdout:  out,
	})
	out.WaitContains(t, "ready")
	before, err := first.Inspect(testCtx(t), id)
	require.NoError(t, err)
	require.False(t, before.StartedAt.IsZero(), "the start time, while its label may be on its way")
	pending, err := first.Wait(testCtx(t), id)
	require.NoError(t, err)
	require.NoError(t, first.Close())
	require.ErrorIs(t, (<-pending).Err, ErrClosed)
	require.ErrorIs(t, first.Start(testCtx(t), id), ErrClosed)

	second := newRuntime(t)
	infos, err := second.List(testCtx(t), map[string]string{"adopt": "yes"})
	require.NoError(t, err)
	var found *runtime.ContainerInfo
	for i := range infos {
		if infos[i].ID == id {
			found = &infos[i]
		}
	}
	require.NotNil(t, found)
	assert.Equal(t, runtime.StateRunning, found.State)
	assert.True(t, before.StartedAt.Equal(found.StartedAt), "start time survives the restart: %v, then %v", before.StartedAt, found.StartedAt)

	require.ErrorIs(t, second.Start(testCtx(t), id), runtime.ErrAlreadyStarted)
	res, err := second.Exec(testCtx(t), id, []string{"echo", "adopted"})
	require.NoError(t, err)
	assert.Equal(t, "adopted\n", string(res.Output))
	require.NoError(t, second.Signal(testCtx(t), id, syscall.SIGKILL))
	assert.Equal(t, 137, waitExit(t, second, id).Code)
	require.NoError(t, second.Delete(testCtx(t), id))

	entries, err := os.ReadDir(testFIFODir)
	require.NoError(t, err)
	for _, e := range entries {
		assert.False(t, strings.HasPrefix(e.Name(), id+"-"), "FIFOs of the adopted container removed")
	}
}

// TestExecDeadlineDuringStartKillsTheCommand makes the deadline of an Exec
// fall while the daemon's reply to Start is on its way: the command runs,
// and the client never learns its PID (which is what the containerd
// client's own kill-on-delete goes by). The command must not be left
// running.
func TestExecDeadlineDuringStartKillsTheCommand(t *testing.T) {
	t.Parallel()
	var delayed atomic.Bool // the first exec's Start only
	lateStart := grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		start, ok := req.(*tasks.StartRequest)
		if !ok || start.ExecID == "" || !delayed.CompareAndSwap(false, true) {
			return invoker(ctx, method, req, reply, cc, opts...)
		}
		if err := invoker(context.WithoutCancel(ctx), method, req, reply, cc, opts...); err != nil {
			return err
		}
		<-ctx.Done() // the reply arrives too late
		return status.FromContextError(ctx.Err()).Err()
	})
	r := newRuntime(t, func(o *options) error {
		o.dialOpts = append(o.dialOpts, lateStart)
		return nil
	})
	id := start(t, r, runtime.ContainerSpec{Command: []string{"sleep", "1000"}})

	ctx, cancel := context.WithTimeout(testCtx(t), 2*time.Second)
	defer cancel()
	_, err := r.Exec(ctx, id, []string{"sleep", "999"})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	res, err := r.Exec(testCtx(t), id, []string{"ps", "-o", "args"})
	require.NoError(t, err)
	assert.NotContains(t, string(res.Output), "sleep 999", "the command was left running")
}
