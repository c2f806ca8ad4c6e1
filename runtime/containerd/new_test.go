//go:build linux

package containerd

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/runtime"
)

func TestNewFailsWithoutDaemon(t *testing.T) {
	t.Parallel()
	_, err := New(filepath.Join(t.TempDir(), "no.sock"), WithConnectTimeout(2*time.Second))
	require.Error(t, err)
	_, err = New("")
	require.ErrorIs(t, err, ErrInvalidOption)
}

func TestSnapshotterChoice(t *testing.T) {
	t.Parallel()
	needContainerd(t)
	_, err := New(testAddress, WithNamespace(testNamespace), WithSnapshotter("no-such-snapshotter"))
	require.Error(t, err, "an explicit snapshotter has no fallback")
	assert.Contains(t, err.Error(), "no-such-snapshotter")

	r := newRuntime(t, WithSnapshotter("native"))
	assert.Equal(t, "native", r.Snapshotter())
	assert.Equal(t, testNamespace, r.Namespace())
	// The image was unpacked for the default snapshotter only: Create
	// unpacks it into this one.
	code, out := runOutput(t, r, runtime.ContainerSpec{Command: []string{"echo", "native"}})
	require.Equal(t, 0, code)
	assert.Equal(t, "native\n", out)
}

func TestClosedRuntime(t *testing.T) {
	t.Parallel()
	r := newRuntime(t)
	require.NoError(t, r.Close())
	require.NoError(t, r.Close(), "Close twice")
	ctx := testCtx(t)
	require.ErrorIs(t, r.Create(ctx, runtime.ContainerSpec{ID: "x", Image: testImage}), ErrClosed)
	require.ErrorIs(t, r.EnsureImage(ctx, testImage, nil), ErrClosed)
	_, err := r.List(ctx, nil)
	require.ErrorIs(t, err, ErrClosed)
	_, err = r.Wait(ctx, "x")
	require.ErrorIs(t, err, ErrClosed)
}
