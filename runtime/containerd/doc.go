// Package containerd is Stevedore's real container runtime: it implements
// runtime.Runtime on top of a containerd daemon (1.6 or later) and runc,
// through containerd's v2 Go client. It needs Linux and root; on other
// systems New returns ErrUnsupported.
//
// # Connecting
//
//	rt, err := containerd.New("/run/containerd/containerd.sock",
//		containerd.WithNamespace("stevedore"),      // the default
//		containerd.WithLogger(logger),
//	)
//	if err != nil { ... }
//	defer rt.Close()
//
// New checks that the daemon answers (within WithConnectTimeout) and that
// the snapshotter works. Everything the runtime makes (containers, tasks,
// images, snapshots, leases) lives in one containerd namespace, "stevedore"
// by default, apart from other users of the same daemon. The default
// snapshotter is overlayfs, with a fallback to native when containerd could
// not load overlayfs; a snapshotter chosen with WithSnapshotter has no
// fallback. Containers run with the io.containerd.runc.v2 shim (WithRuntime).
//
// # Images
//
// EnsureImage pulls an image unless it is already present and unpacked (then
// it costs no registry request). Credentials (runtime.Auth) go to the
// registry of the reference only, for that pull; they are neither logged nor
// kept. Registries are reached over HTTPS; plain HTTP is allowed only for
// loopback registries named with WithPlainHTTP, such as a test registry on
// 127.0.0.1. Pulls go through the client's fetch and unpack path, not the
// transfer service, so that they work with containerd 1.6.
//
// ImportArchive loads an OCI image layout or docker-save tar, for example
// one built by internal/ocitest, and unpacks it; it returns the image names.
//
// # Containers
//
// Create makes the container's writable snapshot and OCI spec; Start creates
// the runc container and starts its process (errors from runc, like a missing
// executable, wrap runtime.ErrStart). The spec follows Docker and ECS:
//
//   - EntryPoint replaces the image's ENTRYPOINT and drops its CMD; Command
//     replaces CMD. Env is added to the image's environment, overriding
//     variables of the same name.
//   - User is resolved against the image's /etc/passwd and /etc/group, with
//     supplementary groups; WorkingDir, Hostname, Labels as given.
//   - NetNSPath joins a network namespace; HostNetwork uses the host's, with
//     its /etc/hosts and /etc/resolv.conf; otherwise the container gets a
//     namespace of its own with only loopback.
//   - CPUShares, MemoryLimit, MemoryReservation and PidsLimit become cgroup
//     limits, visible read-only at /sys/fs/cgroup inside the container.
//   - Mounts are bind mounts (sources must exist), Ulimits rlimits (-1 is
//     unlimited; raising a hard limit above the host's needs privileges the
//     host may not give).
//   - Init runs a static tini as PID 1 (bound at /sbin/stevedore-init) to
//     forward signals and reap zombies. The binary comes from the host:
//     WithInitBinary, or the first of DefaultInitPaths (Debian's tini package
//     installs /usr/bin/tini-static). Without one, Create refuses the spec
//     with runtime.ErrInvalidSpec rather than run without an init. Start
//     returns once the init is ready to forward signals (it watches the
//     init in /proc, so the runtime must see the host's PIDs, as containerd
//     does): a SIGTERM sent right after Start is not lost.
//
// # Security defaults
//
// Containers get Docker's default capability set (DefaultCapabilities),
// adjusted by CapAdd and CapDrop with Docker's rules ("ALL" allowed), the
// no_new_privs flag, containerd's default seccomp profile (which widens with
// the capabilities granted, as Docker's does), the masked paths (/proc/kcore,
// /proc/keys, /sys/firmware, ...) and read-only paths (/proc/sys, ...) of the
// default OCI spec, a read-only /sys, private PID, IPC, UTS, mount and
// network namespaces, and an empty device allow-list beyond the standard
// /dev nodes. AppArmor and SELinux profiles are not applied. A Privileged
// spec gets none of this, as ctr's and Docker's --privileged: every
// capability, every host device (and a device cgroup allowing all), no
// seccomp filter or no_new_privs, no masked or read-only paths, writable
// /sys and cgroups.
//
// # Output, exec and stats
//
// The container's stdout and stderr reach the writers of the ContainerSpec
// through FIFOs in WithFIFODir (default /run/stevedore/fifo), one directory
// per process, removed when the process is deleted. A writer that fails stops
// receiving output, but the output keeps being drained so that the container
// never blocks on a full pipe. Output is complete when Wait reports the exit.
//
// Exec runs a command with the main process's user, environment and
// security settings, keeps the first 4 KiB of combined output, and kills the
// command when its context ends (returning the context's error). A command
// that cannot be executed reports exit code 127 (not found) or 126, as a
// shell does. Stats reads cgroup v1 or v2 metrics; memory usage excludes the
// inactive page cache, a limit of 0 means none.
//
// # Restarts and Close
//
// The runtime keeps no state of its own that containerd does not have:
// container labels, the start time (an internal label) and the exit status
// of stopped tasks all live in containerd. Close leaves containers running
// and closes the connection. Pending Wait channels receive an ExitStatus
// whose Err wraps ErrClosed, and later calls return ErrClosed. A container's
// FIFOs are kept, so a new Runtime (an agent that restarted) finds its
// containers with List, takes each over on first use (Wait, Signal, Exec,
// Delete...), drains and discards the output of those still running, and
// reports their exits. (The writers of a ContainerSpec belong to the
// process that called Create: a container created by one Runtime and started
// by another has its output discarded.) Exit statuses of containers that exited while no
// Runtime was watching are still in containerd, unless the daemon itself
// restarted: such containers show as runtime.StateUnknown.
//
// The daemon itself may go away under a Runtime (killed, restarted) while
// the shims keep the containers running. The connection is made again by
// itself, with back-off; until then every call fails with an error
// wrapping runtime.ErrUnavailable, and Wait channels stay open: the exit
// is waited for again once the daemon is back.
//
// # Errors
//
// Errors wrap the runtime package's sentinels (test with errors.Is):
// runtime.ErrNotFound, ErrAlreadyExists, ErrNotRunning, ErrAlreadyStarted,
// ErrStart, ErrInvalidSpec, ErrImagePull, and ErrUnavailable while the
// daemon cannot be reached; containerd's own error kinds
// (errdefs) are kept in the chain as well. New fails with ErrInvalidOption
// for a bad option.
//
// # Tests
//
// LeakCheck lists what is left in the namespace (containers, tasks,
// writable snapshots, FIFO directories). The integration tests need root and
// a daemon: scripts/with-containerd.sh starts a private one and sets
// STEVEDORE_CONTAINERD_ADDRESS; without it they skip, or fail when CI=true.
//
// A Runtime is safe for concurrent use by multiple goroutines.
package containerd
