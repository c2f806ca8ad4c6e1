package stevedore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stevedore-io/stevedore/api"
	"github.com/stevedore-io/stevedore/discovery"
	"github.com/stevedore-io/stevedore/errdefs"
	"github.com/stevedore-io/stevedore/internal/actions"
	"github.com/stevedore-io/stevedore/internal/dnssync"
	"github.com/stevedore-io/stevedore/internal/launch"
	"github.com/stevedore-io/stevedore/internal/leader"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/internal/supervisor"
	"github.com/stevedore-io/stevedore/internal/taskfeed"
	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/placement"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/memory"
	"github.com/stevedore-io/stevedore/task/policy"
)

// The kinds of the API's errors (package api holds them): they are package
// errdefs' kinds, which the errors of every Stevedore package wrap, so
// errors.Is(err, ErrInvalid) holds for every invalid input through every
// entry point, whichever package found it.
var (
	// ErrNotFound means a cluster, instance, task definition, task or
	// service does not exist.
	ErrNotFound = api.ErrNotFound
	// ErrAlreadyExists means the object to create exists already.
	ErrAlreadyExists = api.ErrAlreadyExists
	// ErrInvalid means a request is malformed; the error names the field.
	ErrInvalid = api.ErrInvalid
	// ErrConflict means the request contradicts the state as it is now.
	ErrConflict = api.ErrConflict
	// ErrInUse means the object cannot be removed while others use it.
	ErrInUse = api.ErrInUse
	// ErrClosed means the Orchestrator was closed.
	ErrClosed = api.ErrClosed
)

// NotFoundError is an object that does not exist. It matches ErrNotFound.
type NotFoundError = api.NotFoundError

// FieldError is an invalid request field. It matches ErrInvalid.
type FieldError = api.FieldError

// Default settings.
const (
	// DefaultTaskRetention is how long stopped tasks stay describable
	// (ECS shows stopped tasks for about an hour).
	DefaultTaskRetention = time.Hour
	// MaxRunTaskCount is the largest count of one RunTask call.
	MaxRunTaskCount = api.MaxRunTaskCount
)

// Orchestrator is the ECS-like control plane: clusters, container
// instances, task definitions, tasks and services. Every call writes desired
// state to the store; components (the loops listed in ARCHITECTURE.md, and
// one agent per container instance) follow the store and drive actual state
// towards it. An Orchestrator is safe for concurrent use. Close stops its
// components.
type Orchestrator struct {
	// store is the store as the API calls see it: after Close, every call
	// on it fails with ErrClosed (see apiStore). The components use
	// backing, which stays open until they have stopped.
	store     store.Store
	backing   store.Store
	ownStore  bool
	log       *slog.Logger
	retention time.Duration
	logs      LogSink

	// sup runs every component; ctx is its context.
	sup *supervisor.Supervisor
	ctx context.Context

	agentsMu sync.Mutex // held while an instance's agent is replaced
	mu       sync.Mutex
	agents   map[string]*supervisor.Handle // by instance ID
	closed   atomic.Bool

	launcher *launch.Launcher
	// actions carries out the API's calls (internal/actions).
	actions      *actions.Actions
	feed         *taskfeed.Feed
	discovery    *dnssync.Sync
	targetGroups map[string]TargetGroup
	rules        map[string]ListenerRule // blue/green listener rules, by name
	alarms       map[string]Alarm        // by name
	// metrics are the custom metrics of scaling policies; the agents
	// sample tasks twice per scalingPeriod.
	metrics       map[string]MetricFunc
	scalingPeriod time.Duration
	// taskPolicy is the task policy of clusters that set none.
	taskPolicy policy.Policy
	// arnPrefix begins the ARNs the API gives out (see WithARNs).
	arnPrefix string
	// agentDirs holds the agents' state directories, one per instance:
	// <WithDataDir>/agents; "" for the agent's default.
	agentDirs string
	// elector runs the loops that must run once under WithEtcd.
	elector *leader.Elector
}

// New returns a running Orchestrator. Without WithStore it keeps state in
// memory, for one process.
func New(opts ...Option) (*Orchestrator, error) {
	o := options{retention: DefaultTaskRetention}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	orc := &Orchestrator{
		backing:      o.store,
		log:          o.logger,
		retention:    o.retention,
		logs:         o.logs,
		agents:       map[string]*supervisor.Handle{},
		targetGroups: o.targetGroups,
		rules:        o.rules,
		alarms:       o.alarms,
		taskPolicy:   DefaultTaskPolicy,
		arnPrefix:    arnPrefix(DefaultARNPartition, DefaultARNRegion, DefaultARNAccount),
	}
	if o.arnPrefix != "" {
		orc.arnPrefix = o.arnPrefix
	}
	if o.taskPolicy != nil {
		orc.taskPolicy = *o.taskPolicy
	}
	if orc.log == nil {
		orc.log = slog.New(slog.DiscardHandler)
	}
	switch {
	case o.etcd != nil: // several replicas on etcd: replicas.go
		s, err := openEtcd(o)
		if err != nil {
			return nil, err
		}
		orc.backing, orc.ownStore = s, true
	case orc.backing != nil:
	case o.dataDir != "":
		s, err := openDataDir(o.dataDir)
		if err != nil {
			return nil, err
		}
		orc.backing, orc.ownStore = s, true
		if orc.agentDirs, err = filepath.Abs(filepath.Join(o.dataDir, "agents")); err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("stevedore: data directory: %w", err)
		}
	default:
		s, err := memory.New()
		if err != nil {
			return nil, err
		}
		orc.backing, orc.ownStore = s, true
	}
	orc.store = apiStore{Store: orc.backing, closed: &orc.closed}
	if err := orc.wire(o); err != nil {
		orc.sup.Stop()
		if orc.ownStore {
			_ = orc.backing.Close()
		}
		return nil, err
	}
	return orc, nil
}

// loopRestart is how soon a loop that ended with an error runs again.
const loopRestart = 100 * time.Millisecond

// wire builds the components from the store and their real dependencies,
// and runs them under one supervisor (swarmkit's manager.go is the model).
// The agents join it as instances register.
func (o *Orchestrator) wire(opts options) error {
	o.sup = supervisor.New(o.log)
	o.ctx = o.sup.Context()
	sched := opts.scheduler
	if sched == nil {
		var err error
		if sched, err = placement.New(); err != nil {
			return err
		}
	}
	// The default may name the scheduler's custom strategy types.
	if err := sched.CheckStrategies(opts.defaultStrategies); err != nil {
		return fmt.Errorf("WithDefaultPlacementStrategy: %w", err)
	}
	seed := opts.seed
	if !opts.seedSet {
		seed = rand.Uint64()
	}
	var drainers []string
	if len(opts.targetGroups) > 0 {
		drainers = append(drainers, state.DrainTargets)
	}
	var dns func(string) network.DNSConfig
	if opts.discovery != nil {
		d, err := dnssync.New(dnssync.Config{Store: o.backing, Discovery: *opts.discovery, Logger: o.log})
		if err != nil {
			return fmt.Errorf("%w: service discovery: %w", ErrInvalid, err)
		}
		o.discovery = d
		drainers = append(drainers, state.DrainDNS)
		dns = d.DNSConfig
		o.sup.Go("service discovery", d, loopRestart)
		o.sup.Go("discovery DNS server", supervisor.Func(d.Serve), loopRestart)
	}
	var err error
	o.launcher, err = launch.New(launch.Config{Scheduler: sched, Seed: seed, SeededIDs: opts.seedSet, Now: o.now,
		ResolveNetwork: actions.ResolveLaunchNetwork, Drainers: drainers, DNS: dns, DefaultStrategies: opts.defaultStrategies})
	if err != nil {
		return err
	}
	if o.feed, err = taskfeed.New(o.ctx, o.backing); err != nil {
		return err
	}
	o.sup.Go("task feed", o.feed, loopRestart)
	o.metrics, o.scalingPeriod = opts.scaling.metrics, opts.scaling.period
	if o.scalingPeriod == 0 {
		o.scalingPeriod = DefaultScalingEvaluationPeriod
	}
	bakeTimes := make(map[string]time.Duration, len(opts.alarms))
	for name, a := range opts.alarms {
		bakeTimes[name] = time.Duration(a.EvaluationPeriods+1) * a.Period
	}
	o.actions, err = actions.New(actions.Config{Store: o.store, Context: o.ctx, CheckOpen: o.checkOpen, Now: o.now,
		Logger: o.log, ARNPrefix: o.arnPrefix, Launcher: o.launcher, TaskPolicy: o.taskPolicy, Logs: o.logs,
		TargetGroups: names(opts.targetGroups), ListenerRules: names(opts.rules), Metrics: names(opts.scaling.metrics),
		AlarmBakeTimes: bakeTimes, StartAgent: o.startAgent})
	if err != nil {
		return err
	}
	// The loops that must run once: here, or on the elected replica.
	return o.runLeaderLoops(opts)
}

// names is the set of the keys of m.
func names[T any](m map[string]T) map[string]bool {
	set := make(map[string]bool, len(m))
	for name := range m {
		set[name] = true
	}
	return set
}

// Close stops the background loops and the agents. Containers keep running:
// an Orchestrator started later on the same durable store adopts them.
// After Close every call fails with ErrClosed, reads included; a call made
// while Close runs either completes (an instance registered then has had
// its agent started, and stopped by Close) or fails with ErrClosed.
// Closing twice is fine.
func (o *Orchestrator) Close() error {
	if !o.closed.CompareAndSwap(false, true) {
		return nil
	}
	// From here every API call fails with ErrClosed (checkOpen and
	// apiStore), and the supervisor starts no agent for a registration
	// still under way (supervisor.ErrStopped). The components stop before
	// the store they use closes.
	o.sup.Stop()
	if o.ownStore {
		return o.backing.Close()
	}
	return nil
}

// Store returns the store holding the Orchestrator's state. Read it only
// (View, Watch): a tool or a test that must see every committed revision in
// order may follow it. After Close, its calls fail with ErrClosed, as the
// Orchestrator's do. Its objects are the control plane's own
// representation, which may change from one release to the next: programs
// should use Subscribe and the Describe calls instead. Writing to it
// bypasses every check of the API and is not supported.
func (o *Orchestrator) Store() store.Store { return o.store }

func (o *Orchestrator) now() time.Time { return time.Now() }

func (o *Orchestrator) checkOpen() error {
	if o.closed.Load() {
		return ErrClosed
	}
	return nil
}

// closedErr reports a failure that comes from the Orchestrator being
// closed as ErrClosed: the store closed under a call (store.ErrClosed) or
// the supervisor refusing to start an agent (supervisor.ErrStopped). The
// cause stays in the chain.
func closedErr(err error) error {
	if err == nil || errors.Is(err, ErrClosed) {
		return err
	}
	if errors.Is(err, store.ErrClosed) || errors.Is(err, supervisor.ErrStopped) {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return err
}

// apiStore is the store as the API calls see it. After Close every call
// fails with ErrClosed, also on a store the Orchestrator was given and does
// not close; and a call that the closing store cuts short fails with
// ErrClosed too, rather than with the store's own error. Every API call
// reaches the store through it, so none has to check on its own.
type apiStore struct {
	store.Store
	closed *atomic.Bool
}

// errStoreClosed is apiStore's error after Close. It matches ErrClosed and,
// since the store is closed to the API whether or not the Orchestrator
// owns it, store.ErrClosed.
var errStoreClosed = fmt.Errorf("%w: %w", ErrClosed, store.ErrClosed)

// View implements store.Store.
func (s apiStore) View(ctx context.Context, fn func(tx store.ReadTx) error) error {
	if s.closed.Load() {
		return errStoreClosed
	}
	return closedErr(s.Store.View(ctx, fn))
}

// Update implements store.Store.
func (s apiStore) Update(ctx context.Context, fn func(tx store.Tx) error) error {
	if s.closed.Load() {
		return errStoreClosed
	}
	return closedErr(s.Store.Update(ctx, fn))
}

// Watch implements store.Store.
func (s apiStore) Watch(ctx context.Context, from int64, opts ...store.WatchOption) (store.Watcher, error) {
	if s.closed.Load() {
		return nil, errStoreClosed
	}
	w, err := s.Store.Watch(ctx, from, opts...)
	return w, closedErr(err)
}

// Close implements store.Store: the Orchestrator closes the store it owns
// itself, in Close, once its components have stopped.
func (s apiStore) Close() error { return nil }

// invalid returns the *FieldError of field, its reason formatted.
var invalid = errdefs.Invalid

// Resolver answers service names from the Orchestrator's service discovery
// in-process, as the DNS server does; nil without WithServiceDiscovery.
func (o *Orchestrator) Resolver() *discovery.Resolver {
	if o.discovery == nil {
		return nil
	}
	return o.discovery.Resolver()
}

// DNSServerAddr is the address the discovery DNS server listens on, once it
// does; ok is false before (or without WithServiceDiscovery).
func (o *Orchestrator) DNSServerAddr() (addr netip.AddrPort, ok bool) {
	if o.discovery == nil {
		return netip.AddrPort{}, false
	}
	return o.discovery.ServerAddr()
}

// value is *in, or the zero input for nil: every call takes a nil input as
// an empty one, whose required fields the call reports missing.
func value[T any](in *T) T {
	if in == nil {
		var zero T
		return zero
	}
	return *in
}
