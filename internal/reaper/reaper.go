// Package reaper is the loop that removes what has had its time: STOPPED
// tasks past their retention, the samples of tasks that no longer run, and
// the capacity of interrupted Spot instances whose notice is over
// (state.Instance.ReclaimAt). Every deadline it acts on is read from the
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
// times, and sweeps the tasks every Interval.
func (r *Reaper) Run(ctx context.Context) error {
	reclaims := map[string]time.Time{} // instance ID -> ReclaimAt
	note := func(inst *state.Instance) {
		if inst.ReclaimAt.IsZero() || inst.Status == cluster.StatusInactive {
			delete(reclaims, inst.ID)
			return
		}
		reclaims[inst.ID] = inst.ReclaimAt
	}
	f, err := store.Follow(ctx, r.cfg.Store, store.FollowConfig{
		Snapshot: func(tx store.ReadTx) error {
			clear(reclaims)
			all, err := store.List[*state.Instance](tx, state.KindInstances)
			for _, inst := range all {
				note(inst)
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
	var buf []store.Event
	for {
		var next time.Time
		for _, at := range reclaims {
			if next.IsZero() || at.Before(next) {
				next = at
			}
		}
		if !next.IsZero() {
			reclaim.Reset(next.Sub(r.cfg.Now()))
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
					note(inst)
				} else {
					delete(reclaims, ev.ID)
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
		case <-sweep.C:
			if err := r.sweep(ctx); err != nil {
				return err
			}
		}
	}
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
		if inst.AgentConnected || inst.EngineOutage != nil {
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
