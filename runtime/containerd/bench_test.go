//go:build linux

package containerd

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/runtime"
)

// BenchmarkCreateStart measures Create+Start of a `sleep` container (Start
// returns once the process runs) and its Delete, through this runtime and,
// as a baseline in the same run, through plain containerd client calls
// doing the same (image lookup, a snapshot, a spec from the image config,
// a task with no output, wait, start, kill, delete). The runtime does more:
// a spec with capabilities, seccomp profile and cgroup mount, the start time
// recorded as a label (written after Start returns), a watcher for the exit. start-ms/op is the part up to the
// running process, delete-ms/op the rest.
func BenchmarkCreateStart(b *testing.B) {
	r := newRuntime(b)

	b.Run("stevedore", func(b *testing.B) {
		ctx := context.Background()
		var startTotal, deleteTotal time.Duration
		i := 0
		for b.Loop() {
			i++
			id := fmt.Sprintf("bench-sd-%d-%d", time.Now().UnixNano(), i)
			t0 := time.Now()
			require.NoError(b, r.Create(ctx, runtime.ContainerSpec{ID: id, Image: testImage, Command: []string{"sleep", "1000"}}))
			require.NoError(b, r.Start(ctx, id))
			t1 := time.Now()
			require.NoError(b, r.Delete(ctx, id))
			startTotal += t1.Sub(t0)
			deleteTotal += time.Since(t1)
		}
		b.ReportMetric(float64(startTotal.Milliseconds())/float64(i), "start-ms/op")
		b.ReportMetric(float64(deleteTotal.Milliseconds())/float64(i), "delete-ms/op")
	})

	b.Run("raw-client", func(b *testing.B) {
		ctx, err := r.begin(context.Background())
		require.NoError(b, err)
		c := r.client
		var startTotal, deleteTotal time.Duration
		i := 0
		for b.Loop() {
			i++
			id := fmt.Sprintf("bench-raw-%d-%d", time.Now().UnixNano(), i)
			t0 := time.Now()
			img, err := c.GetImage(ctx, testImage)
			require.NoError(b, err)
			cont, err := c.NewContainer(ctx, id,
				client.WithImage(img),
				client.WithSnapshotter(r.snapshotter),
				client.WithNewSnapshot(id, img),
				client.WithNewSpec(oci.WithImageConfig(img), oci.WithProcessArgs("sleep", "1000")),
				client.WithRuntime(DefaultRuntime, nil),
			)
			require.NoError(b, err)
			task, err := cont.NewTask(ctx, cio.NullIO)
			require.NoError(b, err)
			exited, err := task.Wait(ctx)
			require.NoError(b, err)
			require.NoError(b, task.Start(ctx))
			t1 := time.Now()
			require.NoError(b, task.Kill(ctx, syscall.SIGKILL))
			<-exited
			_, err = task.Delete(ctx)
			require.NoError(b, err)
			require.NoError(b, cont.Delete(ctx, client.WithSnapshotCleanup))
			startTotal += t1.Sub(t0)
			deleteTotal += time.Since(t1)
		}
		b.ReportMetric(float64(startTotal.Milliseconds())/float64(i), "start-ms/op")
		b.ReportMetric(float64(deleteTotal.Milliseconds())/float64(i), "delete-ms/op")
	})
}
