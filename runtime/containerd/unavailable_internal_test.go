//go:build linux

package containerd

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"
	"github.com/stretchr/testify/assert"

	"github.com/stevedore-io/stevedore/runtime"
)

// TestClassifyUnavailable: the errors of a daemon that cannot be reached,
// in every shape the client gives them, wrap runtime.ErrUnavailable; the
// daemon's answers do not.
func TestClassifyUnavailable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"converted by the client", fmt.Errorf("exec in container %q: %w", "web", errdefs.ErrUnavailable), true},
		{"raw gRPC status", errgrpc.ToGRPC(fmt.Errorf("connection error: %w", errdefs.ErrUnavailable)), true},
		{"refused dial", fmt.Errorf("dial unix /run/containerd.sock: %w", syscall.ECONNREFUSED), true},
		{"not found", wrapErr("exec in", "web", nil, errdefs.ErrNotFound), false},
		{"raw gRPC not found", errgrpc.ToGRPC(errdefs.ErrNotFound), false},
		{"deadline", fmt.Errorf("exec: %w", context.DeadlineExceeded), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.err
			classify(&err)
			assert.Equal(t, tc.want, errors.Is(err, runtime.ErrUnavailable), "%v", err)
			assert.ErrorIs(t, err, tc.err, "the original error stays in the chain")
			again := err
			classify(&again)
			assert.Equal(t, err, again, "classified once")
		})
	}
	var none error
	classify(&none)
	assert.NoError(t, none)
}
