//go:build linux

package containerdtest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stevedore-io/stevedore/internal/cgroupclean"
)

const (
	// startTimeout bounds the wait for the daemon to answer on its socket,
	// and for it to go after SIGKILL.
	startTimeout = 30 * time.Second
	// pollEvery is how often the start looks at the socket again.
	pollEvery = 100 * time.Millisecond
)

// Daemon is a containerd of one test's own. Its methods are called from
// the test's goroutine.
type Daemon struct {
	t   testing.TB
	dir string
	cmd *exec.Cmd
	// exited is closed when the running process has been waited for.
	exited chan struct{}
}

// Start starts a containerd of the test's own and registers its clean-up
// (see the package documentation). It fails the test when the daemon does
// not answer within 30 s.
func Start(t testing.TB) *Daemon {
	t.Helper()
	// Short: the sockets' paths must fit in a sockaddr_un.
	dir, err := os.MkdirTemp("", "stvd-ctrd-")
	if err != nil {
		t.Fatal(err)
	}
	d := &Daemon{t: t, dir: dir}
	t.Cleanup(d.cleanup)
	config := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = %q
[ttrpc]
  address = %q
[debug]
  address = %q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), d.Address(), d.Address()+".ttrpc", filepath.Join(dir, "debug.sock"))
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	d.Start()
	return d
}

// Address is the daemon's socket.
func (d *Daemon) Address() string { return filepath.Join(d.dir, "containerd.sock") }

// Start starts the daemon again on its directories, after Kill, and waits
// until it answers.
func (d *Daemon) Start() {
	d.t.Helper()
	if d.Running() {
		d.t.Fatal("containerd of the test: already running")
	}
	logf, err := os.OpenFile(filepath.Join(d.dir, "containerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		d.t.Fatal(err)
	}
	defer logf.Close() // the child has its own descriptor
	cmd := exec.Command("containerd", "--config", filepath.Join(d.dir, "config.toml"), "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		d.t.Fatalf("start containerd: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	d.cmd, d.exited = cmd, exited
	deadline := time.Now().Add(startTimeout)
	for {
		// A socket left by a killed daemon refuses connections until the
		// new one listens.
		conn, err := net.DialTimeout("unix", d.Address(), time.Second)
		if err == nil {
			_ = conn.Close()
			return
		}
		select {
		case <-exited:
			d.t.Fatalf("containerd of the test exited at start:\n%s", d.LogTail())
		case <-time.After(pollEvery):
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("containerd of the test does not answer on %s after %s: %v\n%s", d.Address(), startTimeout, err, d.LogTail())
		}
	}
}

// Running reports whether the daemon runs.
func (d *Daemon) Running() bool {
	if d.cmd == nil {
		return false
	}
	select {
	case <-d.exited:
		return false
	default:
		return true
	}
}

// Kill sends SIGKILL to the daemon (its shims, and the containers, run
// on) and waits until it is gone.
func (d *Daemon) Kill() {
	d.t.Helper()
	if !d.Running() {
		return
	}
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		d.t.Fatalf("kill containerd: %v", err)
	}
	select {
	case <-d.exited:
	case <-time.After(startTimeout):
		d.t.Fatalf("containerd of the test survived SIGKILL for %s", startTimeout)
	}
}

// LogTail returns the end of the daemon's log.
func (d *Daemon) LogTail() string {
	b, _ := os.ReadFile(filepath.Join(d.dir, "containerd.log"))
	if len(b) > 8<<10 {
		b = b[len(b)-8<<10:]
	}
	return string(b)
}

// cleanup kills the daemon and the shims it started (which outlive it),
// unmounts what is left mounted under its directory, deepest first, and
// removes the directory: what with-containerd.sh's clean-up does.
func (d *Daemon) cleanup() {
	t := d.t
	d.Kill()
	for _, pid := range shimsOf(d.Address()) {
		t.Logf("clean-up: killing shim %d of the test's containerd", pid)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, m := range mountsUnder(d.dir) {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil {
			t.Errorf("clean-up: unmount %s: %v", m, err)
		}
	}
	if err := os.RemoveAll(d.dir); err != nil {
		t.Errorf("clean-up: %v", err)
	}
}

// RemoveCgroups removes the empty cgroups of a containerd namespace, which
// runc leaves (see internal/cgroupclean); one that still holds a process
// is left alone. Call it only once nothing creates containers in the
// namespace any more, on any daemon.
func RemoveCgroups(namespace string) { _, _ = cgroupclean.Remove(namespace, false) }

// shimsOf lists the processes whose command line names address as their
// daemon's (containerd-shim-runc-v2 ... -address <address>).
func shimsOf(address string) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) > 0 && strings.Contains(filepath.Base(args[0]), "containerd-shim") && slices.Contains(args, address) {
			out = append(out, pid)
		}
	}
	return out
}

// mountsUnder lists the mount points under dir, deepest first.
func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 1 && strings.HasPrefix(fields[1], dir+"/") {
			out = append(out, fields[1])
		}
	}
	slices.SortFunc(out, func(a, b string) int { return strings.Compare(b, a) })
	return out
}
