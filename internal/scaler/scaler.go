// Package scaler is the service auto scaling loop: every evaluation
// period it reads the scalable services (state.Scaling), computes their
// target tracking policies' metrics, and sets their desired count through
// the pure deciders of package autoscaling. CPU and memory utilization come
// from the task samples the agents write (state.Sample), custom metrics
// from the functions registered; the cooldowns from the scaling history
// stored with each service's scaling.
package scaler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/stevedore-io/stevedore/autoscaling"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

// Metric reads a custom metric of a service.
type Metric func(ctx context.Context, cluster, service string) (float64, error)

// Config is what the loop needs. Store and Period are required.
type Config struct {
	// Store holds the services, their scaling, tasks and samples.
	Store store.Store
	// Period is how often the policies are evaluated.
	Period time.Duration
	// Metrics are the custom metrics, by name.
	Metrics map[string]Metric
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives the loop's log (default: discard).
	Logger *slog.Logger
}

// New returns the loop for cfg.
func New(cfg Config) (*Scaler, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("scaler: Config.Store missing")
	case cfg.Period <= 0:
		return nil, fmt.Errorf("scaler: Config.Period must be positive, got %v", cfg.Period)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Scaler{cfg: cfg, cpu: map[string]cpuReading{}}, nil
}

// Scaler evaluates the scaling policies every period.
type Scaler struct {
	cfg Config

	mu  sync.Mutex
	cpu map[string]cpuReading // last reading by task ID
}

// cpuReading is a task's cumulative CPU time at a time.
type cpuReading struct {
	used time.Duration
	at   time.Time
}

// Run evaluates the policies every period until ctx ends.
func (a *Scaler) Run(ctx context.Context) error {
	tick := time.NewTicker(a.cfg.Period)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			if err := a.evaluate(ctx); err != nil && ctx.Err() == nil {
				a.cfg.Logger.Warn("auto scaling evaluation failed", "err", err)
			}
		}
	}
}

// scalingView is what one evaluation reads of a scalable service.
type scalingView struct {
	scaling *state.Scaling
	desired int
	running []runningTask
}

// runningTask is a running task of a scalable service with its latest
// sample (nil: none yet).
type runningTask struct {
	t      *task.Task
	sample *state.Sample
}

// evaluate reads every scalable service, computes its policies' metrics
// and applies the combined decision.
func (a *Scaler) evaluate(ctx context.Context) error {
	var views []scalingView
	err := a.cfg.Store.View(ctx, func(tx store.ReadTx) error {
		views = views[:0]
		all, err := store.List[*state.Scaling](tx, state.KindScaling)
		if err != nil || len(all) == 0 {
			return err
		}
		byService := map[string]int{}
		for _, sc := range all {
			s, err := store.Get[*state.Service](tx, state.KindServices, sc.ObjectID())
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if s.Status != service.StatusActive || len(sc.Policies) == 0 {
				continue
			}
			byService[sc.ObjectID()] = len(views)
			views = append(views, scalingView{scaling: sc, desired: s.DesiredCount})
		}
		if len(views) == 0 {
			return nil
		}
		tasks, err := store.List[*state.Task](tx, state.KindTasks)
		if err != nil {
			return err
		}
		for _, t := range tasks {
			name, ok := strings.CutPrefix(t.Group, "service:")
			if !ok || t.LastStatus != task.Running || t.DesiredStatus != task.Running {
				continue
			}
			if i, ok := byService[state.ServiceKey(t.ClusterName(), name)]; ok {
				sample, err := store.Get[*state.Sample](tx, state.KindSamples, t.ID())
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
				views[i].running = append(views[i].running, runningTask{t: t.Task.Clone(), sample: sample})
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, v := range views {
		a.evaluateService(ctx, v, seen)
	}
	a.mu.Lock()
	for id := range a.cpu {
		if !seen[id] {
			delete(a.cpu, id)
		}
	}
	a.mu.Unlock()
	return nil
}

func (a *Scaler) evaluateService(ctx context.Context, v scalingView, seen map[string]bool) {
	sc := v.scaling
	log := a.cfg.Logger.With("cluster", sc.Cluster, "service", sc.Service)
	var usage *utilization
	decisions := make([]autoscaling.Decision, 0, len(sc.Policies))
	now := a.cfg.Now()
	for _, p := range sc.Policies {
		var value float64
		switch p.Metric {
		case autoscaling.ECSServiceAverageCPUUtilization, autoscaling.ECSServiceAverageMemoryUtilization:
			if usage == nil {
				usage = a.utilization(v.running, seen)
			}
			ok := usage.memoryTasks > 0
			value = usage.memory
			if p.Metric == autoscaling.ECSServiceAverageCPUUtilization {
				ok, value = usage.cpuTasks > 0, usage.cpu
			}
			if !ok {
				// No reading yet (or no running task): hold the
				// count rather than scale in on missing data.
				decisions = append(decisions, autoscaling.Decision{Desired: v.desired, Reason: p.Metric + " has no data"})
				continue
			}
		default:
			f := a.cfg.Metrics[p.Metric]
			if f == nil {
				decisions = append(decisions, autoscaling.Decision{Desired: v.desired, Reason: p.Metric + " is not registered"})
				continue
			}
			var err error
			if value, err = f(ctx, sc.Cluster, sc.Service); err != nil {
				log.Warn("reading a custom metric failed", "metric", p.Metric, "err", err)
				decisions = append(decisions, autoscaling.Decision{Desired: v.desired, Reason: p.Metric + " failed"})
				continue
			}
		}
		decisions = append(decisions, autoscaling.Decide(sc.Target, p, v.desired, value, sc.History, now))
	}
	d := autoscaling.Combine(v.desired, decisions...)
	if d.Desired == v.desired {
		log.Debug("auto scaling: no change", "reason", d.Reason)
		return
	}
	if err := a.setScaledCount(ctx, sc, v.desired, d, now); err != nil {
		log.Warn("auto scaling: setting the desired count failed", "desired", d.Desired, "err", err)
		return
	}
	log.Info("auto scaling: desired count set", "from", v.desired, "to", d.Desired, "reason", d.Reason)
}

// setScaledCount sets a service's desired count from was to d.Desired, as
// UpdateService does, unless the count or the scaling changed since the
// evaluation read them.
func (a *Scaler) setScaledCount(ctx context.Context, read *state.Scaling, was int, d autoscaling.Decision, now time.Time) error {
	return a.cfg.Store.Update(ctx, func(tx store.Tx) error {
		cur, err := store.Get[*state.Service](tx, state.KindServices, read.ObjectID())
		if err != nil {
			return err
		}
		sc, err := store.Get[*state.Scaling](tx, state.KindScaling, read.ObjectID())
		if err != nil {
			return err
		}
		if cur.DesiredCount != was || sc.ModRevision != read.ModRevision || cur.Status != service.StatusActive {
			return nil // changed meanwhile: the next evaluation decides again
		}
		next := cur.Copy()
		s := &next.Service
		s.DesiredCount = d.Desired
		if p := s.Primary(); p != nil {
			p.DesiredCount = d.Desired
		}
		s.Steady = false
		s.AddEvent(now, fmt.Sprintf("(service %s) auto scaling: %s. Message: Successfully set desired count to %d. Change successfully fulfilled by ecs.",
			s.Name, d.Reason, d.Desired))
		nextScaling := sc.Copy()
		if d.Desired > was {
			nextScaling.History.LastScaleOut = now
		} else {
			nextScaling.History.LastScaleIn = now
		}
		if err := tx.Update(next); err != nil {
			return err
		}
		return tx.Update(nextScaling)
	})
}

// utilization is the average use of a service's running tasks, in percent
// of what they reserve, and how many tasks each average covers.
type utilization struct {
	cpu, memory           float64
	cpuTasks, memoryTasks int
}

// utilization computes the use of tasks from the samples their agents
// wrote (state.Sample). CPU is a rate between this evaluation's sample and
// the one the previous evaluation read of the same task: a task's first
// sample gives no CPU figure.
func (a *Scaler) utilization(tasks []runningTask, seen map[string]bool) *utilization {
	var u utilization
	var cpuSum, memSum float64
	for _, rt := range tasks {
		t, s := rt.t, rt.sample
		if s == nil || s.At.IsZero() {
			continue
		}
		id := t.ID()
		seen[id] = true
		if mib, err := t.Memory.MiB(); err == nil && mib > 0 {
			memSum += float64(s.Memory) / float64(uint64(mib)<<20) * 100
			u.memoryTasks++
		}
		a.mu.Lock()
		prev, had := a.cpu[id]
		a.cpu[id] = cpuReading{used: s.CPU, at: s.At}
		a.mu.Unlock()
		units, err := t.CPU.Units()
		if !had || err != nil || units <= 0 || !s.At.After(prev.at) || s.CPU < prev.used {
			continue
		}
		vcpus := float64(units) / 1024
		cpuSum += (s.CPU - prev.used).Seconds() / s.At.Sub(prev.at).Seconds() / vcpus * 100
		u.cpuTasks++
	}
	if u.cpuTasks > 0 {
		u.cpu = cpuSum / float64(u.cpuTasks)
	}
	if u.memoryTasks > 0 {
		u.memory = memSum / float64(u.memoryTasks)
	}
	return &u
}
