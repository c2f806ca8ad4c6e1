//go:build linux

package containerd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	tasks "github.com/containerd/containerd/api/services/tasks/v1"
	apitask "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/plugins"
	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"
	"github.com/containerd/log"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/singleflight"

	"github.com/stevedore-io/stevedore/runtime"
)

const (
	// labelPrefix marks the container labels the runtime keeps for itself;
	// Inspect and List do not return them, and specs may not set them.
	labelPrefix = "io.stevedore.runtime."
	// labelStartedAt records when Start started the container (RFC 3339).
	labelStartedAt = labelPrefix + "started-at"
	// stopWait bounds the clean-up waits that run after the caller's context
	// is done (killing a timed-out exec, ...).
	stopWait = 10 * time.Second
	// outputDrainWait bounds how long an exit waits for the process's
	// output to be copied.
	outputDrainWait = 5 * time.Second
)

// Runtime runs containers through a containerd daemon. It implements
// runtime.Runtime and is safe for concurrent use.
type Runtime struct {
	client      *client.Client
	opts        options
	log         *slog.Logger
	clientLog   *log.Entry
	snapshotter string

	// ctx carries the namespace; Close cancels it, which ends the
	// goroutines that wait for containers' exits.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu         sync.Mutex
	closed     bool
	containers map[string]*entry

	pulls        singleflight.Group
	imageConfigs sync.Map // image target digest -> ocispec.ImageConfig
	// unpacked holds the names of the images EnsureImage found (or made)
	// unpacked into the snapshotter, so that the next EnsureImage costs
	// no round trip. RemoveImage, and a Create that finds the image gone,
	// drop the name.
	unpacked sync.Map // normalized image name -> struct{}

	// labels counts the start-time labels being written; Close waits
	// for them.
	labels sync.WaitGroup
}

var (
	_ runtime.Runtime        = (*Runtime)(nil)
	_ runtime.AccessVerifier = (*Runtime)(nil)
)

// entry is what the runtime keeps in memory about one container: its output
// writers, its task once started, and its exit status once known.
type entry struct {
	id string
	// op serialises Start and Delete.
	op sync.Mutex

	mu        sync.Mutex
	container client.Container
	stdout    io.Writer
	stderr    io.Writer
	init      bool // runs the init binary as PID 1
	task      client.Task
	started   bool
	watching  bool
	// startedAt is when Start started the task, for Inspect while the
	// label recording it is being written.
	startedAt time.Time
	// labelled is closed once the start-time label is written (or failed);
	// nil when no write is under way.
	labelled chan struct{}

	done chan struct{} // closed when exit is set
	exit runtime.ExitStatus
	once sync.Once
}

func newEntry(id string, c client.Container) *entry {
	return &entry{id: id, container: c, done: make(chan struct{})}
}

// resolve records the exit status; the first call wins.
func (e *entry) resolve(s runtime.ExitStatus) {
	e.once.Do(func() {
		e.exit = s
		close(e.done)
	})
}

func (e *entry) getTask() client.Task {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.task
}

// New connects to the containerd daemon at address (a unix socket path) and
// checks that it answers and that the snapshotter is usable.
func New(address string, opts ...Option) (*Runtime, error) {
	o := defaultOptions()
	if err := o.apply(opts); err != nil {
		return nil, err
	}
	if address == "" {
		return nil, fmt.Errorf("%w: empty containerd address", ErrInvalidOption)
	}
	if !strings.Contains(address, "://") {
		// A socket path: say plainly when it is missing rather than time
		// out connecting.
		if _, err := os.Stat(address); err != nil {
			return nil, fmt.Errorf("containerd socket: %w", err)
		}
	}
	c, err := client.New(address,
		client.WithDefaultNamespace(o.namespace),
		client.WithDefaultRuntime(o.runtime),
		client.WithTimeout(o.connectTimeout),
		client.WithExtraDialOpts(o.dialOpts))
	if err != nil {
		return nil, fmt.Errorf("containerd at %s: %w", address, err)
	}
	base := namespaces.WithNamespace(context.Background(), o.namespace)
	ctx, cancel := context.WithTimeout(base, o.connectTimeout)
	defer cancel()
	if _, err := c.Version(ctx); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("containerd at %s: %w", address, err)
	}
	sn, err := chooseSnapshotter(ctx, c, o)
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("containerd at %s: %w", address, err)
	}
	if sn != o.snapshotter {
		o.logger.Warn("snapshotter unavailable, falling back", "snapshotter", o.snapshotter, "fallback", sn)
	}
	if err := os.MkdirAll(o.fifoDir, 0o700); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("FIFO directory: %w", err)
	}
	r := &Runtime{
		client:      c,
		opts:        o,
		log:         o.logger.With("namespace", o.namespace),
		clientLog:   clientLogger(o.logger.With("namespace", o.namespace)),
		snapshotter: sn,
		containers:  make(map[string]*entry),
	}
	r.ctx, r.cancel = context.WithCancel(log.WithLogger(base, r.clientLog))
	return r, nil
}

// chooseSnapshotter returns the configured snapshotter when containerd has
// it loaded; when the default is missing it falls back to "native", which
// works on any filesystem.
func chooseSnapshotter(ctx context.Context, c *client.Client, o options) (string, error) {
	candidates := []string{o.snapshotter}
	if o.snapshotterDefault {
		candidates = append(candidates, "native")
	}
	var reasons []string
	for _, name := range candidates {
		resp, err := c.IntrospectionService().Plugins(ctx, fmt.Sprintf("type==%s,id==%s", plugins.SnapshotPlugin, name))
		if err != nil {
			return "", fmt.Errorf("list snapshotters: %w", err)
		}
		switch {
		case len(resp.Plugins) == 0:
			reasons = append(reasons, name+": not found")
		case resp.Plugins[0].InitErr != nil:
			reasons = append(reasons, name+": "+resp.Plugins[0].InitErr.GetMessage())
		default:
			return name, nil
		}
	}
	return "", fmt.Errorf("no usable snapshotter (%s)", strings.Join(reasons, "; "))
}

// Snapshotter returns the name of the snapshotter in use.
func (r *Runtime) Snapshotter() string { return r.snapshotter }

// Namespace returns the containerd namespace in use.
func (r *Runtime) Namespace() string { return r.opts.namespace }

// Close releases the connection to containerd. Containers keep running:
// another Runtime (after an agent restart, say) finds them with List and
// takes them over. Their output is detached from the writers given to
// Create; the FIFOs stay so that the next Runtime can drain them. Wait
// channels still pending receive an ExitStatus whose Err wraps ErrClosed.
// Methods called after Close return ErrClosed.
func (r *Runtime) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	entries := make([]*entry, 0, len(r.containers))
	for _, e := range r.containers {
		entries = append(entries, e)
	}
	r.mu.Unlock()

	r.labels.Wait() // a container's start time is worth keeping
	r.cancel()
	r.wg.Wait()
	closed := runtime.ExitStatus{Err: fmt.Errorf("exit status unknown: %w", ErrClosed)}
	for _, e := range entries {
		e.mu.Lock()
		if e.task != nil {
			if tio := e.task.IO(); tio != nil {
				// Stop copying but keep the FIFOs for the next Runtime.
				tio.Cancel()
			}
		}
		e.mu.Unlock()
		e.resolve(closed)
	}
	return r.client.Close()
}

// begin returns a context carrying the runtime's namespace, or ErrClosed.
func (r *Runtime) begin(ctx context.Context) (context.Context, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrClosed
	}
	return log.WithLogger(namespaces.WithNamespace(ctx, r.opts.namespace), r.clientLog), nil
}

// unavailable reports whether err says containerd could not be reached:
// gRPC's Unavailable (the connection refused, broken or being made again),
// as the client converts it or raw, or a refused dial.
func unavailable(err error) bool {
	return errdefs.IsUnavailable(err) || errdefs.IsUnavailable(errgrpc.ToNative(err)) ||
		errors.Is(err, syscall.ECONNREFUSED)
}

// classify adds runtime.ErrUnavailable to *err when it says containerd
// could not be reached. Every method that talks to containerd defers it.
func classify(err *error) {
	if *err != nil && !errors.Is(*err, runtime.ErrUnavailable) && unavailable(*err) {
		*err = fmt.Errorf("%w: %w", runtime.ErrUnavailable, *err)
	}
}

// kindOf maps a containerd error to the runtime's sentinel of the same kind.
func kindOf(err error) error {
	switch {
	case err == nil:
		return nil
	case errdefs.IsNotFound(err):
		return runtime.ErrNotFound
	case errdefs.IsAlreadyExists(err):
		return runtime.ErrAlreadyExists
	case errdefs.IsInvalidArgument(err):
		return runtime.ErrInvalidSpec
	}
	return nil
}

// wrapErr names the operation and container, and adds the runtime sentinel
// matching err's kind (kind, when not nil, takes precedence).
func wrapErr(op, id string, kind, err error) error {
	if kind == nil {
		kind = kindOf(err)
	}
	if kind != nil && !errors.Is(err, kind) {
		return fmt.Errorf("%s container %q: %w: %w", op, id, kind, err)
	}
	return fmt.Errorf("%s container %q: %w", op, id, err)
}

// entryFor returns the entry of container id, taking over a container that
// this Runtime did not create (made by an earlier process): its task, if
// any, is watched, and its output drained.
func (r *Runtime) entryFor(ctx context.Context, id string) (*entry, error) {
	r.mu.Lock()
	e, ok := r.containers[id]
	r.mu.Unlock()
	if ok {
		return e, nil
	}

	c, err := r.client.LoadContainer(ctx, id)
	if err != nil {
		return nil, err
	}
	e = newEntry(id, c)
	info, err := c.Info(ctx, client.WithoutRefreshedMetadata)
	if err != nil {
		return nil, err
	}
	e.started = info.Labels[labelStartedAt] != ""
	t, err := c.Task(ctx, nil)
	switch {
	case errdefs.IsNotFound(err):
	case err != nil:
		return nil, err
	default:
		e.started, e.task = true, t
		if st, err := t.Status(ctx); err == nil && st.Status != client.Stopped {
			// Drain the FIFOs of the earlier process so the container does
			// not block on a full pipe.
			attached, err := c.Task(ctx, cio.NewAttach(cio.WithStreams(nil, io.Discard, io.Discard)))
			if err == nil {
				e.task = attached
			} else {
				r.log.Warn("cannot attach to container output", "container", id, "error", err)
			}
		}
	}

	r.mu.Lock()
	existing, found := r.containers[id]
	closed := r.closed
	if !closed && !found {
		r.containers[id] = e
		if e.task != nil {
			r.watchLocked(e, e.task, nil)
		}
	}
	r.mu.Unlock()
	if closed || found {
		// Another call took the container over first, or the runtime
		// closed meanwhile: stop this attachment's copy.
		if e.task != nil && e.task.IO() != nil {
			e.task.IO().Cancel()
		}
		if closed {
			return nil, ErrClosed
		}
		return existing, nil
	}
	return e, nil
}

// watchLocked starts the goroutine recording e's exit. exited, when not nil,
// is a Wait channel set up before the task started. r.mu must be held.
func (r *Runtime) watchLocked(e *entry, t client.Task, exited <-chan client.ExitStatus) {
	e.mu.Lock()
	if e.watching {
		e.mu.Unlock()
		return
	}
	e.watching = true
	e.mu.Unlock()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		status := r.waitExit(e.id, t, exited)
		if status.Err == nil {
			waitOutput(t.IO())
		}
		e.resolve(status)
	}()
}

// waitOutput waits, for a bounded time, until the output of an exited
// process has been copied to its writers, so that a Wait receiver sees the
// whole output. The copy ends when the shim closes the FIFOs, right after
// the exit.
func waitOutput(tio cio.IO) {
	if tio == nil {
		return
	}
	copied := make(chan struct{})
	go func() {
		tio.Wait()
		close(copied)
	}()
	timer := time.NewTimer(outputDrainWait)
	defer timer.Stop()
	select {
	case <-copied:
	case <-timer.C:
	}
}

// waitExit waits for t's exit, retrying while containerd cannot be reached.
func (r *Runtime) waitExit(id string, t client.Task, exited <-chan client.ExitStatus) runtime.ExitStatus {
	delay := 50 * time.Millisecond
	for {
		var err error
		if exited == nil {
			exited, err = t.Wait(r.ctx)
		}
		if err == nil {
			s := <-exited
			code, at, werr := s.Result()
			if werr == nil {
				return runtime.ExitStatus{Code: int(code), ExitedAt: at}
			}
			err = werr
		}
		exited = nil
		if r.ctx.Err() != nil {
			return runtime.ExitStatus{Err: fmt.Errorf("exit status unknown: %w", ErrClosed)}
		}
		if errdefs.IsNotFound(err) {
			return runtime.ExitStatus{Err: fmt.Errorf("container %q: task gone before its exit was seen: %w", id, err)}
		}
		r.log.Warn("waiting for container exit", "container", id, "error", err, "retry_in", delay)
		timer := time.NewTimer(delay)
		select {
		case <-r.ctx.Done():
			timer.Stop()
			return runtime.ExitStatus{Err: fmt.Errorf("exit status unknown: %w", ErrClosed)}
		case <-timer.C:
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// Create creates the container's writable layer and its OCI spec. The task
// (runc's container) is made by Start.
func (r *Runtime) Create(ctx context.Context, spec runtime.ContainerSpec) (err error) {
	defer classify(&err)
	ctx, err = r.begin(ctx)
	if err != nil {
		return err
	}
	if err := validateSpec(spec); err != nil {
		return fmt.Errorf("create container %q: %w", spec.ID, err)
	}
	if err := checkHostPaths(spec); err != nil {
		return fmt.Errorf("create container %q: %w", spec.ID, err)
	}
	ref, err := normalizeRef(spec.Image)
	if err != nil {
		return fmt.Errorf("create container %q: %w: image %q: %w", spec.ID, runtime.ErrInvalidSpec, spec.Image, err)
	}
	img, err := r.client.GetImage(ctx, ref)
	if err != nil {
		if errdefs.IsNotFound(err) {
			r.unpacked.Delete(ref) // removed behind this Runtime's back
		}
		return wrapErr("create", spec.ID, nil, fmt.Errorf("image %s: %w", ref, err))
	}
	cfg, err := r.imageConfig(ctx, img)
	if err != nil {
		return wrapErr("create", spec.ID, nil, fmt.Errorf("image %s: %w", ref, err))
	}
	specOpts, err := r.specOpts(spec, cfg)
	if err != nil {
		return fmt.Errorf("create container %q: %w", spec.ID, err)
	}

	// NewContainer holds a lease while it prepares the snapshot, so that
	// garbage collection cannot take it before the container refers to it.
	labels := maps.Clone(spec.Labels)
	create := func() (client.Container, error) {
		return r.client.NewContainer(ctx, spec.ID,
			client.WithImage(img),
			client.WithSnapshotter(r.snapshotter),
			client.WithNewSnapshot(spec.ID, img),
			client.WithNewSpec(specOpts...),
			client.WithContainerLabels(labels),
			client.WithRuntime(r.opts.runtime, nil),
		)
	}
	c, err := create()
	if err != nil && errdefs.IsAlreadyExists(err) && r.leftoverSnapshot(ctx, spec.ID) {
		// A process killed between preparing the snapshot and recording
		// the container left the snapshot alone: remove it and create.
		c, err = create()
	}
	if err != nil && errdefs.IsNotFound(err) && !errors.Is(err, runtime.ErrInvalidSpec) {
		// The image is known but not unpacked into our snapshotter (it was
		// imported by another client, say): unpack and try once more.
		if uerr := img.Unpack(ctx, r.snapshotter); uerr == nil {
			c, err = create()
		}
	}
	if err != nil {
		if !errdefs.IsAlreadyExists(err) {
			// The snapshot may have been prepared before a later option
			// failed: remove it now rather than at the next GC.
			if rerr := r.client.SnapshotService(r.snapshotter).Remove(context.WithoutCancel(ctx), spec.ID); rerr != nil && !errdefs.IsNotFound(rerr) {
				r.log.Warn("removing snapshot of failed create", "container", spec.ID, "error", rerr)
			}
		}
		return wrapErr("create", spec.ID, nil, err)
	}

	e := newEntry(spec.ID, c)
	e.stdout, e.stderr, e.init = spec.Stdout, spec.Stderr, spec.Init
	r.mu.Lock()
	old := r.containers[spec.ID]
	r.containers[spec.ID] = e
	r.mu.Unlock()
	if old != nil {
		// A container of the same ID that was deleted behind this
		// Runtime's back.
		old.resolve(runtime.ExitStatus{Err: fmt.Errorf("container %q was replaced: %w", spec.ID, runtime.ErrNotFound)})
	}
	return nil
}

// leftoverSnapshot removes the writable snapshot named id when no
// container id exists, and reports whether it did: such a snapshot is left
// by a Create whose process died after the snapshot was prepared and
// before the container was recorded (the client's lease keeps it from
// garbage collection for a day).
func (r *Runtime) leftoverSnapshot(ctx context.Context, id string) bool {
	if _, err := r.client.LoadContainer(ctx, id); !errdefs.IsNotFound(err) {
		return false
	}
	if err := r.client.SnapshotService(r.snapshotter).Remove(ctx, id); err != nil {
		return false
	}
	r.log.Warn("removed the snapshot of a container never created", "container", id)
	return true
}

// imageConfig returns the image's runtime configuration, cached by the
// digest of the image's target (content-addressed, so never stale).
func (r *Runtime) imageConfig(ctx context.Context, img client.Image) (ocispec.ImageConfig, error) {
	key := img.Target().Digest
	if v, ok := r.imageConfigs.Load(key); ok {
		return v.(ocispec.ImageConfig), nil
	}
	s, err := img.Spec(ctx)
	if err != nil {
		return ocispec.ImageConfig{}, err
	}
	r.imageConfigs.Store(key, s.Config)
	return s.Config, nil
}

// Start creates the container's task (runc create) and starts it. Errors
// from runc, such as a missing executable, wrap runtime.ErrStart.
func (r *Runtime) Start(ctx context.Context, id string) (err error) {
	defer classify(&err)
	ctx, err = r.begin(ctx)
	if err != nil {
		return err
	}
	e, err := r.entryFor(ctx, id)
	if err != nil {
		return wrapErr("start", id, nil, err)
	}
	e.op.Lock()
	defer e.op.Unlock()
	e.mu.Lock()
	started, c, stdout, stderr, withInit := e.started, e.container, e.stdout, e.stderr, e.init
	e.mu.Unlock()
	if started {
		return wrapErr("start", id, runtime.ErrAlreadyStarted, errors.New("started before"))
	}

	t, err := c.NewTask(ctx, outputCreator(r.opts.fifoDir, stdout, stderr))
	if err != nil {
		if errdefs.IsNotFound(err) {
			return wrapErr("start", id, runtime.ErrNotFound, err)
		}
		if errdefs.IsAlreadyExists(err) {
			return wrapErr("start", id, runtime.ErrAlreadyStarted, err)
		}
		return wrapErr("start", id, runtime.ErrStart, err)
	}
	// Wait before Start, so that the exit of a process that ends at once is
	// not missed.
	exited, err := t.Wait(r.ctx)
	// Taken before the process starts, so that StartedAt <= ExitedAt.
	now := time.Now().UTC()
	if err == nil {
		err = t.Start(ctx)
	}
	if err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopWait)
		defer cancel()
		if _, derr := t.Delete(cctx, client.WithProcessKill); derr != nil && !errdefs.IsNotFound(derr) {
			r.log.Warn("deleting task that failed to start", "container", id, "error", derr)
		}
		return wrapErr("start", id, runtime.ErrStart, err)
	}

	if withInit {
		if err := waitInitReady(ctx, t.Pid()); err != nil {
			r.log.Warn("init not seen ready to forward signals", "container", id, "error", err)
		}
	}
	e.mu.Lock()
	e.task, e.started, e.startedAt = t, true, now
	e.mu.Unlock()

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.watchLocked(e, t, exited)
	r.labelStartLocked(ctx, e, c, now)
	return nil
}

// labelStartLocked records the start time in a container label, for
// Inspect and for a Runtime that takes the container over later. The
// write (a metadata commit in containerd, some milliseconds) runs apart
// from Start's caller; until it is done Inspect reads e.startedAt, Delete
// waits for it and Close too. r.mu must be held, the Runtime open.
func (r *Runtime) labelStartLocked(ctx context.Context, e *entry, c client.Container, at time.Time) {
	done := make(chan struct{})
	e.mu.Lock()
	e.labelled = done
	e.mu.Unlock()
	r.labels.Add(1)
	go func() {
		defer r.labels.Done()
		defer close(done)
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopWait)
		defer cancel()
		if _, err := c.SetLabels(ctx, map[string]string{labelStartedAt: at.Format(time.RFC3339Nano)}); err != nil && !errdefs.IsNotFound(err) {
			r.log.Warn("recording start time", "container", e.id, "error", err)
		}
	}()
}

// Wait returns a channel that receives the container's exit status. If ctx
// ends first, the channel receives an ExitStatus whose Err is ctx's error.
func (r *Runtime) Wait(ctx context.Context, id string) (_ <-chan runtime.ExitStatus, err error) {
	defer classify(&err)
	nctx, err := r.begin(ctx)
	if err != nil {
		return nil, err
	}
	e, err := r.entryFor(nctx, id)
	if err != nil {
		return nil, wrapErr("wait for", id, nil, err)
	}
	ch := make(chan runtime.ExitStatus, 1)
	go func() {
		defer close(ch)
		select {
		case <-e.done:
			ch <- e.exit
		case <-ctx.Done():
			select {
			case <-e.done:
				ch <- e.exit
			default:
				ch <- runtime.ExitStatus{Err: ctx.Err()}
			}
		}
	}()
	return ch, nil
}

// task returns the task of a started container, or ErrNotRunning.
func (r *Runtime) task(ctx context.Context, op, id string) (client.Task, error) {
	e, err := r.entryFor(ctx, id)
	if err != nil {
		return nil, wrapErr(op, id, nil, err)
	}
	t := e.getTask()
	if t == nil {
		return nil, wrapErr(op, id, runtime.ErrNotRunning, errors.New("not started"))
	}
	return t, nil
}

// runningTask returns the task of a running container, or ErrNotRunning.
func (r *Runtime) runningTask(ctx context.Context, op, id string) (client.Task, error) {
	t, err := r.task(ctx, op, id)
	if err != nil {
		return nil, err
	}
	st, err := t.Status(ctx)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return nil, wrapErr(op, id, runtime.ErrNotRunning, err)
		}
		return nil, wrapErr(op, id, nil, err)
	}
	if st.Status != client.Running {
		return nil, wrapErr(op, id, runtime.ErrNotRunning, fmt.Errorf("task is %s", st.Status))
	}
	return t, nil
}

// Signal sends sig to the container's main process.
func (r *Runtime) Signal(ctx context.Context, id string, sig syscall.Signal) (err error) {
	defer classify(&err)
	ctx, err = r.begin(ctx)
	if err != nil {
		return err
	}
	t, err := r.task(ctx, "signal", id)
	if err != nil {
		return err
	}
	if err := t.Kill(ctx, sig); err != nil {
		if errdefs.IsNotFound(err) || errdefs.IsFailedPrecondition(err) {
			// containerd's "process already finished".
			return wrapErr("signal", id, runtime.ErrNotRunning, err)
		}
		return wrapErr("signal", id, nil, err)
	}
	return nil
}

// Exec runs cmd in the container with the main process's environment, user,
// working directory, capabilities and security settings. The combined
// output is kept up to 4 KiB. When ctx ends before the command, the command
// is killed and ctx's error returned. A command that cannot be executed
// (missing, not executable) is reported as exit code 127 or 126 with
// runc's message as output, as a shell would.
func (r *Runtime) Exec(ctx context.Context, id string, cmd []string) (_ runtime.ExecResult, err error) {
	nctx, err := r.begin(ctx)
	if err != nil {
		return runtime.ExecResult{}, err
	}
	defer classify(&err)
	defer func() { err = contextErr(ctx, err) }()
	if len(cmd) == 0 {
		return runtime.ExecResult{}, fmt.Errorf("exec in container %q: %w: empty command", id, runtime.ErrInvalidSpec)
	}
	t, err := r.runningTask(nctx, "exec in", id)
	if err != nil {
		return runtime.ExecResult{}, err
	}
	spec, err := t.Spec(nctx)
	if err != nil {
		return runtime.ExecResult{}, wrapErr("exec in", id, nil, err)
	}
	pspec := *spec.Process
	pspec.Args = cmd
	pspec.Terminal = false
	pspec.ConsoleSize = nil

	execID := newExecID()
	buf := &limitedBuffer{max: maxExecOutput}
	proc, err := t.Exec(nctx, execID, &pspec, outputCreator(r.opts.fifoDir, buf, buf))
	if err != nil {
		return runtime.ExecResult{}, r.execErr(nctx, id, err)
	}
	// Clean-up runs even when ctx is done.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(nctx), stopWait)
	defer cancel()
	deleted := false
	defer func() {
		if deleted {
			return
		}
		if _, derr := proc.Delete(cctx, client.WithProcessKill); derr != nil && !errdefs.IsNotFound(derr) {
			r.log.Warn("deleting exec process", "container", id, "exec", execID, "error", derr)
		}
	}()

	exited, err := proc.Wait(r.ctx)
	if err != nil {
		return runtime.ExecResult{}, wrapErr("exec in", id, nil, err)
	}
	if err := proc.Start(nctx); err != nil {
		if ctx.Err() != nil {
			// The deadline may have cut off the reply of a Start that
			// took place: the command runs, and the client, which never
			// learnt its PID, would skip it when killing on Delete.
			r.killExec(cctx, proc, exited, id, execID)
			return runtime.ExecResult{}, wrapErr("exec in", id, nil, ctx.Err())
		}
		if code, ok := execFailureCode(err); ok && !unavailable(err) {
			return runtime.ExecResult{ExitCode: code, Output: []byte(err.Error())}, nil
		}
		return runtime.ExecResult{}, r.execErr(nctx, id, err)
	}
	select {
	case s := <-exited:
		code, _, werr := s.Result()
		if werr != nil {
			return runtime.ExecResult{}, wrapErr("exec in", id, nil, werr)
		}
		// Delete cancels the copy of the output (it closes the FIFOs), so
		// the copy must reach the end of the output first.
		waitOutput(proc.IO())
		deleted = true
		if _, derr := proc.Delete(cctx); derr != nil && !errdefs.IsNotFound(derr) {
			r.log.Warn("deleting exec process", "container", id, "exec", execID, "error", derr)
		}
		return runtime.ExecResult{ExitCode: int(code), Output: buf.Bytes()}, nil
	case <-ctx.Done():
		r.killExec(cctx, proc, exited, id, execID)
		return runtime.ExecResult{ExitCode: -1, Output: buf.Bytes()},
			fmt.Errorf("exec %q in container %q: %w", cmd[0], id, ctx.Err())
	}
}

// killExec kills a timed-out exec process by its ID (not its PID, which
// the client may not know) and waits until it has exited, or ctx ends.
// A process that never started, or has gone, is not waited for.
func (r *Runtime) killExec(ctx context.Context, proc client.Process, exited <-chan client.ExitStatus, id, execID string) {
	err := proc.Kill(ctx, syscall.SIGKILL)
	switch {
	case err == nil:
		select {
		case <-exited:
		case <-ctx.Done():
		}
	case errdefs.IsNotFound(err) || errdefs.IsFailedPrecondition(err):
	default:
		r.log.Warn("killing timed-out exec", "container", id, "exec", execID, "error", err)
	}
}

// contextErr attributes err to ctx when ctx has ended, or is about to: a
// deadline travels with the request, and the daemon or shim may give up a
// moment before the caller's own timer fires.
func contextErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() == nil {
		_, hasDeadline := ctx.Deadline()
		if !hasDeadline || !(errdefs.IsDeadlineExceeded(err) || strings.Contains(err.Error(), context.DeadlineExceeded.Error())) {
			return err
		}
		<-ctx.Done()
	}
	if errors.Is(err, ctx.Err()) {
		return err
	}
	return fmt.Errorf("%w: %w", ctx.Err(), err)
}

// execErr classifies a failed exec: a task that is gone or stopped means
// the container is not running.
func (r *Runtime) execErr(ctx context.Context, id string, err error) error {
	if ctx.Err() != nil {
		return wrapErr("exec in", id, nil, ctx.Err())
	}
	if errdefs.IsNotFound(err) || errdefs.IsFailedPrecondition(err) {
		return wrapErr("exec in", id, runtime.ErrNotRunning, err)
	}
	return wrapErr("exec in", id, nil, err)
}

// execFailureCode recognises runc's errors for a command that cannot be
// executed and returns the shell's exit code for it.
func execFailureCode(err error) (int, bool) {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "executable file not found"), strings.Contains(msg, "no such file or directory"):
		return 127, true
	case strings.Contains(msg, "permission denied"), strings.Contains(msg, "exec format error"), strings.Contains(msg, "is a directory"):
		return 126, true
	}
	return 0, false
}

func newExecID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "exec-" + hex.EncodeToString(b[:])
}

// Inspect returns the container's state from containerd.
func (r *Runtime) Inspect(ctx context.Context, id string) (_ runtime.ContainerInfo, err error) {
	defer classify(&err)
	ctx, err = r.begin(ctx)
	if err != nil {
		return runtime.ContainerInfo{}, err
	}
	c, err := r.client.ContainerService().Get(ctx, id)
	if err != nil {
		return runtime.ContainerInfo{}, wrapErr("inspect", id, nil, err)
	}
	var proc *apitask.Process
	resp, err := r.client.TaskService().Get(ctx, &tasks.GetRequest{ContainerID: id})
	switch err := errgrpc.ToNative(err); {
	case err == nil:
		proc = resp.Process
	case !errdefs.IsNotFound(err):
		return runtime.ContainerInfo{}, wrapErr("inspect", id, nil, err)
	}
	return r.info(c, proc), nil
}

// info builds a ContainerInfo from containerd's records.
func (r *Runtime) info(c containers.Container, p *apitask.Process) runtime.ContainerInfo {
	ci := runtime.ContainerInfo{
		ID:        c.ID,
		Image:     c.Image,
		Labels:    map[string]string{},
		State:     runtime.StateCreated,
		CreatedAt: c.CreatedAt,
	}
	for k, v := range c.Labels {
		if !strings.HasPrefix(k, labelPrefix) {
			ci.Labels[k] = v
		}
	}
	r.mu.Lock()
	e := r.containers[c.ID]
	r.mu.Unlock()
	if s := c.Labels[labelStartedAt]; s != "" {
		ci.StartedAt, _ = time.Parse(time.RFC3339Nano, s)
	} else if e != nil {
		e.mu.Lock()
		ci.StartedAt = e.startedAt // the label is on its way
		e.mu.Unlock()
	}
	if p == nil {
		if !ci.StartedAt.IsZero() {
			// Started, but containerd no longer has the task (a daemon
			// restart reaped it): use the exit this runtime saw, if any.
			ci.State = runtime.StateUnknown
			if e != nil {
				select {
				case <-e.done:
					if e.exit.Err == nil {
						ci.State, ci.ExitCode, ci.ExitedAt = runtime.StateStopped, e.exit.Code, e.exit.ExitedAt
					}
				default:
				}
			}
		}
		return ci
	}
	ci.PID = int(p.Pid)
	switch p.Status {
	case apitask.Status_CREATED:
		ci.State = runtime.StateCreated
	case apitask.Status_RUNNING, apitask.Status_PAUSED, apitask.Status_PAUSING:
		ci.State = runtime.StateRunning
	case apitask.Status_STOPPED:
		ci.State = runtime.StateStopped
		ci.ExitCode = int(p.ExitStatus)
		if p.ExitedAt != nil {
			ci.ExitedAt = p.ExitedAt.AsTime()
		}
		ci.PID = 0
	default:
		ci.State = runtime.StateUnknown
	}
	return ci
}

// List returns the containers carrying every label of selector, in ID order.
func (r *Runtime) List(ctx context.Context, selector map[string]string) (_ []runtime.ContainerInfo, err error) {
	defer classify(&err)
	ctx, err = r.begin(ctx)
	if err != nil {
		return nil, err
	}
	var filters []string
	if len(selector) > 0 {
		parts := make([]string, 0, len(selector))
		for k, v := range selector {
			parts = append(parts, fmt.Sprintf("labels.%q==%q", k, v))
		}
		sort.Strings(parts)
		filters = []string{strings.Join(parts, ",")}
	}
	cs, err := r.client.ContainerService().List(ctx, filters...)
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	resp, err := r.client.TaskService().List(ctx, &tasks.ListTasksRequest{})
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", errgrpc.ToNative(err))
	}
	procs := make(map[string]*apitask.Process, len(resp.Tasks))
	for _, p := range resp.Tasks {
		procs[p.ID] = p
	}
	out := make([]runtime.ContainerInfo, 0, len(cs))
	for _, c := range cs {
		// The server-side filter does the work; checking again guards
		// against quoting differences in the filter language.
		match := true
		for k, v := range selector {
			if got, ok := c.Labels[k]; !ok || got != v {
				match = false
				break
			}
		}
		if match {
			out = append(out, r.info(c, procs[c.ID]))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Delete kills the container if it runs, waits for its exit, and removes its
// task, FIFOs, container record and writable layer. When there is no such
// container it returns ErrNotFound, after removing the writable layer a
// Create cut short by the death of its process may have left.
func (r *Runtime) Delete(ctx context.Context, id string) (err error) {
	defer classify(&err)
	ctx, err = r.begin(ctx)
	if err != nil {
		return err
	}
	e, err := r.entryFor(ctx, id)
	if err != nil {
		if errdefs.IsNotFound(err) {
			r.leftoverSnapshot(ctx, id)
		}
		return wrapErr("delete", id, nil, err)
	}
	e.op.Lock()
	defer e.op.Unlock()

	e.mu.Lock()
	c, t, labelled := e.container, e.task, e.labelled
	e.mu.Unlock()
	if labelled != nil {
		// The label must not land on a container made later with the
		// same ID.
		select {
		case <-labelled:
		case <-ctx.Done():
			return wrapErr("delete", id, nil, ctx.Err())
		}
	}
	if t == nil {
		// Not started by this Runtime; another one may have started it.
		if t, err = c.Task(ctx, nil); err != nil && !errdefs.IsNotFound(err) {
			return wrapErr("delete", id, nil, err)
		}
	}
	if t != nil {
		if err := r.deleteTask(ctx, e, t); err != nil {
			return wrapErr("delete", id, nil, err)
		}
	}
	err = c.Delete(ctx, client.WithSnapshotCleanup)
	if err == nil || errdefs.IsNotFound(err) {
		// Gone either way (deleted behind this Runtime's back, when
		// NotFound): forget it.
		r.forget(e)
	}
	if err != nil {
		return wrapErr("delete", id, nil, err)
	}
	return nil
}

// deleteTask kills t if needed, waits for its exit to be recorded, deletes
// it and removes its FIFOs.
func (r *Runtime) deleteTask(ctx context.Context, e *entry, t client.Task) error {
	resp, err := r.client.TaskService().Get(ctx, &tasks.GetRequest{ContainerID: e.id})
	if err := errgrpc.ToNative(err); err != nil {
		if errdefs.IsNotFound(err) {
			return nil
		}
		return err
	}
	p := resp.Process
	if p.Status != apitask.Status_STOPPED {
		// The container has its own PID namespace: killing its PID 1
		// kills every process in it, exec'd ones included.
		if err := t.Kill(ctx, syscall.SIGKILL); err != nil && !errdefs.IsNotFound(err) && !errdefs.IsFailedPrecondition(err) {
			return fmt.Errorf("kill: %w", err)
		}
		e.mu.Lock()
		watching := e.watching
		e.mu.Unlock()
		if watching {
			select {
			case <-e.done:
			case <-ctx.Done():
				return ctx.Err()
			}
		} else if p.Status != apitask.Status_CREATED || p.Pid != 0 {
			exited, err := t.Wait(ctx)
			if err != nil {
				return fmt.Errorf("wait: %w", err)
			}
			<-exited
		}
	}
	if _, err := t.Delete(ctx); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("delete task: %w", err)
	}
	for _, f := range []string{p.Stdout, p.Stderr} {
		if err := removeFIFODir(r.opts.fifoDir, f); err != nil {
			r.log.Warn("removing FIFOs", "container", e.id, "error", err)
		}
	}
	return nil
}

// forget drops the entry of a deleted container; Wait channels still
// pending receive an ExitStatus saying the container is gone.
func (r *Runtime) forget(e *entry) {
	r.mu.Lock()
	if r.containers[e.id] == e {
		delete(r.containers, e.id)
	}
	r.mu.Unlock()
	e.resolve(runtime.ExitStatus{Err: fmt.Errorf("container %q deleted before it exited: %w", e.id, runtime.ErrNotFound)})
}
