package netlinux

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// onFreshThread runs fn on a goroutine locked to its own OS thread and
// waits for it. The thread is never unlocked: fn may leave it in another
// network namespace, and the Go runtime terminates a locked thread when its
// goroutine exits, so no other goroutine can ever run in that namespace by
// accident. Every other goroutine of the process stays in the host
// namespace, which is why the provider's host-side netlink and nftables
// sockets can be opened from any goroutine.
func onFreshThread(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		errc <- fn()
	}()
	return <-errc
}

// ensureNetNSDir makes dir a shared mount point, as `ip netns add` does, so
// that namespaces bound under it are visible in mount namespaces created
// later (for example those of container shims).
func ensureNetNSDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	err := unix.Mount("", dir, "none", unix.MS_SHARED|unix.MS_REC, "")
	if errors.Is(err, unix.EINVAL) { // not a mount point yet
		if err := unix.Mount(dir, dir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind-mount %s onto itself: %w", dir, err)
		}
		err = unix.Mount("", dir, "none", unix.MS_SHARED|unix.MS_REC, "")
	}
	if err != nil {
		return fmt.Errorf("make %s a shared mount: %w", dir, err)
	}
	return nil
}

// enterNewNetNS moves the calling thread into a new network namespace and
// bind-mounts it at path. It must run under onFreshThread.
func enterNewNetNS(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return fmt.Errorf("create namespace file: %w", err)
	}
	f.Close()
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		os.Remove(path)
		return fmt.Errorf("unshare network namespace: %w", err)
	}
	if err := unix.Mount("/proc/thread-self/ns/net", path, "none", unix.MS_BIND, ""); err != nil {
		os.Remove(path)
		return fmt.Errorf("bind-mount network namespace at %s: %w", path, err)
	}
	return nil
}

// enterNetNS moves the calling thread into the namespace bound at path. It
// must run under onFreshThread.
func enterNetNS(path string) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open namespace %s: %w", path, err)
	}
	defer unix.Close(fd)
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("enter namespace %s: %w", path, err)
	}
	return nil
}

// deleteNetNS unmounts and removes the namespace bound at path; a missing
// one is not an error. The kernel destroys the namespace, and the veth in
// it, once no process holds it any more.
func deleteNetNS(path string) error {
	err := unix.Unmount(path, unix.MNT_DETACH)
	if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount namespace %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove namespace %s: %w", path, err)
	}
	return nil
}

// listNetNS returns the names in dir that isObjectName accepts.
func listNetNS(dir, prefix string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	var names []string
	for _, e := range entries {
		if isObjectName(prefix, e.Name()) {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// writeSysctl writes value to <root>/<key> (key with slashes; root is
// /proc/sys) in the network namespace of the calling thread.
func writeSysctl(root, key, value string) error {
	p := filepath.Join(root, key)
	if err := os.WriteFile(p, []byte(value), 0o644); err != nil {
		return fmt.Errorf("sysctl %s=%s: %w", key, value, err)
	}
	return nil
}
