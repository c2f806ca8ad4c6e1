package containerd

import (
	"errors"

	"github.com/stevedore-io/stevedore/errdefs"
)

var (
	// ErrClosed is returned by a Runtime's methods after Close, and is the
	// ExitStatus.Err of Wait channels still pending when Close is called.
	// It matches errdefs.ErrClosed.
	ErrClosed = errdefs.New(errdefs.ErrClosed, "containerd: runtime closed")
	// ErrUnsupported is returned by New on operating systems other than
	// Linux.
	ErrUnsupported = errors.New("containerd: only supported on Linux")
)
