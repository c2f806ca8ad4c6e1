package service

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// DeploymentStrategy says how a service replaces the tasks of one deployment
// with those of the next.
type DeploymentStrategy string

// Deployment strategies, as in ECS.
const (
	// StrategyRolling replaces tasks within minimumHealthyPercent and
	// maximumPercent (the default).
	StrategyRolling DeploymentStrategy = "ROLLING"
	// StrategyBlueGreen starts a full set of green tasks, sends test
	// traffic to them, then shifts all production traffic at once.
	StrategyBlueGreen DeploymentStrategy = "BLUE_GREEN"
	// StrategyLinear shifts production traffic in equal steps, baking after
	// each (LinearConfiguration).
	StrategyLinear DeploymentStrategy = "LINEAR"
	// StrategyCanary shifts a canary share of production traffic, bakes,
	// then shifts the rest (CanaryConfiguration).
	StrategyCanary DeploymentStrategy = "CANARY"
)

// BlueGreen reports whether s is one of the strategies that run blue and
// green task sets side by side and shift load-balancer traffic: BLUE_GREEN,
// LINEAR and CANARY.
func (s DeploymentStrategy) BlueGreen() bool {
	return s == StrategyBlueGreen || s == StrategyLinear || s == StrategyCanary
}

// Limits of the blue/green settings, as in ECS.
const (
	// MaxBakeTime bounds every bake time (1440 minutes).
	MaxBakeTime = 1440 * time.Minute
	// MinStepPercent and MinCanaryPercent are the smallest traffic shares
	// of a LINEAR step and of a canary.
	MinStepPercent   = 3.0
	MinCanaryPercent = 0.1
)

// LinearConfiguration shapes a LINEAR deployment: production traffic moves
// to green StepPercent at a time, and each step bakes StepBakeTime before
// the next.
type LinearConfiguration struct {
	// StepPercent is the share of production traffic each step moves,
	// 3.0 to 100.0; 0 means DefaultStepPercent (10.0), as in ECS.
	StepPercent float64 `json:"stepPercent"`
	// StepBakeTime is the wait after each step, 0 to 1440 minutes (ECS's
	// stepBakeTimeInMinutes; in JSON a duration in nanoseconds, as every
	// time.Duration of the package).
	StepBakeTime time.Duration `json:"stepBakeTime,omitempty"`
}

// CanaryConfiguration shapes a CANARY deployment: CanaryPercent of
// production traffic moves to green, bakes CanaryBakeTime, then the rest
// moves.
type CanaryConfiguration struct {
	// CanaryPercent is the canary's share of production traffic, 0.1 to
	// 100.0; 0 means DefaultCanaryPercent (5.0), as in ECS.
	CanaryPercent float64 `json:"canaryPercent"`
	// CanaryBakeTime is the wait before the rest of the traffic moves, 0
	// to 1440 minutes (ECS's canaryBakeTimeInMinutes; nanoseconds in JSON).
	CanaryBakeTime time.Duration `json:"canaryBakeTime,omitempty"`
}

// ECS's defaults of the traffic shifts. A share left at 0 (not a valid
// share) is the default one, in Go as on the wire. A bake time of 0 is a
// valid one, so a time.Duration cannot leave it out: the wire (package
// ecsapi) applies the default bake time when the member is omitted, and
// DefaultLinearConfiguration and DefaultCanaryConfiguration give Go
// callers ECS's defaults in full.
const (
	DefaultStepPercent    = 10.0
	DefaultStepBakeTime   = 6 * time.Minute
	DefaultCanaryPercent  = 5.0
	DefaultCanaryBakeTime = 10 * time.Minute
)

// DefaultLinearConfiguration is ECS's default LINEAR deployment: steps of
// 10% of production traffic, each baking 6 minutes.
func DefaultLinearConfiguration() *LinearConfiguration {
	return &LinearConfiguration{StepPercent: DefaultStepPercent, StepBakeTime: DefaultStepBakeTime}
}

// DefaultCanaryConfiguration is ECS's default CANARY deployment: 5% of
// production traffic, baking 10 minutes before the rest moves.
func DefaultCanaryConfiguration() *CanaryConfiguration {
	return &CanaryConfiguration{CanaryPercent: DefaultCanaryPercent, CanaryBakeTime: DefaultCanaryBakeTime}
}

// Percent is the step's share in force: StepPercent, or
// DefaultStepPercent when it is 0.
func (l LinearConfiguration) Percent() float64 {
	if l.StepPercent == 0 {
		return DefaultStepPercent
	}
	return l.StepPercent
}

// Percent is the canary's share in force: CanaryPercent, or
// DefaultCanaryPercent when it is 0.
func (c CanaryConfiguration) Percent() float64 {
	if c.CanaryPercent == 0 {
		return DefaultCanaryPercent
	}
	return c.CanaryPercent
}

// DeploymentAlarms are the alarms watched during a deployment: a rolling
// one while it is IN_PROGRESS, a blue/green one from SCALE_UP through
// BAKE_TIME. The names refer to alarms registered with the orchestrator.
// With Enable, a firing alarm fails the deployment; with Rollback too, a
// rolling deployment rolls back to the last completed one (as the circuit
// breaker does), and a blue/green one returns production and test traffic
// to blue and stops green.
type DeploymentAlarms struct {
	AlarmNames []string `json:"alarmNames"`
	Enable     bool     `json:"enable"`
	Rollback   bool     `json:"rollback"`
}

// LifecycleStage is a stage of a blue/green deployment, as in ECS.
type LifecycleStage string

// Lifecycle stages, in order. A rolled-back deployment ends in
// ROLLBACK_IN_PROGRESS then ROLLBACK_SUCCESSFUL.
const (
	StageReconcileService           LifecycleStage = "RECONCILE_SERVICE"
	StagePreScaleUp                 LifecycleStage = "PRE_SCALE_UP"
	StageScaleUp                    LifecycleStage = "SCALE_UP"
	StagePostScaleUp                LifecycleStage = "POST_SCALE_UP"
	StageTestTrafficShift           LifecycleStage = "TEST_TRAFFIC_SHIFT"
	StagePostTestTrafficShift       LifecycleStage = "POST_TEST_TRAFFIC_SHIFT"
	StageProductionTrafficShift     LifecycleStage = "PRODUCTION_TRAFFIC_SHIFT"
	StagePostProductionTrafficShift LifecycleStage = "POST_PRODUCTION_TRAFFIC_SHIFT"
	StageBakeTime                   LifecycleStage = "BAKE_TIME"
	StageCleanUp                    LifecycleStage = "CLEAN_UP"
	StageRollbackInProgress         LifecycleStage = "ROLLBACK_IN_PROGRESS"
	StageRollbackSuccessful         LifecycleStage = "ROLLBACK_SUCCESSFUL"
)

// AlarmsMonitored reports whether alarms are watched during stage s:
// from SCALE_UP through BAKE_TIME.
func (s LifecycleStage) AlarmsMonitored() bool {
	switch s {
	case StageScaleUp, StagePostScaleUp, StageTestTrafficShift, StagePostTestTrafficShift,
		StageProductionTrafficShift, StagePostProductionTrafficShift, StageBakeTime:
		return true
	}
	return false
}

// Routing is how the listener rules of a blue/green service forward.
type Routing struct {
	// AlternatePercent is the share of production traffic (0 to 100) the
	// production listener rules send to the alternate target groups; the
	// rest goes to the load balancers' TargetGroup.
	AlternatePercent float64 `json:"alternatePercent"`
	// TestOnAlternate is true when the test listener rules forward to the
	// alternate target groups, false when to TargetGroup.
	TestOnAlternate bool `json:"testOnAlternate"`
}

// AppliedRouting is a Routing and when the orchestrator applied it.
type AppliedRouting struct {
	Routing
	AppliedAt time.Time `json:"appliedAt"`
}

// DesiredRouting is how the listener rules of a blue/green service should
// forward, given its deployments (primary first): the primary's share of
// production traffic and test traffic on the primary's target groups, the
// rest on the others. A COMPLETED primary takes everything; a primary the
// planner has not seen yet (no lifecycle stage) nothing: everything stays on
// the last deployment that completed.
func DesiredRouting(deployments []Deployment) Routing {
	if len(deployments) == 0 {
		return Routing{}
	}
	d := deployments[0]
	if d.LifecycleStage == "" && d.RolloutState == RolloutInProgress {
		d = Deployment{RolloutState: RolloutCompleted} // none completed: all on TargetGroup
		for _, o := range deployments[1:] {
			if o.RolloutState == RolloutCompleted {
				d = o
				break
			}
		}
	}
	pct, test := d.ProductionPercent, d.TestTraffic
	if d.RolloutState == RolloutCompleted {
		pct, test = 100, true
	}
	if d.Alternate {
		return Routing{AlternatePercent: pct, TestOnAlternate: test}
	}
	return Routing{AlternatePercent: 100 - pct, TestOnAlternate: !test}
}

// UsesAlternate reports whether the tasks of deployment id register in the
// alternate target groups of the service's load balancers.
func (s *Service) UsesAlternate(id string) bool {
	if !s.DeploymentConfiguration.Strategy.BlueGreen() {
		return false
	}
	for _, d := range s.Deployments {
		if d.ID == id {
			return d.Alternate
		}
	}
	return false
}

func (c DeploymentConfiguration) validateStrategy(v *validation, path string, s SchedulingStrategy) {
	switch c.Strategy {
	case "", StrategyRolling, StrategyBlueGreen, StrategyLinear, StrategyCanary:
	default:
		v.add(path+".strategy", "must be ROLLING, BLUE_GREEN, LINEAR or CANARY, got %s", quote(string(c.Strategy)))
	}
	bakeTime := func(field string, d time.Duration) {
		if d < 0 || d > MaxBakeTime {
			v.add(path+"."+field, "must be between 0 and 1440 minutes, got %v", d)
		}
	}
	bakeTime("bakeTimeInMinutes", c.BakeTime)
	if c.Strategy.BlueGreen() && s == Daemon {
		v.add(path+".strategy", "%s is not supported with the DAEMON scheduling strategy", c.Strategy)
	}
	// shift checks the configuration of a traffic-shifting strategy: set
	// exactly with its strategy, a share within [least, 100], a bake time.
	shift := func(field string, strategy DeploymentStrategy, set bool, pctField string, pct, least float64, bakeField string, bake time.Duration) {
		switch {
		case !set && c.Strategy == strategy:
			v.add(path+"."+field, "is required with the %s strategy", strategy)
		case !set:
		default:
			if c.Strategy != strategy {
				v.add(path+"."+field, "is only valid with the %s strategy", strategy)
			}
			if !(pct >= least && pct <= 100) {
				v.add(path+"."+field+"."+pctField, "must be between %.1f and 100.0, got %v", least, pct)
			}
			bakeTime(field+"."+bakeField, bake)
		}
	}
	var lc LinearConfiguration
	if c.LinearConfiguration != nil {
		lc = *c.LinearConfiguration
	}
	shift("linearConfiguration", StrategyLinear, c.LinearConfiguration != nil, "stepPercent", lc.Percent(), MinStepPercent, "stepBakeTimeInMinutes", lc.StepBakeTime)
	var cc CanaryConfiguration
	if c.CanaryConfiguration != nil {
		cc = *c.CanaryConfiguration
	}
	shift("canaryConfiguration", StrategyCanary, c.CanaryConfiguration != nil, "canaryPercent", cc.Percent(), MinCanaryPercent, "canaryBakeTimeInMinutes", cc.CanaryBakeTime)
	if a := c.Alarms; a != nil {
		if a.Enable && len(a.AlarmNames) == 0 {
			v.add(path+".alarms.alarmNames", "must name at least one alarm when enable is true")
		}
		if a.Rollback && !a.Enable {
			v.add(path+".alarms.rollback", "requires enable to be true")
		}
		for i, name := range a.AlarmNames {
			if name == "" || slices.Index(a.AlarmNames, name) < i {
				v.add(fmt.Sprintf("%s.alarms.alarmNames[%d]", path, i), "must be a distinct, non-empty name, got %s", quote(name))
			}
		}
	}
}

// validateBlueGreenLoadBalancers checks that every load balancer of a
// blue/green service has its advanced configuration.
func validateBlueGreenLoadBalancers(v *validation, lbs []LoadBalancer) {
	if len(lbs) == 0 {
		v.add("loadBalancers", "are required with the BLUE_GREEN, LINEAR and CANARY strategies")
	}
	for i, lb := range lbs {
		path := fmt.Sprintf("loadBalancers[%d].advancedConfiguration", i)
		ac := lb.AdvancedConfiguration
		if ac == nil {
			v.add(path, "is required with the BLUE_GREEN, LINEAR and CANARY strategies")
			continue
		}
		if ac.AlternateTargetGroup == "" {
			v.add(path+".alternateTargetGroupArn", "is required")
		} else if ac.AlternateTargetGroup == lb.TargetGroup {
			v.add(path+".alternateTargetGroupArn", "must differ from targetGroupArn %s", quote(lb.TargetGroup))
		}
		if ac.ProductionListenerRule == "" {
			v.add(path+".productionListenerRule", "is required")
		}
		if ac.TestListenerRule != "" && ac.TestListenerRule == ac.ProductionListenerRule {
			v.add(path+".testListenerRule", "must differ from productionListenerRule %s", quote(ac.ProductionListenerRule))
		}
	}
}

// Reasons of a failed blue/green deployment.
const (
	ReasonGreenUnhealthy = "green task %s failed its health checks"
	ReasonCircuitBreaker = "ECS deployment circuit breaker: tasks failed to start."
	ReasonAlarm          = "alarm %s"
)

// blueGreen plans a REPLICA service with the BLUE_GREEN, LINEAR or CANARY
// strategy. The primary deployment is green; blue is the last deployment
// that completed, still running beside it. Decisions that change traffic
// wait for the routing to be applied (Input.Routing) before acting on it:
// blue stops only once production and test traffic are all on green, and
// green stops after a rollback only once traffic is all back on blue.
func (p *planner) blueGreen() {
	if p.in.DesiredCount == 0 {
		// Scaling to zero (or deleting) is no deployment: nothing is
		// left to serve traffic, so nothing waits for it.
		p.circuitBreaker()
		p.replica()
		return
	}
	switch p.primary.RolloutState {
	case RolloutCompleted:
		p.blueGreenSteady()
	case RolloutFailed:
		// Halted (failed without a rollback): nothing moves until the
		// next deployment; older deployments are left as they are.
		p.holdCompletion = true
	default:
		p.blueGreenInProgress()
	}
}

// routed reports whether the applied routing is what the plan wants.
func (p *planner) routed() bool {
	return p.in.Routing != nil && p.in.Routing.Routing == DesiredRouting(p.plan.Deployments)
}

// blueGreenSteady keeps a completed deployment at its desired count as the
// rolling planner does, once traffic is all on it: the tasks of other
// deployments (a rolled-back green) stop only then.
func (p *planner) blueGreenSteady() {
	if !p.routed() {
		for i := range p.in.Tasks {
			if t := &p.in.Tasks[i]; t.DeploymentID != p.primary.ID {
				p.holdTask(t.ID)
			}
		}
	}
	p.replica()
	for i := range p.plan.Deployments[1:] {
		d := &p.plan.Deployments[i+1]
		if d.LifecycleStage == StageRollbackInProgress && p.tasksLeft(d.ID) == 0 {
			d.LifecycleStage, d.StageStartedAt, d.UpdatedAt = StageRollbackSuccessful, p.in.Now, p.in.Now
			p.event("(deployment %s) rollback completed: traffic is back on deployment %s.", d.ID, p.primary.ID)
		}
	}
}

func (p *planner) holdTask(id string) {
	if p.hold == nil {
		p.hold = map[string]bool{}
	}
	p.hold[id] = true
}

// tasksLeft counts the tasks of deployment id that have not stopped.
func (p *planner) tasksLeft(id string) int {
	n := 0
	for i := range p.in.Tasks {
		if t := &p.in.Tasks[i]; t.DeploymentID == id && t.Phase != PhaseStopped {
			n++
		}
	}
	return n
}

// blue returns the index of the blue deployment in the plan: the last
// deployment that completed, when it is not the primary; -1 when there is
// none.
func (p *planner) blue() int {
	lc := p.plan.LastCompleted
	if lc == nil {
		return -1
	}
	for i := 1; i < len(p.plan.Deployments); i++ {
		if p.plan.Deployments[i].ID == lc.ID {
			return i
		}
	}
	return -1
}

// enter moves the primary to stage s.
func (p *planner) enter(s LifecycleStage) {
	g := p.primary
	g.LifecycleStage, g.StageStartedAt, g.UpdatedAt = s, p.in.Now, p.in.Now
	p.event("(deployment %s) entered lifecycle stage %s.", g.ID, s)
}

func (p *planner) blueGreenInProgress() {
	g := p.primary
	bi := p.blue()
	// Blue stays until CLEAN_UP and is never counted for completion
	// before then; it stays listed (the rollback target) even when its
	// tasks are gone.
	p.holdCompletion = g.LifecycleStage != StageCleanUp
	if bi >= 0 && g.LifecycleStage != StageCleanUp {
		p.keep = p.plan.Deployments[bi].ID
	}
	if g.LifecycleStage == "" {
		if bi >= 0 {
			g.Alternate = !p.plan.Deployments[bi].Alternate
		} else {
			// Nothing to protect: the first deployment takes all the
			// traffic from the start.
			g.ProductionPercent, g.TestTraffic = 100, true
		}
		p.enter(StageReconcileService)
	}
	if g.LifecycleStage != StageCleanUp {
		if reason, rollback := p.greenFailure(); reason != "" {
			p.failGreen(reason, rollback, bi)
			return
		}
	}
	p.scaleGreen()
	p.keepBlue(bi)
	p.stopLeftovers(bi)
	for p.advance(bi) {
	}
}

// stopLeftovers stops the tasks of deployments other than green and blue
// (an interrupted green) once the applied routing sends their target groups
// no traffic, or green, sharing their target groups, is ready to take it.
func (p *planner) stopLeftovers(bi int) {
	g := p.primary
	if !p.routed() {
		return
	}
	blueID := ""
	if bi >= 0 {
		blueID = p.plan.Deployments[bi].ID
	}
	r := p.in.Routing.Routing
	live := func(alt bool) bool {
		if alt {
			return r.AlternatePercent > 0 || r.TestOnAlternate
		}
		return r.AlternatePercent < 100 || !r.TestOnAlternate
	}
	ready := p.greenReady()
	var stopped []string
	for i := range p.in.Tasks {
		t := &p.in.Tasks[i]
		if t.DeploymentID == g.ID || t.DeploymentID == blueID || !p.wanted(t) {
			continue
		}
		alt := false
		if di := p.deployment(t.DeploymentID); di >= 0 {
			alt = p.plan.Deployments[di].Alternate
		}
		if live(alt) && !(alt == g.Alternate && ready) {
			continue
		}
		p.stop(t, fmt.Sprintf(ReasonScaling, g.ID), false)
		stopped = append(stopped, t.ID)
	}
	if len(stopped) > 0 {
		p.event("has stopped %d running tasks: %s.", len(stopped), taskList(stopped))
	}
}

// greenFailure says why green failed, if it did, and whether the failure
// rolls back: a firing alarm (Alarms.Rollback), a green task failing its
// container or target-group health checks (always; a task's Health is the
// worse of both), the circuit breaker (its Rollback).
func (p *planner) greenFailure() (reason string, rollback bool) {
	g := p.primary
	if a := p.in.Config.Alarms; a != nil && a.Enable && g.AlarmFired != "" {
		return fmt.Sprintf(ReasonAlarm, g.AlarmFired), a.Rollback
	}
	for i := range p.in.Tasks {
		if t := &p.in.Tasks[i]; t.DeploymentID == g.ID && p.unhealthy(t) {
			return fmt.Sprintf(ReasonGreenUnhealthy, t.ID), true
		}
	}
	p.countFailures()
	if cb := p.in.Config.CircuitBreaker; cb != nil && cb.Enable && g.FailedTasks >= CircuitBreakerThreshold(p.in.DesiredCount) {
		return ReasonCircuitBreaker, cb.Rollback
	}
	return "", false
}

// failGreen fails the primary and, with rollback and a blue deployment to
// return to, makes blue the primary again: the routing then sends all
// traffic back to blue, and green stops once it does.
func (p *planner) failGreen(reason string, rollback bool, bi int) {
	g := p.primary
	g.RolloutState, g.RolloutStateReason, g.UpdatedAt = RolloutFailed, reason, p.in.Now
	p.event("(deployment %s) deployment failed: %s.", g.ID, strings.TrimSuffix(reason, "."))
	p.holdCompletion = true
	if !rollback || bi < 0 {
		return
	}
	blue := p.plan.Deployments[bi]
	g.LifecycleStage, g.StageStartedAt = StageRollbackInProgress, p.in.Now
	g.Status = Active
	p.event("(deployment %s) rolling back to deployment %s.", g.ID, blue.ID)
	blue.Status = Primary
	p.plan.Deployments = slices.Delete(p.plan.Deployments, bi, bi+1)
	p.plan.Deployments = slices.Insert(p.plan.Deployments, 0, blue)
	p.index()
	p.holdCompletion = false
	p.blueGreenSteady()
}

// keepBlue replaces blue tasks that stopped (a crash, a lost instance)
// while blue still takes production traffic, so that it serves its share
// at full strength; once all production traffic is on green, blue is only
// the rollback target and is not replaced. Blue's launches are throttled
// as the primary's are.
func (p *planner) keepBlue(bi int) {
	if bi < 0 || p.primary.ProductionPercent >= 100 {
		return
	}
	b := &p.plan.Deployments[bi]
	n, failures := 0, 0
	var lastFailure time.Time
	for i := range p.in.Tasks {
		t := &p.in.Tasks[i]
		if t.DeploymentID != b.ID {
			continue
		}
		if p.wanted(t) {
			n++
		} else if t.Phase == PhaseStopped && !t.ReachedRunning && !t.StoppedAt.Before(p.primary.CreatedAt) {
			failures++
			lastFailure = latest(lastFailure, t.StoppedAt)
		}
	}
	need := p.in.DesiredCount - n
	if need <= 0 {
		return
	}
	if failures > 0 {
		if next := lastFailure.Add(ThrottleDelay(failures)); p.in.Now.Before(next) {
			p.requeue(next)
			return
		}
	}
	p.plan.Starts = append(p.plan.Starts, Start{DeploymentID: b.ID, TaskDefinition: b.TaskDefinition, Count: need})
	p.event("(deployment %s) replacing %d stopped blue tasks: blue still serves production traffic.", b.ID, need)
}

// latest returns the later of a and b.
func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// scaleGreen starts the green tasks missing from the desired count (the
// full set, whatever maximumPercent says), throttled as rolling launches.
func (p *planner) scaleGreen() {
	g := p.primary
	n := 0
	for i := range p.in.Tasks {
		if t := &p.in.Tasks[i]; t.DeploymentID == g.ID && p.wanted(t) {
			n++
		}
	}
	if need := p.in.DesiredCount - n; need > 0 && p.launchAllowed() {
		p.plan.Starts = append(p.plan.Starts, Start{DeploymentID: g.ID, TaskDefinition: g.TaskDefinition, Count: need})
	}
}

// greenReady reports whether every desired green task is running and
// healthy.
func (p *planner) greenReady() bool {
	healthy, pending := 0, 0
	for i := range p.in.Tasks {
		t := &p.in.Tasks[i]
		if t.DeploymentID != p.primary.ID {
			continue
		}
		if p.healthy(t) {
			healthy++
		} else if p.wanted(t) && t.Phase == PhasePending {
			pending++
		}
	}
	return healthy >= p.in.DesiredCount && pending == 0 && len(p.plan.Starts) == 0
}

// advance moves the primary on by one stage when it may, and reports
// whether it did.
func (p *planner) advance(bi int) bool {
	g := p.primary
	now := p.in.Now
	switch g.LifecycleStage {
	case StageReconcileService:
		p.enter(StagePreScaleUp)
	case StagePreScaleUp:
		p.enter(StageScaleUp)
	case StageScaleUp:
		if !p.greenReady() {
			return false
		}
		p.enter(StagePostScaleUp)
	case StagePostScaleUp:
		g.TestTraffic = true
		p.enter(StageTestTrafficShift)
	case StageTestTrafficShift:
		if !p.routed() {
			return false
		}
		p.enter(StagePostTestTrafficShift)
	case StagePostTestTrafficShift:
		if g.ProductionPercent < 100 {
			g.ShiftStep = 1
			g.ProductionPercent = p.stepPercent(1)
		}
		p.enter(StageProductionTrafficShift)
		p.event("(deployment %s) shifting %v%% of production traffic.", g.ID, g.ProductionPercent)
	case StageProductionTrafficShift:
		if !p.routed() {
			return false
		}
		if g.ProductionPercent >= 100 {
			p.enter(StagePostProductionTrafficShift)
			return true
		}
		since := g.StageStartedAt
		if at := p.in.Routing.AppliedAt; at.After(since) {
			since = at
		}
		if until := since.Add(p.stepBakeTime()); now.Before(until) {
			p.requeue(until)
			return false
		}
		g.ShiftStep++
		g.ProductionPercent = p.stepPercent(g.ShiftStep)
		g.StageStartedAt, g.UpdatedAt = now, now
		p.event("(deployment %s) shifting %v%% of production traffic.", g.ID, g.ProductionPercent)
		return false // wait for the routing
	case StagePostProductionTrafficShift:
		p.enter(StageBakeTime)
	case StageBakeTime:
		if until := p.alarmBakeEnd(g, g.StageStartedAt.Add(p.in.Config.BakeTime)); bi >= 0 && now.Before(until) {
			p.requeue(until)
			return false
		}
		p.enter(StageCleanUp)
		p.holdCompletion = false
		if bi >= 0 {
			blue := &p.plan.Deployments[bi]
			var stopped []string
			for i := range p.in.Tasks {
				if t := &p.in.Tasks[i]; t.DeploymentID == blue.ID && p.wanted(t) {
					p.stop(t, fmt.Sprintf(ReasonScaling, g.ID), false)
					stopped = append(stopped, t.ID)
				}
			}
			if len(stopped) > 0 {
				p.event("has stopped %d running tasks: %s.", len(stopped), taskList(stopped))
			}
		}
		return false
	default:
		return false
	}
	return true
}

// stepPercent is the primary's share of production traffic after step k
// (from 1) of its traffic shift.
func (p *planner) stepPercent(k int) float64 {
	c := p.in.Config
	switch {
	case c.Strategy == StrategyLinear && c.LinearConfiguration != nil:
		// Per-mille precision: what a load balancer's weights can say.
		return min(100, math.Round(float64(k)*c.LinearConfiguration.Percent()*10)/10)
	case c.Strategy == StrategyCanary && c.CanaryConfiguration != nil && k == 1:
		return math.Round(c.CanaryConfiguration.Percent()*10) / 10
	}
	return 100
}

// stepBakeTime is how long each production traffic-shift step bakes.
func (p *planner) stepBakeTime() time.Duration {
	c := p.in.Config
	switch {
	case c.Strategy == StrategyLinear && c.LinearConfiguration != nil:
		return c.LinearConfiguration.StepBakeTime
	case c.Strategy == StrategyCanary && c.CanaryConfiguration != nil:
		return c.CanaryConfiguration.CanaryBakeTime
	}
	return 0
}
