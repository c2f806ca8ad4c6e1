//go:build linux

package cgroupclean

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// root is where the cgroup hierarchies are mounted.
const root = "/sys/fs/cgroup"

// Remove removes the cgroups of containerd namespace ns in every
// hierarchy, deepest first. With kill, it first kills the processes still
// in them (SIGKILL), and waits for them to leave (5 s at most), and
// returns how many it killed; without, it removes only the empty ones and
// leaves the others as they are, which is no error.
func Remove(ns string, kill bool) (killed int, err error) {
	if ns == "" || strings.ContainsAny(ns, "/.") {
		return 0, nil
	}
	hierarchies, err := os.ReadDir(root)
	if err != nil {
		return 0, err
	}
	var errs []error
	for _, h := range hierarchies {
		dir := filepath.Join(root, h.Name(), ns)
		if _, err := os.Stat(dir); err != nil {
			continue // not in this hierarchy
		}
		n, err := remove(dir, kill)
		killed += n
		errs = append(errs, err)
	}
	return killed, errors.Join(errs...)
}

// remove removes cgroup dir and the cgroups below it, deepest first.
func remove(dir string, kill bool) (killed int, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		if e.IsDir() {
			n, err := remove(filepath.Join(dir, e.Name()), kill)
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
		if kill {
			pids, err := procs(dir)
			if err != nil {
				return killed, err
			}
			for _, pid := range pids {
				if syscall.Kill(pid, syscall.SIGKILL) == nil {
					killed++
				}
			}
		}
		err = syscall.Rmdir(dir)
		switch {
		case err == nil, errors.Is(err, syscall.ENOENT):
			return killed, nil
		case !kill && (errors.Is(err, syscall.EBUSY) || errors.Is(err, syscall.ENOTEMPTY)):
			return killed, nil // in use: left alone
		case !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline):
			return killed, &os.PathError{Op: "rmdir", Path: dir, Err: err}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// procs lists the processes in cgroup dir itself.
func procs(dir string) ([]int, error) {
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
