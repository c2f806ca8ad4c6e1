// Package runtime defines what a Stevedore agent needs from a container engine.
//
// The Runtime interface is deliberately small: make an image available (and
// remove it), create a
// container from a ContainerSpec, start it, wait for its exit, signal it, exec a
// command in it (health checks), read its statistics, list containers by label
// (adoption after a restart) and delete it. Two implementations ship with
// Stevedore:
//
//   - runtime/containerd runs real containers through containerd and runc (Linux);
//   - runtime/fake is an in-memory, scriptable runtime for unit tests.
//
// runtime/runtimetest holds a conformance suite that every implementation passes.
//
// Implementations must be safe for concurrent use by multiple goroutines.
package runtime

import (
	"context"
	"errors"
	"io"
	"syscall"
	"time"

	"github.com/stevedore-io/stevedore/errdefs"
)

// Sentinel errors returned (possibly wrapped) by every Runtime implementation.
// Test for them with errors.Is. ErrNotFound, ErrAlreadyExists,
// ErrInvalidSpec and ErrInUse match their kinds of package errdefs too;
// the others have a meaning of their own.
var (
	// ErrNotFound means the container, or the image, does not exist.
	ErrNotFound = errdefs.New(errdefs.ErrNotFound, "runtime: not found")
	// ErrAlreadyExists means a container with that ID already exists.
	ErrAlreadyExists = errdefs.New(errdefs.ErrAlreadyExists, "runtime: already exists")
	// ErrNotRunning means the operation needs a running container.
	ErrNotRunning = errors.New("runtime: container not running")
	// ErrAlreadyStarted means Start was called on a container that was started before.
	ErrAlreadyStarted = errors.New("runtime: container already started")
	// ErrImagePull means the image could not be pulled or unpacked.
	ErrImagePull = errors.New("runtime: image pull failed")
	// ErrStart means the container process could not be started
	// (for example, the executable does not exist in the image).
	ErrStart = errors.New("runtime: container start failed")
	// ErrInvalidSpec means the ContainerSpec is incomplete or inconsistent.
	ErrInvalidSpec = errdefs.New(errdefs.ErrInvalid, "runtime: invalid container spec")
	// ErrInUse means an image cannot be removed: a container made from it
	// still exists.
	ErrInUse = errdefs.New(errdefs.ErrInUse, "runtime: image in use")
	// ErrUnavailable means the engine could not be reached (its daemon is
	// down or restarting): the call says nothing about the container, whose
	// processes may well go on running. Callers retry later rather than
	// count it against the container (a health check that cannot run is
	// not a failed one).
	ErrUnavailable = errors.New("runtime: engine unavailable")
)

// AccessVerifier is implemented by runtimes that can check, without
// pulling, that credentials could pull an image that is already present:
// the registry serves the local image's manifest, by digest, to them. An
// agent asked to check access (agent.Config.VerifyImageAccess) calls it
// before a container uses a local image, so that a task never runs an
// image that another task's credentials pulled and its own could not.
type AccessVerifier interface {
	// VerifyImageAccess returns nil when auth (nil: anonymous) may pull
	// the content of local image ref. Errors wrap ErrImagePull, and
	// ErrNotFound when ref is not present.
	VerifyImageAccess(ctx context.Context, ref string, auth *Auth) error
}

// Runtime is a container engine as seen by an agent.
//
// A container goes through Create -> Start -> (exit) -> Delete. Wait may be
// called at any time after Create and before Delete; the channel it returns
// receives exactly one ExitStatus when the container's main process exits
// (or immediately, if it has already exited) and is then closed.
//
// Any method may fail with an error wrapping ErrUnavailable while the
// engine cannot be reached. Containers outlive such an outage, and so do
// Wait channels: a wait goes on until the engine is back and reports the
// exit then.
type Runtime interface {
	// EnsureImage makes ref available locally, pulling it with auth when it is
	// missing. auth may be nil. Errors wrap ErrImagePull.
	EnsureImage(ctx context.Context, ref string, auth *Auth) error

	// RemoveImage removes image ref from local storage, with its layers
	// and content once no other image shares them. It refuses while a
	// container made from the image exists. A later EnsureImage pulls it
	// again. Errors wrap ErrNotFound (no such image) or ErrInUse.
	RemoveImage(ctx context.Context, ref string) error

	// Create creates, but does not start, a container. Errors wrap
	// ErrAlreadyExists, ErrNotFound (image missing) or ErrInvalidSpec.
	Create(ctx context.Context, spec ContainerSpec) error

	// Start starts a created container. Errors wrap ErrNotFound,
	// ErrAlreadyStarted or ErrStart.
	Start(ctx context.Context, id string) error

	// Wait returns a channel that receives the container's exit status once.
	Wait(ctx context.Context, id string) (<-chan ExitStatus, error)

	// Signal sends sig to the container's main process. Errors wrap
	// ErrNotFound or ErrNotRunning.
	Signal(ctx context.Context, id string, sig syscall.Signal) error

	// Exec runs cmd inside a running container and waits for it, at most until
	// ctx is done. A command that runs and exits non-zero is not an error: its
	// code is in the result. Errors wrap ErrNotFound or ErrNotRunning, or
	// context.DeadlineExceeded when the command did not finish in time.
	Exec(ctx context.Context, id string, cmd []string) (ExecResult, error)

	// Stats returns resource usage of a running container.
	Stats(ctx context.Context, id string) (Stats, error)

	// Inspect returns what the runtime knows of one container.
	Inspect(ctx context.Context, id string) (ContainerInfo, error)

	// List returns the containers carrying every label in selector
	// (all containers when selector is empty), in ID order.
	List(ctx context.Context, selector map[string]string) ([]ContainerInfo, error)

	// Delete removes a container that is not running, with its writable layer.
	// Deleting a running container kills it first. Errors wrap ErrNotFound.
	Delete(ctx context.Context, id string) error
}

// Auth holds registry credentials for EnsureImage. They come from a secrets
// provider at pull time and are never stored.
type Auth struct {
	Username string
	Password string
}

// ContainerSpec is everything needed to create one container.
type ContainerSpec struct {
	// ID identifies the container; unique within the runtime.
	ID string
	// Image is the image reference, already made available with EnsureImage.
	Image string
	// EntryPoint and Command override the image's ENTRYPOINT and CMD, as in
	// an ECS container definition. Empty means "use the image's".
	EntryPoint []string
	Command    []string
	// Env is KEY=VALUE pairs, added to the image's environment.
	Env []string
	// WorkingDir overrides the image's working directory when set.
	WorkingDir string
	// User is "uid", "uid:gid", "user" or "user:group".
	User string
	// Hostname of the container; empty keeps the runtime's default.
	Hostname string
	// Labels are attached to the container; List selects on them.
	Labels map[string]string

	// NetNSPath is the network namespace to join (for example
	// /var/run/netns/stevedore-abc). When empty and HostNetwork is false the
	// container gets a private namespace with loopback only.
	NetNSPath string
	// HostNetwork runs the container in the host's network namespace.
	HostNetwork bool

	// CPUShares is the relative CPU weight (ECS cpu units map 1:1; 0 = default).
	CPUShares uint64
	// MemoryLimit is the hard memory limit in bytes (0 = none).
	MemoryLimit int64
	// MemoryReservation is the soft memory limit in bytes (0 = none).
	MemoryReservation int64
	// PidsLimit caps the number of processes (0 = none).
	PidsLimit int64

	// ReadonlyRootfs mounts the root filesystem read-only.
	ReadonlyRootfs bool
	// Mounts are bind mounts into the container.
	Mounts []Mount
	// Ulimits are resource limits for the container's processes.
	Ulimits []Ulimit
	// CapAdd and CapDrop adjust the default capability set
	// (names such as "NET_ADMIN" or "CAP_NET_ADMIN"; "ALL" is allowed).
	CapAdd  []string
	CapDrop []string
	// Init runs an init process as PID 1 that forwards signals and reaps zombies.
	Init bool
	// Privileged runs the container as Docker's --privileged does: every
	// capability (CapAdd and CapDrop are then ignored), the host's
	// devices, no seccomp filter, no masked or read-only paths, a
	// writable /sys and cgroup filesystem, and no no_new_privs flag. The
	// container owns the host: set it only for a task the task policy
	// lets do so (package task/policy, level privileged).
	Privileged bool

	// Stdout and Stderr receive the container's output. Nil discards it.
	Stdout io.Writer
	Stderr io.Writer
}

// Mount is a bind mount.
type Mount struct {
	Source      string // path on the host
	Destination string // path in the container
	ReadOnly    bool
}

// Ulimit is one resource limit (name as in ECS: "nofile", "nproc", ...).
type Ulimit struct {
	Name string
	Soft int64
	Hard int64
}

// ExitStatus is how a container's main process ended.
type ExitStatus struct {
	// Code is the exit code; 128+n when killed by signal n.
	Code int
	// ExitedAt is when the runtime saw the exit.
	ExitedAt time.Time
	// Err is set when the exit status could not be determined.
	Err error
}

// ExecResult is the outcome of Exec.
type ExecResult struct {
	ExitCode int
	// Output is the combined stdout and stderr, truncated to a few KiB.
	Output []byte
}

// Stats is a point-in-time reading of a container's resource usage.
type Stats struct {
	Time time.Time
	// CPUUsage is cumulative CPU time consumed.
	CPUUsage time.Duration
	// MemoryUsage and MemoryLimit are in bytes (limit 0 = unlimited).
	MemoryUsage uint64
	MemoryLimit uint64
	// Pids is the number of processes.
	Pids uint64
}

// State is a container's state as the runtime sees it.
type State string

// Container states.
const (
	StateCreated State = "CREATED"
	StateRunning State = "RUNNING"
	StateStopped State = "STOPPED"
	StateUnknown State = "UNKNOWN"
)

// ContainerInfo describes one container.
type ContainerInfo struct {
	ID        string
	Image     string
	Labels    map[string]string
	State     State
	PID       int
	ExitCode  int // valid when State is StateStopped
	CreatedAt time.Time
	StartedAt time.Time
	ExitedAt  time.Time
}
