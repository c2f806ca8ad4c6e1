//go:build linux

package containerd

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/images"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/stevedore-io/stevedore/internal/containerdtest"
	"github.com/stevedore-io/stevedore/internal/ocitest"
	"github.com/stevedore-io/stevedore/runtime"
)

// testImage is the busybox image imported once for the whole package.
const testImage = "stevedore.local/busybox:test"

var (
	// skipReason is why the integration tests cannot run ("" when they can).
	skipReason string
	// testAddress is containerd's socket.
	testAddress string
	// testNamespace is unique to this run of the package's tests, so that
	// the final leak check sees only what they left.
	testNamespace string
	// testFIFODir holds the FIFOs of every Runtime of the tests.
	testFIFODir string
)

func TestMain(m *testing.M) {
	code := testMain(m)
	// After testMain's deferred clean-up has closed the Runtime: no
	// goroutine of ours, nor of the containerd client, may outlive it.
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func testMain(m *testing.M) int {
	testAddress = os.Getenv("STEVEDORE_CONTAINERD_ADDRESS")
	switch {
	case os.Geteuid() != 0:
		skipReason = "integration tests need root (run: sudo ./scripts/with-containerd.sh go test ./runtime/containerd/)"
	case testAddress == "":
		skipReason = "STEVEDORE_CONTAINERD_ADDRESS is not set (run under ./scripts/with-containerd.sh)"
	}
	if skipReason != "" {
		return m.Run()
	}

	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	testNamespace = "stevedore-test-" + hex.EncodeToString(suffix[:])
	dir, err := os.MkdirTemp("", "stevedore-fifo-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "fifo dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	testFIFODir = dir

	r, err := New(testAddress, WithNamespace(testNamespace), WithFIFODir(testFIFODir))
	if err != nil {
		fmt.Fprintln(os.Stderr, "connect to containerd:", err)
		return 1
	}
	defer r.Close()
	defer cleanupNamespace(r)
	if err := importBusybox(r); err != nil {
		fmt.Fprintln(os.Stderr, "import busybox image:", err)
		return 1
	}

	code := m.Run()
	if code == 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := r.LeakCheck(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "leak check:", err)
			code = 1
		}
	}
	return code
}

func importBusybox(r *Runtime) error {
	var archive bytes.Buffer
	if err := ocitest.BusyboxArchive(&archive, testImage, nil); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	names, err := r.ImportArchive(ctx, &archive)
	if err != nil {
		return err
	}
	if len(names) != 1 || names[0] != testImage {
		return fmt.Errorf("imported %v, want [%s]", names, testImage)
	}
	return nil
}

// cleanupNamespace removes the test images and then the namespace, so that
// a shared containerd keeps nothing of the run.
func cleanupNamespace(r *Runtime) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ctx, err := r.begin(ctx)
	if err != nil {
		return
	}
	imgs, err := r.client.ImageService().List(ctx)
	if err == nil {
		for i, img := range imgs {
			var opts []images.DeleteOpt
			if i == len(imgs)-1 {
				opts = append(opts, images.SynchronousDelete())
			}
			_ = r.client.ImageService().Delete(ctx, img.Name, opts...)
		}
	}
	if err := r.client.NamespaceService().Delete(ctx, testNamespace); err != nil {
		fmt.Fprintln(os.Stderr, "note: namespace", testNamespace, "not removed:", err)
	}
	containerdtest.RemoveCgroups(testNamespace)
}

// needContainerd skips the test with -short, and when containerd is not
// available, except under CI=true, where that fails it.
func needContainerd(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: skipped with -short")
	}
	if skipReason == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: integration tests must run)", skipReason)
	}
	t.Skip(skipReason)
}

// newRuntime returns a Runtime for the test's namespace, closed at cleanup.
func newRuntime(t testing.TB, opts ...Option) *Runtime {
	t.Helper()
	needContainerd(t)
	opts = append([]Option{WithNamespace(testNamespace), WithFIFODir(testFIFODir)}, opts...)
	r, err := New(testAddress, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	return r
}

var nonIDChars = regexp.MustCompile(`[^A-Za-z0-9]+`)

// uniqueID returns a container ID derived from the test name.
func uniqueID(t testing.TB) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := strings.Trim(nonIDChars.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(name) > 50 {
		name = name[len(name)-50:]
		name = strings.TrimLeft(name, "-")
	}
	return name + "-" + hex.EncodeToString(b[:])
}

// testCtx returns a context that ends with the test (bounded, so that a
// hung daemon fails the test instead of the whole run).
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// create creates a container from spec (ID and Image filled in when empty)
// and deletes it at cleanup, whatever the test's outcome.
func create(t testing.TB, r *Runtime, spec runtime.ContainerSpec) string {
	t.Helper()
	if spec.ID == "" {
		spec.ID = uniqueID(t)
	}
	if spec.Image == "" {
		spec.Image = testImage
	}
	require.NoError(t, r.Create(testCtx(t), spec))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := r.Delete(ctx, spec.ID); err != nil && !strings.Contains(err.Error(), "closed") {
			require.ErrorIs(t, err, runtime.ErrNotFound, "cleanup of %s", spec.ID)
		}
	})
	return spec.ID
}

// start creates and starts a container.
func start(t testing.TB, r *Runtime, spec runtime.ContainerSpec) string {
	t.Helper()
	id := create(t, r, spec)
	require.NoError(t, r.Start(testCtx(t), id))
	return id
}

// waitExit waits for the container's exit status.
func waitExit(t testing.TB, r *Runtime, id string) runtime.ExitStatus {
	t.Helper()
	ch, err := r.Wait(testCtx(t), id)
	require.NoError(t, err)
	st, ok := <-ch
	require.True(t, ok, "wait channel closed without a status")
	require.NoError(t, st.Err)
	return st
}

// importMarkedImage imports a busybox image with a file /marker holding
// marker, named stevedore.local/marked:<marker>: its layer is its own, shared
// with no other image. The image is removed at cleanup if still there.
func importMarkedImage(t testing.TB, r *Runtime, marker string) string {
	t.Helper()
	ref := "stevedore.local/marked:" + marker
	var archive bytes.Buffer
	if err := ocitest.BusyboxArchive(&archive, ref, map[string][]byte{"/marker": []byte(marker)}); err != nil {
		t.Skipf("cannot build the busybox image: %v", err)
	}
	names, err := r.ImportArchive(testCtx(t), &archive)
	require.NoError(t, err)
	require.Equal(t, []string{ref}, names)
	t.Cleanup(func() {
		if err := r.RemoveImage(context.Background(), ref); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("cleanup: remove image %s: %v", ref, err)
		}
	})
	return ref
}
