// Package shift is the traffic shift loop of blue/green deployments: it
// carries out the side effects the planner (service.Compute) decides. It
// sets the weights of the listener rules to the routing the services'
// deployments want (service.DesiredRouting) and records the routing applied
// in the service (state.Service.Routing, with its time), which lets the
// planner go on; and it watches the alarms of deployments from SCALE_UP
// through BAKE_TIME, recording the first that fires in the deployment
// (service.Deployment.AlarmFired). The bake timers are the planner's,
// derived from the stored times.
package shift

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/store"
)

// Rule is what the loop needs of a listener rule: a forward action over a
// service's two target groups whose weights it sets, by target group name,
// from 0 to 1000.
type Rule interface {
	Name() string
	SetWeights(weights map[string]int) error
}

// Alarm is an alarm as the loop evaluates it: one datapoint every Period,
// firing when DatapointsToAlarm of the last EvaluationPeriods breach
// (service.AlarmWindow).
type Alarm struct {
	Name              string
	Period            time.Duration
	EvaluationPeriods int
	DatapointsToAlarm int
	// Sample takes one datapoint: whether it breaches, a detail for the
	// reason, or an error (a missing datapoint, not breaching).
	Sample func(ctx context.Context) (breaching bool, detail string, err error)
}

// Config is what the loop needs. Store is required.
type Config struct {
	// Store holds the services.
	Store store.Store
	// Rules are the listener rules services name, by name.
	Rules map[string]Rule
	// Alarms are the alarms deployments name, by name.
	Alarms map[string]Alarm
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives the loop's log (default: discard).
	Logger *slog.Logger
}

// New returns the loop for cfg.
func New(cfg Config) (*Shift, error) {
	if cfg.Store == nil {
		return nil, errors.New("shift: Config.Store missing")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Shift{cfg: cfg, log: cfg.Logger}, nil
}

// trafficRetry is how soon a routing that could not be applied is tried
// again.
const trafficRetry = time.Second

// Shift applies the routing of blue/green deployments and watches the
// alarms of deployments.
type Shift struct {
	cfg      Config
	log      *slog.Logger
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

// Run follows the services until ctx ends, or the store fails.
func (tc *Shift) Run(ctx context.Context) error {
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
	f, err := store.Follow(ctx, tc.cfg.Store, store.FollowConfig{
		Snapshot: func(tx store.ReadTx) error {
			var err error
			initial, err = store.List[*state.Service](tx, state.KindServices)
			return err
		},
		Options: []store.WatchOption{store.WithKinds(state.KindServices)},
	})
	if err != nil {
		return err
	}
	defer f.Close()
	load := func() {
		keep := map[string]bool{}
		for _, svc := range initial {
			keep[svc.ObjectID()] = true
			tc.reconcile(ctx, svc)
		}
		for key := range tc.monitors {
			if !keep[key] {
				tc.forget(key)
			}
		}
		for key := range tc.services {
			if !keep[key] {
				tc.forget(key)
			}
		}
		initial = nil
	}
	load()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	armed := false // the timer runs for the retries
	var buf []store.Event
	for {
		if len(tc.retry) > 0 && !armed {
			timer.Reset(trafficRetry)
			armed = true
		}
		select {
		case <-ctx.Done():
			return nil
		case <-f.Ready():
			evs, resynced, err := f.Take(buf[:0])
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			if resynced {
				load()
			}
			for _, ev := range evs {
				switch svc := ev.Object.(type) {
				case *state.Service:
					tc.reconcile(ctx, svc)
				case nil:
					tc.forget(ev.ID)
				}
			}
			clear(evs)
			buf = evs
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

func (tc *Shift) forget(key string) {
	stopWatch(tc.monitors, key)
	delete(tc.services, key)
	delete(tc.applied, key)
	delete(tc.retry, key)
}

// reconcile applies a service's routing and starts or stops its alarm
// watch.
func (tc *Shift) reconcile(ctx context.Context, svc *state.Service) {
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
			tc.log.Warn("blue/green: cannot apply routing; retrying", "service", key, "err", err)
			delete(tc.applied, key)
			tc.retry[key] = true
			return
		}
		tc.applied[key] = want
	}
	if svc.Routing == nil || svc.Routing.Routing != want {
		if err := tc.record(ctx, key, want); err != nil && ctx.Err() == nil {
			tc.log.Warn("blue/green: cannot record routing; retrying", "service", key, "err", err)
			tc.retry[key] = true
		}
	}
	tc.watchAlarms(ctx, svc)
}

// perMille converts a percentage to a weight out of 1000.
func perMille(pct float64) int { return int(math.Round(pct * 10)) }

// apply sets the weights of the service's listener rules.
func (tc *Shift) apply(svc *state.Service, r service.Routing) error {
	alt := perMille(r.AlternatePercent)
	var errs []error
	for _, l := range svc.LoadBalancers {
		ac := l.AdvancedConfiguration
		if ac == nil {
			continue
		}
		set := func(rule string, altWeight int) {
			rl := tc.cfg.Rules[rule]
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
func (tc *Shift) record(ctx context.Context, key string, r service.Routing) error {
	return tc.cfg.Store.Update(ctx, func(tx store.Tx) error {
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
		next.Routing = &service.AppliedRouting{Routing: r, AppliedAt: tc.cfg.Now()}
		return tx.Update(next)
	})
}

// watchAlarms watches the alarms of the service's primary deployment while
// it is in progress (a blue/green one: in a stage that watches them), and
// stops watching otherwise.
func (tc *Shift) watchAlarms(ctx context.Context, svc *state.Service) {
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
	// The alarms' datapoints start over with this watch: the planner
	// bakes no sooner than a full window from now.
	tc.wg.Go(func() { tc.recordWatchStart(wctx, key, d.ID, tc.cfg.Now()) })
	for _, name := range a.AlarmNames {
		alarm, ok := tc.cfg.Alarms[name]
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
func (tc *Shift) watch(ctx context.Context, key, deployment string, a Alarm) {
	ticker := time.NewTicker(a.Period)
	defer ticker.Stop()
	win := service.AlarmWindow{EvaluationPeriods: a.EvaluationPeriods, DatapointsToAlarm: a.DatapointsToAlarm}
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		breaching, detail, err := a.Sample(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			tc.log.Warn("alarm: datapoint missing", "alarm", a.Name, "service", key, "err", err)
		}
		if !win.Add(breaching) {
			continue
		}
		reason := fmt.Sprintf("%s: %d of the last %d datapoints breaching%s", a.Name, a.DatapointsToAlarm, a.EvaluationPeriods, detail)
		tc.log.Info("alarm fired", "alarm", a.Name, "service", key, "deployment", deployment)
		tc.recordFailure(ctx, key, deployment, func(d *service.Deployment) *string { return &d.AlarmFired }, reason)
		return
	}
}

// recordWatchStart writes when the present watch of deployment's alarms
// began (service.Deployment.AlarmsWatchedFrom), unless a later start is
// recorded.
func (tc *Shift) recordWatchStart(ctx context.Context, key, deployment string, at time.Time) {
	tc.updatePrimary(ctx, key, deployment, func(d *service.Deployment) bool {
		if !d.AlarmsWatchedFrom.Before(at) {
			return false
		}
		d.AlarmsWatchedFrom = at
		return true
	})
}

// recordFailure writes why deployment failed into the field of it that
// field returns, unless the field is set.
func (tc *Shift) recordFailure(ctx context.Context, key, deployment string, field func(*service.Deployment) *string, why string) {
	tc.updatePrimary(ctx, key, deployment, func(d *service.Deployment) bool {
		if *field(d) != "" {
			return false
		}
		*field(d) = why
		return true
	})
}

// updatePrimary applies change to deployment of service key and writes it
// when change reports a change, unless the deployment is no longer
// primary; it retries until it succeeds or ctx ends.
func (tc *Shift) updatePrimary(ctx context.Context, key, deployment string, change func(*service.Deployment) bool) {
	for ctx.Err() == nil {
		err := tc.cfg.Store.Update(ctx, func(tx store.Tx) error {
			cur, err := store.Get[*state.Service](tx, state.KindServices, key)
			if err != nil {
				return err
			}
			if len(cur.Deployments) == 0 || cur.Deployments[0].ID != deployment {
				return nil
			}
			next := cur.Copy()
			if !change(&next.Deployments[0]) {
				return nil
			}
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
