package stevedore_test

import (
	"context"
	"sync"
	"time"

	"github.com/stevedore-io/stevedore/lb"
)

// fakeHealth gives recordingGroup target states that the test drives: a
// registered target takes state initial (default healthy); a deregistered
// one is unused at once unless the test holds it busy (traffic in flight),
// then draining until released or the delay has passed. Its methods run
// under the group's mutex, passed in where they need it.
type fakeHealth struct {
	initial lb.TargetState // the state Register gives; "" is healthy
	reason  string         // the reason of unhealthy targets
	delay   time.Duration  // the deregistration delay

	states  map[string]lb.TargetState
	busy    map[string]bool
	changed chan struct{}
}

func (f *fakeHealth) initLocked() {
	if f.states == nil {
		f.states = map[string]lb.TargetState{}
		f.busy = map[string]bool{}
		f.changed = make(chan struct{})
	}
}

func (f *fakeHealth) setLocked(id string, s lb.TargetState) {
	f.initLocked()
	if s == lb.StateUnused {
		delete(f.states, id)
	} else {
		f.states[id] = s
	}
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakeHealth) registeredLocked(id string) {
	f.initLocked()
	s := f.initial
	if s == "" {
		s = lb.StateHealthy
	}
	f.setLocked(id, s)
}

func (f *fakeHealth) deregisteredLocked(mu *sync.Mutex, id string) {
	f.initLocked()
	if !f.busy[id] || f.delay == 0 {
		f.setLocked(id, lb.StateUnused)
		return
	}
	f.setLocked(id, lb.StateDraining)
	time.AfterFunc(f.delay, func() {
		mu.Lock()
		defer mu.Unlock()
		if f.states[id] == lb.StateDraining {
			f.setLocked(id, lb.StateUnused)
		}
	})
}

func (g *recordingGroup) Health(id string) lb.TargetHealth {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.initLocked()
	if s, ok := g.states[id]; ok {
		if s == lb.StateUnhealthy {
			return lb.TargetHealth{State: s, Reason: g.reason}
		}
		return lb.TargetHealth{State: s}
	}
	return lb.TargetHealth{State: lb.StateUnused}
}

func (g *recordingGroup) WaitState(ctx context.Context, id string, states ...lb.TargetState) (lb.TargetHealth, error) {
	for {
		g.mu.Lock()
		g.initLocked()
		s, ok := g.states[id]
		if !ok {
			s = lb.StateUnused
		}
		changed := g.changed
		g.mu.Unlock()
		for _, want := range states {
			if s == want {
				return lb.TargetHealth{State: s}, nil
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return lb.TargetHealth{State: s}, ctx.Err()
		}
	}
}

func (g *recordingGroup) DeregistrationDelay() time.Duration { return g.delay }

// setHealth puts a registered target in state s.
func (g *recordingGroup) setHealth(id string, s lb.TargetState) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.targets[id]; ok {
		g.setLocked(id, s)
	}
}

// failNew makes the targets registered from now on unhealthy, for reason.
func (g *recordingGroup) failNew(reason string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.initial, g.reason = lb.StateUnhealthy, reason
}

// hold marks target id busy (traffic in flight) or, with busy false, idle:
// a draining target that becomes idle is removed.
func (g *recordingGroup) hold(id string, busy bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.initLocked()
	g.busy[id] = busy
	if !busy && g.states[id] == lb.StateDraining {
		g.setLocked(id, lb.StateUnused)
	}
}

// state is target id's state.
func (g *recordingGroup) state(id string) lb.TargetState { return g.Health(id).State }
