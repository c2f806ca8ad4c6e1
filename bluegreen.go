package stevedore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/store"
)

// ListenerRule is what the Orchestrator needs of a load balancer listener
// rule for blue/green deployments (package lb's *ForwardAction is one): a
// forward action over a service's two target groups whose weights it sets,
// by target group name, from 0 to 1000 (per mille of the rule's traffic).
// Services name rules in LoadBalancer.AdvancedConfiguration.
type ListenerRule interface {
	Name() string
	SetWeights(weights map[string]int) error
}

// WithListenerRules makes listener rules available to blue/green services
// by name (AdvancedConfiguration.ProductionListenerRule and
// TestListenerRule).
func WithListenerRules(rules ...ListenerRule) Option {
	return func(o *options) error {
		if o.rules == nil {
			o.rules = map[string]ListenerRule{}
		}
		for _, r := range rules {
			if r == nil || r.Name() == "" {
				return fmt.Errorf("%w: WithListenerRules: a listener rule without a name", ErrInvalid)
			}
			if _, dup := o.rules[r.Name()]; dup {
				return fmt.Errorf("%w: WithListenerRules: two listener rules named %q", ErrInvalid, r.Name())
			}
			o.rules[r.Name()] = r
		}
		return nil
	}
}

// Comparison is how a metric alarm compares its metric with its threshold.
type Comparison string

// Comparisons, as in CloudWatch.
const (
	GreaterThanThreshold          Comparison = "GreaterThanThreshold"
	GreaterThanOrEqualToThreshold Comparison = "GreaterThanOrEqualToThreshold"
	LessThanThreshold             Comparison = "LessThanThreshold"
	LessThanOrEqualToThreshold    Comparison = "LessThanOrEqualToThreshold"
)

// breaches reports whether v breaches threshold under c.
func (c Comparison) breaches(v, threshold float64) bool {
	switch c {
	case GreaterThanThreshold:
		return v > threshold
	case GreaterThanOrEqualToThreshold:
		return v >= threshold
	case LessThanThreshold:
		return v < threshold
	case LessThanOrEqualToThreshold:
		return v <= threshold
	}
	return false
}

// DefaultAlarmPeriod is how often an alarm is evaluated when it does not
// say.
const DefaultAlarmPeriod = 10 * time.Second

// Alarm is a named condition watched during blue/green deployments whose
// DeploymentConfiguration.Alarms name it, from SCALE_UP through BAKE_TIME.
// It is evaluated every Period, giving one datapoint: breaching when
// Predicate returns true, or when Metric's value compares with Threshold as
// Comparison says. It fires when DatapointsToAlarm of the last
// EvaluationPeriods datapoints breach. A datapoint whose function fails
// counts as not breaching (CloudWatch's missing data), and is logged.
// Predicate and Metric are called from one goroutine per watched
// deployment, with a context that ends when the watch does.
type Alarm struct {
	Name string
	// Predicate reports whether the alarm condition holds; set it or Metric.
	Predicate func(ctx context.Context) (bool, error)
	// Metric samples a metric; set it or Predicate.
	Metric     func(ctx context.Context) (float64, error)
	Comparison Comparison
	Threshold  float64
	// Period defaults to DefaultAlarmPeriod.
	Period time.Duration
	// EvaluationPeriods defaults to 1.
	EvaluationPeriods int
	// DatapointsToAlarm defaults to EvaluationPeriods.
	DatapointsToAlarm int
}

// withDefaults returns a with its defaults filled in, or an error naming
// the bad field.
func (a Alarm) withDefaults() (Alarm, error) {
	field := func(f string) string { return "alarms[" + a.Name + "]." + f }
	switch {
	case a.Name == "":
		return a, invalid("alarms.name", "is required")
	case (a.Predicate == nil) == (a.Metric == nil):
		return a, invalid(field("predicate"), "set exactly one of predicate and metric")
	case a.Metric != nil && !a.Comparison.breaches(1, 0) && !a.Comparison.breaches(0, 1):
		return a, invalid(field("comparison"), "must be GreaterThanThreshold, GreaterThanOrEqualToThreshold, LessThanThreshold or LessThanOrEqualToThreshold, got %q", a.Comparison)
	case a.Period < 0:
		return a, invalid(field("period"), "must not be negative, got %v", a.Period)
	case a.EvaluationPeriods < 0 || a.DatapointsToAlarm < 0:
		return a, invalid(field("evaluationPeriods"), "must not be negative")
	}
	if a.Period == 0 {
		a.Period = DefaultAlarmPeriod
	}
	if a.EvaluationPeriods == 0 {
		a.EvaluationPeriods = 1
	}
	if a.DatapointsToAlarm == 0 {
		a.DatapointsToAlarm = a.EvaluationPeriods
	}
	if a.DatapointsToAlarm > a.EvaluationPeriods {
		return a, invalid(field("datapointsToAlarm"), "must not exceed evaluationPeriods (%d), got %d", a.EvaluationPeriods, a.DatapointsToAlarm)
	}
	return a, nil
}

// WithAlarms registers alarms that services' deployment configurations can
// name (DeploymentConfiguration.Alarms.AlarmNames).
func WithAlarms(alarms ...Alarm) Option {
	return func(o *options) error {
		if o.alarms == nil {
			o.alarms = map[string]Alarm{}
		}
		for _, a := range alarms {
			a, err := a.withDefaults()
			if err != nil {
				return fmt.Errorf("WithAlarms: %w", err)
			}
			if _, dup := o.alarms[a.Name]; dup {
				return fmt.Errorf("%w: WithAlarms: two alarms named %q", ErrInvalid, a.Name)
			}
			o.alarms[a.Name] = a
		}
		return nil
	}
}

// alarmWindow keeps an alarm's last datapoints.
type alarmWindow struct {
	breaching []bool // oldest first, at most EvaluationPeriods
}

// add records a datapoint and reports whether the alarm fires.
func (w *alarmWindow) add(a Alarm, breaching bool) bool {
	w.breaching = append(w.breaching, breaching)
	if len(w.breaching) > a.EvaluationPeriods {
		w.breaching = w.breaching[1:]
	}
	n := 0
	for _, b := range w.breaching {
		if b {
			n++
		}
	}
	return n >= a.DatapointsToAlarm
}

// alarmBakeTime is the bake time of a rolling deployment with alarms: the
// longest time one of its alarms takes to fire (EvaluationPeriods periods),
// plus one period, so that a verdict due when the bake time would end still
// reaches the deployment.
func (o *Orchestrator) alarmBakeTime(a *service.DeploymentAlarms) time.Duration {
	if a == nil || !a.Enable {
		return 0
	}
	var bake time.Duration
	for _, name := range a.AlarmNames {
		if al, ok := o.alarms[name]; ok {
			bake = max(bake, time.Duration(al.EvaluationPeriods+1)*al.Period)
		}
	}
	return bake
}

// checkBlueGreen makes sure the alarms a service names, and the target
// groups and listener rules a blue/green service names, exist.
func (o *Orchestrator) checkBlueGreen(s *service.Service) error {
	c := s.DeploymentConfiguration
	if c.Alarms != nil {
		for i, name := range c.Alarms.AlarmNames {
			if _, ok := o.alarms[name]; !ok {
				return invalid(fmt.Sprintf("deploymentConfiguration.alarms.alarmNames[%d]", i), "no alarm %q (see WithAlarms)", name)
			}
		}
	}
	if !c.Strategy.BlueGreen() {
		// ROLLING registers every task in TargetGroup: production
		// traffic must be there already.
		for i, d := range s.Deployments {
			if d.Alternate && (i == 0 || d.RunningCount+d.PendingCount > 0) {
				return invalid("deploymentConfiguration.strategy", "cannot change to %s while deployment %s serves from the alternate target groups: deploy once more with a blue/green strategy first", c.Strategy, d.ID)
			}
		}
		return nil
	}
	for i, l := range s.LoadBalancers {
		ac := l.AdvancedConfiguration
		path := fmt.Sprintf("loadBalancers[%d].advancedConfiguration.", i)
		if o.targetGroups[ac.AlternateTargetGroup] == nil {
			return invalid(path+"alternateTargetGroupArn", "no target group %q (see WithTargetGroups)", ac.AlternateTargetGroup)
		}
		if o.rules[ac.ProductionListenerRule] == nil {
			return invalid(path+"productionListenerRule", "no listener rule %q (see WithListenerRules)", ac.ProductionListenerRule)
		}
		if ac.TestListenerRule != "" && o.rules[ac.TestListenerRule] == nil {
			return invalid(path+"testListenerRule", "no listener rule %q (see WithListenerRules)", ac.TestListenerRule)
		}
	}
	return nil
}

// trafficRetry is how soon a routing that could not be applied is tried
// again.
const trafficRetry = time.Second

// trafficController carries out the side effects of blue/green deployments
// that the planner (service.Compute) decides: it sets the weights of the
// listener rules to the routing the services' deployments want
// (service.DesiredRouting) and records the routing applied in the service,
// which lets the planner go on; and it watches the alarms of deployments
// from SCALE_UP through BAKE_TIME, recording the first that fires in the
// deployment.
type trafficController struct {
	o        *Orchestrator
	services map[string]*state.Service   // blue/green services, by key
	applied  map[string]service.Routing  // by service key, since this run started
	retry    map[string]bool             // services whose routing failed
	monitors map[string]*deploymentWatch // alarm watches, by service key
	wg       sync.WaitGroup
}

// deploymentWatch is the alarm watch of one deployment.
type deploymentWatch struct {
	deployment string
	cancel     context.CancelFunc
}

func (tc *trafficController) run(ctx context.Context, o *Orchestrator) error {
	tc.services = map[string]*state.Service{}
	tc.applied = map[string]service.Routing{}
	tc.retry = map[string]bool{}
	tc.monitors = map[string]*deploymentWatch{}
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		tc.wg.Wait()
	}()
	var initial []*state.Service
	w, err := store.ViewAndWatch(ctx, o.store, func(tx store.ReadTx) error {
		var err error
		initial, err = store.List[*state.Service](tx, state.KindServices)
		return err
	}, store.WithKinds(state.KindServices))
	if err != nil {
		return err
	}
	defer w.Close()
	for _, svc := range initial {
		tc.reconcile(ctx, svc)
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	armed := false // the timer runs for the retries
	for {
		if len(tc.retry) > 0 && !armed {
			timer.Reset(trafficRetry)
			armed = true
		}
		select {
		case ev, ok := <-w.Events():
			if !ok {
				if err := w.Err(); err != nil && !errors.Is(err, context.Canceled) {
					return err
				}
				return nil
			}
			switch svc := ev.Object.(type) {
			case *state.Service:
				tc.reconcile(ctx, svc)
			case nil:
				tc.forget(ev.ID)
			}
		case <-timer.C:
			armed = false
			for key := range tc.retry {
				delete(tc.retry, key)
				if svc := tc.services[key]; svc != nil {
					tc.reconcile(ctx, svc)
				}
			}
		}
	}
}

func (tc *trafficController) forget(key string) {
	stopWatch(tc.monitors, key)
	delete(tc.services, key)
	delete(tc.applied, key)
	delete(tc.retry, key)
}

// reconcile applies a service's routing and starts or stops its alarm
// watch.
func (tc *trafficController) reconcile(ctx context.Context, svc *state.Service) {
	key := svc.ObjectID()
	if svc.Status == service.StatusInactive || len(svc.Deployments) == 0 {
		tc.forget(key)
		return
	}
	if !svc.DeploymentConfiguration.Strategy.BlueGreen() {
		// A rolling deployment has alarms only.
		delete(tc.services, key)
		delete(tc.applied, key)
		delete(tc.retry, key)
		tc.watchAlarms(ctx, svc)
		return
	}
	tc.services[key] = svc
	want := service.DesiredRouting(svc.Deployments)
	if cur, ok := tc.applied[key]; !ok || cur != want {
		if err := tc.apply(svc, want); err != nil {
			tc.o.log.Warn("blue/green: cannot apply routing; retrying", "service", key, "err", err)
			delete(tc.applied, key)
			tc.retry[key] = true
			return
		}
		tc.applied[key] = want
	}
	if svc.Routing == nil || svc.Routing.Routing != want {
		if err := tc.record(ctx, key, want); err != nil && ctx.Err() == nil {
			tc.o.log.Warn("blue/green: cannot record routing; retrying", "service", key, "err", err)
			tc.retry[key] = true
		}
	}
	tc.watchAlarms(ctx, svc)
}

// perMille converts a percentage to a weight out of 1000.
func perMille(pct float64) int { return int(math.Round(pct * 10)) }

// apply sets the weights of the service's listener rules.
func (tc *trafficController) apply(svc *state.Service, r service.Routing) error {
	alt := perMille(r.AlternatePercent)
	var errs []error
	for _, l := range svc.LoadBalancers {
		ac := l.AdvancedConfiguration
		if ac == nil {
			continue
		}
		set := func(rule string, altWeight int) {
			rl := tc.o.rules[rule]
			if rl == nil {
				errs = append(errs, fmt.Errorf("no listener rule %q", rule))
				return
			}
			if err := rl.SetWeights(map[string]int{l.TargetGroup: 1000 - altWeight, ac.AlternateTargetGroup: altWeight}); err != nil {
				errs = append(errs, fmt.Errorf("listener rule %s: %w", rule, err))
			}
		}
		if ac.TestListenerRule != "" {
			test := 0
			if r.TestOnAlternate {
				test = 1000
			}
			set(ac.TestListenerRule, test)
		}
		set(ac.ProductionListenerRule, alt)
	}
	return errors.Join(errs...)
}

// record writes the routing applied into the service, for the planner.
func (tc *trafficController) record(ctx context.Context, key string, r service.Routing) error {
	return tc.o.store.Update(ctx, func(tx store.Tx) error {
		cur, err := store.Get[*state.Service](tx, state.KindServices, key)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if service.DesiredRouting(cur.Deployments) != r || (cur.Routing != nil && cur.Routing.Routing == r) {
			return nil // the service moved on: its next event applies
		}
		next := cur.Copy()
		next.Routing = &service.AppliedRouting{Routing: r, AppliedAt: tc.o.now()}
		return tx.Update(next)
	})
}

// watchAlarms watches the alarms of the service's primary deployment while
// it is in progress (a blue/green one: in a stage that watches them), and
// stops watching otherwise.
func (tc *trafficController) watchAlarms(ctx context.Context, svc *state.Service) {
	key := svc.ObjectID()
	d := svc.Deployments[0]
	a := svc.DeploymentConfiguration.Alarms
	watched := a != nil && a.Enable && len(a.AlarmNames) > 0 && d.RolloutState == service.RolloutInProgress &&
		(d.LifecycleStage.AlarmsMonitored() || !svc.DeploymentConfiguration.Strategy.BlueGreen()) &&
		d.AlarmFired == "" && d.RollbackOf == ""
	wctx, ok := startWatch(ctx, tc.monitors, key, d.ID, watched)
	if !ok {
		return
	}
	for _, name := range a.AlarmNames {
		alarm, ok := tc.o.alarms[name]
		if !ok {
			continue // checked when the service was written; gone since a restart
		}
		tc.wg.Go(func() { tc.watch(wctx, key, d.ID, alarm) })
	}
}

// startWatch keeps watches[key] in step: it ends a watch of another
// deployment or one no longer wanted, and starts one of deployment when
// wanted and none runs, returning its context and true.
func startWatch(ctx context.Context, watches map[string]*deploymentWatch, key, deployment string, wanted bool) (context.Context, bool) {
	cur := watches[key]
	if cur != nil && (!wanted || cur.deployment != deployment) {
		stopWatch(watches, key)
		cur = nil
	}
	if !wanted || cur != nil {
		return nil, false
	}
	wctx, cancel := context.WithCancel(ctx)
	watches[key] = &deploymentWatch{deployment: deployment, cancel: cancel}
	return wctx, true
}

func stopWatch(watches map[string]*deploymentWatch, key string) {
	if m := watches[key]; m != nil {
		m.cancel()
		delete(watches, key)
	}
}

// watch evaluates one alarm of a deployment every period until it fires
// (and records it) or ctx ends.
func (tc *trafficController) watch(ctx context.Context, key, deployment string, a Alarm) {
	ticker := time.NewTicker(a.Period)
	defer ticker.Stop()
	var win alarmWindow
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		breaching, detail, err := sample(ctx, a)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			tc.o.log.Warn("alarm: datapoint missing", "alarm", a.Name, "service", key, "err", err)
		}
		if !win.add(a, breaching) {
			continue
		}
		reason := fmt.Sprintf("%s: %d of the last %d datapoints breaching%s", a.Name, a.DatapointsToAlarm, a.EvaluationPeriods, detail)
		tc.o.log.Info("alarm fired", "alarm", a.Name, "service", key, "deployment", deployment)
		tc.recordFailure(ctx, key, deployment, func(d *service.Deployment) *string { return &d.AlarmFired }, reason)
		return
	}
}

// recordFailure writes why deployment failed into the field of it that
// field returns, unless the deployment is no longer primary or the field is
// set; it retries until it succeeds or ctx ends.
func (tc *trafficController) recordFailure(ctx context.Context, key, deployment string, field func(*service.Deployment) *string, why string) {
	for ctx.Err() == nil {
		err := tc.o.store.Update(ctx, func(tx store.Tx) error {
			cur, err := store.Get[*state.Service](tx, state.KindServices, key)
			if err != nil {
				return err
			}
			if len(cur.Deployments) == 0 || cur.Deployments[0].ID != deployment || *field(&cur.Deployments[0]) != "" {
				return nil
			}
			next := cur.Copy()
			*field(&next.Deployments[0]) = why
			return tx.Update(next)
		})
		if err == nil || errors.Is(err, store.ErrNotFound) {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(trafficRetry):
		}
	}
}

// sample takes one datapoint of a.
func sample(ctx context.Context, a Alarm) (breaching bool, detail string, err error) {
	if a.Predicate != nil {
		breaching, err = a.Predicate(ctx)
		return breaching && err == nil, "", err
	}
	v, err := a.Metric(ctx)
	if err != nil {
		return false, "", err
	}
	return a.Comparison.breaches(v, a.Threshold), fmt.Sprintf(" (last %g, %s %g)", v, a.Comparison, a.Threshold), nil
}
