package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/errdefs"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/secrets"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

// countsEvery is the least time between two writes of the instance's task
// counts while tasks are starting: a burst of task starts then costs a few
// instance writes, not two per task. Counts that settle (no task starting)
// are written at once.
const countsEvery = 500 * time.Millisecond

// DefaultStartTimeout is how long a container waits for a COMPLETE, SUCCESS
// or HEALTHY dependency whose definition sets no startTimeout, counted from
// the dependency's start (the ECS agent's ECS_CONTAINER_START_TIMEOUT).
const DefaultStartTimeout = 3 * time.Minute

// Sentinel errors.
var (
	// ErrInvalidConfig is wrapped by New's errors.
	// It matches errdefs.ErrInvalid.
	ErrInvalidConfig = errdefs.New(errdefs.ErrInvalid, "agent: invalid config")
	// ErrAlreadyRunning is returned by Run when the agent is already
	// running.
	ErrAlreadyRunning = errors.New("agent: already running")
	// ErrNoSecretResolver means a container has secrets or repository
	// credentials but the agent has no SecretResolver. The task fails to
	// start with it.
	ErrNoSecretResolver = errors.New("agent: no secret resolver configured")
)

// SecretResolver resolves secrets for containers when they are created:
// secrets[].valueFrom references and repositoryCredentials. The request
// says which task asks (cluster, family, execution role) and, for registry
// credentials, for which registry, so that a resolver can refuse what the
// task was not granted (see secrets.Scoped).
type SecretResolver = secrets.Provider

// LogSink receives the output of containers.
type LogSink interface {
	// Writers returns where one container's stdout and stderr go (nil =
	// discard).
	Writers(taskID, container string) (stdout, stderr io.Writer)
}

// Config is what an Agent needs. InstanceID, Store, Runtime and Network are
// required.
type Config struct {
	// InstanceID is the instance's ID (the state.Instance key).
	InstanceID string
	// Store is the orchestrator's store.
	Store store.Store
	// Runtime runs the instance's containers.
	Runtime runtime.Runtime
	// Network sets up the instance's task networks.
	Network network.Provider
	// Secrets resolves secrets and repository credentials; optional.
	Secrets SecretResolver
	// Logs receives container output; optional (output is discarded).
	Logs LogSink
	// Logger receives the agent's own log; optional.
	Logger *slog.Logger

	// StateDir holds the agent's files: task-scoped volumes under
	// StateDir/tasks/<task>/volumes and shared docker volumes under
	// StateDir/volumes. It must be an absolute path. Optional: the
	// default is DefaultStateDir(InstanceID). The agent creates it 0700
	// when a task first needs a directory, refuses symbolic links and
	// directories of other users on every path it mounts from
	// (ErrUnsafeStateDir), removes a task's directory when the task stops,
	// and, when Run ends, what it made that is left empty.
	StateDir string
	// ImageCleanup removes images no longer used (see ImageCleanup; the
	// zero value is on, with the ECS agent's defaults).
	ImageCleanup ImageCleanup
	// StartTimeout replaces DefaultStartTimeout when positive.
	StartTimeout time.Duration
	// VerifyImageAccess makes the agent ask the registry, before a
	// container uses an image, whether the container's own credentials
	// (none without repositoryCredentials) could pull it, when the
	// Runtime is a runtime.AccessVerifier. Without it, an image that one
	// task's credentials pulled onto the host serves every later task
	// that names it, as with Docker's and the ECS agent's defaults. The
	// check costs a registry round trip per image and task start.
	VerifyImageAccess bool
	// SampleInterval is how often the agent writes the CPU and memory use
	// of the running tasks of scalable services to the store, for the
	// service scaler; 0 never does.
	SampleInterval time.Duration
	// HeartbeatInterval is how often the agent says on its instance that
	// it runs (state.Instance.HeartbeatAt), so that the control plane
	// takes it for gone when it falls silent (a process killed or paused);
	// 0 means DefaultHeartbeatInterval. A negative interval writes no
	// heartbeat, and the agent is then never taken for gone.
	HeartbeatInterval time.Duration
}

// Agent runs the tasks of one container instance. Create it with New and
// drive it with Run.
type Agent struct {
	cfg          Config
	log          *slog.Logger
	dirs         *stateDir
	startTimeout time.Duration
	running      atomic.Bool
	images       *imageTracker // nil when the image cleanup is off
	// verifier checks a task's access to a local image; nil unless
	// Config.VerifyImageAccess is set and the runtime can.
	verifier runtime.AccessVerifier
	// engine follows whether the runtime's engine answers; every call to
	// cfg.Runtime and verifier reports to it.
	engine *engine
	// heartbeat is the heartbeat interval; 0 writes none.
	heartbeat time.Duration
	// lastBeat is the latest heartbeat committed (Unix nanoseconds).
	lastBeat atomic.Int64

	// orders caches the stop order of stored task definitions (which
	// never change): the tasks of a definition share it, read-only.
	ordersMu sync.Mutex
	orders   map[*task.TaskDefinition][][]string
}

// maxOrders bounds Agent.orders: past it the cache starts over.
const maxOrders = 256

// stopOrder returns def.StopOrder() for a stored definition, computed once.
func (a *Agent) stopOrder(def *task.TaskDefinition) ([][]string, error) {
	a.ordersMu.Lock()
	defer a.ordersMu.Unlock()
	if order, ok := a.orders[def]; ok {
		return order, nil
	}
	order, err := def.StopOrder()
	if err != nil {
		return nil, err
	}
	if a.orders == nil || len(a.orders) >= maxOrders {
		a.orders = map[*task.TaskDefinition][][]string{}
	}
	a.orders[def] = order
	return order, nil
}

// New returns an agent for cfg. Errors wrap ErrInvalidConfig.
func New(cfg Config) (*Agent, error) {
	var missing []string
	if cfg.InstanceID == "" {
		missing = append(missing, "InstanceID")
	}
	if cfg.Store == nil {
		missing = append(missing, "Store")
	}
	if cfg.Runtime == nil {
		missing = append(missing, "Runtime")
	}
	if cfg.Network == nil {
		missing = append(missing, "Network")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: %v missing", ErrInvalidConfig, missing)
	}
	// The ID names the state directory and labels containers: it must be
	// one printable path element.
	if err := cluster.ValidateInstanceID(cfg.InstanceID); err != nil {
		return nil, fmt.Errorf("%w: InstanceID: %w", ErrInvalidConfig, err)
	}
	if cfg.StateDir != "" && !filepath.IsAbs(cfg.StateDir) {
		return nil, fmt.Errorf("%w: StateDir: %q is not an absolute path", ErrInvalidConfig, cfg.StateDir)
	}
	a := &Agent{cfg: cfg, log: cfg.Logger, dirs: newStateDir(cfg.StateDir, cfg.InstanceID), startTimeout: cfg.StartTimeout}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.startTimeout <= 0 {
		a.startTimeout = DefaultStartTimeout
	}
	switch {
	case cfg.HeartbeatInterval == 0:
		a.heartbeat = DefaultHeartbeatInterval
	case cfg.HeartbeatInterval > 0:
		a.heartbeat = cfg.HeartbeatInterval
	}
	if v, ok := cfg.Runtime.(runtime.AccessVerifier); ok && cfg.VerifyImageAccess {
		a.verifier = v // before the image tracker hides it
	}
	images, err := newImageTracker(cfg.Runtime, cfg.ImageCleanup)
	if err != nil {
		return nil, err
	}
	if images != nil {
		a.images, a.cfg.Runtime = images, images
	}
	a.engine = newEngine()
	a.cfg.Runtime = engineRuntime{rt: a.cfg.Runtime, e: a.engine}
	if a.verifier != nil {
		a.verifier = engineVerifier{v: a.verifier, e: a.engine}
	}
	return a, nil
}

// Run drives the instance's tasks until ctx is done, then returns nil after
// every goroutine it started has ended. Containers keep running when Run
// returns; a new agent for the same instance (or this one, run again)
// adopts them. Run returns an error when it cannot go on: the store failed
// or was closed, or the runtime could not list its containers at start-up.
func (a *Agent) Run(ctx context.Context) error {
	if !a.running.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	defer a.running.Store(false)

	a.setConnected(ctx, true)
	defer a.setConnected(context.WithoutCancel(ctx), false)

	ctx, cancel := context.WithCancel(ctx)
	s := &session{
		a:        a,
		w:        &writer{st: a.cfg.Store},
		runners:  map[string]*runner{},
		finished: map[string]bool{},
		tasks:    map[string]*state.Task{},
		done:     make(chan runnerDone),
	}
	// Once the runners are done: what they left empty goes.
	defer a.dirs.prune()
	defer s.wg.Wait()
	defer cancel()
	if a.images != nil {
		s.wg.Go(func() { a.images.run(ctx, a) })
	}
	s.wg.Go(func() { a.watchEngine(ctx) })
	if a.heartbeat > 0 {
		s.wg.Go(func() { s.heartbeat(ctx) })
	}
	err := s.run(ctx)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// setConnected records whether the agent is connected, best effort. Either
// way no engine outage is recorded: an agent that starts has seen none yet
// (watchEngine records the first), and an outage ends with the agent that
// saw it. An agent that starts writes its first heartbeat with it; one
// that ends is not gone, only disconnected (no AgentLost).
func (a *Agent) setConnected(ctx context.Context, connected bool) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := a.writeInstance(ctx, a.cfg.Store.Update, func(inst *state.Instance, now time.Time) (*state.Instance, bool) {
		if !connected && !inst.AgentConnected && inst.EngineOutage == nil && inst.AgentLost == nil {
			return nil, false
		}
		next := inst.Copy()
		next.AgentConnected, next.EngineOutage, next.AgentLost = connected, nil, nil
		next.DateChange(&inst.ContainerInstance, now)
		return next, connected
	})
	if err != nil {
		a.log.Warn("agent: could not record agent connection", "connected", connected, "err", err)
	}
}

// session is one Run: the watch of the instance's tasks and their runners.
type session struct {
	a *Agent
	// w commits the session's writes and its runners'.
	w *writer
	// runners are the tasks being driven, by task ID.
	runners map[string]*runner
	// finished are the tasks whose runner brought them to STOPPED (or saw
	// them deleted) in this session: late events about them start nothing.
	finished map[string]bool
	// tasks is the latest version seen of every task of the instance;
	// set and drop keep running and pending, its counts, up to date.
	tasks            map[string]*state.Task
	running, pending int
	done             chan runnerDone
	wg               sync.WaitGroup

	// The counts last written to the instance, and when.
	written      bool
	wrote        time.Time
	wroteRunning int
	wrotePending int
	countsTimer  *time.Timer
	countsDue    <-chan time.Time // countsTimer's channel while it is set
}

// taskCounts says whether t counts as running or pending on its instance
// (pending: not yet running and not stopping).
func taskCounts(t *state.Task) (running, pending int) {
	switch t.LastStatus {
	case task.Running:
		return 1, 0
	case task.Provisioning, task.Pending, task.Activating:
		if t.DesiredStatus != task.Stopped {
			return 0, 1
		}
	}
	return 0, 0
}

// set records the latest version of a task.
func (s *session) set(t *state.Task) {
	s.drop(t.ID())
	s.tasks[t.ID()] = t
	r, p := taskCounts(t)
	s.running += r
	s.pending += p
}

// drop forgets a task.
func (s *session) drop(id string) {
	if old := s.tasks[id]; old != nil {
		r, p := taskCounts(old)
		s.running -= r
		s.pending -= p
		delete(s.tasks, id)
	}
}

type runnerDone struct {
	id  string
	err error
}

func (s *session) mine(ev store.Event) bool {
	for _, obj := range []store.Object{ev.Object, ev.Prev} {
		if t, ok := obj.(*state.Task); ok && t.Task != nil && t.ContainerInstanceID() == s.a.cfg.InstanceID {
			return true
		}
	}
	return false
}

// instanceTasks is implemented by a Config.Store that serves the tasks of
// one instance (the store internal/taskfeed gives each agent of a
// process): the agent then starts from its own tasks instead of listing
// every task of the cluster, which a thousand agents starting at once
// would each do.
type instanceTasks interface {
	// InstanceTasks returns the instance's tasks and a revision rev: the
	// Watch of the tasks from rev that follows delivers every change
	// after them.
	InstanceTasks(ctx context.Context, instance string) (tasks []*state.Task, rev int64, err error)
}

// errStartOver ends a follower started from the store's InstanceTasks when
// it needs a fresh snapshot: the session follows again from InstanceTasks
// rather than listing every task.
var errStartOver = errors.New("agent: task watch must start over from the instance's tasks")

// follow reads the instance's tasks into *tasks and follows their
// changes; after a fresh snapshot (Take's resynced), *tasks holds the
// instance's tasks anew. It starts from the store's InstanceTasks when the
// store has it, and lists every task otherwise. A follower started from
// InstanceTasks that needs a fresh snapshot ends with errStartOver instead.
func (s *session) follow(ctx context.Context, tasks *[]*state.Task) (*store.Follower, error) {
	fromInstance := false // the follower started from InstanceTasks
	cfg := store.FollowConfig{
		Snapshot: func(tx store.ReadTx) error {
			if fromInstance {
				return errStartOver
			}
			*tasks = (*tasks)[:0]
			all, err := store.List[*state.Task](tx, state.KindTasks)
			if err != nil {
				return err
			}
			for _, t := range all {
				if t.Task != nil && t.ContainerInstanceID() == s.a.cfg.InstanceID {
					*tasks = append(*tasks, t)
				}
			}
			return nil
		},
		Options: []store.WatchOption{store.WithKinds(state.KindTasks), store.WithFilter(s.mine)},
	}
	if src, ok := s.a.cfg.Store.(instanceTasks); ok {
		own, rev, err := src.InstanceTasks(ctx, s.a.cfg.InstanceID)
		var f *store.Follower
		if err == nil {
			f, err = store.Resume(ctx, s.a.cfg.Store, rev, cfg)
		}
		if err == nil {
			*tasks, fromInstance = own, true
			return f, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("agent: watch tasks: %w", err)
		}
		s.a.log.Warn("agent: the store could not give the instance's tasks; listing them", "err", err)
	}
	f, err := store.Follow(ctx, s.a.cfg.Store, cfg)
	if err != nil {
		return nil, fmt.Errorf("agent: watch tasks: %w", err)
	}
	return f, nil
}

func (s *session) run(ctx context.Context) error {
	var tasks []*state.Task
	f, err := s.follow(ctx, &tasks)
	if err != nil {
		return err
	}
	defer func() { f.Close() }()
	if err := s.adopt(ctx, tasks); err != nil {
		return err
	}
	s.updateCounts(ctx, true)
	defer func() {
		if s.countsTimer != nil {
			s.countsTimer.Stop()
		}
	}()
	var sampleTick <-chan time.Time
	if every := s.a.cfg.SampleInterval; every > 0 {
		ticker := time.NewTicker(every)
		defer ticker.Stop()
		sampleTick = ticker.C
	}
	sm := &sampler{a: s.a}
	sampling := make(chan struct{}, 1) // holds a value while a round runs
	var buf []store.Event
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-sampleTick:
			select {
			case sampling <- struct{}{}:
			default:
				continue // the last round is still reading
			}
			tasks := make([]*state.Task, 0, len(s.tasks))
			for _, t := range s.tasks {
				tasks = append(tasks, t)
			}
			s.wg.Go(func() {
				defer func() { <-sampling }()
				sm.sample(ctx, tasks)
			})
		case <-s.countsDue:
			s.countsDue = nil
			s.updateCounts(ctx, true)
		case d := <-s.done:
			delete(s.runners, d.id)
			if d.err != nil && ctx.Err() == nil {
				return fmt.Errorf("agent: task %s: %w", d.id, d.err)
			}
			if s.tasks[d.id] != nil {
				s.finished[d.id] = true
			}
		case <-f.Ready():
			evs, resynced, err := f.Take(buf[:0])
			if errors.Is(err, errStartOver) {
				f.Close()
				var again *store.Follower
				if again, err = s.follow(ctx, &tasks); err == nil {
					f, resynced = again, true
				}
			}
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("agent: task watch ended: %w", err)
			}
			if resynced {
				s.a.log.Warn("agent: task watch fell behind; resuming from a snapshot", "revision", f.Revision())
				s.resync(ctx, tasks)
			}
			for _, ev := range evs {
				s.handle(ctx, ev)
			}
			clear(evs)
			buf = evs
			// Write the counts once for all of it.
			s.updateCounts(ctx, false)
		}
	}
}

// resync takes in a fresh snapshot of the instance's tasks: every task in
// it goes to its runner, and the runners of tasks no longer there learn
// that their task is gone.
func (s *session) resync(ctx context.Context, tasks []*state.Task) {
	seen := map[string]bool{}
	for _, t := range tasks {
		seen[t.ID()] = true
		s.set(t)
		s.deliver(ctx, t, nil)
	}
	for id, r := range s.runners {
		if !seen[id] {
			s.drop(id)
			r.markGone()
		}
	}
}

func (s *session) handle(ctx context.Context, ev store.Event) {
	if ev.Type == store.Deleted {
		s.drop(ev.ID)
		delete(s.finished, ev.ID)
		if r := s.runners[ev.ID]; r != nil {
			r.markGone()
		}
		return
	}
	t, ok := ev.Object.(*state.Task)
	if !ok {
		return
	}
	s.set(t)
	s.deliver(ctx, t, nil)
}

// deliver passes a task version to its runner, starting one for a task
// that is not STOPPED.
func (s *session) deliver(ctx context.Context, t *state.Task, adopted map[string]runtime.ContainerInfo) {
	id := t.ID()
	if r := s.runners[id]; r != nil {
		r.deliver(t)
		return
	}
	if t.LastStatus == task.Stopped || s.finished[id] {
		return
	}
	r := newRunner(ctx, s.a, s.w, t, adopted)
	s.runners[id] = r
	s.wg.Go(func() {
		err := r.run(ctx)
		select {
		case s.done <- runnerDone{id: id, err: err}:
		case <-ctx.Done():
		}
	})
}

// adopt takes over what an earlier agent left: the containers of live
// tasks are handed to their runners, the others removed, and the network
// provider reconciled.
func (s *session) adopt(ctx context.Context, tasks []*state.Task) error {
	a := s.a
	var infos []runtime.ContainerInfo
	err := a.untilAvailable(ctx, func() (err error) {
		infos, err = a.cfg.Runtime.List(ctx, map[string]string{LabelInstance: a.cfg.InstanceID})
		return err
	})
	if err != nil {
		return fmt.Errorf("agent: list containers of instance %s: %w", a.cfg.InstanceID, err)
	}
	live := map[string]*state.Task{}
	for _, t := range tasks {
		s.set(t)
		if t.LastStatus != task.Stopped {
			live[t.ID()] = t
		}
	}
	byTask := map[string]map[string]runtime.ContainerInfo{}
	for _, info := range infos {
		tid, name := info.Labels[LabelTask], info.Labels[LabelContainer]
		t := live[tid]
		_, dup := byTask[tid][name]
		if t == nil || t.Container(name) == nil || dup {
			a.log.Info("agent: removing orphan container", "container", info.ID, "task", tid)
			if err := a.cfg.Runtime.Delete(ctx, info.ID); err != nil && !errors.Is(err, runtime.ErrNotFound) {
				a.log.Warn("agent: could not remove orphan container", "container", info.ID, "err", err)
			}
			continue
		}
		if byTask[tid] == nil {
			byTask[tid] = map[string]runtime.ContainerInfo{}
		}
		byTask[tid][name] = info
	}
	// Several instances may share one network provider (several instances
	// on one host): the tasks live on the others are theirs to keep. The
	// provider holds few networks besides this instance's live tasks:
	// each of those is looked up.
	err = a.cfg.Network.Reconcile(ctx, func(taskID string) bool { return live[taskID] != nil || s.liveElsewhere(ctx, taskID) })
	if err != nil {
		a.log.Warn("agent: network reconcile failed", "err", err)
	}
	s.removeStaleDirs(live)
	for _, t := range tasks {
		if live[t.ID()] != nil {
			s.deliver(ctx, t, byTask[t.ID()])
		}
	}
	return nil
}

// liveElsewhere reports whether a task is live on another instance, as the
// store has it now: a network provider shared with that instance's agent
// then holds the task's network. When the store cannot say, the network
// is kept: a leftover goes at a later reconcile, but a network torn down
// would cut a running task off.
func (s *session) liveElsewhere(ctx context.Context, taskID string) bool {
	var t *state.Task
	err := s.a.cfg.Store.View(ctx, func(tx store.ReadTx) (err error) {
		t, err = store.Get[*state.Task](tx, state.KindTasks, taskID)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false
	case err != nil:
		s.a.log.Warn("agent: keeping the network of a task the store could not be asked about", "task", taskID, "err", err)
		return true
	}
	return t.Task != nil && t.LastStatus != task.Stopped && t.ContainerInstanceID() != s.a.cfg.InstanceID
}

// removeStaleDirs removes the task directories of tasks that are no longer
// live. It reads nothing from a state directory that fails the checks of
// ErrUnsafeStateDir.
func (s *session) removeStaleDirs(live map[string]*state.Task) {
	if ok, err := s.a.dirs.check(); !ok {
		if err != nil {
			s.a.log.Warn("agent: not cleaning the state directory", "err", err)
		}
		return
	}
	root := s.a.dirs.join("tasks")
	if fi, err := os.Lstat(root); err != nil || !fi.IsDir() {
		return // none, or not a directory the agent made (links are not followed)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	keep := map[string]bool{}
	for id := range live {
		keep[safeName(id)] = true
	}
	for _, e := range entries {
		if !keep[e.Name()] {
			if err := os.RemoveAll(filepath.Join(root, e.Name())); err != nil {
				s.a.log.Warn("agent: could not remove task directory", "dir", e.Name(), "err", err)
			}
		}
	}
}

// updateCounts writes the instance's running and pending task counts when
// they changed: at once when now is set or no task is starting, otherwise
// no sooner than countsEvery after the last write (a timer brings the
// session back then).
func (s *session) updateCounts(ctx context.Context, now bool) {
	running, pending := s.running, s.pending
	if s.written && running == s.wroteRunning && pending == s.wrotePending {
		return
	}
	if !now && pending > 0 && s.written {
		if wait := countsEvery - time.Since(s.wrote); wait > 0 {
			if s.countsDue == nil {
				if s.countsTimer == nil {
					s.countsTimer = time.NewTimer(wait)
				} else {
					s.countsTimer.Reset(wait)
				}
				s.countsDue = s.countsTimer.C
			}
			return
		}
	}
	err := s.a.writeInstance(ctx, s.w.update, func(inst *state.Instance, _ time.Time) (*state.Instance, bool) {
		if inst.RunningTasksCount == running && inst.PendingTasksCount == pending {
			return nil, false
		}
		// Only the counts change, and the heartbeat they carry: the
		// copy shares the maps and slices of the stored instance, which
		// no one changes in place (every writer changes a Copy).
		next := *inst
		next.RunningTasksCount, next.PendingTasksCount = running, pending
		return &next, true
	})
	if err != nil {
		if ctx.Err() == nil {
			s.a.log.Warn("agent: could not update task counts", "err", err)
		}
		return
	}
	s.written, s.wrote, s.wroteRunning, s.wrotePending = true, time.Now(), running, pending
}
