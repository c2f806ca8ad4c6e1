// Package reaper is the loop that removes what has had its time: STOPPED
// tasks past their retention, the samples of tasks that no longer run, the
// capacity of interrupted Spot instances whose notice is over
// (state.Instance.ReclaimAt), and the connection of agents gone silent
// (state.Instance.HeartbeatAt). Every deadline it acts on is read from the
// store, so a reaper started after a restart keeps the same appointments.
package reaper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

// Interval is how often stopped tasks past their retention are removed.
const Interval = time.Minute

// lostRetry is how soon the reaper tries again to record an agent gone
// silent when the write failed.
const lostRetry = 5 * time.Second

// SpotStoppedReason is ECS's stoppedReason for tasks on reclaimed Spot
// capacity.
const SpotStoppedReason = "Your Spot Task was interrupted."

// Config is what a Reaper needs. Store and Retention are required.
type Config struct {
	// Store holds the tasks, samples and instances.
	Store store.Store
	// Retention is how long STOPPED tasks stay.
	Retention time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives the reaper's log (default: discard).
	Logger *slog.Logger
}

// Reaper removes stopped tasks past retention and reclaims Spot instances.
type Reaper struct {
	cfg Config
}

// New returns a Reaper for cfg.
func New(cfg Config) (*Reaper, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("reaper: Config.Store missing")
	case cfg.Retention <= 0:
		return nil, fmt.Errorf("reaper: Config.Retention must be positive, got %v", cfg.Retention)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Reaper{cfg: cfg}, nil
}

// Run reaps until ctx ends. It follows the instances for their reclaim
// times and their agents' heartbeats, and sweeps the tasks every Interval.
//
// An agent's heartbeat deadline counts from the later of its last stored
// heartbeat and when the reaper last saw it change, or saw the agent start
// running (for the agents running when the reaper starts, when it
// started): an instance registered again keeps its previous agent's
// heartbeat until the new agent writes, a reaper that takes over gives
// every agent a full timeout, and an agent whose clock is behind the
// reaper's is not taken for gone for it, so that no live agent is ever
// taken for gone on a time it had no chance to refresh.
func (r *Reaper) Run(ctx context.Context) error {
	reclaims := map[string]time.Time{} // instance ID -> ReclaimAt
	beats := map[string]time.Time{}    // instance ID -> heartbeat deadline
	seen := map[string]time.Time{}     // instance ID -> when its agent was seen running
	note := func(inst, prev *state.Instance) {
		if inst.ReclaimAt.IsZero() || inst.Status == cluster.StatusInactive {
			delete(reclaims, inst.ID)
		} else {
			reclaims[inst.ID] = inst.ReclaimAt
		}
		switch {
		case !inst.AgentRuns():
			delete(seen, inst.ID)
		case prev == nil || !prev.AgentRuns() || !inst.HeartbeatAt.Equal(prev.HeartbeatAt):
			// First seen running, or heard from: the deadline
			// counts from now too, whatever the agent's clock says.
			seen[inst.ID] = r.cfg.Now()
		}
		if at, ok := inst.HeartbeatDeadline(seen[inst.ID]); ok {
			beats[inst.ID] = at
		} else {
			delete(beats, inst.ID)
		}
	}
	f, err := store.Follow(ctx, r.cfg.Store, store.FollowConfig{
		Snapshot: func(tx store.ReadTx) error {
			// Every agent running gets a full timeout from now.
			clear(reclaims)
			clear(beats)
			clear(seen)
			all, err := store.List[*state.Instance](tx, state.KindInstances)
			for _, inst := range all {
				note(inst, nil)
			}
			return err
		},
		Options: []store.WatchOption{store.WithKinds(state.KindInstances)},
	})
	if err != nil {
		return err
	}
	defer f.Close()
	sweep := time.NewTicker(Interval)
	defer sweep.Stop()
	reclaim := time.NewTimer(time.Hour)
	defer reclaim.Stop()
	lost := time.NewTimer(time.Hour)
	defer lost.Stop()
	var buf []store.Event
	for {
		if next := earliest(reclaims); !next.IsZero() {
			reclaim.Reset(next.Sub(r.cfg.Now()))
		}
		if next := earliest(beats); !next.IsZero() {
			lost.Reset(next.Sub(r.cfg.Now()))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-f.Ready():
			evs, _, err := f.Take(buf[:0])
			if err != nil {
				return err
			}
			for _, ev := range evs {
				if inst, ok := ev.Object.(*state.Instance); ok {
					prev, _ := ev.Prev.(*state.Instance)
					note(inst, prev)
				} else {
					delete(reclaims, ev.ID)
					delete(beats, ev.ID)
					delete(seen, ev.ID)
				}
			}
			clear(evs)
			buf = evs
		case <-reclaim.C:
			now := r.cfg.Now()
			for id, at := range reclaims {
				if at.After(now) {
					continue
				}
				delete(reclaims, id) // its event brings it back if the write fails
				if err := r.reclaimSpot(ctx, id); err != nil && ctx.Err() == nil {
					r.cfg.Logger.Warn("spot interruption: cannot reclaim the instance", "instance", id, "err", err)
				}
			}
		case <-lost.C:
			now := r.cfg.Now()
			for id, at := range beats {
				if at.After(now) {
					continue
				}
				// A heartbeat or the write below brings it back with
				// its event.
				delete(beats, id)
				if err := r.markLost(ctx, id, seen[id]); err != nil && ctx.Err() == nil {
					r.cfg.Logger.Warn("reaper: cannot record the instance's agent as gone", "instance", id, "err", err)
					beats[id] = now.Add(lostRetry)
				}
			}
		case <-sweep.C:
			if err := r.sweep(ctx); err != nil {
				return err
			}
		}
	}
}

// earliest returns the earliest of times, zero when there is none.
func earliest(times map[string]time.Time) time.Time {
	var next time.Time
	for _, at := range times {
		if next.IsZero() || at.Before(next) {
			next = at
		}
	}
	return next
}

// markLost records that the agent of instance id is gone when its
// heartbeat deadline (counted from seen at the earliest) has passed:
// AgentConnected false with the AgentLost, and any engine outage its agent
// recorded cleared (it went with the agent). Its tasks keep their last
// reported status, as ECS keeps them while an agent is disconnected; its
// agent, when it writes again, clears it all.
func (r *Reaper) markLost(ctx context.Context, id string, seen time.Time) error {
	var lost *cluster.AgentLost
	err := r.cfg.Store.Update(ctx, func(tx store.Tx) error {
		lost = nil
		inst, err := store.Get[*state.Instance](tx, state.KindInstances, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil // deregistered meanwhile
		}
		if err != nil {
			return err
		}
		now := r.cfg.Now()
		at, ok := inst.HeartbeatDeadline(seen)
		if !ok || at.After(now) {
			return nil // heard from meanwhile, or no longer running
		}
		last := inst.HeartbeatAt
		if seen.After(last) {
			last = seen
		}
		reason := fmt.Sprintf("agent silent: no heartbeat for %v (%d times its interval of %v); taken for disconnected",
			now.Sub(last).Round(time.Second), state.HeartbeatMisses, inst.HeartbeatInterval)
		next := inst.Copy()
		next.AgentConnected, next.EngineOutage = false, nil
		next.AgentLost = &cluster.AgentLost{LastHeartbeat: inst.HeartbeatAt, Reason: reason}
		next.DateChange(&inst.ContainerInstance, now)
		lost = next.AgentLost
		return tx.Update(next)
	})
	if err == nil && lost != nil {
		r.cfg.Logger.Warn("reaper: agent silent; the instance is disconnected until its agent writes again",
			"instance", id, "lastHeartbeat", lost.LastHeartbeat, "reason", lost.Reason)
	}
	return err
}

// sweep removes STOPPED tasks older than the retention, and the samples of
// tasks that are gone or stopped.
func (r *Reaper) sweep(ctx context.Context) error {
	cutoff := r.cfg.Now().Add(-r.cfg.Retention)
	return r.cfg.Store.Update(ctx, func(tx store.Tx) error {
		tasks, err := store.List[*state.Task](tx, state.KindTasks)
		if err != nil {
			return err
		}
		live := map[string]bool{}
		for _, t := range tasks {
			if t.LastStatus != task.Stopped {
				live[t.ID()] = true
			}
			if t.LastStatus == task.Stopped && t.StoppedAt.Before(cutoff) {
				if err := tx.Delete(state.KindTasks, t.ID()); err != nil {
					return err
				}
			}
		}
		samples, err := store.List[*state.Sample](tx, state.KindSamples)
		if err != nil {
			return err
		}
		for _, s := range samples {
			if !live[s.TaskID] {
				if err := tx.Delete(state.KindSamples, s.TaskID); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// reclaimSpot ends a Spot interruption whose notice is over: the tasks
// left on the instance stop with stop code SpotInterruption, and the
// instance is deregistered. When its agent is not connected (the host went
// while no process ran, and will not register again), no agent will report
// the tasks STOPPED: the reaper records them so itself.
func (r *Reaper) reclaimSpot(ctx context.Context, id string) error {
	return r.cfg.Store.Update(ctx, func(tx store.Tx) error {
		inst, err := store.Get[*state.Instance](tx, state.KindInstances, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil // deregistered meanwhile
		}
		if err != nil {
			return err
		}
		if inst.Status == cluster.StatusInactive || inst.ReclaimAt.IsZero() || inst.ReclaimAt.After(r.cfg.Now()) {
			return nil
		}
		tasks, err := state.TasksOn(tx, id)
		if err != nil {
			return err
		}
		now := r.cfg.Now()
		if err := state.Deregister(tx, inst, tasks, task.SpotInterruption, SpotStoppedReason, "Spot capacity reclaimed", now); err != nil {
			return err
		}
		if inst.AgentRuns() {
			// Its agent runs (cut off from its engine, with an outage):
			// it stops the tasks, and reports them STOPPED.
			return nil
		}
		// No agent will ever report them: the capacity, and the containers
		// with it, are gone. ECS shows them STOPPED; so does the reaper.
		return stopLost(tx, id, SpotStoppedReason, now)
	})
}

// stopLost records the tasks still on instance id, whose agent is not
// connected and whose capacity is gone, as STOPPED: their containers
// stopped for reason, their reservation given back.
func stopLost(tx store.Tx, id, reason string, now time.Time) error {
	tasks, err := state.TasksOn(tx, id)
	if err != nil {
		return err
	}
	inst, err := store.Get[*state.Instance](tx, state.KindInstances, id)
	if err != nil {
		return err
	}
	nextInst := inst.Copy()
	for _, t := range tasks {
		next := t.Copy()
		for _, c := range next.Containers {
			if c.LastStatus != task.ContainerStopped {
				if err := next.SetContainerStopped(c.Name, nil, reason, now); err != nil {
					return err
				}
			}
		}
		if !next.Released {
			if err := nextInst.RemoveTask(next.Group, next.Reserved); err != nil && !errors.Is(err, cluster.ErrNotReserved) {
				return fmt.Errorf("reaper: give back the reservation of task %s: %w", t.ID(), err)
			}
			next.Released = true
		}
		if err := next.SetLastStatus(task.Stopped, now); err != nil {
			return err
		}
		if err := tx.Update(next); err != nil {
			return err
		}
	}
	return tx.Update(nextInst)
}
