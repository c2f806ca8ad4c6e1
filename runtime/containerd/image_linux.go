//go:build linux

package containerd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/remotes"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/errdefs"
	"github.com/distribution/reference"

	"github.com/stevedore-io/stevedore/runtime"
)

// normalizeRef turns a short reference ("busybox") into its full form
// ("docker.io/library/busybox:latest"), as images are stored.
func normalizeRef(ref string) (string, error) {
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return "", err
	}
	return named.String(), nil
}

// pullErr wraps err in runtime.ErrImagePull, and in runtime.ErrNotFound too
// when the registry does not have the image.
func pullErr(ref string, err error) error {
	if errdefs.IsNotFound(err) && !errors.Is(err, runtime.ErrNotFound) {
		return fmt.Errorf("image %s: %w: %w: %w", ref, runtime.ErrImagePull, runtime.ErrNotFound, err)
	}
	return fmt.Errorf("image %s: %w: %w", ref, runtime.ErrImagePull, err)
}

// EnsureImage makes ref available and unpacked into the snapshotter. An
// image already present and unpacked costs no registry request, and once
// this Runtime has seen it unpacked no request to containerd either (until
// RemoveImage, or a Create that finds it gone). Otherwise
// it is pulled, with auth (when not nil) for the registry of ref, over
// HTTPS, or plain HTTP for the loopback registries allowed by
// WithPlainHTTP. Concurrent calls for the same image and credentials share
// one pull. Errors wrap runtime.ErrImagePull.
func (r *Runtime) EnsureImage(ctx context.Context, ref string, auth *runtime.Auth) (err error) {
	defer classify(&err)
	ctx, err = r.begin(ctx)
	if err != nil {
		return err
	}
	name, err := normalizeRef(ref)
	if err != nil {
		return pullErr(ref, fmt.Errorf("%w: %w", runtime.ErrInvalidSpec, err))
	}
	if _, ok := r.unpacked.Load(name); ok {
		return nil
	}
	key := name
	if auth != nil {
		key += "\x00" + auth.Username + "\x00" + auth.Password
	}
	_, err, _ = r.pulls.Do(key, func() (any, error) {
		return nil, r.ensureImage(ctx, name, auth)
	})
	if err == nil {
		r.unpacked.Store(name, struct{}{})
	}
	return err
}

func (r *Runtime) ensureImage(ctx context.Context, name string, auth *runtime.Auth) error {
	img, err := r.client.GetImage(ctx, name)
	switch {
	case err == nil:
		unpacked, err := img.IsUnpacked(ctx, r.snapshotter)
		if err == nil && unpacked {
			return nil
		}
		if err == nil {
			if err = img.Unpack(ctx, r.snapshotter); err == nil {
				return nil
			}
		}
		// Content may be missing (an image record whose blobs were
		// removed): pull again.
		r.log.Info("image present but cannot be unpacked, pulling", "image", name, "error", err)
	case !errdefs.IsNotFound(err):
		return pullErr(name, err)
	}

	r.log.Info("pulling image", "image", name, "with_credentials", auth != nil)
	if _, err := r.client.Pull(ctx, name,
		client.WithResolver(r.resolver(auth)),
		client.WithPullUnpack,
		client.WithPullSnapshotter(r.snapshotter),
	); err != nil {
		return pullErr(name, err)
	}
	return nil
}

// VerifyImageAccess implements runtime.AccessVerifier: it asks the
// registry of ref for the manifest of the local image, by its digest, with
// auth's credentials (a HEAD request: nothing is pulled). It fails when
// the registry refuses them, or no longer has that content.
func (r *Runtime) VerifyImageAccess(ctx context.Context, ref string, auth *runtime.Auth) (err error) {
	defer classify(&err)
	ctx, err = r.begin(ctx)
	if err != nil {
		return err
	}
	name, err := normalizeRef(ref)
	if err != nil {
		return pullErr(ref, fmt.Errorf("%w: %w", runtime.ErrInvalidSpec, err))
	}
	img, err := r.client.GetImage(ctx, name)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return fmt.Errorf("image %s: %w: %w: not present", name, runtime.ErrImagePull, runtime.ErrNotFound)
		}
		return pullErr(name, err)
	}
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return pullErr(name, err)
	}
	byDigest, err := reference.WithDigest(reference.TrimNamed(named), img.Target().Digest)
	if err != nil {
		return pullErr(name, err)
	}
	if _, _, err := r.resolver(auth).Resolve(ctx, byDigest.String()); err != nil {
		return fmt.Errorf("image %s: %w: the registry does not serve it to these credentials: %w", name, runtime.ErrImagePull, err)
	}
	return nil
}

// RemoveImage deletes image ref and collects its garbage before returning:
// the snapshots unpacked from it and its content go unless another image or
// a container still refers to them. It refuses while a container of this
// Runtime's namespace was made from the image. Errors wrap
// runtime.ErrNotFound or runtime.ErrInUse.
func (r *Runtime) RemoveImage(ctx context.Context, ref string) (err error) {
	defer classify(&err)
	ctx, err = r.begin(ctx)
	if err != nil {
		return err
	}
	name, err := normalizeRef(ref)
	if err != nil {
		return fmt.Errorf("remove image %s: %w: %w", ref, runtime.ErrInvalidSpec, err)
	}
	users, err := r.client.ContainerService().List(ctx, "image=="+strconv.Quote(name))
	if err != nil {
		return fmt.Errorf("remove image %s: %w", name, err)
	}
	if len(users) > 0 {
		return fmt.Errorf("remove image %s: %w: container %q", name, runtime.ErrInUse, users[0].ID)
	}
	// No longer known unpacked, even if the delete fails halfway.
	r.unpacked.Delete(name)
	err = r.client.ImageService().Delete(ctx, name, images.SynchronousDelete())
	if errdefs.IsNotFound(err) {
		return fmt.Errorf("remove image %s: %w: %w", name, runtime.ErrNotFound, err)
	}
	if err != nil {
		return fmt.Errorf("remove image %s: %w", name, err)
	}
	return nil
}

// resolver returns a registry resolver with auth's credentials (never
// logged or stored) and the plain-HTTP loopback registries.
func (r *Runtime) resolver(auth *runtime.Auth) remotes.Resolver {
	var authOpts []docker.AuthorizerOpt
	if auth != nil {
		user, password := auth.Username, auth.Password
		authOpts = append(authOpts, docker.WithAuthCreds(func(string) (string, string, error) {
			return user, password, nil
		}))
	}
	return docker.NewResolver(docker.ResolverOptions{
		Hosts: docker.ConfigureDefaultRegistries(
			docker.WithAuthorizer(docker.NewDockerAuthorizer(authOpts...)),
			docker.WithPlainHTTP(func(host string) (bool, error) {
				return r.opts.plainHTTPMatch(host), nil
			}),
		),
	})
}

// ImportArchive imports the images of an OCI image layout or docker-save
// tar (for example one written by internal/ocitest) for this host's
// platform, unpacks them into the snapshotter, and returns their names
// sorted. The archive must name its images (io.containerd.image.name or
// org.opencontainers.image.ref.name annotations, or docker RepoTags).
// Errors wrap runtime.ErrImagePull.
func (r *Runtime) ImportArchive(ctx context.Context, rd io.Reader) (_ []string, err error) {
	ctx, err = r.begin(ctx)
	if err != nil {
		return nil, err
	}
	ctx, done, err := r.client.WithLease(ctx)
	if err != nil {
		return nil, fmt.Errorf("import: %w: lease: %w", runtime.ErrImagePull, err)
	}
	defer func() {
		if derr := done(context.WithoutCancel(ctx)); derr != nil {
			r.log.Warn("releasing import lease", "error", derr)
		}
	}()
	imgs, err := r.client.Import(ctx, rd)
	if err != nil {
		return nil, fmt.Errorf("import: %w: %w", runtime.ErrImagePull, err)
	}
	if len(imgs) == 0 {
		return nil, fmt.Errorf("import: %w: the archive names no image", runtime.ErrImagePull)
	}
	names := make([]string, 0, len(imgs))
	for _, img := range imgs {
		if err := client.NewImage(r.client, img).Unpack(ctx, r.snapshotter); err != nil {
			return nil, fmt.Errorf("import: %w: unpack %s: %w", runtime.ErrImagePull, img.Name, err)
		}
		names = append(names, img.Name)
		r.unpacked.Store(img.Name, struct{}{})
	}
	sort.Strings(names)
	return names, nil
}
