//go:build !linux

package chaos

import (
	"context"
	"errors"
)

// errLinux: the trials need containerd and Linux network namespaces.
var errLinux = errors.New("chaos: needs Linux")

func destroyNetwork(context.Context, hostNames, string) error { return errLinux }

func removeContainers(context.Context, string, string) error { return errLinux }
