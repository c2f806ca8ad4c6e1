package agent

import (
	"context"
	"errors"
	"time"

	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/store"
)

// DefaultHeartbeatInterval is how often an agent says on its instance that
// it runs (state.Instance.HeartbeatAt) when Config.HeartbeatInterval is 0.
// The control plane takes an agent silent for state.HeartbeatMisses
// intervals for gone.
const DefaultHeartbeatInterval = 10 * time.Second

// heartbeatTimeout bounds one heartbeat write: a write stuck longer is
// tried again at the next beat.
const heartbeatTimeout = 5 * time.Second

// alive marks next, the agent's instance about to be written by the agent
// at now, as written by a running agent: it carries the heartbeat, and when
// the control plane had taken the agent for gone (AgentLost), the agent is
// connected again, unless its engine is away (then the outage is recorded
// again, as watchEngine keeps it), and that change is dated now. A
// heartbeat alone dates nothing (cluster.ContainerInstance.UpdatedAt).
func (a *Agent) alive(next *state.Instance, now time.Time) {
	before := next.ContainerInstance
	defer func() { next.DateChange(&before, now) }()
	if a.heartbeat > 0 {
		next.HeartbeatAt, next.HeartbeatInterval = now, a.heartbeat
	} else {
		next.HeartbeatAt, next.HeartbeatInterval = time.Time{}, 0
	}
	if next.AgentLost != nil {
		outage, _ := a.engine.state()
		next.AgentLost = nil
		next.AgentConnected, next.EngineOutage = outage == nil, outage
	}
}

// beaten records that a write of the instance carrying the heartbeat of at
// was committed: the heartbeat loop need not write before at plus the
// interval.
func (a *Agent) beaten(at time.Time) {
	for {
		old := a.lastBeat.Load()
		if at.UnixNano() <= old || a.lastBeat.CompareAndSwap(old, at.UnixNano()) {
			return
		}
	}
}

// writeInstance writes the agent's instance through update (the store's
// Update, or a session's batching writer): change gets the stored instance
// and the time, and returns what to write (nil: nothing) and whether the
// write carries the heartbeat (alive, after change), which is noted once
// it commits. An instance that is gone is left alone.
func (a *Agent) writeInstance(ctx context.Context, update func(context.Context, func(store.Tx) error) error,
	change func(inst *state.Instance, now time.Time) (next *state.Instance, beat bool)) error {
	var at time.Time
	err := update(ctx, func(tx store.Tx) error {
		at = time.Time{}
		inst, err := store.Get[*state.Instance](tx, state.KindInstances, a.cfg.InstanceID)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		now := time.Now()
		next, beat := change(inst, now)
		if next == nil {
			return nil
		}
		if beat {
			a.alive(next, now)
			at = now
		}
		return tx.Update(next)
	})
	if err == nil && !at.IsZero() {
		a.beaten(at)
	}
	return err
}

// heartbeat writes the agent's heartbeat on its instance every interval
// until ctx ends. Any write of the instance by the agent carries the
// heartbeat too (alive), and the loop writes only when none did in the
// interval: while tasks come and go, their counts keep the heartbeat.
func (s *session) heartbeat(ctx context.Context) {
	a := s.a
	timer := time.NewTimer(a.heartbeat)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		wait := a.heartbeat
		if since := time.Since(time.Unix(0, a.lastBeat.Load())); since < wait {
			wait -= since // another write carried it
		} else if err := s.beat(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("agent: could not write the heartbeat", "err", err)
		}
		timer.Reset(wait)
	}
}

// beat writes the heartbeat: one small update of the instance.
func (s *session) beat(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, heartbeatTimeout)
	defer cancel()
	return s.a.writeInstance(ctx, s.w.update, func(inst *state.Instance, _ time.Time) (*state.Instance, bool) {
		// The copy shares the maps and slices of the stored instance,
		// which no one changes in place (see updateCounts).
		next := *inst
		return &next, true
	})
}
