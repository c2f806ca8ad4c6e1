package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/health"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/secrets"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

// Timing of the stop path beyond the containers' stop timeouts.
const (
	// killGrace is how long the runner waits for a container to exit
	// after SIGKILL before it moves on (deleting it kills it anyway).
	killGrace = 10 * time.Second
	// cleanupAttempts bounds the retries of Delete and Teardown; the
	// first retry waits cleanupBackoff, each next one twice as long.
	cleanupAttempts = 4
	cleanupBackoff  = time.Second
)

// lifecycle lists the task statuses in order.
var lifecycle = []task.Status{task.Provisioning, task.Pending, task.Activating, task.Running,
	task.Deactivating, task.Stopping, task.Deprovisioning, task.Stopped}

func rank(s task.Status) int { return slices.Index(lifecycle, s) }

// startFailure is a reason a task cannot start: it stops with
// TaskFailedToStart and the reason.
type startFailure struct {
	container string // the container at fault; empty for the task
	reason    string
}

func (f *startFailure) Error() string { return f.reason }

func failure(container, format string, args ...any) error {
	return &startFailure{container: container, reason: fmt.Sprintf(format, args...)}
}

// event is news from a helper goroutine: a container exited, or its health
// changed.
type event struct {
	name   string
	exit   *runtime.ExitStatus
	health health.Status
}

// runner drives one task. Its run method is the only goroutine that acts on
// the task; waiters and health monitors report to it through events.
type runner struct {
	a   *Agent
	w   *writer
	id  string
	log *slog.Logger

	mu          sync.Mutex
	latest      *state.Task // the newest version seen or written
	gone        bool        // the task was deleted from the store
	wake        chan struct{}
	startCtx    context.Context // cancelled when the task must stop
	cancelStart context.CancelFunc

	events    chan event
	helperCtx context.Context
	helpers   sync.WaitGroup

	// Owned by the run goroutine.
	adopted   map[string]runtime.ContainerInfo
	def       *task.TaskDefinition
	ctrs      map[string]*ctr
	names     []string // containers in definition order
	stopOrder [][]string
	att       *network.Attachment
	ingress   ingressState // the task's ingress policy in its network (ingress.go)
	// later holds changes to the task that nobody needs to see on their
	// own (timestamps, runtime IDs, a container that started while others
	// are still to start). They go into the store with the runner's next
	// write, and before it waits (flush): a task that comes up in one go
	// costs three writes (PENDING, ACTIVATING, RUNNING), not eight.
	later []func(t *state.Task) error
}

func newRunner(ctx context.Context, a *Agent, w *writer, t *state.Task, adopted map[string]runtime.ContainerInfo) *runner {
	r := &runner{
		a:       a,
		w:       w,
		id:      t.ID(),
		log:     a.log.With("task", t.ID()),
		latest:  t,
		wake:    make(chan struct{}, 1),
		events:  make(chan event),
		adopted: adopted,
	}
	r.startCtx, r.cancelStart = context.WithCancel(ctx)
	if t.DesiredStatus == task.Stopped {
		r.cancelStart()
	}
	return r
}

// deliver records a newer version of the task and wakes the runner. It is
// called by the session.
func (r *runner) deliver(t *state.Task) {
	if r.record(t) {
		r.poke()
	}
}

// record records a newer version of the task and reports whether it was
// news: the versions the runner wrote itself come back from the watch, and
// waking the runner for them would only cost a turn of its loop.
func (r *runner) record(t *state.Task) bool {
	r.mu.Lock()
	news := t.ModRevision > r.latest.ModRevision
	if news {
		r.latest = t
	}
	stop := r.latest.DesiredStatus == task.Stopped
	r.mu.Unlock()
	if stop {
		r.cancelStart()
	}
	return news
}

// markGone records that the task was deleted from the store: its
// containers are stopped and removed without further writes.
func (r *runner) markGone() {
	r.mu.Lock()
	r.gone = true
	r.mu.Unlock()
	r.cancelStart()
	r.poke()
}

func (r *runner) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *runner) current() *state.Task {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.latest
}

func (r *runner) isGone() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.gone
}

// stopWanted reports whether the task must stop.
func (r *runner) stopWanted() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.gone || r.latest.DesiredStatus == task.Stopped
}

// update changes the stored task with fn, compare-and-swap: fn gets a copy
// of the latest stored version and reports whether it changed it. The
// changes kept for later are applied first, in the same transaction. A task
// that is gone from the store is not written.
func (r *runner) update(ctx context.Context, fn func(tx store.Tx, t *state.Task) (bool, error)) error {
	if r.isGone() {
		r.later = nil
		return nil
	}
	var written *state.Task
	err := r.w.update(ctx, func(tx store.Tx) error {
		written = nil
		cur, err := store.Get[*state.Task](tx, state.KindTasks, r.id)
		if err != nil {
			return err
		}
		next := copyTask(cur)
		for _, change := range r.later {
			if err := change(next); err != nil {
				return err
			}
		}
		changed, err := fn(tx, next)
		if err != nil || (!changed && len(r.later) == 0) {
			return err
		}
		if err := tx.Update(next); err != nil {
			return err
		}
		written = next
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		r.later = nil
		r.markGone()
		return nil
	}
	if err != nil {
		return fmt.Errorf("update task %s: %w", r.id, err)
	}
	r.later = nil
	if written != nil {
		r.record(written)
	}
	return nil
}

// copyTask returns a copy of a stored task for the runner to change. It
// copies what the runner's changes write to, the task's own fields and its
// containers, and shares the rest (overrides, tags, attachments, network
// bindings, exit codes, the network attachment, the reservation) with the
// stored task: stored tasks are read-only, and the runner and the task
// methods it calls replace those values, never change them in place. A
// deep Copy would cost several times more on every write.
func copyTask(t *state.Task) *state.Task {
	next := *t
	tk := *t.Task
	tk.Containers = slices.Clone(t.Containers)
	next.Task = &tk
	return &next
}

// keep records a change to be written with the runner's next write.
func (r *runner) keep(change func(t *state.Task) error) {
	r.later = append(r.later, change)
}

// flush writes the changes kept for later, if any.
func (r *runner) flush(ctx context.Context) error {
	if len(r.later) == 0 {
		return nil
	}
	return r.modify(ctx, func(*state.Task) (bool, error) { return false, nil })
}

// modify is update for changes that need only the task.
func (r *runner) modify(ctx context.Context, fn func(t *state.Task) (bool, error)) error {
	return r.update(ctx, func(_ store.Tx, t *state.Task) (bool, error) { return fn(t) })
}

// advanceStatus moves t forward to s; a status already reached is kept.
func advanceStatus(t *state.Task, s task.Status, now time.Time) (bool, error) {
	if rank(t.LastStatus) >= rank(s) {
		return false, nil
	}
	return true, t.SetLastStatus(s, now)
}

func (r *runner) setStatus(ctx context.Context, s task.Status) error {
	if rank(r.current().LastStatus) >= rank(s) {
		return nil
	}
	return r.modify(ctx, func(t *state.Task) (bool, error) { return advanceStatus(t, s, time.Now()) })
}

// run drives the task until it is STOPPED (nil), ctx ends (ctx's error) or
// the store fails.
func (r *runner) run(ctx context.Context) error {
	var cancelHelpers context.CancelFunc
	r.helperCtx, cancelHelpers = context.WithCancel(ctx)
	defer func() {
		cancelHelpers()
		r.cancelStart()
		r.helpers.Wait()
	}()
	if r.current().LastStatus == task.Stopped {
		return nil
	}
	if err := r.start(ctx); err != nil {
		var f *startFailure
		if !errors.As(err, &f) {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err() // the agent is going away: not the task's fault
		}
		if err := r.fail(ctx, f); err != nil {
			return err
		}
	}
	return r.stop(ctx)
}

// start brings the task up and supervises it until it must stop.
func (r *runner) start(ctx context.Context) error {
	loadErr := r.load(ctx)
	if loadErr != nil && !errors.As(loadErr, new(*startFailure)) {
		return loadErr
	}
	// Adopt even without a definition: the containers found must be
	// cleaned up.
	if err := r.adopt(ctx); err != nil {
		return err
	}
	if loadErr != nil {
		return loadErr
	}
	steps := []func(context.Context) error{r.provision, r.pull, r.create, r.supervise}
	for _, step := range steps {
		if r.stopWanted() {
			return nil
		}
		if err := step(ctx); err != nil {
			if r.stopWanted() && ctx.Err() == nil && errors.As(err, new(*startFailure)) {
				return nil // cut short by the stop
			}
			return err
		}
	}
	return nil
}

// taskDir is the directory of the task's volumes.
func (r *runner) taskDir() string {
	return filepath.Join(r.a.stateDir, "tasks", safeName(r.id))
}

// offStack runs f on a goroutine of its own and waits for it to return.
// The calls it wraps, the network provider's Setup and the runtime's
// Create, are the deepest a runner makes (the fakes' validation and copying
// included). Made on the runner's goroutine, they would leave it, for the
// task's whole life, with a stack twice the size it otherwise needs: the Go
// runtime grows a stack by doubling it, and shrinks it back only when a
// collection finds it mostly unused. That is 40 MB more for 10,000 tasks,
// and fresh memory costs a page fault per page. A short-lived goroutine's
// stack goes back to the runtime's pool when it ends, for the next one.
func offStack(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	<-done
}

// fail stops the task with TaskFailedToStart.
func (r *runner) fail(ctx context.Context, f *startFailure) error {
	r.log.Warn("agent: task failed to start", "reason", f.reason)
	if c := r.ctrs[f.container]; c != nil && !c.started {
		c.abandoned, c.exited = true, true
	}
	return r.modify(ctx, func(t *state.Task) (bool, error) {
		now := time.Now()
		changed := t.Stop(task.TaskFailedToStart, f.reason, now)
		if c := t.Container(f.container); c != nil && c.LastStatus != task.ContainerStopped {
			changed = true
			if err := t.SetContainerStopped(f.container, nil, f.reason, now); err != nil {
				return false, err
			}
		}
		return changed, nil
	})
}

// load reads the task definition, applies the overrides and sets up the
// containers. Without a definition the task fails to start, but its
// containers can still be cleaned up.
func (r *runner) load(ctx context.Context) error {
	t := r.current()
	r.ctrs = map[string]*ctr{}
	r.names = nil
	for _, c := range t.Containers {
		r.names = append(r.names, c.Name)
		r.ctrs[c.Name] = &ctr{name: c.Name, id: ContainerID(r.id, c.Name), health: health.Status(c.HealthStatus)}
		if c.RuntimeID != "" {
			r.ctrs[c.Name].id = c.RuntimeID
		}
	}
	r.stopOrder = [][]string{slices.Clone(r.names)}
	if t.Network != nil {
		r.att = t.Network.Clone()
	}

	var stored *state.TaskDefinition
	err := r.a.cfg.Store.View(ctx, func(tx store.ReadTx) error {
		var err error
		stored, err = store.Get[*state.TaskDefinition](tx, state.KindTaskDefinitions, t.TaskDefinitionRef())
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return failure("", "ResourceInitializationError: task definition %s not found", t.TaskDefinitionRef())
	}
	if err != nil {
		return fmt.Errorf("read task definition %s: %w", t.TaskDefinitionRef(), err)
	}
	// The runner only reads the definition: without overrides it uses the
	// stored one, which is shared and read-only, rather than a copy.
	def := stored.TaskDefinition
	var stopOrder [][]string
	if t.Overrides != nil {
		if def, err = t.Overrides.Apply(def); err != nil {
			return failure("", "ResourceInitializationError: overrides: %v", err)
		}
		stopOrder, err = def.StopOrder()
	} else {
		stopOrder, err = r.a.stopOrder(def)
	}
	if err != nil {
		return failure("", "ResourceInitializationError: %v", err)
	}
	r.def = def
	r.stopOrder = stopOrder
	for i := range def.ContainerDefinitions {
		cd := &def.ContainerDefinitions[i]
		c := r.ctrs[cd.Name]
		if c == nil {
			return failure("", "ResourceInitializationError: container %s of the definition is not in the task", cd.Name)
		}
		c.def = cd
	}
	for _, name := range r.names {
		if r.ctrs[name].def == nil {
			return failure(name, "ResourceInitializationError: container %s is not in task definition %s", name, t.TaskDefinitionRef())
		}
	}
	return nil
}

// adopt takes over the task's containers found in the runtime at start-up
// and reconciles them with what the store says.
func (r *runner) adopt(ctx context.Context) error {
	t := r.current()
	var lost []string
	for _, name := range r.names {
		c := r.ctrs[name]
		stored := t.Container(name)
		info, ok := r.adopted[name]
		if !ok {
			switch stored.LastStatus {
			case task.ContainerRunning:
				lost = append(lost, name)
				c.started, c.exited = true, true
			case task.ContainerStopped:
				c.started, c.exited = stored.ExitCode != nil, true
				c.abandoned = stored.ExitCode == nil
				c.exitCode = stored.ExitCode
			}
			continue
		}
		c.created, c.id = true, info.ID
		if info.State == runtime.StateCreated {
			continue
		}
		c.started, c.startedAt = true, info.StartedAt
		if stored.LastStatus == task.ContainerStopped {
			c.exited, c.exitCode = true, stored.ExitCode
			continue
		}
		if err := r.watch(ctx, c); err != nil {
			return err
		}
		r.log.Info("agent: adopted container", "container", name, "state", info.State)
		if info.State == runtime.StateRunning {
			r.monitor(c, true)
		}
	}
	if len(r.adopted) == 0 && len(lost) == 0 {
		return nil // a new task: nothing to record
	}
	return r.modify(ctx, func(t *state.Task) (bool, error) {
		now := time.Now()
		changed := r.recordRuntimeIDs(t)
		for _, name := range lost {
			reason := fmt.Sprintf("Container %s vanished from the runtime while the agent was away", name)
			if r.ctrs[name].essential() {
				code := task.EssentialContainerExited
				if rank(t.LastStatus) < rank(task.Running) {
					code = task.TaskFailedToStart
				}
				t.Stop(code, reason, now)
			}
			if err := t.SetContainerStopped(name, nil, reason, now); err != nil {
				return false, err
			}
			changed = true
		}
		for _, name := range r.names {
			if r.ctrs[name].running() && t.Container(name).LastStatus == task.ContainerPending {
				if err := t.SetContainerRunning(name); err != nil {
					return false, err
				}
				changed = true
			}
		}
		return changed, nil
	})
}

// recordRuntimeIDs writes the runtime IDs of the created containers.
func (r *runner) recordRuntimeIDs(t *state.Task) bool {
	changed := false
	for _, name := range r.names {
		c := r.ctrs[name]
		if sc := t.Container(name); c.created && sc != nil && sc.RuntimeID != c.id {
			sc.RuntimeID = c.id
			changed = true
		}
	}
	return changed
}

// provision sets up the task's network (PROVISIONING) and moves the task
// to PENDING.
func (r *runner) provision(ctx context.Context) error {
	if r.att != nil {
		return r.setStatus(ctx, task.Pending)
	}
	req, owners, err := networkRequest(r.id, r.def)
	if err != nil {
		return failure("", "ResourceInitializationError: invalid network configuration: %v", err)
	}
	cur := r.current()
	req.Ingress = cur.Ingress // the task's security groups; nil: unfiltered
	if cur.DNS != nil && len(req.DNS.Servers) == 0 && req.Mode.HasNamespace() {
		req.DNS = *cur.DNS // the control plane's choice (service discovery)
	}
	nw := r.a.cfg.Network
	_, req.DeferReady = nw.(network.Readier) // see networkReady
	var att *network.Attachment
	offStack(func() { att, err = nw.Setup(r.startCtx, *req) })
	r.ingress = ingressState{policy: req.Ingress, known: err == nil}
	if errors.Is(err, network.ErrExists) {
		// Set up by an earlier agent that stopped before recording it.
		att, err = nw.Attachment(r.startCtx, r.id)
	}
	if err != nil {
		return failure("", "ResourceInitializationError: failed to set up the task network: %v", err)
	}
	r.att = att
	bindings := networkBindings(att, owners)
	pulling := len(r.toCreate()) > 0 && !r.stopWanted()
	return r.modify(ctx, func(t *state.Task) (bool, error) {
		t.Network = att.Clone()
		for name, b := range bindings {
			if c := t.Container(name); c != nil {
				c.NetworkBindings = slices.Clone(b)
			}
		}
		now := time.Now()
		_, err := advanceStatus(t, task.Pending, now)
		if pulling && t.PullStartedAt.IsZero() {
			// The pull starts right away: one write for both.
			t.MarkPullStarted(now)
		}
		return true, err
	})
}

// repull makes c's image available again and retries the creation of its
// container.
func (r *runner) repull(c *ctr, spec *runtime.ContainerSpec) error {
	auth, err := registryAuth(r.startCtx, r.a.cfg.Secrets, r.secretRequest(), c.def)
	if err != nil {
		return err
	}
	if err := r.a.cfg.Runtime.EnsureImage(r.startCtx, c.def.Image, auth); err != nil {
		return err
	}
	offStack(func() { err = r.a.cfg.Runtime.Create(r.startCtx, *spec) })
	return err
}

// toCreate lists the containers that still have to be created.
func (r *runner) toCreate() []*ctr {
	var out []*ctr
	for _, name := range r.names {
		if c := r.ctrs[name]; !c.created && !c.exited {
			out = append(out, c)
		}
	}
	return out
}

// pull makes the images of the containers to create available.
func (r *runner) pull(ctx context.Context) error {
	todo := r.toCreate()
	if len(todo) == 0 {
		return nil
	}
	if r.current().PullStartedAt.IsZero() {
		if err := r.modify(ctx, func(t *state.Task) (bool, error) { t.MarkPullStarted(time.Now()); return true, nil }); err != nil {
			return err
		}
	}
	pulled := map[string]bool{}
	for _, c := range todo {
		if pulled[c.def.Image] {
			continue
		}
		auth, err := registryAuth(r.startCtx, r.a.cfg.Secrets, r.secretRequest(), c.def)
		if err != nil {
			return failure(c.name, "ResourceInitializationError: unable to pull secrets or registry auth: %v", err)
		}
		if err := r.a.cfg.Runtime.EnsureImage(r.startCtx, c.def.Image, auth); err != nil {
			return failure(c.name, "CannotPullContainerError: %v", err)
		}
		if v := r.a.verifier; v != nil {
			// The image may have come from another task's pull.
			if err := v.VerifyImageAccess(r.startCtx, c.def.Image, auth); err != nil {
				return failure(c.name, "CannotPullContainerError: the task's credentials cannot pull the image on this host: %v", err)
			}
		}
		pulled[c.def.Image] = true
	}
	if r.current().PullStoppedAt.IsZero() {
		now := time.Now()
		r.keep(func(t *state.Task) error {
			if t.PullStoppedAt.IsZero() {
				t.MarkPullStopped(now)
			}
			return nil
		})
	}
	return nil
}

// create creates the containers that do not exist yet.
func (r *runner) create(ctx context.Context) error {
	todo := r.toCreate()
	if len(todo) == 0 {
		return nil
	}
	volumes, dirs := taskVolumes(r.def, r.taskDir(), filepath.Join(r.a.stateDir, "volumes"))
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return failure("", "ResourceInitializationError: task volume: %v", err)
		}
	}
	t := r.current()
	in := specInput{
		taskID:   r.id,
		cluster:  t.ClusterName(),
		instance: r.a.cfg.InstanceID,
		family:   t.TaskDefinitionRef(),
		att:      r.att,
		volumes:  volumes,
		def:      r.def,
		logs:     r.a.cfg.Logs,
	}
	for _, c := range todo {
		if err := r.createContainer(ctx, c, &in); err != nil {
			return err
		}
	}
	r.keep(func(t *state.Task) error { r.recordRuntimeIDs(t); return nil })
	return r.networkReady()
}

// secretRequest says who asks for the task's secrets: its cluster, family
// and execution role.
func (r *runner) secretRequest() secrets.Request {
	return secrets.Request{Cluster: r.current().ClusterName(), Family: r.def.Family, ExecutionRoleARN: r.def.ExecutionRoleARN}
}

// createContainer creates one container. (Apart from create, so that the
// large values it handles stay off the stack of the calls that come
// before: every runner's stack is only as large as its deepest call.)
func (r *runner) createContainer(ctx context.Context, c *ctr, in *specInput) error {
	if len(c.def.EnvironmentFiles) > 0 {
		return failure(c.name, "CannotCreateContainerError: environmentFiles are not supported by this agent")
	}
	env, err := resolveSecrets(r.startCtx, r.a.cfg.Secrets, r.secretRequest(), c.def)
	if err != nil {
		return failure(c.name, "ResourceInitializationError: unable to pull secrets or registry auth: %v", err)
	}
	in.secretEnv = env
	spec, err := containerSpec(c.def, in)
	if err != nil {
		return failure(c.name, "CannotCreateContainerError: %v", err)
	}
	c.id = spec.ID
	offStack(func() { err = r.a.cfg.Runtime.Create(r.startCtx, *spec) })
	if errors.Is(err, runtime.ErrNotFound) {
		// The image went between the pull and now (removed behind the
		// runtime's back): pull it again, once.
		err = r.repull(c, spec)
	}
	if errors.Is(err, runtime.ErrAlreadyExists) {
		err = r.adoptExisting(ctx, c)
	}
	if err != nil {
		return failure(c.name, "CannotCreateContainerError: %v", err)
	}
	c.created = true
	return nil
}

// adoptExisting takes over a container that Create found already there
// (created by an earlier agent that stopped before recording it).
func (r *runner) adoptExisting(ctx context.Context, c *ctr) error {
	info, err := r.a.cfg.Runtime.Inspect(r.startCtx, c.id)
	if err != nil {
		return err
	}
	if info.Labels[LabelTask] != r.id || info.Labels[LabelContainer] != c.name {
		return fmt.Errorf("container %s exists and belongs to something else: %w", c.id, runtime.ErrAlreadyExists)
	}
	if info.State != runtime.StateCreated {
		c.started, c.startedAt = true, info.StartedAt
		if err := r.watch(ctx, c); err != nil {
			return err
		}
		if info.State == runtime.StateRunning {
			r.monitor(c, false)
		}
	}
	return nil
}

// watch reports the exit of c's main process as an event.
func (r *runner) watch(_ context.Context, c *ctr) error {
	ch, err := r.a.cfg.Runtime.Wait(r.helperCtx, c.id)
	if err != nil {
		return fmt.Errorf("wait for container %s: %w", c.id, err)
	}
	c.exit, c.stopWait = ch, nil
	return nil
}

// forwardExits starts a forward goroutine for each container whose exit
// the runner waits for itself. next waits for one exit channel in its own
// select (a task has one container, often: no goroutine then); with more,
// each gets a goroutine.
func (r *runner) forwardExits() (c *ctr) {
	n := 0
	for _, name := range r.names {
		if r.ctrs[name].exit != nil {
			n++
			c = r.ctrs[name]
		}
	}
	if n <= 1 {
		return c
	}
	for _, name := range r.names {
		if c := r.ctrs[name]; c.exit != nil {
			done := c.stopWait
			if done == nil {
				done = func() {}
			}
			r.forward(c.name, c.exit, done)
			c.exit, c.stopWait = nil, nil
		}
	}
	return nil
}

// onExit handles what c's exit channel gave. (Apart from next, whose
// variables would otherwise be allocated on every call.)
func (r *runner) onExit(ctx context.Context, c *ctr, st runtime.ExitStatus, ok bool) error {
	if ev, ok := r.exited(c, st, ok); ok {
		return r.handle(ctx, ev)
	}
	return nil
}

// exited turns what an exit channel gave into the exit event of c.
func (r *runner) exited(c *ctr, st runtime.ExitStatus, ok bool) (event, bool) {
	c.exit = nil
	if c.stopWait != nil {
		c.stopWait()
		c.stopWait = nil
	}
	if !ok {
		st = runtime.ExitStatus{Err: errors.New("exit status channel closed")}
	}
	if r.helperCtx.Err() != nil {
		return event{}, false // the status says the wait was cancelled
	}
	return event{name: c.name, exit: &st}, true
}

// forward passes the exit status from ch to the run goroutine, then calls
// done.
func (r *runner) forward(name string, ch <-chan runtime.ExitStatus, done func()) {
	r.helpers.Go(func() {
		defer done()
		var st runtime.ExitStatus
		select {
		case s, ok := <-ch:
			if !ok {
				s = runtime.ExitStatus{Err: errors.New("exit status channel closed")}
			}
			st = s
		case <-r.helperCtx.Done():
			return
		}
		if r.helperCtx.Err() != nil {
			return // the status says the wait was cancelled
		}
		select {
		case r.events <- event{name: name, exit: &st}:
		case <-r.helperCtx.Done():
		}
	})
}

// monitor starts c's health monitor, if it has a health check. resume
// starts it from the stored status (adoption).
func (r *runner) monitor(c *ctr, resume bool) {
	hc := c.healthCheck()
	if hc == nil || c.stopMonitor != nil {
		return
	}
	cfg := health.Config{Interval: hc.Interval(), Timeout: hc.Timeout(), Retries: hc.Retries(), StartPeriod: hc.StartPeriod()}
	prober := r.healthProber(c, hc.Command)
	ctx, cancel := context.WithCancel(r.helperCtx)
	opts := []health.MonitorOption{health.OnStatusChange(func(_, next health.State) {
		select {
		case r.events <- event{name: c.name, health: next.Status}:
		case <-ctx.Done():
		}
	})}
	if resume {
		opts = append(opts, health.WithState(health.State{Status: c.health, Started: c.startedAt}))
	}
	m, err := health.NewMonitor(cfg, prober, c.startedAt, opts...)
	if err != nil {
		cancel()
		r.log.Warn("agent: health check not run", "container", c.name, "err", err)
		return
	}
	c.stopMonitor = cancel
	r.helpers.Go(func() { _ = m.Run(ctx) })
}

// supervise starts the containers in dependency order, moves the task to
// RUNNING once every essential container runs, and records exits and
// health until the task must stop.
func (r *runner) supervise(ctx context.Context) error {
	for !r.stopWanted() {
		deadline, err := r.advance(ctx)
		if err != nil {
			return err
		}
		if r.stopWanted() {
			return nil
		}
		r.syncIngress(ctx)
		if err := r.next(ctx, deadline); err != nil {
			return err
		}
	}
	return nil
}

// next waits for an event, a poke or the deadline (zero: none) and
// handles what came.
func (r *runner) next(ctx context.Context, deadline time.Time) error {
	if err := r.flush(ctx); err != nil {
		return err
	}
	var timeout <-chan time.Time
	if !deadline.IsZero() {
		timer := time.NewTimer(time.Until(deadline))
		defer timer.Stop()
		timeout = timer.C
	}
	var exit <-chan runtime.ExitStatus
	waiting := r.forwardExits()
	if waiting != nil {
		exit = waiting.exit
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-r.wake:
	case ev := <-r.events:
		return r.handle(ctx, ev)
	case st, ok := <-exit:
		return r.onExit(ctx, waiting, st, ok)
	case <-timeout:
	}
	return nil
}

// advance starts every container whose dependencies are met, gives up on
// the ones whose dependencies can never be, and moves the task to RUNNING
// when it is. It returns when it next has to look again by the clock.
func (r *runner) advance(ctx context.Context) (time.Time, error) {
	var deadline time.Time
	for progress := true; progress && !r.stopWanted(); {
		progress, deadline = false, time.Time{}
		for _, name := range r.names {
			c := r.ctrs[name]
			if !c.created || c.started || c.exited {
				continue
			}
			v, why, at := checkDependencies(c, r.ctrs, time.Now(), r.a.startTimeout)
			switch v {
			case ready:
				if err := r.startContainer(ctx, c); err != nil {
					return time.Time{}, err
				}
				progress = true
			case never:
				reason := fmt.Sprintf("DependencyError: container %s: %s", c.name, why)
				if c.essential() {
					return time.Time{}, failure(c.name, "%s", reason)
				}
				if err := r.abandon(ctx, c, reason); err != nil {
					return time.Time{}, err
				}
				progress = true
			case wait:
				if !at.IsZero() && (deadline.IsZero() || at.Before(deadline)) {
					deadline = at
				}
			}
		}
	}
	if r.stopWanted() || rank(r.current().LastStatus) >= rank(task.Running) {
		return deadline, nil
	}
	for _, name := range r.names {
		if c := r.ctrs[name]; c.essential() && !c.running() {
			return deadline, nil
		}
	}
	if err := r.setStatus(ctx, task.Activating); err != nil {
		return time.Time{}, err
	}
	return deadline, r.setStatus(ctx, task.Running)
}

// abandon records that a non-essential container will never start.
func (r *runner) abandon(ctx context.Context, c *ctr, reason string) error {
	r.log.Warn("agent: container will not start", "container", c.name, "reason", reason)
	c.abandoned, c.exited = true, true
	return r.modify(ctx, func(t *state.Task) (bool, error) {
		return true, t.SetContainerStopped(c.name, nil, reason, time.Now())
	})
}

// startContainer starts c and records it RUNNING.
func (r *runner) startContainer(ctx context.Context, c *ctr) error {
	rt := r.a.cfg.Runtime
	// Wait before Start, so that an exit right after the start is seen.
	// The wait lasts as long as the runner's helpers (a container that
	// fails to start is deleted with the task, which ends it), so it needs
	// no context of its own: one per container would cost as much memory
	// as the rest of its bookkeeping.
	ch, err := rt.Wait(r.helperCtx, c.id)
	if err != nil {
		return r.startError(ctx, c, err)
	}
	if err := rt.Start(r.startCtx, c.id); err != nil {
		return r.startError(ctx, c, err)
	}
	c.started, c.startedAt = true, time.Now()
	c.exit, c.stopWait = ch, nil
	r.monitor(c, false)
	r.log.Info("agent: started container", "container", c.name)
	r.keep(func(t *state.Task) error {
		sc := t.Container(c.name)
		if sc == nil || sc.LastStatus != task.ContainerPending {
			return nil
		}
		sc.RuntimeID = c.id
		return t.SetContainerRunning(c.name)
	})
	return nil
}

// startError handles a failed start: the task fails before RUNNING or when
// the container is essential; a non-essential container is given up.
func (r *runner) startError(ctx context.Context, c *ctr, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if r.stopWanted() {
		return nil
	}
	reason := fmt.Sprintf("CannotStartContainerError: %v", err)
	if c.essential() || rank(r.current().LastStatus) < rank(task.Running) {
		return failure(c.name, "%s", reason)
	}
	return r.abandon(ctx, c, reason)
}

// handle records an event from a helper.
func (r *runner) handle(ctx context.Context, ev event) error {
	c := r.ctrs[ev.name]
	if c == nil || !c.started || c.exited {
		return nil
	}
	if ev.exit == nil {
		if ev.health == c.health {
			return nil
		}
		c.health = ev.health
		r.log.Info("agent: container health changed", "container", c.name, "health", ev.health)
		return r.modify(ctx, func(t *state.Task) (bool, error) {
			return true, t.SetContainerHealthAt(c.name, task.HealthStatus(ev.health), time.Now())
		})
	}
	c.exited = true
	if c.stopMonitor != nil {
		c.stopMonitor()
	}
	var code *int
	reason := ""
	if ev.exit.Err != nil {
		reason = fmt.Sprintf("exit status unknown: %v", ev.exit.Err)
	} else {
		code = &ev.exit.Code
	}
	c.exitCode = code
	r.log.Info("agent: container exited", "container", c.name, "exitCode", codeString(code), "essential", c.essential())
	return r.modify(ctx, func(t *state.Task) (bool, error) {
		sc := t.Container(c.name)
		if sc == nil || sc.LastStatus == task.ContainerStopped {
			return false, nil
		}
		return true, t.SetContainerStopped(c.name, code, reason, time.Now())
	})
}

// stop takes the task down: DEACTIVATING (the drain), STOPPING
// (SIGTERM, SIGKILL after the stop timeout, in reverse dependency order),
// DEPROVISIONING (delete the containers, tear the network down) and
// STOPPED, giving the reservation back in the same transaction.
func (r *runner) stop(ctx context.Context) error {
	r.cancelStart()
	for _, name := range r.names {
		if c := r.ctrs[name]; c.stopMonitor != nil {
			c.stopMonitor()
		}
	}
	t := r.current()
	created := slices.ContainsFunc(r.names, func(n string) bool { return r.ctrs[n].created })
	if s := t.LastStatus; s == task.Activating || s == task.Running || s == task.Deactivating {
		if err := r.setStatus(ctx, task.Deactivating); err != nil {
			return err
		}
		if err := r.drain(ctx); err != nil {
			return err
		}
	}
	if created {
		if err := r.setStatus(ctx, task.Stopping); err != nil {
			return err
		}
		if err := r.stopContainers(ctx); err != nil {
			return err
		}
	}
	if created || r.att != nil {
		if err := r.modify(ctx, func(t *state.Task) (bool, error) {
			changed := r.recordNeverStarted(t)
			moved, err := advanceStatus(t, task.Deprovisioning, time.Now())
			return changed || moved, err
		}); err != nil {
			return err
		}
	}
	if err := r.cleanup(ctx); err != nil {
		return err
	}
	err := r.update(ctx, func(tx store.Tx, t *state.Task) (bool, error) {
		r.recordNeverStarted(t)
		if !t.Released {
			if err := r.release(tx, t); err != nil {
				return false, err
			}
			t.Released = true
		}
		_, err := advanceStatus(t, task.Stopped, time.Now())
		return true, err
	})
	if err == nil {
		r.log.Info("agent: task stopped", "stopCode", r.current().StopCode, "reason", r.current().StoppedReason)
	}
	return err
}

// release gives the task's reservation back to its instance.
func (r *runner) release(tx store.Tx, t *state.Task) error {
	inst, err := store.Get[*state.Instance](tx, state.KindInstances, t.ContainerInstanceID())
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	next := inst.Copy()
	if err := next.RemoveTask(t.Group, t.Reserved); err != nil {
		if errors.Is(err, cluster.ErrNotReserved) || errors.Is(err, cluster.ErrInvalid) {
			r.log.Warn("agent: reservation could not be given back", "err", err)
			return nil
		}
		return err
	}
	return tx.Update(next)
}

// recordNeverStarted marks STOPPED the containers the store still shows
// PENDING or RUNNING whose exit will never be reported.
func (r *runner) recordNeverStarted(t *state.Task) bool {
	changed := false
	now := time.Now()
	for _, sc := range t.Containers {
		if sc.LastStatus == task.ContainerStopped {
			continue
		}
		c := r.ctrs[sc.Name]
		var code *int
		reason := ""
		if c != nil {
			code = c.exitCode
			if c.started && code == nil {
				reason = "exit status unknown"
			}
		}
		if err := t.SetContainerStopped(sc.Name, code, reason, now); err == nil {
			changed = true
		}
	}
	return changed
}

// stopContainers stops the running containers, stage by stage in reverse
// dependency order, and records their exits.
func (r *runner) stopContainers(ctx context.Context) error {
	for _, stage := range r.stopOrder {
		if err := r.stopStage(ctx, stage); err != nil {
			return err
		}
	}
	return nil
}

// stopStage sends SIGTERM to the stage's running containers, SIGKILL to
// those still running after their stop timeout, and waits for their exits.
func (r *runner) stopStage(ctx context.Context, stage []string) error {
	rt := r.a.cfg.Runtime
	type stopping struct {
		c        *ctr
		deadline time.Time // SIGKILL at; after the kill: give up at
		killed   bool
	}
	var pending []*stopping
	for _, name := range stage {
		c := r.ctrs[name]
		if c == nil || !c.running() {
			continue
		}
		now := time.Now()
		if err := rt.Signal(ctx, c.id, syscall.SIGTERM); err != nil && !errors.Is(err, runtime.ErrNotRunning) {
			r.log.Warn("agent: SIGTERM failed", "container", name, "err", err)
		}
		pending = append(pending, &stopping{c: c, deadline: now.Add(c.stopTimeout())})
	}
	for {
		pending = slices.DeleteFunc(pending, func(s *stopping) bool { return s.c.exited })
		if len(pending) == 0 {
			return nil
		}
		next := pending[0].deadline
		for _, s := range pending[1:] {
			if s.deadline.Before(next) {
				next = s.deadline
			}
		}
		if err := r.next(ctx, next); err != nil {
			return err
		}
		now := time.Now()
		for _, s := range pending {
			if now.Before(s.deadline) {
				continue
			}
			if s.killed {
				r.log.Warn("agent: container did not exit after SIGKILL; moving on", "container", s.c.name)
				s.c.exited = true
				continue
			}
			r.log.Info("agent: container ignored SIGTERM; sending SIGKILL", "container", s.c.name, "stopTimeout", s.c.stopTimeout())
			if err := rt.Signal(ctx, s.c.id, syscall.SIGKILL); err != nil && !errors.Is(err, runtime.ErrNotRunning) {
				r.log.Warn("agent: SIGKILL failed", "container", s.c.name, "err", err)
			}
			s.killed, s.deadline = true, now.Add(killGrace)
		}
	}
}

// cleanup deletes the task's containers, tears its network down and
// removes its directory. Failures are retried a few times, then logged: the
// next agent's adoption removes what is left.
func (r *runner) cleanup(ctx context.Context) error {
	rt := r.a.cfg.Runtime
	for _, name := range r.names {
		c := r.ctrs[name]
		if !c.created {
			continue
		}
		err := retry(ctx, func() error {
			err := rt.Delete(ctx, c.id)
			if errors.Is(err, runtime.ErrNotFound) {
				return nil
			}
			return err
		})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r.log.Error("agent: could not delete container", "container", name, "err", err)
			continue
		}
		c.created = false
	}
	err := retry(ctx, func() error { return r.a.cfg.Network.Teardown(ctx, r.id) })
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.log.Error("agent: could not tear the task network down", "err", err)
	}
	if err := os.RemoveAll(r.taskDir()); err != nil {
		r.log.Warn("agent: could not remove task directory", "err", err)
	}
	return nil
}

// retry runs fn up to cleanupAttempts times with growing pauses.
func retry(ctx context.Context, fn func() error) error {
	backoff := cleanupBackoff
	var err error
	for attempt := 1; ; attempt++ {
		if err = fn(); err == nil || attempt == cleanupAttempts {
			return err
		}
		timer := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			timer.Stop()
			return errors.Join(err, ctx.Err())
		case <-timer.C:
		}
		backoff *= 2
	}
}
