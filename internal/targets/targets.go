// Package targets is the target-group loop: it registers the running,
// healthy tasks of services with load balancers in their target groups and
// deregisters them when they must not take traffic; it records each task's
// health in its groups in the store (state.Task.TargetHealth) for the
// deployments; and it drains the stopping tasks whose drain names it
// (state.DrainTargets): out of their groups, then marked drained once the
// groups have no traffic in flight, by a deadline it stores first.
package targets

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/lb"
	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

// Group is what the loop needs of a load balancer's target group (package
// lb's *TargetGroup is one).
type Group interface {
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

// Config is what the loop needs. Store and Groups are required.
type Config struct {
	// Store holds the services and tasks.
	Store store.Store
	// Groups are the target groups services name, by name.
	Groups map[string]Group
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives the loop's log (default: discard).
	Logger *slog.Logger
}

// Targets keeps target groups in step with the tasks of the services that
// name them, records the tasks' target health, and drains stopping tasks.
type Targets struct {
	cfg Config
	log *slog.Logger
	wg  sync.WaitGroup // the health and drain watchers

	services   map[string]*state.Service    // by service key
	registered map[string]map[string]string // task ID -> group -> address
	health     *targetHealth
	watches    map[string]map[string]context.CancelFunc // task ID -> group -> its health watcher
	draining   map[string]bool                          // tasks whose drain waits on their groups
	ctx        context.Context                          // of the watchers
}

// New returns the loop for cfg.
func New(cfg Config) (*Targets, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("targets: Config.Store missing")
	case len(cfg.Groups) == 0:
		return nil, errors.New("targets: Config.Groups empty")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Targets{cfg: cfg, log: cfg.Logger}, nil
}

// Run follows services and tasks, and writes their target health, until
// ctx ends or the store fails.
func (s *Targets) Run(ctx context.Context) error {
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		s.wg.Wait()
	}()
	s.registered = map[string]map[string]string{}
	s.health = newTargetHealth()
	s.watches = map[string]map[string]context.CancelFunc{}
	s.draining = map[string]bool{}
	healthDone := make(chan error, 1)
	s.wg.Go(func() {
		err := s.health.run(ctx, s.cfg.Store)
		cancel() // the writer failed: both start over
		healthDone <- err
	})
	err := s.follow(ctx)
	cancel()
	if herr := <-healthDone; err == nil {
		err = herr
	}
	if parent.Err() != nil {
		return parent.Err()
	}
	return err
}

// drainSlack is how much longer than the longest deregistration delay of
// its target groups a stopping task waits for them to drain it: the groups
// remove a target when its delay is over, so waiting longer means a group
// that does not answer, and the task stops anyway.
const drainSlack = 5 * time.Second

// follow follows services and tasks until ctx ends: registration, and
// the drain of the DEACTIVATING tasks whose drain names the target groups
// (state.DrainTargets).
func (s *Targets) follow(ctx context.Context) error {
	s.ctx = ctx
	var tasks []*state.Task
	f, err := store.Follow(ctx, s.cfg.Store, store.FollowConfig{
		Snapshot: func(tx store.ReadTx) error {
			s.services = map[string]*state.Service{}
			services, err := store.List[*state.Service](tx, state.KindServices)
			if err != nil {
				return err
			}
			for _, svc := range services {
				s.services[svc.ObjectID()] = svc
			}
			tasks, err = store.List[*state.Task](tx, state.KindTasks)
			return err
		},
		Options: []store.WatchOption{store.WithKinds(state.KindServices, state.KindTasks)},
	})
	if err != nil {
		return err
	}
	defer f.Close()
	sync := func() {
		for _, t := range tasks {
			s.learn(t)
			s.sync(t)
		}
		tasks = nil
	}
	sync()
	var buf []store.Event
	for {
		evs, resynced, err := f.Next(ctx, buf[:0])
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if resynced {
			sync()
		}
		for _, ev := range evs {
			switch obj := ev.Object.(type) {
			case *state.Service:
				s.services[obj.ObjectID()] = obj
			case *state.Task:
				s.sync(obj)
			case nil:
				if ev.Kind == state.KindTasks {
					delete(s.draining, ev.ID)
					s.deregister(ev.ID, nil)
					s.health.forget(ev.ID)
				}
			}
		}
		clear(evs)
		buf = evs
	}
}

// sync registers a task where its service wants it and it is ready, and
// deregisters it everywhere else.
func (s *Targets) sync(t *state.Task) {
	if t.ServiceName != "" {
		s.syncService(t)
	}
	s.drain(t)
}

func (s *Targets) syncService(t *state.Task) {
	svc := s.services[state.ServiceKey(t.ClusterName(), t.ServiceName)]
	s.expectHealth(t, svc)
	ready := t.DesiredStatus == task.Running && t.LastStatus == task.Running &&
		(!t.HealthChecked || t.HealthStatus == task.Healthy)
	want := map[string]string{}
	if svc != nil && ready {
		for _, l := range svc.LoadBalancers {
			group := GroupOf(svc, t, l)
			if addr, ok := targetAddr(t, l); ok && s.cfg.Groups[group] != nil {
				want[group] = addr
			}
		}
	}
	have := s.registered[t.ID()]
	for group, addr := range want {
		if had, ok := have[group]; ok && (had == addr || had == addrUnknown) {
			if had == addrUnknown { // registered before this run: adopt it
				have[group] = addr
				s.watch(t.ID(), group)
			}
			continue
		}
		if err := s.cfg.Groups[group].Register(lb.Target{ID: t.ID(), Addr: addr}); err != nil {
			s.log.Warn("load balancing: cannot register task", "task", t.ID(), "targetGroup", group, "err", err)
			continue
		}
		if s.registered[t.ID()] == nil {
			s.registered[t.ID()] = map[string]string{}
		}
		s.registered[t.ID()][group] = addr
		s.watch(t.ID(), group)
	}
	s.deregister(t.ID(), want)
}

// drain takes a DEACTIVATING task whose drain names the target groups out
// of every group it is in, then marks it drained once they have drained
// it: no request or connection in flight, or the deregistration delay
// over. The drain's deadline, the longest delay of those groups plus
// drainSlack from when draining began, is stored first: it bounds the
// agent's wait, and this wait, even across restarts.
func (s *Targets) drain(t *state.Task) {
	id := t.ID()
	if t.LastStatus != task.Deactivating || !t.Drain.Wants(state.DrainTargets) {
		delete(s.draining, id)
		return
	}
	if s.draining[id] {
		return
	}
	var draining []Group
	var longest time.Duration
	for _, name := range slices.Sorted(maps.Keys(s.cfg.Groups)) {
		g := s.cfg.Groups[name]
		if g.Health(id).State == lb.StateUnused {
			continue
		}
		if err := g.Deregister(id); err != nil && !errors.Is(err, lb.ErrNotFound) {
			s.log.Warn("load balancing: cannot deregister task", "task", id, "targetGroup", name, "err", err)
			continue
		}
		draining = append(draining, g)
		longest = max(longest, g.DeregistrationDelay())
	}
	if len(draining) == 0 {
		if err := state.MarkDrained(s.ctx, s.cfg.Store, id, state.DrainTargets); err != nil && s.ctx.Err() == nil {
			s.log.Warn("load balancing: cannot mark task drained", "task", id, "err", err)
		}
		return
	}
	deadline := t.Drain.Deadline
	if deadline.IsZero() {
		deadline = s.cfg.Now().Add(longest + drainSlack)
		if err := setDrainDeadline(s.ctx, s.cfg.Store, id, deadline); err != nil {
			s.log.Warn("load balancing: cannot record the drain deadline", "task", id, "err", err)
		}
	}
	s.draining[id] = true
	ctx, cancel := context.WithDeadline(s.ctx, deadline)
	s.wg.Go(func() {
		defer cancel()
		for _, g := range draining {
			if _, err := g.WaitState(ctx, id, lb.StateUnused); err != nil {
				return // the deadline passed: the agent goes on by itself
			}
		}
		if err := state.MarkDrained(ctx, s.cfg.Store, id, state.DrainTargets); err != nil && ctx.Err() == nil {
			s.log.Warn("load balancing: cannot mark task drained", "task", id, "err", err)
		}
	})
}

// setDrainDeadline records when the drain of task id ends at the latest,
// unless a deadline is recorded already.
func setDrainDeadline(ctx context.Context, s store.Store, id string, deadline time.Time) error {
	return s.Update(ctx, func(tx store.Tx) error {
		t, err := store.Get[*state.Task](tx, state.KindTasks, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil || t.Drain == nil || !t.Drain.Deadline.IsZero() {
			return err
		}
		next := t.Copy()
		next.Drain.Deadline = deadline
		return tx.Update(next)
	})
}

// addrUnknown is the address of a target found registered in its group
// when the loop started (learn): the group does not say at which address.
const addrUnknown = "?"

// learn records the groups service task t is registered in, as the groups
// say, when it is not known yet: after a restart (or a resync) the loop
// starts with the groups as they are, not empty. A target left behind by a
// process killed before it could deregister it (its task stopping or
// stopped, or moved to the other group of a blue/green service) is then
// deregistered as any other, and one that is where it should be is not
// registered again. A target whose task is no longer in the store at all
// (deleted after its retention while no process ran) cannot be found this
// way: TargetGroup has no listing.
func (s *Targets) learn(t *state.Task) {
	if t.ServiceName == "" {
		return // only service tasks are registered
	}
	id := t.ID()
	for name, g := range s.cfg.Groups {
		if _, known := s.registered[id][name]; known {
			continue
		}
		if st := g.Health(id).State; st == lb.StateUnused || st == lb.StateDraining {
			continue
		}
		if s.registered[id] == nil {
			s.registered[id] = map[string]string{}
		}
		s.registered[id][name] = addrUnknown
	}
}

// deregister removes a task from the groups it is registered in, except
// those in keep.
func (s *Targets) deregister(id string, keep map[string]string) {
	for group := range s.registered[id] {
		if _, ok := keep[group]; ok {
			continue
		}
		if err := s.cfg.Groups[group].Deregister(id); err != nil && !errors.Is(err, lb.ErrNotFound) {
			s.log.Warn("load balancing: cannot deregister task", "task", id, "targetGroup", group, "err", err)
		}
		s.unwatch(id, group)
		delete(s.registered[id], group)
	}
	if len(s.registered[id]) == 0 {
		delete(s.registered, id)
	}
}

// targetAddr is where a load balancer reaches a task's container port: the
// task's own address in awsvpc (and bridge) mode, the host port published
// on the host in bridge and host mode.
func targetAddr(t *state.Task, l service.LoadBalancer) (string, bool) {
	if t.Network == nil {
		return "", false
	}
	port := strconv.Itoa(l.ContainerPort)
	switch t.Network.Mode {
	case network.ModeAWSVPC:
		if !t.Network.Address.IsValid() {
			return "", false
		}
		return netip.AddrPortFrom(t.Network.Address.Addr(), uint16(l.ContainerPort)).String(), true
	case network.ModeBridge, network.ModeHost:
		c := t.Container(l.ContainerName)
		if c == nil {
			return "", false
		}
		for _, b := range c.NetworkBindings {
			if b.ContainerPort == l.ContainerPort && b.HostPort > 0 {
				return "127.0.0.1:" + strconv.Itoa(b.HostPort), true
			}
		}
		if t.Network.Mode == network.ModeHost {
			return "127.0.0.1:" + port, true
		}
	}
	return "", false
}

// GroupOf is the target group a task of svc registers in for load
// balancer l: the alternate one when its deployment uses the alternate
// target groups (blue/green strategies).
func GroupOf(svc *state.Service, t *state.Task, l service.LoadBalancer) string {
	if l.AdvancedConfiguration != nil && svc.UsesAlternate(t.DeploymentID) {
		return l.AdvancedConfiguration.AlternateTargetGroup
	}
	return l.TargetGroup
}
