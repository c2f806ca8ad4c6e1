package stevedore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/stevedore-io/stevedore/discovery"
	"github.com/stevedore-io/stevedore/internal/reaper"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/internal/taskfeed"
	"github.com/stevedore-io/stevedore/placement"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/memory"
)

// Sentinel errors of the API. Errors returned by the Orchestrator wrap one of
// these (or a package's own, such as task.ErrInvalid), so callers can test
// them with errors.Is.
var (
	// ErrNotFound means a cluster, instance, task definition, task or
	// service does not exist.
	ErrNotFound = errors.New("stevedore: not found")
	// ErrAlreadyExists means the object to create exists already.
	ErrAlreadyExists = errors.New("stevedore: already exists")
	// ErrInvalid means a request is malformed; the error names the field.
	ErrInvalid = errors.New("stevedore: invalid request")
	// ErrInUse means the object cannot be removed while others use it.
	ErrInUse = errors.New("stevedore: in use")
	// ErrClosed means the Orchestrator was closed.
	ErrClosed = errors.New("stevedore: closed")
)

// Default settings.
const (
	// DefaultTaskRetention is how long stopped tasks stay describable
	// (ECS shows stopped tasks for about an hour).
	DefaultTaskRetention = time.Hour
	// MaxRunTaskCount is the largest count of one RunTask call.
	MaxRunTaskCount = 10
)

// Option configures an Orchestrator. Options that cannot apply return an
// error from New.
type Option func(*options) error

type options struct {
	store     store.Store
	logger    *slog.Logger
	retention time.Duration
	scheduler *placement.Scheduler
	seed      uint64
	seedSet   bool
	logs      LogSink
	discovery *discovery.Config

	targetGroups map[string]TargetGroup
	rules        map[string]ListenerRule
	alarms       map[string]Alarm
	scaling      scalingOptions
}

// WithLogSink sends every container's output to sink (see package logs).
func WithLogSink(sink LogSink) Option {
	return func(o *options) error {
		o.logs = sink
		return nil
	}
}

// WithStore keeps state in s instead of a new in-memory store. The
// Orchestrator does not close a store it was given.
func WithStore(s store.Store) Option {
	return func(o *options) error {
		if s == nil {
			return fmt.Errorf("%w: WithStore: nil store", ErrInvalid)
		}
		o.store = s
		return nil
	}
}

// WithLogger logs through l (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return fmt.Errorf("%w: WithLogger: nil logger", ErrInvalid)
		}
		o.logger = l
		return nil
	}
}

// WithTaskRetention keeps stopped tasks describable for d before removing
// them (default DefaultTaskRetention).
func WithTaskRetention(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("%w: WithTaskRetention: must be positive, got %v", ErrInvalid, d)
		}
		o.retention = d
		return nil
	}
}

// WithPlacementScheduler places tasks with s, a placement engine carrying
// your own filters and strategies (see package placement).
func WithPlacementScheduler(s *placement.Scheduler) Option {
	return func(o *options) error {
		if s == nil {
			return fmt.Errorf("%w: WithPlacementScheduler: nil scheduler", ErrInvalid)
		}
		o.scheduler = s
		return nil
	}
}

// WithSeed seeds the random placement strategy, for reproducible runs.
func WithSeed(seed uint64) Option {
	return func(o *options) error {
		o.seed, o.seedSet = seed, true
		return nil
	}
}

// Orchestrator is the ECS-like control plane: clusters, container
// instances, task definitions, tasks and services. Every call writes desired
// state to the store; background loops (the service controller, the task
// reaper and one agent per container instance) drive actual state towards
// it. An Orchestrator is safe for concurrent use. Close stops its loops.
type Orchestrator struct {
	store     store.Store
	ownStore  bool
	log       *slog.Logger
	retention time.Duration
	sched     *placement.Scheduler
	logs      LogSink

	randMu sync.Mutex
	rand   *rand.Rand

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	agents map[string]*agentHandle // by instance ID
	closed bool

	services     *serviceController
	feed         *taskfeed.Feed
	discovery    *serviceDiscovery
	targetGroups map[string]TargetGroup
	// drainers name the loops that take a task out of service before it
	// stops (state.Drain.By of every task created).
	drainers []string
	rules    map[string]ListenerRule // blue/green listener rules, by name
	alarms   map[string]Alarm        // by name
	scaler   *autoscaler
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
		store:     o.store,
		log:       o.logger,
		retention: o.retention,
		sched:     o.scheduler,
		logs:      o.logs,
		agents:    map[string]*agentHandle{},
	}
	if orc.log == nil {
		orc.log = slog.New(slog.DiscardHandler)
	}
	if orc.store == nil {
		s, err := memory.New()
		if err != nil {
			return nil, err
		}
		orc.store, orc.ownStore = s, true
	}
	if orc.sched == nil {
		s, err := placement.New()
		if err != nil {
			return nil, err
		}
		orc.sched = s
	}
	seed := o.seed
	if !o.seedSet {
		seed = rand.Uint64()
	}
	orc.rand = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	orc.ctx, orc.cancel = context.WithCancel(context.Background())
	orc.services = newServiceController(orc)
	if o.discovery != nil {
		d, err := newServiceDiscovery(*o.discovery)
		if err != nil {
			orc.cancel()
			return nil, err
		}
		orc.discovery = d
		orc.goLoop("service discovery", d.sync)
		orc.goLoop("discovery DNS server", d.serve)
	}
	orc.targetGroups = o.targetGroups
	if len(o.targetGroups) > 0 {
		orc.drainers = append(orc.drainers, state.DrainTargets)
	}
	if orc.discovery != nil {
		orc.drainers = append(orc.drainers, state.DrainDNS)
	}
	orc.rules, orc.alarms = o.rules, o.alarms
	if len(o.rules) > 0 || len(o.alarms) > 0 {
		// Blue/green traffic shifts, and the alarms of every deployment.
		tc := &trafficController{o: orc}
		orc.goLoop("deployment traffic and alarms", tc.run)
	}
	if len(o.targetGroups) > 0 {
		ts := &targetSync{groups: o.targetGroups, registered: map[string]map[string]string{},
			health: newTargetHealth(), watches: map[string]map[string]context.CancelFunc{}, draining: map[string]bool{}}
		orc.goLoop("load balancing", ts.run)
		orc.goLoop("target health", ts.health.run)
	}
	var err error
	if orc.feed, err = taskfeed.New(orc.ctx, orc.store); err != nil {
		orc.cancel()
		return nil, err
	}
	orc.goLoop("task feed", func(ctx context.Context, _ *Orchestrator) error { return orc.feed.Run(ctx) })
	orc.goLoop("service controller", orc.services.run)
	rp, err := reaper.New(reaper.Config{Store: orc.store, Retention: orc.retention, Now: orc.now, Logger: orc.log})
	if err != nil {
		orc.cancel()
		return nil, err
	}
	orc.goLoop("reaper", func(ctx context.Context, _ *Orchestrator) error { return rp.Run(ctx) })
	orc.scaler = newAutoscaler(o.scaling)
	orc.goLoop("service auto scaling", orc.scaler.run)
	return orc, nil
}

// goLoop runs a background loop until Close, restarting it after an error
// that is not the end of the Orchestrator.
func (o *Orchestrator) goLoop(name string, run func(ctx context.Context, o *Orchestrator) error) {
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		for {
			err := run(o.ctx, o)
			if o.ctx.Err() != nil {
				return
			}
			o.log.Warn("loop ended; restarting", "loop", name, "err", err)
			select {
			case <-o.ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
}

// Close stops the background loops and the agents. Containers keep running:
// an Orchestrator started later on the same durable store adopts them.
// Closing twice is fine.
func (o *Orchestrator) Close() error {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return nil
	}
	o.closed = true
	o.mu.Unlock()
	o.cancel()
	o.wg.Wait()
	if o.ownStore {
		return o.store.Close()
	}
	return nil
}

// Store returns the store holding the Orchestrator's state, for tools that
// watch it directly.
func (o *Orchestrator) Store() store.Store { return o.store }

func (o *Orchestrator) seed() uint64 {
	o.randMu.Lock()
	defer o.randMu.Unlock()
	return o.rand.Uint64()
}

func (o *Orchestrator) now() time.Time { return time.Now() }

func (o *Orchestrator) checkOpen() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return ErrClosed
	}
	return nil
}

func notFound(kind, id string) error {
	return fmt.Errorf("%w: %s %q", ErrNotFound, kind, id)
}

func invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Rule: fmt.Sprintf(format, args...)}
}

// FieldError is an invalid request field. It matches ErrInvalid.
type FieldError struct {
	Field string
	Rule  string
}

// Error names the field and the rule it broke.
func (e *FieldError) Error() string { return "stevedore: invalid request: " + e.Field + ": " + e.Rule }

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *FieldError) Unwrap() error { return ErrInvalid }
