//go:build !linux

package containerd

import (
	"context"
	"io"
	"syscall"

	"github.com/stevedore-io/stevedore/runtime"
)

// Runtime runs containers through containerd. On this operating system it
// cannot be constructed: New returns ErrUnsupported. The type exists so
// that code wiring a runtime builds everywhere.
type Runtime struct{}

var (
	_ runtime.Runtime        = (*Runtime)(nil)
	_ runtime.AccessVerifier = (*Runtime)(nil)
)

// New returns ErrUnsupported: containerd containers need Linux.
func New(address string, opts ...Option) (*Runtime, error) {
	o := defaultOptions()
	if err := o.apply(opts); err != nil {
		return nil, err
	}
	return nil, ErrUnsupported
}

// Close does nothing.
func (r *Runtime) Close() error { return nil }

// Snapshotter returns "".
func (r *Runtime) Snapshotter() string { return "" }

// Namespace returns "".
func (r *Runtime) Namespace() string { return "" }

// VerifyImageAccess returns ErrUnsupported.
func (r *Runtime) VerifyImageAccess(context.Context, string, *runtime.Auth) error {
	return ErrUnsupported
}

// EnsureImage returns ErrUnsupported.
func (r *Runtime) EnsureImage(context.Context, string, *runtime.Auth) error { return ErrUnsupported }

// RemoveImage returns ErrUnsupported.
func (r *Runtime) RemoveImage(context.Context, string) error { return ErrUnsupported }

// ImportArchive returns ErrUnsupported.
func (r *Runtime) ImportArchive(context.Context, io.Reader) ([]string, error) {
	return nil, ErrUnsupported
}

// Create returns ErrUnsupported.
func (r *Runtime) Create(context.Context, runtime.ContainerSpec) error { return ErrUnsupported }

// Start returns ErrUnsupported.
func (r *Runtime) Start(context.Context, string) error { return ErrUnsupported }

// Wait returns ErrUnsupported.
func (r *Runtime) Wait(context.Context, string) (<-chan runtime.ExitStatus, error) {
	return nil, ErrUnsupported
}

// Signal returns ErrUnsupported.
func (r *Runtime) Signal(context.Context, string, syscall.Signal) error { return ErrUnsupported }

// Exec returns ErrUnsupported.
func (r *Runtime) Exec(context.Context, string, []string) (runtime.ExecResult, error) {
	return runtime.ExecResult{}, ErrUnsupported
}

// Stats returns ErrUnsupported.
func (r *Runtime) Stats(context.Context, string) (runtime.Stats, error) {
	return runtime.Stats{}, ErrUnsupported
}

// Inspect returns ErrUnsupported.
func (r *Runtime) Inspect(context.Context, string) (runtime.ContainerInfo, error) {
	return runtime.ContainerInfo{}, ErrUnsupported
}

// List returns ErrUnsupported.
func (r *Runtime) List(context.Context, map[string]string) ([]runtime.ContainerInfo, error) {
	return nil, ErrUnsupported
}

// Delete returns ErrUnsupported.
func (r *Runtime) Delete(context.Context, string) error { return ErrUnsupported }

// LeakCheck returns ErrUnsupported.
func (r *Runtime) LeakCheck(context.Context) error { return ErrUnsupported }
