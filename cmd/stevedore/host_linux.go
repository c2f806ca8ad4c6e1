package main

import (
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"

	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/network/netlinux"
	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/runtime/containerd"
)

// containerdHost connects to containerd and sets up the task network.
func containerdHost(cfg config, log *slog.Logger) (runtime.Runtime, network.Provider, func(), error) {
	subnet, err := netip.ParsePrefix(cfg.Subnet)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("subnet: %w", err)
	}
	rt, err := containerd.New(cfg.Containerd,
		containerd.WithNamespace(cfg.Namespace),
		containerd.WithFIFODir(filepath.Join(cfg.StateDir, "fifo")),
		containerd.WithLogger(log))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("connect to containerd at %s: %w", cfg.Containerd, err)
	}
	prefix := cfg.NetPrefix
	if prefix == "" {
		prefix = "sd-"
	}
	nw, err := netlinux.New(netlinux.Config{
		BridgeName: cfg.Bridge, Subnet: subnet, NamePrefix: prefix,
		StateDir: filepath.Join(cfg.StateDir, "network"), Logger: log,
	})
	if err != nil {
		_ = rt.Close()
		return nil, nil, nil, fmt.Errorf("task network: %w", err)
	}
	return rt, nw, func() {
		if err := nw.Close(); err != nil {
			log.Error("close the task network", "err", err)
		}
		if err := rt.Close(); err != nil {
			log.Error("close the containerd connection", "err", err)
		}
	}, nil
}
