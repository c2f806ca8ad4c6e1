package agent

import (
	"context"
	"errors"
	"time"

	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

// statsTimeout bounds one sampling round's reads of the runtime.
const statsTimeout = 10 * time.Second

// sampler writes the resource use of the instance's running tasks that
// belong to scalable services (state.Sample), every Config.SampleInterval:
// the service scaler reads the samples from the store, never the runtime.
type sampler struct {
	a *Agent
	// written are the tasks sampled in the last round: a task no longer
	// sampled has its sample deleted.
	written map[string]bool
}

// sample reads and writes the samples of tasks (the instance's tasks, as
// the session last saw them).
func (sm *sampler) sample(ctx context.Context, tasks []*state.Task) {
	scaled := map[string]bool{}
	err := sm.a.cfg.Store.View(ctx, func(tx store.ReadTx) error {
		all, err := store.List[*state.Scaling](tx, state.KindScaling)
		for _, sc := range all {
			if len(sc.Policies) > 0 {
				scaled[sc.ObjectID()] = true
			}
		}
		return err
	})
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, statsTimeout)
	defer cancel()
	var samples []*state.Sample
	for _, t := range tasks {
		if t.ServiceName == "" || t.LastStatus != task.Running || t.DesiredStatus != task.Running ||
			!scaled[state.ServiceKey(t.ClusterName(), t.ServiceName)] {
			continue
		}
		if s, ok := sm.read(ctx, t); ok {
			samples = append(samples, s)
		}
	}
	if len(samples) == 0 && len(sm.written) == 0 {
		return
	}
	now := map[string]bool{}
	err = sm.a.cfg.Store.Update(ctx, func(tx store.Tx) error {
		clear(now)
		for _, s := range samples {
			now[s.TaskID] = true
			cur, err := store.Get[*state.Sample](tx, state.KindSamples, s.TaskID)
			switch {
			case errors.Is(err, store.ErrNotFound):
				err = tx.Create(s)
			case err == nil:
				next := *s
				next.Meta = cur.Meta
				err = tx.Update(&next)
			}
			if err != nil {
				return err
			}
		}
		for id := range sm.written {
			if now[id] {
				continue
			}
			if err := tx.Delete(state.KindSamples, id); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if ctx.Err() == nil {
			sm.a.log.Warn("agent: could not write task samples", "err", err)
		}
		return
	}
	sm.written = now
}

// read sums the Stats of a task's containers.
func (sm *sampler) read(ctx context.Context, t *state.Task) (*state.Sample, bool) {
	s := &state.Sample{TaskID: t.ID(), Instance: sm.a.cfg.InstanceID}
	for _, c := range t.Containers {
		if c.RuntimeID == "" {
			continue
		}
		st, err := sm.a.cfg.Runtime.Stats(ctx, c.RuntimeID)
		if err != nil {
			return nil, false
		}
		s.CPU += st.CPUUsage
		s.Memory += st.MemoryUsage
		if st.Time.After(s.At) {
			s.At = st.Time
		}
	}
	return s, !s.At.IsZero()
}
