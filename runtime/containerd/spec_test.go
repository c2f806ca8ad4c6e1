//go:build linux

package containerd

import (
	"bufio"
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	cgroup1 "github.com/containerd/cgroups/v3/cgroup1/stats"
	cgroup2 "github.com/containerd/cgroups/v3/cgroup2/stats"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/runtime"
)

func TestProcessArgs(t *testing.T) {
	t.Parallel()
	img := ocispec.ImageConfig{Entrypoint: []string{"/entry", "-x"}, Cmd: []string{"serve", "--port=80"}}
	tests := []struct {
		name       string
		img        ocispec.ImageConfig
		entry, cmd []string
		want       []string
	}{
		{"image's", img, nil, nil, []string{"/entry", "-x", "serve", "--port=80"}},
		{"command replaces CMD", img, nil, []string{"check"}, []string{"/entry", "-x", "check"}},
		{"entry point drops CMD", img, []string{"/other"}, nil, []string{"/other"}},
		{"both", img, []string{"/other"}, []string{"a"}, []string{"/other", "a"}},
		{"CMD only image", ocispec.ImageConfig{Cmd: []string{"sh"}}, nil, []string{"echo", "hi"}, []string{"echo", "hi"}},
		{"nothing", ocispec.ImageConfig{}, nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := processArgs(tt.img, tt.entry, tt.cmd)
			assert.Equal(t, tt.want, got)
		})
	}
	// The image's slices are not modified.
	_ = processArgs(img, nil, []string{"x"})
	assert.Equal(t, []string{"/entry", "-x"}, img.Entrypoint)
}

func TestCapabilitiesComputation(t *testing.T) {
	t.Parallel()
	all := knownCapabilities()
	tests := []struct {
		name      string
		add, drop []string
		want      []string
		wantErr   bool
	}{
		{"defaults", nil, nil, DefaultCapabilities, false},
		{"add without prefix, any case", []string{"net_admin"}, nil, sortedWith(DefaultCapabilities, "CAP_NET_ADMIN"), false},
		{"add already present", []string{"CAP_KILL"}, nil, DefaultCapabilities, false},
		{"drop", nil, []string{"KILL", "CAP_NET_RAW"}, without(DefaultCapabilities, "CAP_KILL", "CAP_NET_RAW"), false},
		{"drop ALL, add one", []string{"CHOWN"}, []string{"all"}, []string{"CAP_CHOWN"}, false},
		{"add ALL", []string{"ALL"}, nil, sortedWith(all), false},
		{"add ALL, drop one", []string{"ALL"}, []string{"SYS_ADMIN"}, without(sortedWith(all), "CAP_SYS_ADMIN"), false},
		{"unknown add", []string{"FLY"}, nil, nil, true},
		{"unknown drop", nil, []string{"CAP_FLY"}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := capabilities(tt.add, tt.drop)
			if tt.wantErr {
				require.ErrorIs(t, err, runtime.ErrInvalidSpec)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func sortedWith(base []string, extra ...string) []string {
	set := map[string]bool{}
	for _, c := range append(append([]string{}, base...), extra...) {
		set[c] = true
	}
	out := make([]string, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

func without(base []string, drop ...string) []string {
	var out []string
	for _, c := range base {
		keep := true
		for _, d := range drop {
			keep = keep && c != d
		}
		if keep {
			out = append(out, c)
		}
	}
	return out
}

func TestRlimits(t *testing.T) {
	t.Parallel()
	got, err := rlimits([]runtime.Ulimit{{Name: "nofile", Soft: 1024, Hard: 4096}, {Name: "CORE", Soft: 0, Hard: -1}, {Name: "memlock", Soft: -1, Hard: -1}})
	require.NoError(t, err)
	assert.Equal(t, []specs.POSIXRlimit{
		{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 4096},
		{Type: "RLIMIT_CORE", Soft: 0, Hard: math.MaxUint64},
		{Type: "RLIMIT_MEMLOCK", Soft: math.MaxUint64, Hard: math.MaxUint64},
	}, got)

	bad := map[string][]runtime.Ulimit{
		"unknown name":    {{Name: "files", Soft: 1, Hard: 1}},
		"soft above hard": {{Name: "nofile", Soft: 10, Hard: 5}},
		"unlimited soft":  {{Name: "nofile", Soft: -1, Hard: 5}},
		"negative":        {{Name: "nofile", Soft: -2, Hard: 5}},
		"twice":           {{Name: "nofile", Soft: 1, Hard: 1}, {Name: "NOFILE", Soft: 1, Hard: 1}},
	}
	for name, u := range bad {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := rlimits(u)
			require.ErrorIs(t, err, runtime.ErrInvalidSpec)
		})
	}
}

func TestValidateSpec(t *testing.T) {
	t.Parallel()
	valid := runtime.ContainerSpec{ID: "web-1", Image: "stevedore.local/app:1"}
	require.NoError(t, validateSpec(valid))
	tests := []struct {
		name  string
		edit  func(*runtime.ContainerSpec)
		field string
	}{
		{"no ID", func(s *runtime.ContainerSpec) { s.ID = "" }, "ID"},
		{"bad ID", func(s *runtime.ContainerSpec) { s.ID = "a/b" }, "ID"},
		{"no image", func(s *runtime.ContainerSpec) { s.Image = "" }, "Image"},
		{"env without =", func(s *runtime.ContainerSpec) { s.Env = []string{"A=1", "B"} }, "Env[1]"},
		{"env without key", func(s *runtime.ContainerSpec) { s.Env = []string{"=1"} }, "Env[0]"},
		{"relative working dir", func(s *runtime.ContainerSpec) { s.WorkingDir = "app" }, "WorkingDir"},
		{"user with empty group", func(s *runtime.ContainerSpec) { s.User = "1000:" }, "User"},
		{"user with two colons", func(s *runtime.ContainerSpec) { s.User = "a:b:c" }, "User"},
		{"reserved label", func(s *runtime.ContainerSpec) { s.Labels = map[string]string{labelPrefix + "x": "1"} }, "Labels"},
		{"host network and netns", func(s *runtime.ContainerSpec) { s.HostNetwork, s.NetNSPath = true, "/var/run/netns/x" }, "NetNSPath"},
		{"relative netns", func(s *runtime.ContainerSpec) { s.NetNSPath = "netns/x" }, "NetNSPath"},
		{"cpu shares too high", func(s *runtime.ContainerSpec) { s.CPUShares = 1 << 20 }, "CPUShares"},
		{"negative memory", func(s *runtime.ContainerSpec) { s.MemoryLimit = -1 }, "MemoryLimit"},
		{"negative reservation", func(s *runtime.ContainerSpec) { s.MemoryReservation = -1 }, "MemoryReservation"},
		{"reservation above limit", func(s *runtime.ContainerSpec) { s.MemoryLimit, s.MemoryReservation = 10, 20 }, "MemoryReservation"},
		{"negative pids", func(s *runtime.ContainerSpec) { s.PidsLimit = -1 }, "PidsLimit"},
		{"relative mount source", func(s *runtime.ContainerSpec) { s.Mounts = []runtime.Mount{{Source: "x", Destination: "/x"}} }, "Mounts[0]"},
		{"mount over root", func(s *runtime.ContainerSpec) { s.Mounts = []runtime.Mount{{Source: "/x", Destination: "/"}} }, "Mounts[0]"},
		{"bad ulimit", func(s *runtime.ContainerSpec) { s.Ulimits = []runtime.Ulimit{{Name: "x"}} }, "Ulimits[0]"},
		{"bad capability", func(s *runtime.ContainerSpec) { s.CapDrop = []string{"NOPE"} }, "CapDrop"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := valid
			tt.edit(&s)
			err := validateSpec(s)
			require.ErrorIs(t, err, runtime.ErrInvalidSpec)
			assert.Contains(t, err.Error(), tt.field)
		})
	}
}

func TestDecodeMetrics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   any
		want runtime.Stats
	}{
		{"cgroup v1", &cgroup1.Metrics{
			CPU:    &cgroup1.CPUStat{Usage: &cgroup1.CPUUsage{Total: 1500}},
			Memory: &cgroup1.MemoryStat{Usage: &cgroup1.MemoryEntry{Usage: 10 << 20, Limit: 64 << 20}, TotalInactiveFile: 2 << 20},
			Pids:   &cgroup1.PidsStat{Current: 3},
		}, runtime.Stats{CPUUsage: 1500 * time.Nanosecond, MemoryUsage: 8 << 20, MemoryLimit: 64 << 20, Pids: 3}},
		{"cgroup v1 unlimited", &cgroup1.Metrics{
			Memory: &cgroup1.MemoryStat{Usage: &cgroup1.MemoryEntry{Usage: 1, Limit: 9223372036854771712}, TotalInactiveFile: 5},
		}, runtime.Stats{MemoryUsage: 0}},
		{"cgroup v2", &cgroup2.Metrics{
			CPU:    &cgroup2.CPUStat{UsageUsec: 7},
			Memory: &cgroup2.MemoryStat{Usage: 5 << 20, UsageLimit: 32 << 20, InactiveFile: 1 << 20},
			Pids:   &cgroup2.PidsStat{Current: 2},
		}, runtime.Stats{CPUUsage: 7 * time.Microsecond, MemoryUsage: 4 << 20, MemoryLimit: 32 << 20, Pids: 2}},
		{"cgroup v2 unlimited", &cgroup2.Metrics{Memory: &cgroup2.MemoryStat{Usage: 1, UsageLimit: math.MaxUint64}}, runtime.Stats{MemoryUsage: 1}},
		{"empty", &cgroup1.Metrics{}, runtime.Stats{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeMetrics(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	_, err := decodeMetrics("nope")
	require.Error(t, err)
}

func TestLimitedBuffer(t *testing.T) {
	t.Parallel()
	b := &limitedBuffer{max: 5}
	for _, s := range []string{"abc", "def", "ghi"} {
		n, err := b.Write([]byte(s))
		require.NoError(t, err)
		assert.Equal(t, 3, n, "writes always succeed so the copy never stalls")
	}
	assert.Equal(t, "abcde", string(b.Bytes()))
	assert.Equal(t, 4, b.dropped)
}

func TestDrainWriterKeepsDraining(t *testing.T) {
	t.Parallel()
	fw := &failingWriter{}
	d := &drainWriter{mu: new(sync.Mutex), w: fw}
	for range 3 {
		n, err := d.Write([]byte("xy"))
		require.NoError(t, err)
		assert.Equal(t, 2, n)
	}
	assert.Equal(t, 1, fw.calls, "a failed writer is not written to again")
}

type failingWriter struct{ calls int }

func (f *failingWriter) Write([]byte) (int, error) {
	f.calls++
	return 0, errors.New("broken")
}

func TestExecFailureCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		msg  string
		code int
		ok   bool
	}{
		{`OCI runtime exec failed: exec failed: unable to start container process: exec: "nope": executable file not found in $PATH: unknown`, 127, true},
		{`exec: "/x": stat /x: no such file or directory`, 127, true},
		{`exec /etc/passwd: permission denied`, 126, true},
		{`connection refused`, 0, false},
	}
	for _, tt := range tests {
		code, ok := execFailureCode(errors.New(tt.msg))
		assert.Equal(t, tt.ok, ok, tt.msg)
		assert.Equal(t, tt.code, code, tt.msg)
	}
}

func TestRemoveFIFODir(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	inside := root + "/c1-123"
	require.NoError(t, os.MkdirAll(inside, 0o700))
	outside := t.TempDir()

	require.NoError(t, removeFIFODir(root, inside+"/stdout"))
	assert.NoDirExists(t, inside)
	require.NoError(t, removeFIFODir(root, outside+"/stdout"))
	assert.DirExists(t, outside, "directories outside the FIFO root are left alone")
	require.NoError(t, removeFIFODir(root, root+"/stdout"))
	assert.DirExists(t, root, "the root itself is never removed")
	require.NoError(t, removeFIFODir(root, ""))
}

func TestContextErr(t *testing.T) {
	t.Parallel()
	plain := errors.New("boom")
	assert.NoError(t, contextErr(context.Background(), nil))
	assert.Equal(t, plain, contextErr(context.Background(), plain))

	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	err := contextErr(canceled, plain)
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, err, plain)

	// A daemon that reports the propagated deadline before the caller's
	// context ends: the error is attributed to the deadline.
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err := contextErr(ctx, errors.New("context deadline exceeded: unknown"))
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})
}

func TestStatusMask(t *testing.T) {
	t.Parallel()
	mask, err := statusMask([]byte("Name:\ttini\nSigQ:\t0/1\nSigBlk:\tfffffffe7ffbfeff\nSigIgn:\t0\n"), "SigBlk")
	require.NoError(t, err)
	assert.NotZero(t, mask&(1<<14), "SIGTERM (15) is bit 14")
	_, err = statusMask([]byte("Name:\tx\n"), "SigCgt")
	require.Error(t, err)
}

func TestHasChild(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("sh", "-c", "sleep 60 & echo started; wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the shell and its sleep
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "started\n", line)

	has, err := hasChild(uint32(cmd.Process.Pid))
	require.NoError(t, err)
	assert.True(t, has, "the shell has forked sleep")
	has, err = hasChild(uint32(os.Getpid()))
	require.NoError(t, err)
	assert.True(t, has, "the test has started the shell")
	_, err = hasChild(1 << 30)
	require.Error(t, err, "no such process")
}

func TestInitReadyOfAnOrdinaryProcess(t *testing.T) {
	t.Parallel()
	ready, err := initReady(uint32(os.Getpid()))
	require.NoError(t, err)
	assert.False(t, ready, "the test binary is not the init")
	_, err = initReady(1 << 30)
	require.Error(t, err, "no such process")
}
