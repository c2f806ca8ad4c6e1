//go:build linux

package containerd

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	// initReadyWait bounds how long Start waits for the init to be ready.
	initReadyWait = 5 * time.Second
	// initReadyPoll is how often Start looks at the init's signal mask.
	initReadyPoll = 2 * time.Millisecond
)

// waitInitReady waits until the container's init is ready to forward
// signals. A signal sent before would reach a PID 1 without handlers, and
// the kernel drops those: a stop right after Start would be lost. The init
// (tini) sets up its signal handling before it starts the command, so it is
// ready once it has a child, or once it blocks or handles SIGTERM. pid is
// the init's PID on the host.
func waitInitReady(ctx context.Context, pid uint32) error {
	deadline := time.Now().Add(initReadyWait)
	ticker := time.NewTicker(initReadyPoll)
	defer ticker.Stop()
	for {
		ready, err := initReady(pid)
		if err != nil || ready {
			// An error means the process is gone (it exited) or /proc
			// cannot be read: there is nothing to wait for.
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("init (pid %d) not ready within %v", pid, initReadyWait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
	}
}

// initReady reports whether process pid runs the init binary and is ready
// to forward signals.
func initReady(pid uint32) (bool, error) {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false, err
	}
	if !bytes.HasPrefix(cmdline, []byte(initDestination+"\x00")) {
		return false, nil // still runc's init, before the exec
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false, err
	}
	// SigBlk shows tini's mask only outside its sigtimedwait (which
	// unblocks the awaited signals while it sleeps): a child is the
	// dependable sign.
	term := uint64(1) << (uint(syscall.SIGTERM) - 1)
	for _, field := range []string{"SigBlk", "SigCgt"} {
		if mask, err := statusMask(status, field); err == nil && mask&term != 0 {
			return true, nil
		}
	}
	return hasChild(pid)
}

// statusMask returns a signal mask field of a /proc/<pid>/status file.
func statusMask(status []byte, field string) (uint64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	return 0, fmt.Errorf("no %s line", field)
}

// hasChild reports whether process pid has a child process.
func hasChild(pid uint32) (bool, error) {
	// Each thread lists the children it forked.
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return false, err
	}
	listed := false
	for _, task := range tasks {
		children, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, task.Name()))
		if err != nil {
			continue
		}
		listed = true
		if len(bytes.TrimSpace(children)) > 0 {
			return true, nil
		}
	}
	if listed {
		return false, nil
	}
	// A kernel without CONFIG_PROC_CHILDREN: look for a process whose
	// parent is pid.
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		if _, err := strconv.ParseUint(e.Name(), 10, 32); err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// Fields after the command name, which may hold spaces and ')'.
		i := bytes.LastIndexByte(stat, ')')
		fields := strings.Fields(string(stat[i+1:]))
		if len(fields) > 1 && fields[1] == strconv.FormatUint(uint64(pid), 10) {
			return true, nil
		}
	}
	return false, nil
}
