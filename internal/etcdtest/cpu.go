package etcdtest

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is the kernel's USER_HZ, the unit of /proc/<pid>/stat's CPU
// times (100 on every Linux architecture Go supports).
const clockTicks = 100

// CPU returns the CPU time (user and system) the member process has used
// so far, read from /proc. It fails where there is no /proc or when the
// member is not running.
func (m *Member) CPU() (time.Duration, error) {
	if m.cmd == nil || m.cmd.Process == nil {
		return 0, fmt.Errorf("etcd member %s is not running", m.cfg.Name)
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", m.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; the fields after its
	// closing parenthesis are plain. utime and stime are fields 14 and 15.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("etcd member %s: unreadable stat %q", m.cfg.Name, s)
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("etcd member %s: short stat %q", m.cfg.Name, s)
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("etcd member %s: stat: %w", m.cfg.Name, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// CPU returns the CPU time every member has used so far.
func (c *Cluster) CPU() (time.Duration, error) {
	var total time.Duration
	for _, m := range c.Members {
		d, err := m.CPU()
		if err != nil {
			return 0, err
		}
		total += d
	}
	return total, nil
}
