package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/runtime/containerd"
)

func TestWebappArchiveIsDeterministic(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("needs a static busybox (busybox-static)")
	}
	a, _, err := webappArchive("v1", "v2")
	require.NoError(t, err)
	b, _, err := webappArchive("v1", "v2")
	require.NoError(t, err)
	assert.Equal(t, a, b, "the same versions must give the same archive")
}

// TestWebappImage runs the webapp image in a real container: its page names
// the version, and SIGTERM stops it at once with exit code 0.
func TestWebappImage(t *testing.T) {
	addr := needContainerd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	rt, err := containerd.New(addr, containerd.WithNamespace("stevedore-quickstart-image-test"),
		containerd.WithFIFODir(t.TempDir()))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, rt.Close()) })

	archive, _, err := webappArchive("v1", "v2")
	require.NoError(t, err)
	names, err := rt.ImportArchive(ctx, bytes.NewReader(archive))
	require.NoError(t, err)
	assert.Equal(t, []string{webappRef("v1"), webappRef("v2")}, names)

	for _, version := range []string{"v1", "v2"} {
		t.Run(version, func(t *testing.T) {
			id := "webapp-image-test-" + version
			require.NoError(t, rt.EnsureImage(ctx, webappRef(version), nil))
			require.NoError(t, rt.Create(ctx, runtime.ContainerSpec{ID: id, Image: webappRef(version), Hostname: "probe-" + version}))
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				assert.NoError(t, rt.Delete(ctx, id))
			})
			exited, err := rt.Wait(ctx, id)
			require.NoError(t, err)
			require.NoError(t, rt.Start(ctx, id))

			// httpd needs a moment to listen; the health check of the task
			// definition retries the same way.
			var page string
			for attempt := 0; attempt < 50; attempt++ {
				res, err := rt.Exec(ctx, id, []string{"sh", "-c", "wget -q -O - http://127.0.0.1:8080/"})
				require.NoError(t, err)
				if res.ExitCode == 0 {
					page = string(res.Output)
					break
				}
				select {
				case <-ctx.Done():
					t.Fatal(ctx.Err())
				case <-time.After(100 * time.Millisecond):
				}
			}
			assert.Equal(t, "webapp "+version+" on probe-"+version+"\n", page)

			start := time.Now()
			require.NoError(t, rt.Signal(ctx, id, syscall.SIGTERM))
			select {
			case st := <-exited:
				require.NoError(t, st.Err)
				assert.Equal(t, 0, st.Code, "the entrypoint turns SIGTERM into exit 0")
				assert.Less(t, time.Since(start), 5*time.Second)
			case <-ctx.Done():
				t.Fatal("the container did not stop on SIGTERM")
			}
		})
	}
	require.NoError(t, rt.LeakCheck(ctx), strings.Join(names, ", "))
}
