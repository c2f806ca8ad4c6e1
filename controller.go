package stevedore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/health"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/placement"
	"github.com/stevedore-io/stevedore/placement/query"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

// placementRetry is how soon a service that could not place a task tries
// again when nothing else changed.
const placementRetry = 10 * time.Second

// serviceController keeps services at their desired state. It caches the
// services, their tasks and the instances from a store watch, and on every
// change reconciles the services concerned: it runs the pure deployment
// planner (service.Compute) and applies the plan in one transaction per
// service.
type serviceController struct {
	o         *Orchestrator
	services  map[string]*state.Service         // by service key
	tasks     map[string]map[string]*state.Task // service key -> task ID -> task
	instances map[string]*state.Instance        // by instance ID
	dirty     map[string]bool
	wake      map[string]time.Time // service key -> requeue time
	// round is the placement round of the current pass, built on the
	// first placement and shared by the services of the pass, so that a
	// pass costs one scan of the instances, not one per service.
	round *placement.Round
}

func newServiceController(o *Orchestrator) *serviceController {
	return &serviceController{o: o}
}

func (c *serviceController) reset() {
	c.services = map[string]*state.Service{}
	c.tasks = map[string]map[string]*state.Task{}
	c.instances = map[string]*state.Instance{}
	c.dirty = map[string]bool{}
	c.wake = map[string]time.Time{}
}

func (c *serviceController) run(ctx context.Context, _ *Orchestrator) error {
	c.reset()
	w, err := store.ViewAndWatch(ctx, c.o.store, func(tx store.ReadTx) error {
		for _, kind := range []string{state.KindServices, state.KindTasks, state.KindInstances} {
			objs, err := tx.List(kind)
			if err != nil {
				return err
			}
			for _, obj := range objs {
				c.observe(obj, nil)
			}
		}
		return nil
	}, store.WithKinds(state.KindServices, state.KindTasks, state.KindInstances))
	if err != nil {
		return err
	}
	defer w.Close()
	for key := range c.services {
		c.dirty[key] = true
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		c.reconcileDirty(ctx)
		next := c.nextWake()
		if !next.IsZero() {
			timer.Reset(time.Until(next))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-w.Events():
			if !ok {
				return w.Err()
			}
			c.apply(ev)
			// Take in whatever else is already queued before reconciling.
			for more := true; more; {
				select {
				case ev, ok := <-w.Events():
					if !ok {
						return w.Err()
					}
					c.apply(ev)
				default:
					more = false
				}
			}
		case <-timer.C:
			now := c.o.now()
			for key, at := range c.wake {
				if !at.After(now) {
					c.dirty[key] = true
					delete(c.wake, key)
				}
			}
		}
	}
}

func (c *serviceController) nextWake() time.Time {
	var next time.Time
	for _, at := range c.wake {
		if next.IsZero() || at.Before(next) {
			next = at
		}
	}
	return next
}

func (c *serviceController) apply(ev store.Event) {
	if ev.Type == store.Deleted {
		c.forget(ev.Prev)
		return
	}
	c.observe(ev.Object, ev.Prev)
}

// observe caches an object and marks the services it concerns.
func (c *serviceController) observe(obj, prev store.Object) {
	switch o := obj.(type) {
	case *state.Service:
		key := o.ObjectID()
		c.services[key] = o
		c.dirty[key] = true
	case *state.Task:
		if o.ServiceName == "" {
			return
		}
		key := state.ServiceKey(o.ClusterName(), o.ServiceName)
		if c.tasks[key] == nil {
			c.tasks[key] = map[string]*state.Task{}
		}
		c.tasks[key][o.ID()] = o
		if p, ok := prev.(*state.Task); !ok || taskChanged(p, o) {
			c.dirty[key] = true
		}
	case *state.Instance:
		c.instances[o.ID] = o
		if p, ok := prev.(*state.Instance); ok && p.Status == o.Status && p.AgentConnected == o.AgentConnected &&
			p.Remaining.Memory <= o.Remaining.Memory && p.Remaining.CPU <= o.Remaining.CPU {
			return // nothing that could change a plan
		}
		for key, s := range c.services {
			if s.Cluster == o.Cluster {
				c.dirty[key] = true
			}
		}
	}
}

// taskChanged reports whether a task change can matter to its service.
func taskChanged(p, t *state.Task) bool {
	return p.LastStatus != t.LastStatus || p.DesiredStatus != t.DesiredStatus || p.HealthStatus != t.HealthStatus
}

func (c *serviceController) forget(obj store.Object) {
	switch o := obj.(type) {
	case *state.Service:
		delete(c.services, o.ObjectID())
		delete(c.wake, o.ObjectID())
	case *state.Task:
		if o.ServiceName != "" {
			key := state.ServiceKey(o.ClusterName(), o.ServiceName)
			delete(c.tasks[key], o.ID())
		}
	case *state.Instance:
		delete(c.instances, o.ID)
	}
}

func (c *serviceController) reconcileDirty(ctx context.Context) {
	keys := make([]string, 0, len(c.dirty))
	for key := range c.dirty {
		keys = append(keys, key)
	}
	clear(c.dirty)
	slices.Sort(keys)
	c.round = nil
	defer func() { c.round = nil }()
	for _, key := range keys {
		if ctx.Err() != nil {
			return
		}
		s := c.services[key]
		if s == nil || s.Status == service.StatusInactive {
			continue
		}
		wake, err := c.reconcile(ctx, key)
		if err != nil {
			c.round = nil // it may hold placements that were not written
			if ctx.Err() == nil {
				c.o.log.Warn("service reconcile failed; retrying", "service", key, "err", err)
			}
			wake = c.o.now().Add(time.Second)
		}
		if wake.IsZero() {
			delete(c.wake, key)
		} else {
			c.wake[key] = wake
		}
	}
}

// taskState is the planner's view of a stored task.
func (c *serviceController) taskState(t *state.Task) service.TaskState {
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
	if inst := c.instances[ts.InstanceID]; inst != nil && inst.Status != cluster.StatusActive {
		ts.OnDrainingInstance = true
	}
	return ts
}

// reconcile plans one service and applies the plan. It returns when the
// service wants to be looked at again through time alone.
func (c *serviceController) reconcile(ctx context.Context, key string) (time.Time, error) {
	// Most passes change nothing: plan on the cached service first and
	// write only when the plan does something.
	if cached := c.services[key]; cached != nil {
		next, plan, err := c.plan(cached, c.o.now())
		if err != nil {
			return time.Time{}, err
		}
		draining := cached.Status == service.StatusDraining && len(tasksAlive(c.tasks[key])) == 0
		if len(plan.Stops) == 0 && len(plan.Starts) == 0 && !draining && serviceUnchanged(cached, next) {
			return plan.RequeueAt, nil
		}
	}
	var wake time.Time
	err := c.o.store.Update(ctx, func(tx store.Tx) error {
		wake = time.Time{}
		cur, err := store.Get[*state.Service](tx, state.KindServices, key)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		now := c.o.now()
		next, plan, err := c.plan(cur, now)
		if err != nil {
			return err
		}
		s := &next.Service
		wake = plan.RequeueAt
		for _, st := range plan.Stops {
			if err := c.stopTask(tx, st, now); err != nil {
				return err
			}
		}
		if err := c.startTasks(tx, s, plan.Starts, now, &wake); err != nil {
			return err
		}
		if s.Status == service.StatusDraining && len(tasksAlive(c.tasks[key])) == 0 && len(plan.Starts) == 0 {
			s.Status = service.StatusInactive
			s.AddEvent(now, fmt.Sprintf("(service %s) has been deleted.", s.Name))
		}
		if serviceUnchanged(cur, next) {
			return nil
		}
		return tx.Update(next)
	})
	return wake, err
}

// plan runs the deployment planner on a service and returns the service as
// the plan leaves it (a copy) with the plan.
func (c *serviceController) plan(cur *state.Service, now time.Time) (*state.Service, service.Plan, error) {
	// A shallow copy is enough: the planner returns new deployments, and
	// AddEvent builds a new slice; nothing below changes a shared slice.
	next := &state.Service{Meta: cur.Meta, Service: cur.Service}
	s := &next.Service
	tasks := c.tasks[cur.ObjectID()]
	in := service.Input{
		Service:                s.Name,
		Strategy:               s.SchedulingStrategy,
		DesiredCount:           s.DesiredCount,
		Config:                 s.DeploymentConfiguration,
		HealthCheckGracePeriod: s.HealthCheckGracePeriod,
		Deployments:            s.Deployments,
		LastCompleted:          s.LastCompleted,
		Steady:                 s.Steady,
		Tasks:                  make([]service.TaskState, 0, len(tasks)),
		NewDeploymentID: func() string {
			s.DeploymentSeq++
			return fmt.Sprintf("ecs-svc/%s/%d", s.Name, s.DeploymentSeq)
		},
		Now: now,
	}
	for _, t := range tasks {
		in.Tasks = append(in.Tasks, c.taskState(t))
	}
	if s.SchedulingStrategy == service.Daemon {
		var err error
		if in.Instances, err = c.daemonInstances(s); err != nil {
			return nil, service.Plan{}, err
		}
	}
	plan := service.Compute(in)
	s.Deployments, s.LastCompleted, s.Steady = plan.Deployments, plan.LastCompleted, plan.Steady
	if p := s.Primary(); p != nil {
		s.TaskDefinition = p.TaskDefinition // a rollback changes it
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

func tasksAlive(tasks map[string]*state.Task) []*state.Task {
	var out []*state.Task
	for _, t := range tasks {
		if t.LastStatus != task.Stopped {
			out = append(out, t)
		}
	}
	return out
}

// serviceUnchanged avoids a write (and a watch event) for a no-op pass.
func serviceUnchanged(a, b *state.Service) bool {
	x, y := a.Service, b.Service
	return x.Status == y.Status && x.Steady == y.Steady && x.RunningCount == y.RunningCount &&
		x.PendingCount == y.PendingCount && x.EventSeq == y.EventSeq && x.DeploymentSeq == y.DeploymentSeq &&
		slices.Equal(x.Deployments, y.Deployments) && lastCompletedEqual(x.LastCompleted, y.LastCompleted)
}

func lastCompletedEqual(a, b *service.Deployment) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func (c *serviceController) stopTask(tx store.Tx, st service.Stop, now time.Time) error {
	t, err := store.Get[*state.Task](tx, state.KindTasks, st.TaskID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	next := t.Copy()
	if !next.Stop(task.ServiceSchedulerInitiated, st.Reason, now) {
		return nil
	}
	next.StoppedForHealth = st.Health
	return tx.Update(next)
}

func (c *serviceController) startTasks(tx store.Tx, s *service.Service, starts []service.Start, now time.Time, wake *time.Time) error {
	for _, st := range starts {
		def, err := store.Get[*state.TaskDefinition](tx, state.KindTaskDefinitions, st.TaskDefinition)
		if err != nil {
			return fmt.Errorf("task definition of deployment %s: %w", st.DeploymentID, err)
		}
		l := &launch{
			cluster:     s.Cluster,
			def:         def.TaskDefinition,
			count:       st.Count,
			group:       "service:" + s.Name,
			startedBy:   st.DeploymentID,
			service:     s.Name,
			deployment:  st.DeploymentID,
			constraints: s.PlacementConstraints,
			strategies:  s.PlacementStrategy,
			providers:   s.CapacityProviders,
		}
		var round *placement.Round
		if st.InstanceID != "" {
			l.instances = []string{st.InstanceID}
		} else {
			if c.round == nil {
				if c.round, err = c.o.newRound(tx, s.Cluster, nil); err != nil {
					return err
				}
			}
			round = c.round
		}
		created, err := c.o.place(tx, l, round)
		var noFit *placement.NoFitError
		if errors.As(err, &noFit) {
			msg := fmt.Sprintf("(service %s) was unable to place a task because no container instance met all of its requirements. %s", s.Name, noFit.Explanation.String())
			if len(s.Events) == 0 || s.Events[0].Message != msg {
				s.AddEvent(now, msg)
			}
			retry := now.Add(placementRetry)
			if wake.IsZero() || retry.Before(*wake) {
				*wake = retry
			}
		} else if err != nil {
			return err
		}
		if len(created) > 0 {
			ids := make([]string, len(created))
			for i, t := range created {
				ids[i] = "(task " + t.ID() + ")"
				c.observe(t, nil)
			}
			s.AddEvent(now, fmt.Sprintf("(service %s) has started %d tasks: %s.", s.Name, len(created), strings.Join(ids, " ")))
		}
	}
	return nil
}

// daemonInstances lists the cluster's instances as the DAEMON planner sees
// them: eligible when ACTIVE, with a connected agent, and satisfying the
// service's memberOf constraints.
func (c *serviceController) daemonInstances(s *service.Service) ([]service.InstanceState, error) {
	var exprs []*query.Expr
	for _, pc := range s.PlacementConstraints {
		if pc.Type != placement.ConstraintMemberOf {
			continue
		}
		e, err := query.Parse(pc.Expression)
		if err != nil {
			return nil, err
		}
		exprs = append(exprs, e)
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
			Eligible: inst.Status != cluster.StatusRegistering && inst.AgentConnected}
		if st.Eligible && len(exprs) > 0 {
			round := c.o.sched.NewRound([]cluster.ContainerInstance{inst.ContainerInstance}, 0)
			target := round.Instance(0)
			for _, e := range exprs {
				st.Eligible = st.Eligible && e.Eval(target)
			}
		}
		out = append(out, st)
	}
	return out, nil
}
