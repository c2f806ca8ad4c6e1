//go:build linux

package containerd

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/containerd/containerd/v2/contrib/seccomp"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/cap"
	"github.com/containerd/containerd/v2/pkg/identifiers"
	"github.com/containerd/containerd/v2/pkg/oci"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/stevedore-io/stevedore/runtime"
)

// DefaultCapabilities is Docker's default capability set, which containers
// get unless ContainerSpec.CapAdd or CapDrop change it.
var DefaultCapabilities = []string{
	"CAP_AUDIT_WRITE",
	"CAP_CHOWN",
	"CAP_DAC_OVERRIDE",
	"CAP_FOWNER",
	"CAP_FSETID",
	"CAP_KILL",
	"CAP_MKNOD",
	"CAP_NET_BIND_SERVICE",
	"CAP_NET_RAW",
	"CAP_SETFCAP",
	"CAP_SETGID",
	"CAP_SETPCAP",
	"CAP_SETUID",
	"CAP_SYS_CHROOT",
}

const (
	// initDestination is where the init binary is bound in containers
	// that ask for one.
	initDestination = "/sbin/stevedore-init"
	// defaultPathEnv is the PATH of images that set none (as Docker's).
	defaultPathEnv = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	// Limits of the cgroup v1 cpu.shares the kernel accepts.
	minCPUShares = 2
	maxCPUShares = 262144
)

// rlimitNames maps ECS ulimit names to the OCI rlimit types.
var rlimitNames = map[string]string{
	"as": "RLIMIT_AS", "core": "RLIMIT_CORE", "cpu": "RLIMIT_CPU", "data": "RLIMIT_DATA",
	"fsize": "RLIMIT_FSIZE", "locks": "RLIMIT_LOCKS", "memlock": "RLIMIT_MEMLOCK",
	"msgqueue": "RLIMIT_MSGQUEUE", "nice": "RLIMIT_NICE", "nofile": "RLIMIT_NOFILE",
	"nproc": "RLIMIT_NPROC", "rss": "RLIMIT_RSS", "rtprio": "RLIMIT_RTPRIO",
	"rttime": "RLIMIT_RTTIME", "sigpending": "RLIMIT_SIGPENDING", "stack": "RLIMIT_STACK",
}

// invalid wraps runtime.ErrInvalidSpec with the field at fault.
func invalid(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", runtime.ErrInvalidSpec, field, fmt.Sprintf(format, args...))
}

// validateSpec checks what can be checked without containerd. It does not
// look at the host (mount sources, network namespace paths): Create does.
func validateSpec(spec runtime.ContainerSpec) error {
	if err := identifiers.Validate(spec.ID); err != nil {
		return invalid("ID", "%v", err)
	}
	if spec.Image == "" {
		return invalid("Image", "empty")
	}
	for i, kv := range spec.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return invalid(fmt.Sprintf("Env[%d]", i), "%q is not KEY=VALUE", kv)
		}
	}
	if spec.WorkingDir != "" && !filepath.IsAbs(spec.WorkingDir) {
		return invalid("WorkingDir", "%q is not absolute", spec.WorkingDir)
	}
	if spec.User != "" {
		if u, g, _ := strings.Cut(spec.User, ":"); u == "" || strings.Count(spec.User, ":") > 1 ||
			(strings.Contains(spec.User, ":") && g == "") {
			return invalid("User", "%q is not uid, uid:gid, user or user:group", spec.User)
		}
	}
	for k := range spec.Labels {
		if k == "" || strings.HasPrefix(k, labelPrefix) {
			return invalid("Labels", "key %q is empty or reserved (prefix %s)", k, labelPrefix)
		}
	}
	if spec.HostNetwork && spec.NetNSPath != "" {
		return invalid("NetNSPath", "set together with HostNetwork")
	}
	if spec.NetNSPath != "" && !filepath.IsAbs(spec.NetNSPath) {
		return invalid("NetNSPath", "%q is not absolute", spec.NetNSPath)
	}
	if spec.CPUShares > maxCPUShares {
		return invalid("CPUShares", "%d is above %d", spec.CPUShares, maxCPUShares)
	}
	if spec.MemoryLimit < 0 {
		return invalid("MemoryLimit", "negative")
	}
	if spec.MemoryReservation < 0 {
		return invalid("MemoryReservation", "negative")
	}
	if spec.MemoryLimit > 0 && spec.MemoryReservation > spec.MemoryLimit {
		return invalid("MemoryReservation", "%d is above MemoryLimit %d", spec.MemoryReservation, spec.MemoryLimit)
	}
	if spec.PidsLimit < 0 {
		return invalid("PidsLimit", "negative")
	}
	for i, m := range spec.Mounts {
		field := fmt.Sprintf("Mounts[%d]", i)
		if !filepath.IsAbs(m.Source) {
			return invalid(field, "source %q is not absolute", m.Source)
		}
		if !filepath.IsAbs(m.Destination) || filepath.Clean(m.Destination) == "/" {
			return invalid(field, "destination %q is not an absolute path below /", m.Destination)
		}
	}
	if _, err := rlimits(spec.Ulimits); err != nil {
		return err
	}
	if _, err := capabilities(spec.CapAdd, spec.CapDrop); err != nil {
		return err
	}
	return nil
}

// processArgs merges the spec's EntryPoint and Command with the image's
// ENTRYPOINT and CMD as Docker (and so ECS) does: an EntryPoint replaces the
// image's ENTRYPOINT and drops its CMD; a Command replaces CMD.
func processArgs(img ocispec.ImageConfig, entryPoint, command []string) []string {
	entry, cmd := img.Entrypoint, img.Cmd
	if len(entryPoint) > 0 {
		entry, cmd = entryPoint, nil
	}
	if len(command) > 0 {
		cmd = command
	}
	return append(slices.Clone(entry), cmd...)
}

// rlimits converts ECS ulimits; -1 means unlimited.
func rlimits(ulimits []runtime.Ulimit) ([]specs.POSIXRlimit, error) {
	var out []specs.POSIXRlimit
	seen := map[string]bool{}
	for i, u := range ulimits {
		field := fmt.Sprintf("Ulimits[%d]", i)
		typ, ok := rlimitNames[strings.ToLower(u.Name)]
		if !ok {
			return nil, invalid(field, "unknown ulimit %q", u.Name)
		}
		if seen[typ] {
			return nil, invalid(field, "ulimit %q given twice", u.Name)
		}
		seen[typ] = true
		soft, hard, err := rlimitValue(u.Soft), rlimitValue(u.Hard), error(nil)
		if u.Soft < -1 || u.Hard < -1 {
			err = invalid(field, "%s: negative limit", u.Name)
		} else if soft > hard {
			err = invalid(field, "%s: soft limit %d above hard limit %d", u.Name, u.Soft, u.Hard)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, specs.POSIXRlimit{Type: typ, Soft: soft, Hard: hard})
	}
	return out, nil
}

func rlimitValue(v int64) uint64 {
	if v < 0 {
		return math.MaxUint64 // RLIM_INFINITY
	}
	return uint64(v)
}

// normalizeCap turns "net_admin", "NET_ADMIN" or "CAP_NET_ADMIN" into
// "CAP_NET_ADMIN"; "all" becomes "ALL".
func normalizeCap(c string) string {
	c = strings.ToUpper(strings.TrimSpace(c))
	if c == "ALL" || strings.HasPrefix(c, "CAP_") {
		return c
	}
	return "CAP_" + c
}

// knownCapabilities are the capabilities of the running kernel.
var knownCapabilities = sync.OnceValue(func() []string {
	known := cap.Known()
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if last, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && last+1 < len(known) {
			known = known[:last+1]
		}
	}
	return known
})

// capabilities computes the capability set from Docker's defaults and the
// spec's additions and removals, with Docker's rules: adding ALL grants every
// capability but the dropped ones; dropping ALL keeps only the added ones.
func capabilities(add, drop []string) ([]string, error) {
	known := knownCapabilities()
	norm := func(field string, in []string) ([]string, error) {
		out := make([]string, 0, len(in))
		for _, c := range in {
			n := normalizeCap(c)
			if n != "ALL" && !slices.Contains(known, n) {
				if slices.Contains(cap.Known(), n) {
					return nil, invalid(field, "capability %q is not supported by this kernel", c)
				}
				return nil, invalid(field, "unknown capability %q", c)
			}
			out = append(out, n)
		}
		return out, nil
	}
	adds, err := norm("CapAdd", add)
	if err != nil {
		return nil, err
	}
	drops, err := norm("CapDrop", drop)
	if err != nil {
		return nil, err
	}

	set := map[string]bool{}
	switch {
	case slices.Contains(adds, "ALL"):
		for _, c := range known {
			if !slices.Contains(drops, c) {
				set[c] = true
			}
		}
	case slices.Contains(drops, "ALL"):
		for _, c := range adds {
			set[c] = true
		}
	default:
		for _, c := range DefaultCapabilities {
			if !slices.Contains(drops, c) {
				set[c] = true
			}
		}
		for _, c := range adds {
			set[c] = true
		}
	}
	caps := make([]string, 0, len(set))
	for c := range set {
		caps = append(caps, c)
	}
	sort.Strings(caps)
	return caps, nil
}

// withImageConfig applies an image's environment, working directory and
// user, as oci.WithImageConfig does, from a config read beforehand.
func withImageConfig(cfg ocispec.ImageConfig) oci.SpecOpts {
	return func(ctx context.Context, cl oci.Client, c *containers.Container, s *oci.Spec) error {
		env := cfg.Env
		if len(env) == 0 {
			env = []string{defaultPathEnv}
		}
		s.Process.Env = slices.Clone(env)
		s.Process.Cwd = cfg.WorkingDir
		if s.Process.Cwd == "" {
			s.Process.Cwd = "/"
		}
		if cfg.User == "" {
			// Supplementary groups of root from the image's /etc/group.
			return oci.WithAdditionalGIDs("root")(ctx, cl, c, s)
		}
		return withUser(cfg.User)(ctx, cl, c, s)
	}
}

// withUser resolves user ("uid", "uid:gid", "user", "user:group") against the
// container's /etc/passwd and /etc/group and sets supplementary groups.
func withUser(user string) oci.SpecOpts {
	return func(ctx context.Context, cl oci.Client, c *containers.Container, s *oci.Spec) error {
		if err := oci.WithUser(user)(ctx, cl, c, s); err != nil {
			return invalid("User", "%q: %v", user, err)
		}
		name, _, _ := strings.Cut(user, ":")
		if _, err := strconv.Atoi(name); err == nil {
			name = strconv.FormatUint(uint64(s.Process.User.UID), 10)
		}
		if err := oci.WithAdditionalGIDs(name)(ctx, cl, c, s); err != nil {
			return invalid("User", "%q: groups: %v", user, err)
		}
		return nil
	}
}

// withMemoryReservation sets the soft memory limit.
func withMemoryReservation(v int64) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		if s.Linux.Resources == nil {
			s.Linux.Resources = &specs.LinuxResources{}
		}
		if s.Linux.Resources.Memory == nil {
			s.Linux.Resources.Memory = &specs.LinuxMemory{}
		}
		s.Linux.Resources.Memory.Reservation = &v
		return nil
	}
}

// withNewPrivileges clears the no_new_privs flag of containerd's default
// spec, as Docker's --privileged: setuid programs work.
func withNewPrivileges(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
	if s.Process != nil {
		s.Process.NoNewPrivileges = false
	}
	return nil
}

// withRlimits replaces the rlimits of the same type and adds the others.
func withRlimits(limits []specs.POSIXRlimit) oci.SpecOpts {
	opts := make([]oci.SpecOpts, 0, len(limits))
	for i := range limits {
		opts = append(opts, oci.WithRlimit(&limits[i]))
	}
	return oci.Compose(opts...)
}

// specOpts turns a validated ContainerSpec into OCI spec options on top of
// containerd's default spec (which already has the masked and read-only
// paths, the default mounts, and private namespaces).
func (r *Runtime) specOpts(spec runtime.ContainerSpec, img ocispec.ImageConfig) ([]oci.SpecOpts, error) {
	args := processArgs(img, spec.EntryPoint, spec.Command)
	if len(args) == 0 {
		return nil, invalid("Command", "the image has no ENTRYPOINT or CMD and the spec sets none")
	}
	opts := []oci.SpecOpts{
		withImageConfig(img),
		// The container's own cgroups, read-only, as Docker mounts them:
		// runtimes such as the JVM size themselves from the limits there.
		oci.WithMounts([]specs.Mount{{
			Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup",
			Options: []string{"ro", "nosuid", "noexec", "nodev", "relatime"},
		}}),
	}
	if spec.Init {
		initPath, err := r.initBinary()
		if err != nil {
			return nil, err
		}
		opts = append(opts, oci.WithMounts([]specs.Mount{{
			Destination: initDestination, Type: "bind", Source: initPath,
			Options: []string{"bind", "ro", "nosuid", "nodev"},
		}}))
		args = append([]string{initDestination, "--"}, args...)
	}
	opts = append(opts, oci.WithProcessArgs(args...))
	if len(spec.Env) > 0 {
		opts = append(opts, oci.WithEnv(spec.Env))
	}
	if spec.WorkingDir != "" {
		opts = append(opts, oci.WithProcessCwd(spec.WorkingDir))
	}
	if spec.User != "" {
		opts = append(opts, withUser(spec.User))
	}
	if spec.Hostname != "" {
		opts = append(opts, oci.WithHostname(spec.Hostname))
	}
	switch {
	case spec.HostNetwork:
		opts = append(opts, oci.WithHostNamespace(specs.NetworkNamespace), oci.WithHostHostsFile, oci.WithHostResolvconf)
	case spec.NetNSPath != "":
		opts = append(opts, oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: spec.NetNSPath}))
	}
	if spec.CPUShares > 0 {
		opts = append(opts, oci.WithCPUShares(max(spec.CPUShares, minCPUShares)))
	}
	if spec.MemoryLimit > 0 {
		opts = append(opts, oci.WithMemoryLimit(uint64(spec.MemoryLimit)))
	}
	if spec.MemoryReservation > 0 {
		opts = append(opts, withMemoryReservation(spec.MemoryReservation))
	}
	if spec.PidsLimit > 0 {
		opts = append(opts, oci.WithPidsLimit(spec.PidsLimit))
	}
	if spec.ReadonlyRootfs {
		opts = append(opts, oci.WithRootFSReadonly())
	}
	if len(spec.Mounts) > 0 {
		mounts := make([]specs.Mount, 0, len(spec.Mounts))
		for _, m := range spec.Mounts {
			mode := "rw"
			if m.ReadOnly {
				mode = "ro"
			}
			mounts = append(mounts, specs.Mount{
				Destination: filepath.Clean(m.Destination), Type: "bind", Source: filepath.Clean(m.Source),
				Options: []string{"rbind", "rprivate", mode},
			})
		}
		opts = append(opts, oci.WithMounts(mounts))
	}
	limits, err := rlimits(spec.Ulimits)
	if err != nil {
		return nil, err
	}
	if len(limits) > 0 {
		opts = append(opts, withRlimits(limits))
	}
	caps, err := capabilities(spec.CapAdd, spec.CapDrop)
	if err != nil {
		return nil, err
	}
	if spec.Privileged {
		// As runc's callers give a privileged container (ctr
		// --privileged, Docker): after the mounts, whose cgroup mount it
		// makes writable.
		return append(opts, oci.WithPrivileged, oci.WithAllDevicesAllowed, oci.WithHostDevices, withNewPrivileges), nil
	}
	// The seccomp profile depends on the capabilities (CAP_SYS_ADMIN allows
	// mount, ...): it comes after them.
	opts = append(opts,
		oci.WithCapabilities(caps),
		oci.WithNoNewPrivileges,
		seccomp.WithDefaultProfile(),
	)
	return opts, nil
}

// initBinary returns the init binary bound into containers with Init.
func (r *Runtime) initBinary() (string, error) {
	paths := DefaultInitPaths
	if r.opts.initPath != "" {
		paths = []string{r.opts.initPath}
	}
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", invalid("Init", "no init binary found (looked for %s); install tini-static or use WithInitBinary", strings.Join(paths, ", "))
}

// checkHostPaths checks the paths of the spec that must exist on the host.
func checkHostPaths(spec runtime.ContainerSpec) error {
	for i, m := range spec.Mounts {
		if _, err := os.Stat(m.Source); err != nil {
			return invalid(fmt.Sprintf("Mounts[%d]", i), "source: %v", err)
		}
	}
	if spec.NetNSPath != "" {
		if _, err := os.Stat(spec.NetNSPath); err != nil {
			return invalid("NetNSPath", "%v", err)
		}
	}
	return nil
}
