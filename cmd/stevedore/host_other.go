//go:build !linux

package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/runtime"
)

// containerdHost needs Linux: network namespaces, veths and nftables.
func containerdHost(context.Context, config, *slog.Logger) (runtime.Runtime, network.Provider, func(), error) {
	return nil, nil, nil, errors.New("-runtime containerd needs Linux; use -runtime fake or none")
}
