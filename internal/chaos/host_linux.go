//go:build linux

package chaos

import (
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"syscall"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"

	"github.com/stevedore-io/stevedore/network/netlinux"
)

// destroyNetwork removes the run's task network: what the server leaves
// for its next start (the bridge and its host table), and, after a failed
// run, the tasks' namespaces, veths and tables.
func destroyNetwork(ctx context.Context, names hostNames, stateDir string) error {
	nw, err := netlinux.New(netlinux.Config{
		BridgeName: names.bridge, Subnet: netip.MustParsePrefix(names.subnet), NamePrefix: names.prefix,
		StateDir: filepath.Join(stateDir, "network"),
	})
	if err != nil {
		return err
	}
	return errors.Join(nw.Destroy(ctx), nw.Close())
}

// removeContainers kills and deletes every container of the run's
// containerd namespace, with its snapshot: the clean-up of a failed run.
func removeContainers(ctx context.Context, address, namespace string) error {
	c, err := client.New(address)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx = namespaces.WithNamespace(ctx, namespace)
	containers, err := c.Containers(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, ctr := range containers {
		if task, err := ctr.Task(ctx, nil); err == nil {
			if exited, err := task.Wait(ctx); err == nil {
				_ = task.Kill(ctx, syscall.SIGKILL)
				<-exited
			}
			_, _ = task.Delete(ctx)
		}
		errs = append(errs, ctr.Delete(ctx, client.WithSnapshotCleanup))
	}
	return errors.Join(errs...)
}
