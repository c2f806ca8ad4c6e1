package targets

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/lb"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

// targetStates are the states a target group reports.
var targetStates = []lb.TargetState{lb.StateInitial, lb.StateHealthy, lb.StateUnhealthy, lb.StateDraining, lb.StateUnused}

// targetHealth records on each task of a service with load balancers its
// health in the target groups of the service (state.Task.TargetHealth),
// for the deployments. The load-balancing loop says which groups a task
// belongs in (expect) and starts a watcher per registration, which reports
// each change (observe); run writes the tasks whose health changed, as
// many as have in one transaction, and only when their health did: a task
// that is unknown (initial, not yet registered) costs no write.
type targetHealth struct {
	mu     sync.Mutex
	tasks  map[string]*taskTargets // by task ID
	dirty  map[string]bool
	signal chan struct{}
}

// taskTargets is what targetHealth knows of one task.
type taskTargets struct {
	states map[string]lb.TargetState // by group; missing: not registered
}

func newTargetHealth() *targetHealth {
	return &targetHealth{tasks: map[string]*taskTargets{}, dirty: map[string]bool{}, signal: make(chan struct{}, 1)}
}

// expect records the groups task id belongs in.
func (h *targetHealth) expect(id string, groups []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	tt := h.tasks[id]
	if tt == nil {
		tt = &taskTargets{states: map[string]lb.TargetState{}}
		h.tasks[id] = tt
	}
	changed := false
	for g := range tt.states {
		if !slices.Contains(groups, g) {
			delete(tt.states, g)
			changed = true
		}
	}
	for _, g := range groups {
		if _, ok := tt.states[g]; !ok {
			tt.states[g] = lb.StateUnused
			changed = true
		}
	}
	if changed {
		h.markLocked(id)
	}
}

// forget drops a task whose health no longer matters (asked to stop,
// deleted).
func (h *targetHealth) forget(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.tasks, id)
	delete(h.dirty, id)
}

// observe records the state of task id in group.
func (h *targetHealth) observe(id, group string, s lb.TargetState) {
	h.mu.Lock()
	defer h.mu.Unlock()
	tt := h.tasks[id]
	if tt == nil {
		return
	}
	if prev, ok := tt.states[group]; !ok || prev == s {
		return
	}
	tt.states[group] = s
	h.markLocked(id)
}

func (h *targetHealth) markLocked(id string) {
	h.dirty[id] = true
	select {
	case h.signal <- struct{}{}:
	default:
	}
}

// status is the health of a task in its groups: HEALTHY when healthy in
// every one, UNHEALTHY when unhealthy in one, UNKNOWN otherwise.
func (tt *taskTargets) status() state.TargetHealth {
	out := state.TargetHealthHealthy
	for _, s := range tt.states {
		switch s {
		case lb.StateHealthy:
		case lb.StateUnhealthy:
			return state.TargetHealthUnhealthy
		default:
			out = state.TargetHealthUnknown
		}
	}
	return out
}

// take returns the health of the tasks changed since the last call.
func (h *targetHealth) take() map[string]state.TargetHealth {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.dirty) == 0 {
		return nil
	}
	out := make(map[string]state.TargetHealth, len(h.dirty))
	for id := range h.dirty {
		if tt := h.tasks[id]; tt != nil {
			out[id] = tt.status()
		}
	}
	clear(h.dirty)
	return out
}

// run writes the changes until ctx ends.
func (h *targetHealth) run(ctx context.Context, st store.Store) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-h.signal:
		}
		changes := h.take()
		if len(changes) == 0 {
			continue
		}
		err := st.Update(ctx, func(tx store.Tx) error {
			for id, hs := range changes {
				t, err := store.Get[*state.Task](tx, state.KindTasks, id)
				if errors.Is(err, store.ErrNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				if t.DesiredStatus != task.Running || t.TargetHealth == hs {
					continue
				}
				next := t.Copy()
				next.TargetHealth = hs
				if err := tx.Update(next); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			// Try again with the next change; the loop restarts on errors
			// only when the store is gone.
			h.mu.Lock()
			for id := range changes {
				if h.tasks[id] != nil {
					h.markLocked(id)
				}
			}
			h.mu.Unlock()
			return err
		}
	}
}

// watchTarget reports the states of task id in group g to h until ctx
// ends.
func watchTarget(ctx context.Context, g Group, id string, h *targetHealth) {
	prev := lb.TargetState("")
	for {
		others := slices.DeleteFunc(slices.Clone(targetStates), func(s lb.TargetState) bool { return s == prev })
		th, err := g.WaitState(ctx, id, others...)
		if err != nil {
			return
		}
		h.observe(id, g.Name(), th.State)
		prev = th.State
	}
}

// expectHealth tells the health recorder which groups task t belongs in:
// those of its service's load balancers while it is desired RUNNING.
func (s *Targets) expectHealth(t *state.Task, svc *state.Service) {
	if svc == nil || len(svc.LoadBalancers) == 0 || t.DesiredStatus != task.Running {
		s.health.forget(t.ID())
		return
	}
	groups := make([]string, 0, len(svc.LoadBalancers))
	for _, l := range svc.LoadBalancers {
		g := GroupOf(svc, t, l)
		if s.cfg.Groups[g] != nil && !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
	}
	s.health.expect(t.ID(), groups)
}

// watch starts the health watcher of task id in group, once.
func (s *Targets) watch(id, group string) {
	if s.watches[id][group] != nil {
		return
	}
	ctx, cancel := context.WithCancel(s.ctx)
	if s.watches[id] == nil {
		s.watches[id] = map[string]context.CancelFunc{}
	}
	s.watches[id][group] = cancel
	g := s.cfg.Groups[group]
	s.wg.Go(func() { watchTarget(ctx, g, id, s.health) })
}

// unwatch stops the health watcher of task id in group.
func (s *Targets) unwatch(id, group string) {
	if cancel := s.watches[id][group]; cancel != nil {
		cancel()
		delete(s.watches[id], group)
		if len(s.watches[id]) == 0 {
			delete(s.watches, id)
		}
	}
	s.health.observe(id, group, lb.StateUnused)
}
