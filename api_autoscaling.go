package stevedore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stevedore-io/stevedore/autoscaling"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

// DefaultScalingEvaluationPeriod is how often the autoscaler evaluates the
// scaling policies (Application Auto Scaling's target tracking alarms look
// at one-minute periods).
const DefaultScalingEvaluationPeriod = time.Minute

// MetricFunc reads a custom metric of a service, for target tracking
// policies naming it (see WithMetrics). It is called once per evaluation
// period per policy, outside any lock.
type MetricFunc func(ctx context.Context, cluster, service string) (float64, error)

type scalingOptions struct {
	metrics map[string]MetricFunc
	period  time.Duration
}

// WithMetrics registers custom metrics by name, for the Metric of target
// tracking policies. The names of the predefined metrics are taken.
func WithMetrics(metrics map[string]MetricFunc) Option {
	return func(o *options) error {
		for name, f := range metrics {
			switch {
			case name == "":
				return invalid("metrics", "a metric name must not be empty")
			case isPredefinedMetric(name):
				return invalid("metrics", "%s is a predefined metric", name)
			case f == nil:
				return invalid("metrics", "metric %s has a nil function", name)
			}
			if o.scaling.metrics == nil {
				o.scaling.metrics = map[string]MetricFunc{}
			}
			o.scaling.metrics[name] = f
		}
		return nil
	}
}

// WithScalingEvaluationPeriod evaluates the scaling policies every d
// (default DefaultScalingEvaluationPeriod).
func WithScalingEvaluationPeriod(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return invalid("scalingEvaluationPeriod", "must be positive, got %v", d)
		}
		o.scaling.period = d
		return nil
	}
}

func isPredefinedMetric(name string) bool {
	return name == autoscaling.ECSServiceAverageCPUUtilization || name == autoscaling.ECSServiceAverageMemoryUtilization
}

// RegisterScalableTargetInput makes a service's desired count scalable
// within [MinCapacity, MaxCapacity], as Application Auto Scaling's
// RegisterScalableTarget for the ecs:service:DesiredCount dimension.
type RegisterScalableTargetInput struct {
	Cluster     string
	Service     string
	MinCapacity int
	MaxCapacity int
}

// RegisterScalableTarget makes a REPLICA service scalable. Registering it
// again changes its bounds and keeps its policies.
func (o *Orchestrator) RegisterScalableTarget(ctx context.Context, in RegisterScalableTargetInput) error {
	if err := o.checkOpen(); err != nil {
		return err
	}
	target := autoscaling.ScalableTarget{MinCapacity: in.MinCapacity, MaxCapacity: in.MaxCapacity}
	if err := target.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return o.store.Update(ctx, func(tx store.Tx) error {
		s, err := o.getService(tx, in.Cluster, in.Service)
		if err != nil {
			return err
		}
		if s.SchedulingStrategy != service.Replica {
			return invalid("service", "%s is a %s service; only REPLICA services scale", in.Service, s.SchedulingStrategy)
		}
		cur, err := o.getScaling(tx, in.Cluster, in.Service)
		if errors.Is(err, ErrNotFound) {
			return tx.Create(&state.Scaling{Cluster: in.Cluster, Service: in.Service, Target: target})
		}
		if err != nil {
			return err
		}
		next := cur.Copy()
		next.Target = target
		return tx.Update(next)
	})
}

// DeregisterScalableTarget stops scaling a service and deletes its
// policies. The service keeps its desired count.
func (o *Orchestrator) DeregisterScalableTarget(ctx context.Context, clusterName, serviceName string) error {
	return o.store.Update(ctx, func(tx store.Tx) error {
		if _, err := o.getScaling(tx, clusterName, serviceName); err != nil {
			return err
		}
		return tx.Delete(state.KindScaling, state.ServiceKey(clusterName, serviceName))
	})
}

// PutScalingPolicyInput adds or replaces (by name) a target tracking
// policy of a service whose scalable target is registered.
type PutScalingPolicyInput struct {
	Cluster string
	Service string
	Policy  autoscaling.TargetTrackingPolicy
}

// PutScalingPolicy adds or replaces a policy. The policy's Metric must be
// predefined or registered with WithMetrics. It returns the policy with its
// defaults set. An invalid policy changes nothing.
func (o *Orchestrator) PutScalingPolicy(ctx context.Context, in PutScalingPolicyInput) (*autoscaling.TargetTrackingPolicy, error) {
	if err := o.checkOpen(); err != nil {
		return nil, err
	}
	if err := in.Policy.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if _, ok := o.scaler.metrics[in.Policy.Metric]; !ok && !isPredefinedMetric(in.Policy.Metric) {
		return nil, invalid("metric", "%q is neither a predefined metric nor one registered with WithMetrics", in.Policy.Metric)
	}
	p := in.Policy.WithDefaults()
	err := o.store.Update(ctx, func(tx store.Tx) error {
		if _, err := o.getService(tx, in.Cluster, in.Service); err != nil {
			return err
		}
		cur, err := o.getScaling(tx, in.Cluster, in.Service)
		if err != nil {
			return err
		}
		next := cur.Copy()
		i := slices.IndexFunc(next.Policies, func(q autoscaling.TargetTrackingPolicy) bool { return q.Name == p.Name })
		if i < 0 {
			next.Policies = append(next.Policies, p)
		} else {
			next.Policies[i] = p
		}
		return tx.Update(next)
	})
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// DeleteScalingPolicy deletes a policy of a service.
func (o *Orchestrator) DeleteScalingPolicy(ctx context.Context, clusterName, serviceName, policyName string) error {
	return o.store.Update(ctx, func(tx store.Tx) error {
		cur, err := o.getScaling(tx, clusterName, serviceName)
		if err != nil {
			return err
		}
		next := cur.Copy()
		i := slices.IndexFunc(next.Policies, func(q autoscaling.TargetTrackingPolicy) bool { return q.Name == policyName })
		if i < 0 {
			return notFound("scaling policy", clusterName+"/"+serviceName+"/"+policyName)
		}
		next.Policies = slices.Delete(next.Policies, i, i+1)
		return tx.Update(next)
	})
}

// ServiceScaling describes a service's auto scaling.
type ServiceScaling struct {
	Cluster  string
	Service  string
	Target   autoscaling.ScalableTarget
	Policies []autoscaling.TargetTrackingPolicy
	// History is when the autoscaler last scaled the service out and in.
	History autoscaling.History
}

// DescribeScalingPolicies describes the scalable target and the policies
// of a service; ErrNotFound when no target is registered.
func (o *Orchestrator) DescribeScalingPolicies(ctx context.Context, clusterName, serviceName string) (*ServiceScaling, error) {
	var out ServiceScaling
	err := o.store.View(ctx, func(tx store.ReadTx) error {
		sc, err := o.getScaling(tx, clusterName, serviceName)
		if err != nil {
			return err
		}
		out = ServiceScaling{Cluster: sc.Cluster, Service: sc.Service, Target: sc.Target,
			Policies: slices.Clone(sc.Policies), History: sc.History}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

func (o *Orchestrator) getScaling(tx store.ReadTx, clusterName, serviceName string) (*state.Scaling, error) {
	sc, err := store.Get[*state.Scaling](tx, state.KindScaling, state.ServiceKey(clusterName, serviceName))
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("scalable target", clusterName+"/"+serviceName)
	}
	return sc, err
}

// autoscaler evaluates the scaling policies every period.
type autoscaler struct {
	metrics map[string]MetricFunc
	period  time.Duration

	mu  sync.Mutex
	cpu map[string]cpuReading // last reading by task ID
}

// cpuReading is a task's cumulative CPU time at a time.
type cpuReading struct {
	used time.Duration
	at   time.Time
}

func newAutoscaler(o scalingOptions) *autoscaler {
	a := &autoscaler{metrics: o.metrics, period: o.period, cpu: map[string]cpuReading{}}
	if a.period == 0 {
		a.period = DefaultScalingEvaluationPeriod
	}
	return a
}

func (a *autoscaler) run(ctx context.Context, o *Orchestrator) error {
	tick := time.NewTicker(a.period)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			if err := a.evaluate(ctx, o); err != nil && ctx.Err() == nil {
				o.log.Warn("auto scaling evaluation failed", "err", err)
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
func (a *autoscaler) evaluate(ctx context.Context, o *Orchestrator) error {
	var views []scalingView
	err := o.store.View(ctx, func(tx store.ReadTx) error {
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
		a.evaluateService(ctx, o, v, seen)
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

func (a *autoscaler) evaluateService(ctx context.Context, o *Orchestrator, v scalingView, seen map[string]bool) {
	sc := v.scaling
	log := o.log.With("cluster", sc.Cluster, "service", sc.Service)
	var usage *utilization
	decisions := make([]autoscaling.Decision, 0, len(sc.Policies))
	now := o.now()
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
			f := a.metrics[p.Metric]
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
	if err := o.setScaledCount(ctx, sc, v.desired, d, now); err != nil {
		log.Warn("auto scaling: setting the desired count failed", "desired", d.Desired, "err", err)
		return
	}
	log.Info("auto scaling: desired count set", "from", v.desired, "to", d.Desired, "reason", d.Reason)
}

// setScaledCount sets a service's desired count from was to d.Desired, as
// UpdateService does, unless the count or the scaling changed since the
// evaluation read them.
func (o *Orchestrator) setScaledCount(ctx context.Context, read *state.Scaling, was int, d autoscaling.Decision, now time.Time) error {
	return o.store.Update(ctx, func(tx store.Tx) error {
		cur, err := o.getService(tx, read.Cluster, read.Service)
		if err != nil {
			return err
		}
		sc, err := o.getScaling(tx, read.Cluster, read.Service)
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
func (a *autoscaler) utilization(tasks []runningTask, seen map[string]bool) *utilization {
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
