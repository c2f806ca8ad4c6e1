//go:build !linux

package containerdtest

import "testing"

// Daemon is a containerd of one test's own; see the Linux build.
type Daemon struct{}

// Start skips the test: containerd runs containers on Linux only.
func Start(t testing.TB) *Daemon {
	t.Helper()
	t.Skip("containerdtest: containerd runs on Linux only")
	return nil
}

// Address is the daemon's socket.
func (d *Daemon) Address() string { return "" }

// Start starts the daemon again.
func (d *Daemon) Start() {}

// Running reports whether the daemon runs.
func (d *Daemon) Running() bool { return false }

// Kill sends SIGKILL to the daemon.
func (d *Daemon) Kill() {}

// LogTail returns the end of the daemon's log.
func (d *Daemon) LogTail() string { return "" }

// RemoveCgroups does nothing: cgroups are Linux's.
func RemoveCgroups(string) {}
