//go:build linux

package containerd

import (
	"context"
	"testing"

	"github.com/opencontainers/image-spec/identity"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/runtime"
)

// TestCreateAfterAKilledCreate: a process killed while it created a
// container may leave the container's snapshot without the container (it
// dies between the two). Creating the container again removes that
// snapshot and creates it, instead of failing with "already exists".
func TestCreateAfterAKilledCreate(t *testing.T) {
	t.Parallel()
	r := newRuntime(t)
	id := uniqueID(t)
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

	create(t, r, runtime.ContainerSpec{ID: id, Command: []string{"true"}})
	require.NoError(t, r.Start(testCtx(t), id))
	require.Equal(t, 0, waitExit(t, r, id).Code)
}
