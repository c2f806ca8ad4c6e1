package stevedore

import (
	"context"
	"fmt"
	"os"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/stevedore-io/stevedore/internal/controller"
	"github.com/stevedore-io/stevedore/internal/leader"
	"github.com/stevedore-io/stevedore/internal/reaper"
	"github.com/stevedore-io/stevedore/internal/scaler"
	"github.com/stevedore-io/stevedore/internal/sgsync"
	"github.com/stevedore-io/stevedore/internal/shift"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/internal/supervisor"
	"github.com/stevedore-io/stevedore/internal/targets"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/etcd"
)

// DefaultLeaseTTL is the leader's lease TTL without EtcdConfig.LeaseTTL: a
// leader that is cut off from etcd, paused or killed is replaced within
// about this long.
const DefaultLeaseTTL = 10 * time.Second

// MinLeaseTTL is the shortest lease TTL etcd keeps.
const MinLeaseTTL = leader.MinTTL

// EtcdConfig places an Orchestrator among the control-plane replicas of one
// installation on etcd (WithEtcd). Every replica of an installation uses
// the same Prefix and ElectionKey, and a Name of its own.
type EtcdConfig struct {
	// Prefix is the installation's key prefix (etcd.DefaultPrefix,
	// "/stevedore", when empty). Installations sharing an etcd need
	// prefixes that do not nest.
	Prefix string
	// ElectionKey is the key prefix of the leader election (Prefix +
	// "-leader" when empty), outside Prefix.
	ElectionKey string
	// Name identifies this replica in the election and in every replica's
	// LeaderStatus (host name and process ID when empty).
	Name string
	// LeaseTTL is the leader's lease (DefaultLeaseTTL when 0; at least
	// MinLeaseTTL, in whole seconds): how long a leader that has lost etcd
	// may be silent before another replica takes over. The leader stops
	// its loops before its lease can run out.
	LeaseTTL time.Duration
	// Notify, when set, is called with every change of this replica's
	// LeaderStatus, in order. It must return quickly.
	Notify func(LeaderStatus)
	// StoreOptions tune the store (etcd.WithCacheSize, WithWatchBuffer,
	// WithCompaction, WithLogger: WithLogger's logger by default); its
	// codec and prefix are set by the Orchestrator.
	StoreOptions []etcd.Option
}

type etcdOptions struct {
	client *clientv3.Client
	cfg    EtcdConfig
}

// WithEtcd keeps the Orchestrator's state in etcd, through client, and
// makes it one of possibly several replicas of the control plane sharing
// it:
//
//   - Every replica serves the whole API: reads come from etcd, writes go
//     to it, and Subscribe follows it, so every replica delivers the same
//     events in the same order.
//   - One replica, the leader elected through etcd, runs the loops that
//     must run once: the service controller, the traffic shifts and
//     deployment alarms, the target groups, the security-group members,
//     auto scaling and the reaper. Its writes are fenced by its election
//     key: once another replica leads, the old leader's writes are refused
//     (etcd.ErrFenced), however late they come. A new leader's loops start
//     from what is stored, as after a restart.
//   - The agents of the instances registered on a replica run on that
//     replica (their runtime is there), leader or not.
//   - A replica that loses etcd stops acting as leader within its
//     LeaseTTL, logs it, and reports it through LeaderStatus and
//     EtcdConfig.Notify.
//
// Target groups, listener rules and alarms given to the replicas must be
// the same external systems on each: the leader of the moment acts on its
// own. Give each replica a different WithSeed, if any, so that their task
// IDs differ.
//
// The Orchestrator closes its store on Close and revokes its lease, so
// that another replica takes over at once; the client stays open. WithEtcd
// cannot be combined with WithStore or WithDataDir.
func WithEtcd(client *clientv3.Client, cfg EtcdConfig) Option {
	return func(o *options) error {
		if client == nil {
			return fmt.Errorf("%w: WithEtcd: nil client", ErrInvalid)
		}
		if cfg.LeaseTTL == 0 {
			cfg.LeaseTTL = DefaultLeaseTTL
		}
		if cfg.LeaseTTL < MinLeaseTTL {
			return invalid("EtcdConfig.LeaseTTL", "must be at least %v, got %v", MinLeaseTTL, cfg.LeaseTTL)
		}
		if cfg.Prefix == "" {
			cfg.Prefix = etcd.DefaultPrefix
		}
		if cfg.ElectionKey == "" {
			cfg.ElectionKey = cfg.Prefix + "-leader"
		}
		if cfg.Name == "" {
			host, err := os.Hostname()
			if err != nil {
				host = "replica"
			}
			cfg.Name = fmt.Sprintf("%s:%d", host, os.Getpid())
		}
		o.etcd = &etcdOptions{client: client, cfg: cfg}
		return nil
	}
}

// openEtcd opens WithEtcd's store.
func openEtcd(o options) (*etcd.Store, error) {
	if o.store != nil || o.dataDir != "" {
		return nil, fmt.Errorf("%w: WithEtcd cannot be combined with WithStore or WithDataDir", ErrInvalid)
	}
	var opts []etcd.Option
	if o.logger != nil {
		opts = append(opts, etcd.WithLogger(o.logger))
	}
	opts = append(opts, o.etcd.cfg.StoreOptions...)
	opts = append(opts, etcd.WithCodec(state.Codec()), etcd.WithPrefix(o.etcd.cfg.Prefix))
	s, err := etcd.New(o.etcd.client, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: WithEtcd: %w", ErrInvalid, err)
	}
	return s, nil
}

// LeaderStatus is what a replica knows of the leader election.
type LeaderStatus struct {
	// Leading is true while this replica runs the loops that must run
	// once. Always true without WithEtcd.
	Leading bool
	// Leader is the name of the replica last seen leading ("" before one
	// was seen, and without WithEtcd).
	Leader string
	// Term is the leader's fencing token while Leading with WithEtcd: the
	// create revision of its election key, which every write of its loops
	// is checked against.
	Term int64
	// Since is when Leading last changed (zero without WithEtcd).
	Since time.Time
	// Reason says why Leading last changed: "elected", "closing", or what
	// ended the term ("lost etcd: ...", "a write was fenced: ...").
	Reason string
}

// LeaderStatus reports whether this replica leads, and why (see WithEtcd).
// Without WithEtcd the Orchestrator runs every loop itself, and always
// leads.
func (o *Orchestrator) LeaderStatus() LeaderStatus {
	if o.elector == nil {
		return LeaderStatus{Leading: true, Reason: "no leader election: this Orchestrator runs every loop"}
	}
	return LeaderStatus(o.elector.Status())
}

// leaderLoop is one loop that must run once among the replicas.
type leaderLoop struct {
	name string
	c    supervisor.Component
}

// runLeaderLoops runs the loops that must run once: here, without
// WithEtcd; otherwise under the leader election, on the store fenced by
// the term's election key, from each term's start to its end.
func (o *Orchestrator) runLeaderLoops(opts options) error {
	if opts.etcd == nil {
		loops, err := o.leaderLoops(opts, o.backing)
		if err != nil {
			return err
		}
		for _, l := range loops {
			o.sup.Go(l.name, l.c, loopRestart)
		}
		return nil
	}
	// Built once here only to report a bad configuration from New.
	if _, err := o.leaderLoops(opts, o.backing); err != nil {
		return err
	}
	cfg := opts.etcd.cfg
	var notify func(leader.Status)
	if cfg.Notify != nil {
		notify = func(s leader.Status) { cfg.Notify(LeaderStatus(s)) }
	}
	el, err := leader.New(leader.Config{
		Store:  o.backing.(*etcd.Store),
		Key:    cfg.ElectionKey,
		Name:   cfg.Name,
		TTL:    cfg.LeaseTTL,
		Notify: notify,
		Now:    o.now,
		Logger: o.log,
		Lead: func(ctx context.Context, s store.Store) error {
			// The alarm watches of the deployments in progress, and their
			// datapoints, ended with the previous leader's term: they
			// begin again now, as after a restart.
			if err := state.RestartAlarmWatches(ctx, s, o.now()); err != nil {
				return fmt.Errorf("restart the alarm watches: %w", err)
			}
			loops, err := o.leaderLoops(opts, s)
			if err != nil {
				return err
			}
			sup := supervisor.New(o.log)
			for _, l := range loops {
				sup.Go(l.name, l.c, loopRestart)
			}
			<-ctx.Done()
			sup.Stop()
			return nil
		},
	})
	if err != nil {
		return fmt.Errorf("%w: WithEtcd: %w", ErrInvalid, err)
	}
	o.elector = el
	o.sup.Go("leader election", el, loopRestart)
	return nil
}

// leaderLoops builds the loops that must run once, on s.
func (o *Orchestrator) leaderLoops(opts options, s store.Store) ([]leaderLoop, error) {
	var loops []leaderLoop
	if len(opts.rules) > 0 || len(opts.alarms) > 0 {
		// Blue/green traffic shifts, and the alarms of every deployment.
		rules := make(map[string]shift.Rule, len(opts.rules))
		for name, r := range opts.rules {
			rules[name] = r
		}
		sh, err := shift.New(shift.Config{Store: s, Rules: rules, Alarms: shiftAlarms(opts.alarms), Now: o.now, Logger: o.log})
		if err != nil {
			return nil, err
		}
		loops = append(loops, leaderLoop{"deployment traffic and alarms", sh})
	}
	if len(opts.targetGroups) > 0 {
		groups := make(map[string]targets.Group, len(opts.targetGroups))
		for name, g := range opts.targetGroups {
			groups[name] = g
		}
		ts, err := targets.New(targets.Config{Store: s, Groups: groups, Now: o.now, Logger: o.log})
		if err != nil {
			return nil, err
		}
		loops = append(loops, leaderLoop{"target groups", ts})
	}
	sg, err := sgsync.New(sgsync.Config{Store: s, Logger: o.log})
	if err != nil {
		return nil, err
	}
	ctl, err := controller.New(controller.Config{Store: s, Launcher: o.launcher, AlarmBakeTime: o.actions.AlarmBakeTime,
		Now: o.now, Logger: o.log})
	if err != nil {
		return nil, err
	}
	rp, err := reaper.New(reaper.Config{Store: s, Retention: o.retention, Now: o.now, Logger: o.log})
	if err != nil {
		return nil, err
	}
	metrics := make(map[string]scaler.Metric, len(o.metrics))
	for name, f := range o.metrics {
		metrics[name] = scaler.Metric(f)
	}
	sc, err := scaler.New(scaler.Config{Store: s, Period: o.scalingPeriod, Metrics: metrics, Now: o.now, Logger: o.log})
	if err != nil {
		return nil, err
	}
	return append(loops,
		leaderLoop{"security group members", sg},
		leaderLoop{"service controller", ctl},
		leaderLoop{"reaper", rp},
		leaderLoop{"service auto scaling", sc},
	), nil
}
