//go:build linux

package chaos

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

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

// cgroupRoot is where the cgroup hierarchies are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// removeCgroups removes the cgroups runc made under the run's containerd
// namespace (containerd puts a container in /<namespace>/<id> of every
// hierarchy), which outlive the containers. A process still in one is
// killed first: a server killed while containerd created a container can
// leave that container's "runc init" waiting for a start that never
// comes, unknown to containerd once the run's daemon stops. It returns how
// many processes it killed.
func removeCgroups(namespace string) (killed int, err error) {
	hierarchies, err := os.ReadDir(cgroupRoot)
	if err != nil {
		return 0, err
	}
	var errs []error
	for _, h := range hierarchies {
		dir := filepath.Join(cgroupRoot, h.Name(), namespace)
		if _, err := os.Stat(dir); err != nil {
			continue // not in this hierarchy
		}
		n, err := removeCgroup(dir)
		killed += n
		errs = append(errs, err)
	}
	return killed, errors.Join(errs...)
}

// removeCgroup kills the processes in cgroup dir and below, then removes
// the cgroups, deepest first.
func removeCgroup(dir string) (killed int, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		if e.IsDir() {
			n, err := removeCgroup(filepath.Join(dir, e.Name()))
			killed += n
			if err != nil {
				return killed, err
			}
		}
	}
	// A killed process leaves its cgroup once it is reaped, which takes
	// a moment: rmdir fails with EBUSY until then. Bounded.
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids, err := cgroupProcs(dir)
		if err != nil {
			return killed, err
		}
		for _, pid := range pids {
			if syscall.Kill(pid, syscall.SIGKILL) == nil {
				killed++
			}
		}
		err = syscall.Rmdir(dir)
		if err == nil || errors.Is(err, syscall.ENOENT) {
			return killed, nil
		}
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			return killed, &os.PathError{Op: "rmdir", Path: dir, Err: err}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cgroupProcs lists the processes in cgroup dir itself.
func cgroupProcs(dir string) ([]int, error) {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}
