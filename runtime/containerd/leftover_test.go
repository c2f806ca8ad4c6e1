//go:build linux

package containerd

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/image-spec/identity"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/runtime"
)

// leftSnapshot prepares the snapshot of container id under a lease, as a
// process killed while it created the container leaves it: without the
// container (the process died between the two), and kept from garbage
// collection by the dead client's lease.
func leftSnapshot(t *testing.T, r *Runtime, id string) {
	t.Helper()
	ctx, err := r.begin(testCtx(t))
	require.NoError(t, err)
	img, err := r.client.GetImage(ctx, testImage)
	require.NoError(t, err)
	diffIDs, err := img.RootFS(ctx)
	require.NoError(t, err)
	// Under a lease, as the killed client's: garbage collection leaves
	// the snapshot alone.
	leased, done, err := r.client.WithLease(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = done(context.WithoutCancel(leased)) })
	_, err = r.client.SnapshotService(r.snapshotter).Prepare(leased, id, identity.ChainID(diffIDs).String())
	require.NoError(t, err, "the snapshot a killed Create left")
}

// TestCreateAfterAKilledCreate: creating the container again removes the
// snapshot a killed Create left and creates it, instead of failing with
// "already exists".
func TestCreateAfterAKilledCreate(t *testing.T) {
	t.Parallel()
	r := newRuntime(t)
	id := uniqueID(t)
	leftSnapshot(t, r, id)

	create(t, r, runtime.ContainerSpec{ID: id, Command: []string{"true"}})
	require.NoError(t, r.Start(testCtx(t), id))
	require.Equal(t, 0, waitExit(t, r, id).Code)
}

// TestDeleteAfterAKilledCreate: deleting the container (not found) removes
// the snapshot a killed Create left.
func TestDeleteAfterAKilledCreate(t *testing.T) {
	t.Parallel()
	r := newRuntime(t)
	id := uniqueID(t)
	leftSnapshot(t, r, id)

	require.ErrorIs(t, r.Delete(testCtx(t), id), runtime.ErrNotFound)
	ctx, err := r.begin(testCtx(t))
	require.NoError(t, err)
	_, err = r.client.SnapshotService(r.snapshotter).Stat(ctx, id)
	require.True(t, errdefs.IsNotFound(err), "the snapshot is gone: %v", err)
}

// leftFIFODir makes a FIFO directory of container id, as outputCreator
// makes one and as a process killed before containerd had the task leaves
// it, and returns its path.
func leftFIFODir(t *testing.T, r *Runtime, name string) string {
	t.Helper()
	dir := filepath.Join(r.opts.fifoDir, name)
	require.NoError(t, os.MkdirAll(dir, 0o700))
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// TestDeleteRemovesTheFIFOsAKilledStartLeft: the FIFO directories of a
// container whose task was never made (its process was killed between the
// two) go with the container, whether it was created or not; another
// container's, whose ID extends this one's, stay.
func TestDeleteRemovesTheFIFOsAKilledStartLeft(t *testing.T) {
	t.Parallel()
	r := newRuntime(t)
	id := uniqueID(t)
	create(t, r, runtime.ContainerSpec{ID: id, Command: []string{"true"}})
	left := leftFIFODir(t, r, id+"-2709529795")
	other := leftFIFODir(t, r, id+"-2-1304059185")
	never := uniqueID(t)
	leftNever := leftFIFODir(t, r, never+"-42")

	require.NoError(t, r.Delete(testCtx(t), id))
	require.NoDirExists(t, left)
	require.DirExists(t, other, "another container's FIFOs")
	require.ErrorIs(t, r.Delete(testCtx(t), never), runtime.ErrNotFound)
	require.NoDirExists(t, leftNever, "the FIFOs of a container never created")
}

func TestIsFIFODirOf(t *testing.T) {
	for name, want := range map[string]bool{
		"t1-app-123":   true,
		"t1-app-":      false,
		"t1-app":       false,
		"t1-app-2-123": false,
		"t1-app-x12":   false,
		"t1-apple-123": false,
	} {
		require.Equal(t, want, isFIFODirOf(name, "t1-app"), name)
	}
}
