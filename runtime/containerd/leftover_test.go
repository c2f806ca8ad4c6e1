//go:build linux

package containerd

import (
	"context"
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
