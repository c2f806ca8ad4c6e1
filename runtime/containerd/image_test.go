//go:build linux

package containerd

import (
	"bytes"
	"context"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/internal/ocitest"
	"github.com/stevedore-io/stevedore/runtime"
)

// registry serves a busybox image (with a marker file) from an in-process
// registry on loopback that wants basic auth.
func registry(t *testing.T, marker string) (host string, reg *ocitest.Registry) {
	t.Helper()
	img, err := ocitest.Busybox("stevedore.local/pulled:"+marker, map[string][]byte{"/marker": []byte(marker)})
	if err != nil {
		t.Skipf("cannot build the busybox image: %v", err)
	}
	built, err := ocitest.Build(img)
	require.NoError(t, err)
	reg = ocitest.NewRegistry(built)
	reg.RequireBasicAuth("puller", "s3cret")
	srv := httptest.NewServer(reg)
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	return u.Host, reg
}

func TestEnsureImagePullsWithCredentials(t *testing.T) {
	t.Parallel()
	needContainerd(t)
	tag := uniqueID(t)
	host, reg := registry(t, tag)
	ref := host + "/pulled:" + tag
	r := newRuntime(t, WithPlainHTTP("127.0.0.1"))
	ctx := testCtx(t)

	t.Run("wrong password", func(t *testing.T) {
		err := r.EnsureImage(ctx, ref, &runtime.Auth{Username: "puller", Password: "wrong"})
		require.ErrorIs(t, err, runtime.ErrImagePull)
	})
	t.Run("unknown tag", func(t *testing.T) {
		err := r.EnsureImage(ctx, host+"/pulled:nope", &runtime.Auth{Username: "puller", Password: "s3cret"})
		require.ErrorIs(t, err, runtime.ErrImagePull)
		require.ErrorIs(t, err, runtime.ErrNotFound)
	})

	require.NoError(t, r.EnsureImage(ctx, ref, &runtime.Auth{Username: "puller", Password: "s3cret"}))
	before := reg.Requests()
	require.NoError(t, r.EnsureImage(ctx, ref, nil), "present and unpacked: no pull, no credentials needed")
	assert.Equal(t, before, reg.Requests(), "no registry request for an image already there")

	code, out := runOutput(t, r, runtime.ContainerSpec{Image: ref, Command: []string{"cat", "/marker"}})
	require.Equal(t, 0, code, out)
	assert.Equal(t, tag, out)
}

func TestEnsureImageRefusesPlainHTTPUnlessAllowed(t *testing.T) {
	t.Parallel()
	needContainerd(t)
	host, _ := registry(t, uniqueID(t))
	r := newRuntime(t) // no WithPlainHTTP: HTTPS only
	err := r.EnsureImage(testCtx(t), host+"/pulled:x", &runtime.Auth{Username: "puller", Password: "s3cret"})
	require.ErrorIs(t, err, runtime.ErrImagePull)
}

func TestImportArchive(t *testing.T) {
	t.Parallel()
	r := newRuntime(t)
	ctx := testCtx(t)

	one, err := ocitest.Busybox("stevedore.local/import-a:"+uniqueID(t), nil)
	if err != nil {
		t.Skipf("cannot build the busybox image: %v", err)
	}
	a, err := ocitest.Build(one)
	require.NoError(t, err)
	b, err := ocitest.Build(ocitest.Image{Ref: "stevedore.local/import-b:1", Files: []ocitest.File{{Path: "/hello", Data: []byte("hi")}}})
	require.NoError(t, err)
	var archive bytes.Buffer
	require.NoError(t, ocitest.WriteArchive(&archive, a, b))

	names, err := r.ImportArchive(ctx, &archive)
	require.NoError(t, err)
	assert.Equal(t, []string{a.Ref, b.Ref}, names)
	require.NoError(t, r.EnsureImage(ctx, a.Ref, nil), "imported images are unpacked")

	_, err = r.ImportArchive(ctx, strings.NewReader("not a tar"))
	require.ErrorIs(t, err, runtime.ErrImagePull)
}

func TestEnsureImageInvalidReference(t *testing.T) {
	t.Parallel()
	r := newRuntime(t)
	err := r.EnsureImage(testCtx(t), "UPPER/Case:bad", nil)
	require.ErrorIs(t, err, runtime.ErrImagePull)
}

// TestRemoveImageCollectsGarbage removes an image whose layer is its own:
// its unpacked snapshot and its blobs are gone when RemoveImage returns,
// while the layers of the package's shared image stay.
func TestRemoveImageCollectsGarbage(t *testing.T) {
	t.Parallel()
	r := newRuntime(t)
	ref := importMarkedImage(t, r, uniqueID(t))
	ctx, err := r.begin(testCtx(t))
	require.NoError(t, err)

	// What the image holds: its manifest (the target), config and layer
	// blobs, and the snapshot of its one layer.
	img, err := r.client.GetImage(ctx, ref)
	require.NoError(t, err)
	var blobs []digest.Digest
	require.NoError(t, images.Walk(ctx, images.HandlerFunc(func(ctx context.Context, desc ocispec.Descriptor) ([]ocispec.Descriptor, error) {
		blobs = append(blobs, desc.Digest)
		return images.Children(ctx, r.client.ContentStore(), desc)
	}), img.Target()))
	require.Len(t, blobs, 3, "manifest, config, layer")
	diffIDs, err := img.RootFS(ctx)
	require.NoError(t, err)
	chain := identity.ChainID(diffIDs).String()
	sn := r.client.SnapshotService(r.Snapshotter())
	_, err = sn.Stat(ctx, chain)
	require.NoError(t, err, "unpacked")

	// Used by a container, deleted at the end of the subtest.
	t.Run("used", func(t *testing.T) {
		code, out := runOutput(t, r, runtime.ContainerSpec{Image: ref, Command: []string{"cat", "/marker"}})
		require.Equal(t, 0, code, out)
	})
	require.NoError(t, r.RemoveImage(ctx, ref))

	_, err = r.client.GetImage(ctx, ref)
	assert.True(t, errdefs.IsNotFound(err), "image record: %v", err)
	for _, d := range blobs {
		_, err := r.client.ContentStore().Info(ctx, d)
		assert.True(t, errdefs.IsNotFound(err), "blob %s: %v", d, err)
	}
	_, err = sn.Stat(ctx, chain)
	assert.True(t, errdefs.IsNotFound(err), "snapshot %s: %v", chain, err)

	shared, err := r.client.GetImage(ctx, testImage)
	require.NoError(t, err)
	unpacked, err := shared.IsUnpacked(ctx, r.Snapshotter())
	require.NoError(t, err)
	assert.True(t, unpacked, "the shared image keeps its layers")
	require.ErrorIs(t, r.RemoveImage(ctx, ref), runtime.ErrNotFound)
}

// TestEnsureImageRemembersUnpackedImages: once an image is known unpacked,
// EnsureImage asks neither the registry nor containerd again, until the
// image is removed; an image removed behind the Runtime's back fails one
// Create with runtime.ErrNotFound and is pulled again by the next
// EnsureImage.
func TestEnsureImageRemembersUnpackedImages(t *testing.T) {
	t.Parallel()
	tag := uniqueID(t)
	host, reg := registry(t, tag)
	ref := host + "/pulled:" + tag
	r := newRuntime(t, WithPlainHTTP("127.0.0.1"))
	ctx := testCtx(t)
	auth := &runtime.Auth{Username: "puller", Password: "s3cret"}
	t.Cleanup(func() { _ = r.RemoveImage(context.Background(), ref) })

	require.NoError(t, r.EnsureImage(ctx, ref, auth))
	pulled := reg.Requests()
	require.NoError(t, r.EnsureImage(ctx, ref, auth))
	assert.Equal(t, pulled, reg.Requests(), "known unpacked")

	require.NoError(t, r.RemoveImage(ctx, ref))
	require.NoError(t, r.EnsureImage(ctx, ref, auth))
	assert.Greater(t, reg.Requests(), pulled, "pulled again after RemoveImage")
	code, out := runOutput(t, r, runtime.ContainerSpec{Image: ref, Command: []string{"cat", "/marker"}})
	require.Equal(t, 0, code, out)

	// Removed behind the Runtime's back.
	nctx, err := r.begin(ctx)
	require.NoError(t, err)
	name, err := normalizeRef(ref)
	require.NoError(t, err)
	require.NoError(t, r.client.ImageService().Delete(nctx, name, images.SynchronousDelete()))
	require.NoError(t, r.EnsureImage(ctx, ref, auth), "still believed unpacked")
	err = r.Create(ctx, runtime.ContainerSpec{ID: uniqueID(t), Image: ref, Command: []string{"true"}})
	require.ErrorIs(t, err, runtime.ErrNotFound)
	pulled = reg.Requests()
	require.NoError(t, r.EnsureImage(ctx, ref, auth))
	assert.Greater(t, reg.Requests(), pulled, "pulled again after the failed Create")
	code, out = runOutput(t, r, runtime.ContainerSpec{Image: ref, Command: []string{"cat", "/marker"}})
	require.Equal(t, 0, code, out)
	assert.Equal(t, tag, out)
}

func TestVerifyImageAccessAsksTheRegistryWithTheCredentials(t *testing.T) {
	t.Parallel()
	needContainerd(t)
	tag := uniqueID(t)
	host, reg := registry(t, tag)
	ref := host + "/pulled:" + tag
	r := newRuntime(t, WithPlainHTTP("127.0.0.1"))
	ctx := testCtx(t)
	right := &runtime.Auth{Username: "puller", Password: "s3cret"}

	err := r.VerifyImageAccess(ctx, ref, right)
	require.ErrorIs(t, err, runtime.ErrNotFound, "not present yet")
	require.NoError(t, r.EnsureImage(ctx, ref, right))

	before := reg.Requests()
	require.NoError(t, r.VerifyImageAccess(ctx, ref, right))
	assert.Greater(t, reg.Requests(), before, "the registry was asked")
	for name, auth := range map[string]*runtime.Auth{"anonymous": nil, "wrong password": {Username: "puller", Password: "wrong"}} {
		err := r.VerifyImageAccess(ctx, ref, auth)
		assert.ErrorIs(t, err, runtime.ErrImagePull, name)
		assert.NotContains(t, err.Error(), "s3cret")
	}
}
