//go:build !linux

package main

import (
	"errors"
	"log/slog"

	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/runtime"
)

// containerdHost needs Linux: network namespaces, veths and nftables.
func containerdHost(config, *slog.Logger) (runtime.Runtime, network.Provider, func(), error) {
	return nil, nil, nil, errors.New("-runtime containerd needs Linux; use -runtime fake or none")
}
