package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/network/netlinux"
	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/runtime/containerd"
)

// containerdHost connects to containerd, imports the -image-archive
// images, and sets up the task network.
func containerdHost(ctx context.Context, cfg config, log *slog.Logger) (runtime.Runtime, network.Provider, func(), error) {
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
	if err := importImages(ctx, rt, cfg.ImageArchives, log); err != nil {
		_ = rt.Close()
		return nil, nil, nil, err
	}
	nw, err := netlinux.New(netlinux.Config{
		BridgeName: cfg.Bridge, Subnet: subnet, NamePrefix: cfg.NamePrefix,
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

// importImages imports the images of each archive into containerd.
func importImages(ctx context.Context, rt *containerd.Runtime, archives []string, log *slog.Logger) error {
	for _, path := range archives {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("image-archive: %w", err)
		}
		names, err := rt.ImportArchive(ctx, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("image-archive %s: %w", path, err)
		}
		log.Info("imported images", "archive", path, "images", names)
	}
	return nil
}
