// Package controller is the service controller: it keeps services at their
// desired state. It follows services, their tasks and the instances through
// the store (store.Follower), and on every change reconciles the services
// concerned with the pure deployment planner (service.Compute); it starts
// tasks through the launcher and stops them by setting their desired
// status. It writes services (deployments, counts, events) and tasks'
// desired status; agents write the rest.
package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/errdefs"
	"github.com/stevedore-io/stevedore/health"
	"github.com/stevedore-io/stevedore/internal/launch"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/placement"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

// PlacementRetry is how soon a service that could not place a task tries
// again when nothing else changed.
const PlacementRetry = 10 * time.Second

// Controller keeps services at their desired state. It caches the
// services, their tasks and the instances from a store watch, and on every
// change reconciles the services concerned: it runs the pure deployment
// planner (service.Compute) on the cache, and the services whose plan
// writes something are planned again and written in transactions of up to
// writeBatch services (one per service when a batch fails). The cache takes
// in the controller's own writes at once.
type Controller struct {
	cfg       Config
	services  map[string]*state.Service        // by service key
	tasks     map[string]map[string]cachedTask // service key -> task ID -> task
	instances map[string]*state.Instance       // by instance ID
	// inactive holds the instances that are not ACTIVE (by ID): their
	// tasks are on draining instances for the planner.
	inactive map[string]bool
	dirty    map[string]bool
	// dirtyClusters are the clusters every service of which the next
	// pass reconciles (an instance came, went, or can take tasks or no
	// longer can): reconcileDirty marks their services then, once,
	// rather than once per instance event.
	dirtyClusters map[string]bool
	// checkBuf is check's scratch copy of a planned service, and
	// deploymentsBuf its planned deployments.
	checkBuf       *state.Service
	deploymentsBuf []service.Deployment
	wake           map[string]time.Time // service key -> requeue time
	// unplaced are the services that could not place every task they
	// started in their last reconcile: capacity freed on an instance
	// concerns them, and only them.
	unplaced map[string]bool
	// rounds are the placement rounds of the clusters, built on a
	// cluster's first placement and kept from pass to pass while its
	// instances change only through the controller's own placements (a
	// round accounts for those itself): a pass then costs no scan of the
	// instances at all. Any other change to an instance that placement
	// reads drops its cluster's round, and so does a failed write (the
	// round may hold placements that were not written).
	rounds map[string]*placement.Round
	// zoneCache holds, per cluster, the availability zones that can take
	// tasks (Controller.zones), for the services that narrow them by no
	// constraint or capacity provider; dropped with the cluster's round
	// and whenever one of its instances changes status or connection.
	zoneCache map[string][]string
	// own holds the instance versions the controller wrote whose events
	// have not come back yet: those events must not drop the round.
	own map[*state.Instance]bool
	// keys interns service keys by cluster and name, so that a task event
	// finds its service without building the key.
	keys map[[2]string]string
	// tsBuf holds the planner's task states during a plan; levelBuf,
	// kindBuf and placeBuf its stop balance and the tasks' placement
	// values.
	tsBuf    []service.TaskState
	levelBuf []balanceLevel
	kindBuf  []service.BalanceKind
	placeBuf []service.PlacementValue
	// w follows services, tasks and instances (nil when the controller
	// is driven by hand); err says why it ended. A pass takes in the
	// events queued behind each batch it writes.
	w   *store.Follower
	buf []store.Event
	err error
}

// Config is what a Controller needs. Store and Launcher are required.
type Config struct {
	// Store holds the services, tasks and instances.
	Store store.Store
	// Launcher creates the tasks services start.
	Launcher *launch.Launcher
	// AlarmBakeTime is the bake time of a rolling deployment with alarms
	// (0 without); nil: none.
	AlarmBakeTime func(*service.DeploymentAlarms) time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives the controller's log (default: discard).
	Logger *slog.Logger
}

// New returns a Controller for cfg.
func New(cfg Config) (*Controller, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("controller: Config.Store missing")
	case cfg.Launcher == nil:
		return nil, errors.New("controller: Config.Launcher missing")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.AlarmBakeTime == nil {
		cfg.AlarmBakeTime = func(*service.DeploymentAlarms) time.Duration { return 0 }
	}
	c := &Controller{cfg: cfg}
	c.reset()
	return c, nil
}

// Load replaces the controller's cache with the services, tasks and
// instances of tx and marks every service for the next Pass. Run does it
// itself; Load and Pass drive a controller by hand (a benchmark's steady
// pass).
func (c *Controller) Load(tx store.ReadTx) error { return c.snapshot(tx) }

// Pass reconciles the services marked since the last pass.
func (c *Controller) Pass(ctx context.Context) { c.reconcileDirty(ctx) }

// MarkAll marks every cached service for the next Pass, as a full
// reconcile over the cache (a steady pass) needs.
func (c *Controller) MarkAll() {
	for key := range c.services {
		c.dirty[key] = true
	}
}

func (c *Controller) reset() {
	c.services = map[string]*state.Service{}
	c.tasks = map[string]map[string]cachedTask{}
	c.instances = map[string]*state.Instance{}
	c.inactive = map[string]bool{}
	c.dirty = map[string]bool{}
	c.dirtyClusters = map[string]bool{}
	c.wake = map[string]time.Time{}
	c.unplaced = map[string]bool{}
	c.rounds = map[string]*placement.Round{}
	c.zoneCache = map[string][]string{}
	c.keys = map[[2]string]string{}
	c.own = map[*state.Instance]bool{}
}

// Run reconciles services until ctx ends, or the store fails.
func (c *Controller) Run(ctx context.Context) error {
	c.err = nil
	var err error
	c.w, err = store.Follow(ctx, c.cfg.Store, store.FollowConfig{
		Snapshot: c.snapshot,
		Options:  []store.WatchOption{store.WithKinds(state.KindServices, state.KindTasks, state.KindInstances)},
	})
	if err != nil {
		return err
	}
	defer func() {
		c.w.Close()
		c.w = nil
	}()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		c.reconcileDirty(ctx)
		if c.err != nil {
			return c.err
		}
		next := c.nextWake()
		if !next.IsZero() {
			timer.Reset(time.Until(next))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.w.Ready():
			c.drain()
		case <-timer.C:
			now := c.cfg.Now()
			for key, at := range c.wake {
				if !at.After(now) {
					c.dirty[key] = true
					delete(c.wake, key)
				}
			}
		}
	}
}

// snapshot replaces the cache with the services, tasks and instances of
// tx, and marks every service dirty.
func (c *Controller) snapshot(tx store.ReadTx) error {
	c.reset()
	for _, kind := range []string{state.KindServices, state.KindTasks, state.KindInstances} {
		objs, err := tx.List(kind)
		if err != nil {
			return err
		}
		for _, obj := range objs {
			c.observe(obj, nil)
		}
	}
	for key := range c.services {
		c.dirty[key] = true
	}
	return nil
}

// drain applies the events queued on the watch (after a fresh snapshot,
// the snapshot has replaced the cache already).
func (c *Controller) drain() {
	if c.w == nil || c.err != nil {
		return
	}
	var err error
	c.buf, _, err = c.w.Take(c.buf[:0])
	for _, ev := range c.buf {
		c.apply(ev)
	}
	clear(c.buf)
	if err != nil {
		c.err = err
	}
}

func (c *Controller) nextWake() time.Time {
	var next time.Time
	for _, at := range c.wake {
		if next.IsZero() || at.Before(next) {
			next = at
		}
	}
	return next
}

func (c *Controller) apply(ev store.Event) {
	if ev.Type == store.Deleted {
		c.forget(ev.Prev)
		return
	}
	c.observe(ev.Object, ev.Prev)
}

// observe caches an object and marks the services it concerns.
func (c *Controller) observe(obj, prev store.Object) {
	switch o := obj.(type) {
	case *state.Service:
		key := c.serviceKey(o.Cluster, o.Name)
		if cur := c.services[key]; cur != nil && cur.ModRevision > o.ModRevision {
			return // the controller's own newer write is cached already
		}
		c.services[key] = o
		c.dirty[key] = true
	case *state.Task:
		if o.ServiceName == "" {
			return
		}
		key := c.serviceKey(o.ClusterName(), o.ServiceName)
		if c.tasks[key] == nil {
			c.tasks[key] = map[string]cachedTask{}
		}
		if cur, ok := c.tasks[key][o.ID()]; ok && cur.t.ModRevision > o.ModRevision {
			return // the controller's own newer write is cached already
		}
		c.tasks[key][o.ID()] = cachedTask{t: o, ts: taskState(o)}
		if p, ok := prev.(*state.Task); !ok || taskChanged(p, o) {
			c.dirty[key] = true
		}
	case *state.Instance:
		c.instances[o.ID] = o
		if o.Status != cluster.StatusActive {
			c.inactive[o.ID] = true
		} else {
			delete(c.inactive, o.ID)
		}
		p, ok := prev.(*state.Instance)
		if c.own[o] {
			delete(c.own, o)
		} else if !ok || !placementSame(p, o) {
			delete(c.rounds, o.Cluster)
		}
		if !ok || !maps.Equal(p.Attributes, o.Attributes) || p.CapacityProvider != o.CapacityProvider {
			delete(c.zoneCache, o.Cluster)
		}
		if !ok || p.Status != o.Status || p.AgentConnected != o.AgentConnected {
			delete(c.zoneCache, o.Cluster)
			// A new instance, or one that can take tasks or no
			// longer can: every plan may change (DAEMON services,
			// tasks on draining instances, placements).
			c.dirtyClusters[o.Cluster] = true
			return
		}
		if freed(p, o) {
			for key := range c.unplaced {
				if s := c.services[key]; s != nil && s.Cluster == o.Cluster {
					c.dirty[key] = true
				}
			}
		}
		// Anything else (a reservation, task counts) changes no plan.
	}
}

// placementSame reports whether two versions of an instance look the same
// to placement (task counts, which placement does not read, may differ).
func placementSame(p, o *state.Instance) bool {
	a, b := &p.ContainerInstance, &o.ContainerInstance
	return a.Status == b.Status && a.AgentConnected == b.AgentConnected && a.CapacityProvider == b.CapacityProvider &&
		a.RegisteredAt.Equal(b.RegisteredAt) && resourcesSame(a.Registered, b.Registered) &&
		resourcesSame(a.Remaining, b.Remaining) && maps.Equal(a.TaskGroups, b.TaskGroups) &&
		maps.Equal(a.Attributes, b.Attributes)
}

func resourcesSame(a, b cluster.Resources) bool {
	return a.CPU == b.CPU && a.Memory == b.Memory && a.NetworkSlots == b.NetworkSlots && slices.Equal(a.Ports, b.Ports)
}

// freed reports whether an instance has more room for tasks than before.
func freed(p, o *state.Instance) bool {
	a, b := p.Remaining, o.Remaining
	return b.CPU > a.CPU || b.Memory > a.Memory || b.NetworkSlots > a.NetworkSlots || len(b.Ports) < len(a.Ports)
}

// serviceKey returns state.ServiceKey(clusterName, name), interned.
func (c *Controller) serviceKey(clusterName, name string) string {
	k := [2]string{clusterName, name}
	key, ok := c.keys[k]
	if !ok {
		key = state.ServiceKey(clusterName, name)
		c.keys[k] = key
	}
	return key
}

// taskChanged reports whether a task change can matter to its service.
func taskChanged(p, t *state.Task) bool {
	return p.LastStatus != t.LastStatus || p.DesiredStatus != t.DesiredStatus || p.HealthStatus != t.HealthStatus ||
		p.TargetHealth != t.TargetHealth
}

func (c *Controller) forget(obj store.Object) {
	switch o := obj.(type) {
	case *state.Service:
		delete(c.keys, [2]string{o.Cluster, o.Name})
		delete(c.services, o.ObjectID())
		delete(c.wake, o.ObjectID())
		delete(c.unplaced, o.ObjectID())
	case *state.Task:
		if o.ServiceName != "" {
			key := c.serviceKey(o.ClusterName(), o.ServiceName)
			delete(c.tasks[key], o.ID())
		}
	case *state.Instance:
		delete(c.instances, o.ID)
		delete(c.inactive, o.ID)
		delete(c.rounds, o.Cluster)
		delete(c.zoneCache, o.Cluster)
	}
}

// writeBatch is how many services one transaction writes at most. A pass
// that starts many services writes them a batch at a time: an instance
// that receives tasks of several services of a batch is written once, not
// once per service, and the watchers see one transaction, not one per
// service.
const writeBatch = 64

func (c *Controller) reconcileDirty(ctx context.Context) {
	if len(c.dirtyClusters) > 0 {
		for key, s := range c.services {
			if c.dirtyClusters[s.Cluster] {
				c.dirty[key] = true
			}
		}
		clear(c.dirtyClusters)
	}
	keys := make([]string, 0, len(c.dirty))
	for key := range c.dirty {
		keys = append(keys, key)
	}
	clear(c.dirty)
	slices.Sort(keys)
	var batch []string
	for _, key := range keys {
		if ctx.Err() != nil || c.err != nil {
			return
		}
		s := c.services[key]
		if s == nil || s.Status == service.StatusInactive {
			continue
		}
		delete(c.unplaced, key)
		// Most passes change nothing: plan on the cached service first
		// and write only when the plan does something.
		wake, write, err := c.check(key)
		if err != nil {
			c.failed(ctx, key, err)
			continue
		}
		if !write {
			c.setWake(key, wake)
			continue
		}
		if batch = append(batch, key); len(batch) == writeBatch {
			c.write(ctx, batch)
			batch = batch[:0]
		}
	}
	if len(batch) > 0 && ctx.Err() == nil && c.err == nil {
		c.write(ctx, batch)
	}
}

// check plans a service on the cached state and reports whether the plan
// writes anything; when it does not, wake is when the service wants to be
// looked at again through time alone.
func (c *Controller) check(key string) (wake time.Time, write bool, err error) {
	cached := c.services[key]
	// The planned service is only compared here, never kept: one
	// scratch copy serves every check.
	if c.checkBuf == nil {
		c.checkBuf = new(state.Service)
	}
	next, plan, err := c.plan(cached, c.cfg.Now(), c.checkBuf)
	if err != nil {
		return time.Time{}, false, err
	}
	draining := cached.Status == service.StatusDraining && aliveTasks(c.tasks[key]) == 0
	if len(plan.Stops) == 0 && len(plan.Starts) == 0 && !draining && serviceUnchanged(cached, next) {
		return plan.RequeueAt, false, nil
	}
	return time.Time{}, true, nil
}

func (c *Controller) setWake(key string, wake time.Time) {
	if wake.IsZero() {
		delete(c.wake, key)
	} else {
		c.wake[key] = wake
	}
}

// failed records that a service could not be reconciled: it is tried again
// in a second.
func (c *Controller) failed(ctx context.Context, key string, err error) {
	clear(c.rounds) // they may hold placements that were not written
	if ctx.Err() == nil {
		c.cfg.Logger.Warn("service reconcile failed; retrying", "service", key, "err", err)
	}
	c.setWake(key, c.cfg.Now().Add(time.Second))
}

// serviceWrite is what reconciling one service in a transaction did.
type serviceWrite struct {
	key      string
	wake     time.Time // when time alone may change the plan
	unplaced bool      // some task could not be placed
	// written are the tasks and the service as the transaction wrote
	// them: the cache takes them in at once, for the watch may bring
	// them much later, and a pass planning on a cache that misses its
	// own writes would start, or stop, the same tasks twice.
	written []store.Object
}

// write reconciles services in one transaction, or, when that fails, in
// one transaction each, so that a service that cannot be written holds no
// other back.
func (c *Controller) write(ctx context.Context, keys []string) {
	results, reserved, err := c.writeTx(ctx, keys)
	if err != nil && len(keys) > 1 {
		clear(c.rounds)
		for _, key := range keys {
			c.write(ctx, []string{key})
		}
		return
	}
	if err != nil {
		c.failed(ctx, keys[0], err)
		c.drain()
		return
	}
	for _, inst := range reserved {
		c.own[inst] = true
	}
	for _, r := range results {
		for _, obj := range r.written {
			c.observe(obj, nil)
		}
		if r.unplaced {
			c.unplaced[r.key] = true
		}
		c.setWake(r.key, r.wake)
	}
	c.drain()
}

// writeTx plans and writes services in one transaction. It returns what
// each service did and the instances it reserved on.
func (c *Controller) writeTx(ctx context.Context, keys []string) ([]serviceWrite, map[string]*state.Instance, error) {
	var results []serviceWrite
	var reserved map[string]*state.Instance
	err := c.cfg.Store.Update(ctx, func(tx store.Tx) error {
		results = results[:0]
		// The instances this transaction reserved on, each written
		// once at the end.
		reserved = map[string]*state.Instance{}
		for _, key := range keys {
			r := serviceWrite{key: key}
			if err := c.applyPlan(tx, &r, reserved); err != nil {
				if len(keys) > 1 {
					err = fmt.Errorf("service %s: %w", key, err)
				}
				return err
			}
			results = append(results, r)
		}
		for _, id := range slices.Sorted(maps.Keys(reserved)) {
			if err := tx.Update(reserved[id]); err != nil {
				return err
			}
		}
		return nil
	})
	return results, reserved, err
}

// applyPlan plans one service on the state of tx and writes the plan.
func (c *Controller) applyPlan(tx store.Tx, r *serviceWrite, reserved map[string]*state.Instance) error {
	cur, err := store.Get[*state.Service](tx, state.KindServices, r.key)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	// Plan on the tasks as this transaction reads them: a task the cache
	// still shows as not healthy may have turned HEALTHY since, and must
	// then be stopped only within the minimum healthy bound.
	for id, e := range c.tasks[r.key] {
		t, err := store.Get[*state.Task](tx, state.KindTasks, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if t.ModRevision > e.t.ModRevision {
			c.tasks[r.key][id] = cachedTask{t: t, ts: taskState(t)}
		}
	}
	now := c.cfg.Now()
	next, plan, err := c.plan(cur, now, nil)
	if err != nil {
		return err
	}
	s := &next.Service
	r.wake = plan.RequeueAt
	for _, st := range plan.Stops {
		stopped, err := c.stopTask(tx, st, now)
		if err != nil {
			return err
		}
		if stopped != nil {
			r.written = append(r.written, stopped)
		}
	}
	if err := c.startTasks(tx, s, plan.Starts, now, r, reserved); err != nil {
		return err
	}
	if s.Status == service.StatusDraining && aliveTasks(c.tasks[r.key]) == 0 && len(plan.Starts) == 0 {
		s.Status = service.StatusInactive
		s.AddEvent(now, fmt.Sprintf("(service %s) has been deleted.", s.Name))
	}
	if serviceUnchanged(cur, next) {
		return nil
	}
	if err := tx.Update(next); err != nil {
		return err
	}
	r.written = append(r.written, next)
	return nil
}

// cachedTask is a task as the controller keeps it: the stored version and
// the planner's view of it, computed once per version rather than on every
// pass (OnDrainingInstance is left to the pass).
type cachedTask struct {
	t  *state.Task
	ts service.TaskState
}

// taskState is the planner's view of a stored task, but for
// OnDrainingInstance.
func taskState(t *state.Task) service.TaskState {
	ts := service.TaskState{
		ID:               t.ID(),
		DeploymentID:     t.DeploymentID,
		InstanceID:       t.ContainerInstanceID(),
		DesiredStopped:   t.DesiredStatus == task.Stopped,
		ReachedRunning:   !t.StartedAt.IsZero(),
		Health:           health.Status(t.HealthStatus),
		HealthChecked:    t.HealthChecked,
		StartedAt:        t.StartedAt,
		StoppedAt:        t.StoppedAt,
		StoppedForHealth: t.StoppedForHealth,
	}
	switch t.LastStatus {
	case task.Running:
		ts.Phase = service.PhaseRunning
	case task.Deactivating, task.Stopping, task.Deprovisioning:
		ts.Phase = service.PhaseStopping
	case task.Stopped:
		ts.Phase = service.PhaseStopped
	default:
		ts.Phase = service.PhasePending
	}
	return ts
}

// plan runs the deployment planner on a service and returns the service as
// the plan leaves it (a copy, in into when into is not nil) with the plan.
func (c *Controller) plan(cur *state.Service, now time.Time, into *state.Service) (*state.Service, service.Plan, error) {
	// A shallow copy is enough: the planner returns new deployments, and
	// AddEvent builds a new slice; nothing below changes a shared slice.
	next := into
	if next == nil {
		next = new(state.Service)
	}
	*next = state.Service{Meta: cur.Meta, Service: cur.Service}
	s := &next.Service
	tasks := c.tasks[c.serviceKey(cur.Cluster, cur.Name)]
	in := service.Input{
		Service:                s.Name,
		Strategy:               s.SchedulingStrategy,
		DesiredCount:           s.DesiredCount,
		Config:                 s.DeploymentConfiguration,
		HealthCheckGracePeriod: s.HealthCheckGracePeriod,
		Deployments:            s.Deployments,
		LastCompleted:          s.LastCompleted,
		Steady:                 s.Steady,
		Routing:                s.Routing,
		AlarmBakeTime:          c.cfg.AlarmBakeTime(s.DeploymentConfiguration.Alarms),
		DeploymentSeq:          s.DeploymentSeq,
		Now:                    now,
	}
	// The planner keeps nothing of its input: one buffer serves every plan.
	in.Tasks = c.tsBuf[:0]
	// The tasks it may stop are chosen to keep the service balanced
	// under its placement strategy, from where each task sits.
	levels := stopBalance(stopSpecs(c.cfg.Launcher.Scheduler(), s.PlacementStrategy), c.levelBuf)
	c.levelBuf = levels
	in.StopBalance = c.kindBuf[:0]
	for _, l := range levels {
		in.StopBalance = append(in.StopBalance, l.kind)
	}
	c.kindBuf = in.StopBalance
	in.Seed = stopSeed(c.cfg.Launcher.Seed(), s.Cluster, s.Name)
	places := c.placeBuf[:0]
	balanced := len(s.LoadBalancers) > 0
	choosing := c.maybeStops(s, tasks)
	if rebalancesOverZones(s, levels) && (s.Steady || s.Rebalancing) {
		// Watching the balance over zones needs where each task sits.
		zones, err := c.zones(s)
		if err != nil {
			return nil, service.Plan{}, err
		}
		in.AZRebalancing, in.Zones, in.Rebalancing = true, zones, s.Rebalancing
		choosing = true
	}
	for _, e := range tasks {
		ts := e.ts
		ts.OnDrainingInstance = len(c.inactive) > 0 && c.inactive[ts.InstanceID]
		if balanced {
			withTargetHealth(&ts, e.t)
		}
		if choosing && !ts.DesiredStopped && (ts.Phase == service.PhasePending || ts.Phase == service.PhaseRunning) {
			inst := c.instances[ts.InstanceID]
			start := len(places)
			for _, l := range levels {
				places = append(places, l.placementValue(e.t, inst))
			}
			ts.Placement = places[start:len(places):len(places)]
		}
		in.Tasks = append(in.Tasks, ts)
	}
	c.tsBuf = in.Tasks
	c.placeBuf = places
	if s.SchedulingStrategy == service.Daemon {
		var err error
		if in.Instances, err = c.daemonInstances(s); err != nil {
			return nil, service.Plan{}, err
		}
	}
	if into != nil {
		// A check keeps no plan: the last one's deployments are
		// overwritten by the next.
		in.DeploymentsBuf = c.deploymentsBuf
	}
	plan := service.Compute(in)
	if into != nil {
		c.deploymentsBuf = plan.Deployments
	}
	s.Deployments, s.LastCompleted, s.Steady, s.DeploymentSeq = plan.Deployments, plan.LastCompleted, plan.Steady, plan.DeploymentSeq
	s.Rebalancing = in.AZRebalancing && plan.Rebalancing
	if p := s.Primary(); p != nil {
		s.TaskDefinition = p.TaskDefinition // a rollback changes it
		s.NetworkConfiguration = p.NetworkConfiguration
	}
	for _, msg := range plan.Events {
		s.AddEvent(now, msg)
	}
	s.RunningCount, s.PendingCount = 0, 0
	for _, d := range s.Deployments {
		s.RunningCount += d.RunningCount
		s.PendingCount += d.PendingCount
	}
	return next, plan, nil
}

// maybeStops reports whether the planner may have to choose tasks to stop
// among the service's, which it does only for surplus: tasks of older
// deployments, tasks on draining instances, or more tasks than desired.
// Where each task sits (TaskState.Placement) matters only then, and a
// steady pass over every service skips working it out.
func (c *Controller) maybeStops(s *service.Service, tasks map[string]cachedTask) bool {
	if len(s.Deployments) == 0 {
		return false
	}
	primary := s.Deployments[0].ID
	wanted := 0
	for _, e := range tasks {
		ts := &e.ts
		if ts.DesiredStopped || (ts.Phase != service.PhasePending && ts.Phase != service.PhaseRunning) {
			continue
		}
		if ts.DeploymentID != primary || (len(c.inactive) > 0 && c.inactive[ts.InstanceID]) {
			return true
		}
		wanted++
	}
	return wanted > s.DesiredCount
}

// aliveTasks counts the tasks not STOPPED.
func aliveTasks(tasks map[string]cachedTask) int {
	n := 0
	for _, e := range tasks {
		if e.t.LastStatus != task.Stopped {
			n++
		}
	}
	return n
}

// serviceUnchanged avoids a write (and a watch event) for a no-op pass.
func serviceUnchanged(a, b *state.Service) bool {
	x, y := a.Service, b.Service
	return x.Status == y.Status && x.Steady == y.Steady && x.Rebalancing == y.Rebalancing && x.RunningCount == y.RunningCount &&
		x.PendingCount == y.PendingCount && x.EventSeq == y.EventSeq && x.DeploymentSeq == y.DeploymentSeq &&
		slices.Equal(x.Deployments, y.Deployments) && lastCompletedEqual(x.LastCompleted, y.LastCompleted)
}

func lastCompletedEqual(a, b *service.Deployment) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// stopTask sets a task's desired status to STOPPED and returns the version
// written (nil when there was nothing to do).
func (c *Controller) stopTask(tx store.Tx, st service.Stop, now time.Time) (*state.Task, error) {
	t, err := store.Get[*state.Task](tx, state.KindTasks, st.TaskID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	next := t.Copy()
	if !next.Stop(task.ServiceSchedulerInitiated, stopReason(t, st), now) {
		return nil, nil
	}
	next.StoppedForHealth = st.Health
	if err := tx.Update(next); err != nil {
		return nil, err
	}
	return next, nil
}

func (c *Controller) startTasks(tx store.Tx, s *service.Service, starts []service.Start, now time.Time, r *serviceWrite, reserved map[string]*state.Instance) error {
	for _, st := range starts {
		def, err := store.Get[*state.TaskDefinition](tx, state.KindTaskDefinitions, st.TaskDefinition)
		if err != nil {
			return fmt.Errorf("task definition of deployment %s: %w", st.DeploymentID, err)
		}
		l := &launch.Request{
			Cluster:     s.Cluster,
			Def:         def.TaskDefinition,
			Count:       st.Count,
			Group:       "service:" + s.Name,
			StartedBy:   st.DeploymentID,
			Service:     s.Name,
			Deployment:  st.DeploymentID,
			Constraints: s.PlacementConstraints,
			Strategies:  s.PlacementStrategy,
			Providers:   s.CapacityProviders,
			Network:     deploymentNetwork(s, st.DeploymentID),
		}
		if st.Zone != "" {
			// A rebalance's start: in that zone only.
			l.Constraints = append(slices.Clone(l.Constraints), placement.Constraint{Type: placement.ConstraintMemberOf,
				Expression: placement.FieldAttributePrefix + cluster.AttributeAvailabilityZone + " == " + quoteQuery(st.Zone)})
		}
		var round *placement.Round
		if st.InstanceID != "" {
			l.Instances = []string{st.InstanceID}
		} else {
			if round = c.rounds[s.Cluster]; round == nil {
				if round, err = c.cfg.Launcher.NewRound(tx, s.Cluster, nil, reserved); err != nil {
					return err
				}
				c.rounds[s.Cluster] = round
			}
		}
		created, err := c.cfg.Launcher.Place(tx, l, round, reserved)
		var noFit *placement.NoFitError
		var invalid *errdefs.FieldError
		switch {
		case errors.As(err, &noFit) && st.Zone != "":
			unplaced(s, r, now, zoneNoCapacityEvent(s.Name, st.Zone, noFit.Explanation))
		case errors.As(err, &noFit):
			unplaced(s, r, now, noCapacityEvent(s.Name, noFit.Explanation))
		case errors.As(err, &invalid):
			// The service's configuration no longer holds (a capacity
			// provider left the cluster): say so, and try again later
			// rather than fail the whole write.
			unplaced(s, r, now, fmt.Sprintf("(service %s) was unable to place a task. Reason: %s: %s.", s.Name, invalid.Path, invalid.Reason))
		case err != nil:
			return err
		}
		if len(created) > 0 {
			ids := make([]string, len(created))
			for i, t := range created {
				ids[i] = "(task " + t.ID() + ")"
				r.written = append(r.written, t)
			}
			if st.Zone != "" {
				s.AddEvent(now, fmt.Sprintf("(service %s) has started %d tasks in %s to AZ Rebalance: %s.", s.Name, len(created), st.Zone, strings.Join(ids, " ")))
			} else {
				s.AddEvent(now, fmt.Sprintf("(service %s) has started %d tasks: %s.", s.Name, len(created), strings.Join(ids, " ")))
			}
		}
	}
	return nil
}

// unplaced records that a service could not place a task: its event (not
// repeated while it is the latest), and a retry after PlacementRetry.
func unplaced(s *service.Service, r *serviceWrite, now time.Time, msg string) {
	if len(s.Events) == 0 || s.Events[0].Message != msg {
		s.AddEvent(now, msg)
	}
	r.unplaced = true
	retry := now.Add(PlacementRetry)
	if r.wake.IsZero() || retry.Before(r.wake) {
		r.wake = retry
	}
}

// noCapacityEvent is the event of a service that could not place a task:
// ECS's words, naming the closest matching instance and what it lacks,
// then Stevedore's account of every instance.
func noCapacityEvent(serviceName string, e placement.Explanation) string {
	msg := "(service " + serviceName + ") was unable to place a task because no container instance met all of its requirements."
	if closest := e.ClosestMatch(); closest != "" {
		msg += " " + closest
	}
	if e.Instances > 0 {
		msg += " (" + e.String() + ")"
	}
	return msg
}

// daemonInstances lists the cluster's instances as the DAEMON planner sees
// them: eligible when ACTIVE, with a connected agent, and satisfying the
// service's memberOf constraints and those of custom types (the filters
// the scheduler registered them with).
func (c *Controller) daemonInstances(s *service.Service) ([]service.InstanceState, error) {
	filters, err := c.cfg.Launcher.Scheduler().ConstraintFilters(s.PlacementConstraints)
	if err != nil {
		return nil, err
	}
	exprs, err := memberOfExprs(s.PlacementConstraints)
	if err != nil {
		return nil, err
	}
	var ids []string
	for id, inst := range c.instances {
		if inst.Cluster == s.Cluster && inst.Status != cluster.StatusInactive {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	out := make([]service.InstanceState, 0, len(ids))
	for _, id := range ids {
		inst := c.instances[id]
		st := service.InstanceState{ID: id, Draining: inst.Status == cluster.StatusDraining,
			Eligible: inst.Status != cluster.StatusRegistering, AgentDisconnected: !inst.AgentConnected}
		if st.Eligible && len(exprs)+len(filters) > 0 {
			round := c.cfg.Launcher.Scheduler().NewRound([]cluster.ContainerInstance{inst.ContainerInstance}, 0)
			target := round.Instance(0)
			for _, e := range exprs {
				st.Eligible = st.Eligible && e.Eval(target)
			}
			req := &placement.Request{Task: s.TaskDefinition, Group: "service:" + s.Name}
			for _, f := range filters {
				if !st.Eligible {
					break
				}
				switch v := f.Filter(req, target); v.Code() {
				case placement.CodeUnfit:
					st.Eligible = false
				case placement.CodeError:
					return nil, &placement.PluginError{Plugin: f.Name(), Instance: id, Err: v.Err()}
				}
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// deploymentNetwork returns the network configuration of a deployment of s.
func deploymentNetwork(s *service.Service, deploymentID string) *task.NetworkConfiguration {
	for _, d := range s.Deployments {
		if d.ID == deploymentID {
			return d.NetworkConfiguration
		}
	}
	return s.NetworkConfiguration
}

// withTargetHealth makes the planner's view of a task of a service with
// load balancers count its target groups' health: the task is health
// checked, and its health is the worst of its containers' (when they are
// checked) and its target groups', where a task not yet registered or
// still in its first checks is UNKNOWN, not healthy.
func withTargetHealth(ts *service.TaskState, t *state.Task) {
	tg := health.Status(t.TargetHealth.Status())
	if ts.HealthChecked {
		ts.Health = health.Worst(ts.Health, tg)
	} else {
		ts.Health = tg
	}
	ts.HealthChecked = true
}

// stopReason is the stoppedReason of a task the planner stops: ECS's
// wording for a task that failed its target group's health checks rather
// than its containers'.
func stopReason(t *state.Task, st service.Stop) string {
	if st.Health && t.TargetHealth == state.TargetHealthUnhealthy && t.HealthStatus != task.Unhealthy {
		return "Task failed ELB health checks"
	}
	return st.Reason
}
