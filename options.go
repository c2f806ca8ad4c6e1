package stevedore

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/stevedore-io/stevedore/discovery"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/lb"
	"github.com/stevedore-io/stevedore/placement"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/bolt"
	"github.com/stevedore-io/stevedore/task/policy"
)

// Option configures an Orchestrator. Options that cannot apply return an
// error from New.
type Option func(*options) error

type options struct {
	store     store.Store
	logger    *slog.Logger
	retention time.Duration
	scheduler *placement.Scheduler
	// defaultStrategies is WithDefaultPlacementStrategy's.
	defaultStrategies []placement.StrategySpec
	seed              uint64
	seedSet           bool
	logs              LogSink
	discovery         *discovery.Config
	// dataDir is WithDataDir's: the durable store's directory.
	dataDir string
	// taskPolicy is WithTaskPolicy's; nil: DefaultTaskPolicy.
	taskPolicy *policy.Policy

	targetGroups map[string]TargetGroup
	rules        map[string]ListenerRule
	alarms       map[string]Alarm
	scaling      scalingOptions
	// etcd is WithEtcd's (replicas.go).
	etcd *etcdOptions
	// arnPrefix is WithARNs'; "": DefaultARNPartition and the others.
	arnPrefix string
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

// WithDataDir keeps the Orchestrator's state in a durable store in dir
// (store/bolt: the file state.db and its write-ahead log, the directory
// state.db.wal; dir is created 0700 if missing; copy both to back it up),
// so that it survives a crash or a restart: a new Orchestrator on the same
// directory finds its clusters, definitions, services and tasks again. A
// second process on the same directory is refused (the file is locked).
// Register the instances again after a restart, as ECS agents coming back
// do: until an instance does, its agent counts as disconnected and nothing
// new is placed there; its agent then adopts the containers that still
// run. The agents of the instances this Orchestrator runs keep their state
// directories (their tasks' volumes) in dir/agents/<instance>. The
// Orchestrator closes the store on Close. WithStore wins over it.
func WithDataDir(dir string) Option {
	return func(o *options) error {
		if dir == "" {
			return fmt.Errorf("%w: WithDataDir: empty directory", ErrInvalid)
		}
		o.dataDir = dir
		return nil
	}
}

// dataFile is the durable store's file in a WithDataDir directory.
const dataFile = "state.db"

// openDataDir opens the durable store of a WithDataDir directory. No other
// process can hold it, so nothing that ran in the process that had it
// before runs any more: no agent found connected in it is (they connect
// again as their instances register: state.DisconnectAgents), and the
// alarm watches of deployments in progress start over
// (state.RestartAlarmWatches).
func openDataDir(dir string) (store.Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("stevedore: data directory: %w", err)
	}
	s, err := bolt.Open(filepath.Join(dir, dataFile), bolt.WithCodec(state.Codec()))
	if err != nil {
		return nil, fmt.Errorf("stevedore: data directory: %w", err)
	}
	err = state.DisconnectAgents(context.Background(), s, time.Now())
	if err == nil {
		err = state.RestartAlarmWatches(context.Background(), s, time.Now())
	}
	if err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("stevedore: data directory: %w", err)
	}
	return s, nil
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
// your own filters and strategies (see package placement). Its filters
// (placement.WithFilters) apply to every task; the strategy and
// constraint types registered on it (placement.WithStrategyType,
// placement.WithConstraintType) can be named in the placementStrategy and
// placementConstraints of RunTask, CreateService and UpdateService, and in
// WithDefaultPlacementStrategy.
func WithPlacementScheduler(s *placement.Scheduler) Option {
	return func(o *options) error {
		if s == nil {
			return fmt.Errorf("%w: WithPlacementScheduler: nil scheduler", ErrInvalid)
		}
		o.scheduler = s
		return nil
	}
}

// WithDefaultPlacementStrategy places the tasks of RunTask calls and the
// services that name no placement strategy with specs, instead of ECS's
// defaults (random for RunTask, DefaultServicePlacement for services).
// specs may name the custom strategy types registered on the placement
// scheduler (placement.WithStrategyType, with WithPlacementScheduler);
// New checks them against it. A scheduler with a default chain of its own
// (placement.WithStrategies) and no WithDefaultPlacementStrategy places
// such tasks with that chain.
//
// A service created without a placement strategy stores the default
// (DescribeServices shows it); changing the option later leaves existing
// services as they are.
func WithDefaultPlacementStrategy(specs ...placement.StrategySpec) Option {
	return func(o *options) error {
		if len(specs) == 0 {
			return fmt.Errorf("%w: WithDefaultPlacementStrategy: no strategy given", ErrInvalid)
		}
		o.defaultStrategies = slices.Clone(specs)
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

// TargetGroup is what the Orchestrator needs of a load balancer's target
// group (package lb's *TargetGroup is one): services name it in their
// LoadBalancers, and the tasks of those services are registered in it while
// they run and are healthy, and deregistered (draining) as soon as they are
// asked to stop. A stopping task's containers get SIGTERM once it is
// drained (WaitState gives StateUnused) or DeregistrationDelay has passed;
// deployments count a task healthy only while its target groups do
// (Health, WaitState).
type TargetGroup interface {
	Name() string
	Register(lb.Target) error
	Deregister(id string) error
	// Health is the health of target id; lb.StateUnused when it is not
	// registered.
	Health(id string) lb.TargetHealth
	// WaitState waits until target id is in one of states, or ctx ends.
	WaitState(ctx context.Context, id string, states ...lb.TargetState) (lb.TargetHealth, error)
	// DeregistrationDelay is how long a deregistered target drains at most.
	DeregistrationDelay() time.Duration
}

// WithTargetGroups makes target groups available to services by name
// (service.LoadBalancer.TargetGroup).
func WithTargetGroups(groups ...TargetGroup) Option {
	return func(o *options) error {
		if o.targetGroups == nil {
			o.targetGroups = map[string]TargetGroup{}
		}
		for _, g := range groups {
			if g == nil || g.Name() == "" {
				return fmt.Errorf("%w: WithTargetGroups: a target group without a name", ErrInvalid)
			}
			if _, dup := o.targetGroups[g.Name()]; dup {
				return fmt.Errorf("%w: WithTargetGroups: two target groups named %q", ErrInvalid, g.Name())
			}
			o.targetGroups[g.Name()] = g
		}
		return nil
	}
}

// WithServiceDiscovery runs a DNS server authoritative for cfg.Namespace
// ("local" by default) that answers the healthy tasks of every service by
// name: web.local (and web.<cluster>.local) gives A records of awsvpc tasks,
// _web._tcp.local SRV records with their ports. Tasks whose definition names
// no DNS server get a resolv.conf pointing at it, so containers reach each
// other by service name. cfg.Listen must be an address tasks reach on port
// 53, typically the task bridge's gateway ("10.88.0.1:53"); the server binds
// it as soon as it exists (the bridge appears with the first task). Resolver
// gives the same answers in-process.
func WithServiceDiscovery(cfg discovery.Config) Option {
	return func(o *options) error {
		if err := cfg.Validate(); err != nil {
			return fmt.Errorf("%w: WithServiceDiscovery: %w", ErrInvalid, err)
		}
		o.discovery = &cfg
		return nil
	}
}
