//go:build linux

package containerd

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/containerd/containerd/v2/pkg/cap"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/internal/ocitest"
	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/runtime/runtimetest"
)

// runOutput runs a container to its exit and returns its exit code and
// combined output.
func runOutput(t *testing.T, r *Runtime, spec runtime.ContainerSpec) (int, string) {
	t.Helper()
	out := runtimetest.NewOutput()
	spec.Stdout, spec.Stderr = out, out
	id := start(t, r, spec)
	st := waitExit(t, r, id)
	return st.Code, out.String()
}

// procStatus returns the value of a /proc/self/status field as the
// container's shell sees it.
func procStatus(t *testing.T, r *Runtime, spec runtime.ContainerSpec, field string) string {
	t.Helper()
	spec.Command = []string{"grep", "^" + field + ":", "/proc/self/status"}
	code, out := runOutput(t, r, spec)
	require.Equal(t, 0, code, out)
	_, v, ok := strings.Cut(out, ":")
	require.True(t, ok, out)
	return strings.TrimSpace(v)
}

func TestEnvUserWorkdirHostname(t *testing.T) {
	t.Parallel()
	r := newRuntime(t)
	tests := []struct {
		name string
		spec runtime.ContainerSpec
		want string
	}{
		{"defaults", runtime.ContainerSpec{}, "FOO= PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin uid=0 gid=0 groups=0 pwd=/"},
		{"env appended and overriding", runtime.ContainerSpec{Env: []string{"FOO=bar baz", "PATH=/bin:/usr/bin"}}, "FOO=bar baz PATH=/bin:/usr/bin uid=0 gid=0 groups=0 pwd=/"},
		{"user by name gets its groups", runtime.ContainerSpec{User: ocitest.UserName}, "uid=1000 gid=1000 groups=1000 2000"},
		{"uid", runtime.ContainerSpec{User: "1000"}, "uid=1000 gid=1000 groups=1000 2000"},
		{"uid:gid", runtime.ContainerSpec{User: "1234:5678"}, "uid=1234 gid=5678 groups=5678"},
		{"user:group", runtime.ContainerSpec{User: "stevedore:root"}, "uid=1000 gid=0"},
		{"working dir", runtime.ContainerSpec{WorkingDir: "/tmp"}, "pwd=/tmp"},
		{"hostname", runtime.ContainerSpec{Hostname: "web-1"}, "hostname=web-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			spec := tt.spec
			spec.Command = []string{"sh", "-c", `echo "FOO=$FOO PATH=$PATH uid=$(id -u) gid=$(id -g) groups=$(id -G) pwd=$(pwd) hostname=$(hostname)"`}
			code, out := runOutput(t, r, spec)
			require.Equal(t, 0, code, out)
			assert.Contains(t, out, tt.want)
		})
	}

	t.Run("unknown user", func(t *testing.T) {
		t.Parallel()
		err := r.Create(testCtx(t), runtime.ContainerSpec{ID: uniqueID(t), Image: testImage, User: "nosuchuser"})
		require.ErrorIs(t, err, runtime.ErrInvalidSpec)
	})
}

func TestEntryPointAndCommand(t *testing.T) {
	t.Parallel()
	r := newRuntime(t)
	// The test image has no ENTRYPOINT and CMD ["sh"].
	tests := []struct {
		name       string
		entryPoint []string
		command    []string
		want       string
	}{
		{"command replaces CMD", nil, []string{"echo", "from", "command"}, "from command\n"},
		{"entry point drops CMD", []string{"echo", "entry"}, nil, "entry\n"},
		{"both", []string{"echo", "entry"}, []string{"and", "command"}, "entry and command\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out := runOutput(t, r, runtime.ContainerSpec{EntryPoint: tt.entryPoint, Command: tt.command})
			require.Equal(t, 0, code)
			assert.Equal(t, tt.want, out)
		})
	}
}

func TestReadonlyRootfs(t *testing.T) {
	t.Parallel()
	r := newRuntime(t)
	code, out := runOutput(t, r, runtime.ContainerSpec{ReadonlyRootfs: true, Command: []string{"touch", "/written"}})
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "Read-only file system")

	code, out = runOutput(t, r, runtime.ContainerSpec{Command: []string{"touch", "/written"}})
	assert.Equal(t, 0, code, out)
}

func TestMountsAndUlimits(t *testing.T) {
	t.Parallel()
	r := newRuntime(t)
	rw, ro := t.TempDir(), t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(ro, "in"), []byte("from host"), 0o644))

	code, out := runOutput(t, r, runtime.ContainerSpec{
		Mounts: []runtime.Mount{
			{Source: rw, Destination: "/data"},
			{Source: ro, Destination: "/config", ReadOnly: true},
		},
		// Limits below the host's hard limits: raising one needs
		// CAP_SYS_RESOURCE, which a sandboxed host may not grant.
		Ulimits: []runtime.Ulimit{{Name: "nofile", Soft: 100, Hard: 200}, {Name: "NPROC", Soft: 500, Hard: 1000}},
		Command: []string{"sh", "-c", `echo hi > /data/out; cat /config/in; echo; touch /config/x 2>/dev/null || echo ro; echo "nofile=$(ulimit -n)/$(ulimit -Hn) nproc=$(ulimit -u)/$(ulimit -Hu)"`},
	})
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "from host\nro\nnofile=100/200 nproc=500/1000")
	data, err := os.ReadFile(filepath.Join(rw, "out"))
	require.NoError(t, err)
	assert.Equal(t, "hi\n", string(data))

	err = r.Create(testCtx(t), runtime.ContainerSpec{ID: uniqueID(t), Image: testImage,
		Mounts: []runtime.Mount{{Source: filepath.Join(rw, "missing"), Destination: "/x"}}})
	require.ErrorIs(t, err, runtime.ErrInvalidSpec)
}

// cgroupV2 reports whether the host uses the unified cgroup hierarchy.
func cgroupV2() bool {
	_, err := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	return err == nil
}

func TestResourceLimits(t *testing.T) {
	t.Parallel()
	r := newRuntime(t)
	const limit, reservation = 64 << 20, 32 << 20
	files := "memory/memory.limit_in_bytes memory/memory.soft_limit_in_bytes cpu/cpu.shares pids/pids.max"
	want := fmt.Sprintf("%d\n%d\n512\n50\n", limit, reservation)
	if cgroupV2() {
		files = "memory.max memory.low cpu.weight pids.max"
		// runc converts shares 512 to weight 1 + ((512-2)*9999)/262142 = 20.
		want = fmt.Sprintf("%d\n%d\n20\n50\n", limit, reservation)
	}
	out := runtimetest.NewOutput()
	id := start(t, r, runtime.ContainerSpec{
		MemoryLimit: limit, MemoryReservation: reservation, CPUShares: 512, PidsLimit: 50,
		Command: []string{"sh", "-c", "cd /sys/fs/cgroup; cat " + files + "; echo ready; exec sleep 1000"},
		Stdout:  out, Stderr: out,
	})
	out.WaitContains(t, "ready")
	assert.Equal(t, want+"ready\n", out.String())

	st, err := r.Stats(testCtx(t), id)
	require.NoError(t, err)
	assert.Equal(t, uint64(limit), st.MemoryLimit)
	assert.Positive(t, st.MemoryUsage)
	assert.Positive(t, st.CPUUsage)
	assert.GreaterOrEqual(t, st.Pids, uint64(1))
	assert.False(t, st.Time.IsZero())
}

func TestStatsWithoutLimit(t *testing.T) {
	t.Parallel()
	r := newRuntime(t)
	out := runtimetest.NewOutput()
	id := start(t, r, runtime.ContainerSpec{
		Command: []string{"sh", "-c", "sleep 1000 & sleep 1000 & echo ready; wait"},
		Stdout:  out,
	})
	out.WaitContains(t, "ready")
	st, err := r.Stats(testCtx(t), id)
	require.NoError(t, err)
	assert.Zero(t, st.MemoryLimit, "no limit reads as 0")
	assert.Equal(t, uint64(3), st.Pids)

	created := create(t, r, runtime.ContainerSpec{Command: []string{"true"}})
	_, err = r.Stats(testCtx(t), created)
	require.ErrorIs(t, err, runtime.ErrNotRunning)
}

// capNames decodes a /proc/<pid>/status capability mask.
func capNames(t *testing.T, hexMask string) []string {
	t.Helper()
	v, err := strconv.ParseUint(hexMask, 16, 64)
	require.NoError(t, err)
	names, unknown := cap.FromBitmap(v)
	require.Empty(t, unknown)
	if names == nil {
		names = []string{}
	}
	slices.Sort(names)
	return names
}

func TestCapabilitiesAndSecurityDefaults(t *testing.T) {
	t.Parallel()
	r := newRuntime(t)
	withNetAdmin := append(slices.Clone(DefaultCapabilities), "CAP_NET_ADMIN")
	slices.Sort(withNetAdmin)
	withoutChown := slices.DeleteFunc(slices.Clone(DefaultCapabilities), func(c string) bool { return c == "CAP_CHOWN" })
	tests := []struct {
		name      string
		add, drop []string
		want      []string
	}{
		{"Docker's defaults", nil, nil, DefaultCapabilities},
		{"add NET_ADMIN", []string{"NET_ADMIN"}, nil, withNetAdmin},
		{"drop CAP_CHOWN", nil, []string{"CAP_CHOWN"}, withoutChown},
		{"drop ALL add KILL", []string{"kill"}, []string{"ALL"}, []string{"CAP_KILL"}},
		{"drop ALL", nil, []string{"ALL"}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			spec := runtime.ContainerSpec{CapAdd: tt.add, CapDrop: tt.drop}
			assert.Equal(t, tt.want, capNames(t, procStatus(t, r, spec, "CapEff")))
			assert.Equal(t, tt.want, capNames(t, procStatus(t, r, spec, "CapBnd")))
		})
	}

	t.Run("no new privileges and seccomp filter", func(t *testing.T) {
		t.Parallel()
		assert.Equal(t, "1", procStatus(t, r, runtime.ContainerSpec{}, "NoNewPrivs"))
		assert.Equal(t, "2", procStatus(t, r, runtime.ContainerSpec{}, "Seccomp"), "2 is SECCOMP_MODE_FILTER")
	})

	t.Run("masked and read-only paths", func(t *testing.T) {
		t.Parallel()
		if _, err := os.Stat("/proc/timer_list"); err != nil {
			t.Skip("this kernel has no /proc/timer_list to mask")
		}
		code, out := runOutput(t, r, runtime.ContainerSpec{Command: []string{"sh", "-c",
			"echo timer_list=$(wc -c < /proc/timer_list) firmware=$(ls /sys/firmware | wc -l); (echo 1 > /proc/sys/kernel/domainname) 2>/dev/null || echo sysctl read-only"}})
		require.Equal(t, 0, code, out)
		assert.Equal(t, "timer_list=0 firmware=0\nsysctl read-only\n", out)
	})

	t.Run("non-root user has no effective capabilities", func(t *testing.T) {
		t.Parallel()
		assert.Equal(t, []string{}, capNames(t, procStatus(t, r, runtime.ContainerSpec{User: "1000"}, "CapEff")))
	})

	t.Run("privileged", func(t *testing.T) {
		t.Parallel()
		spec := runtime.ContainerSpec{Privileged: true, CapDrop: []string{"ALL"}}
		// Every capability this host lets a process hold (those of the
		// caller, as ctr and Docker give), CapDrop ignored.
		all, err := cap.Current()
		require.NoError(t, err)
		slices.Sort(all)
		require.Contains(t, all, "CAP_SYS_ADMIN")
		assert.Equal(t, all, capNames(t, procStatus(t, r, spec, "CapEff")))
		assert.Equal(t, "0", procStatus(t, r, spec, "NoNewPrivs"))
		assert.Equal(t, "0", procStatus(t, r, spec, "Seccomp"), "0 is SECCOMP_MODE_DISABLED")
		hostDevices, err := os.ReadDir("/dev")
		require.NoError(t, err)
		var block string
		for _, d := range hostDevices {
			if d.Type()&os.ModeDevice != 0 && d.Type()&os.ModeCharDevice == 0 {
				block = d.Name()
				break
			}
		}
		if block == "" {
			t.Skip("the host has no block device to look for")
		}
		code, out := runOutput(t, r, runtime.ContainerSpec{Privileged: true, Command: []string{"sh", "-c",
			"test -b /dev/" + block + " && echo device; (echo 1 > /proc/sys/kernel/domainname) 2>/dev/null && echo sysctl writable"}})
		require.Equal(t, 0, code, out)
		assert.Equal(t, "device\nsysctl writable\n", out, "the host's devices, no read-only paths")
		code, out = runOutput(t, r, runtime.ContainerSpec{Command: []string{"sh", "-c", "test -b /dev/" + block + " || echo no device"}})
		require.Equal(t, 0, code, out)
		assert.Equal(t, "no device\n", out)
	})

	t.Run("unknown capability", func(t *testing.T) {
		t.Parallel()
		err := r.Create(testCtx(t), runtime.ContainerSpec{ID: uniqueID(t), Image: testImage, CapAdd: []string{"NET_WIZARD"}})
		require.ErrorIs(t, err, runtime.ErrInvalidSpec)
	})
}

func TestNetworkNamespaces(t *testing.T) {
	t.Parallel()
	r := newRuntime(t)
	interfaces := []string{"sh", "-c", "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\\n' ' '"}

	t.Run("private namespace has only loopback", func(t *testing.T) {
		t.Parallel()
		code, out := runOutput(t, r, runtime.ContainerSpec{Command: interfaces})
		require.Equal(t, 0, code, out)
		assert.Equal(t, "lo ", out)
	})

	t.Run("host network", func(t *testing.T) {
		t.Parallel()
		hostNS, err := os.Readlink("/proc/self/ns/net")
		require.NoError(t, err)
		code, out := runOutput(t, r, runtime.ContainerSpec{HostNetwork: true, Command: []string{"readlink", "/proc/self/ns/net"}})
		require.Equal(t, 0, code, out)
		assert.Equal(t, hostNS+"\n", out)

		hostResolv, err := os.ReadFile("/etc/resolv.conf")
		if err == nil {
			code, out = runOutput(t, r, runtime.ContainerSpec{HostNetwork: true, Command: []string{"cat", "/etc/resolv.conf"}})
			require.Equal(t, 0, code, out)
			assert.Equal(t, string(hostResolv), out)
		}
	})

	t.Run("joins a namespace by path", func(t *testing.T) {
		t.Parallel()
		if _, err := exec.LookPath("ip"); err != nil {
			t.Skip("needs iproute2's ip to create a network namespace")
		}
		name := uniqueID(t)
		out, err := exec.Command("ip", "netns", "add", name).CombinedOutput()
		require.NoError(t, err, string(out))
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "delete", name).Run() })
		path := "/var/run/netns/" + name
		var st syscall.Stat_t
		require.NoError(t, syscall.Stat(path, &st))

		code, got := runOutput(t, r, runtime.ContainerSpec{NetNSPath: path, Command: []string{"readlink", "/proc/self/ns/net"}})
		require.Equal(t, 0, code, got)
		assert.Equal(t, fmt.Sprintf("net:[%d]\n", st.Ino), got)
	})
}

func TestInitProcess(t *testing.T) {
	t.Parallel()
	r := newRuntime(t)
	if _, err := r.initBinary(); err != nil {
		err := r.Create(testCtx(t), runtime.ContainerSpec{ID: uniqueID(t), Image: testImage, Init: true})
		require.ErrorIs(t, err, runtime.ErrInvalidSpec)
		t.Skipf("no init binary on this host (install tini): checked that Create refuses Init: %v", err)
	}

	out := runtimetest.NewOutput()
	id := start(t, r, runtime.ContainerSpec{
		Init:    true,
		Command: []string{"sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo; echo ready; exec sleep 1000"},
		Stdout:  out,
	})
	out.WaitContains(t, "ready")
	assert.Contains(t, out.String(), initDestination+" -- sh -c")
	// sleep is not PID 1: SIGTERM, forwarded by the init, ends it.
	require.NoError(t, r.Signal(testCtx(t), id, syscall.SIGTERM))
	assert.Equal(t, 128+int(syscall.SIGTERM), waitExit(t, r, id).Code)

	code, got := runOutput(t, r, runtime.ContainerSpec{Init: true, Command: []string{"sh", "-c", "exit 7"}})
	assert.Equal(t, 7, code, got)

	// Start returns once the init forwards signals: a SIGTERM right away
	// is not lost.
	for i := range 3 {
		id := start(t, r, runtime.ContainerSpec{Init: true, Command: []string{"sleep", "1000"}})
		info, err := r.Inspect(testCtx(t), id)
		require.NoError(t, err)
		ready, err := initReady(uint32(info.PID))
		require.NoError(t, err)
		require.True(t, ready, "round %d", i)
		require.NoError(t, r.Signal(testCtx(t), id, syscall.SIGTERM))
		assert.Equal(t, 128+int(syscall.SIGTERM), waitExit(t, r, id).Code)
	}
}
