package service

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stevedore-io/stevedore/health"
)

// Phase is where a task is in its lifecycle, as far as the planner cares.
type Phase int

// Task phases. ECS's PROVISIONING, PENDING and ACTIVATING are all Pending;
// DEACTIVATING, STOPPING and DEPROVISIONING are Stopping.
const (
	PhasePending Phase = iota
	PhaseRunning
	PhaseStopping
	PhaseStopped
)

// TaskState is the planner's view of one task of the service.
type TaskState struct {
	ID           string
	DeploymentID string
	InstanceID   string
	Phase        Phase
	// DesiredStopped is true once someone asked the task to stop.
	DesiredStopped bool
	// ReachedRunning is true when the task was RUNNING at some point.
	ReachedRunning bool
	// Health is the task's health (worst of its essential containers).
	Health health.Status
	// HealthChecked is true when an essential container has a health check
	// (container or load-balancer); otherwise Health is not consulted.
	HealthChecked bool
	// OnDrainingInstance is true when the task's instance is DRAINING.
	OnDrainingInstance bool
	StartedAt          time.Time
	StoppedAt          time.Time
	// StoppedForHealth is true when the task was stopped because it failed
	// its health checks.
	StoppedForHealth bool
	// Placement is where the task sits for each level of Input.StopBalance,
	// in the same order.
	Placement []PlacementValue
}

// occupying reports whether the task counts towards maximumPercent: ECS
// counts tasks that are RUNNING or PENDING.
func (t *TaskState) occupying() bool { return t.Phase == PhasePending || t.Phase == PhaseRunning }

// failed reports whether the stopped task counts as a failure for the
// circuit breaker: it never reached RUNNING (stage 1) or failed its health
// checks (stage 2).
func (t *TaskState) failed() bool {
	return t.Phase == PhaseStopped && (!t.ReachedRunning || t.StoppedForHealth)
}

// InstanceState is the planner's view of a container instance, for DAEMON
// services.
type InstanceState struct {
	ID string
	// Eligible is true when the instance is ACTIVE and satisfies the
	// service's placement constraints and resource needs.
	Eligible bool
	Draining bool
	// AgentDisconnected is true while the instance's agent is not
	// connected (for example after a restart, until the instance registers
	// again): its daemon task stays, as in ECS, but none is started there.
	AgentDisconnected bool
}

// Input is everything the planner needs: the service's desired state, its
// deployments, its tasks, and the time.
type Input struct {
	Service                string
	Strategy               SchedulingStrategy
	DesiredCount           int
	Config                 DeploymentConfiguration
	HealthCheckGracePeriod time.Duration
	// Deployments of the service, primary first.
	Deployments []Deployment
	// DeploymentsBuf, when not nil, is where Plan.Deployments is built if
	// it has room (its contents are overwritten): a caller that plans
	// every service on every pass and keeps no plan passes the last one's
	// Deployments back. It must not share memory with Deployments.
	DeploymentsBuf []Deployment
	// LastCompleted is the last deployment that reached COMPLETED, the
	// rollback target of the circuit breaker (nil if none).
	LastCompleted *Deployment
	// Steady is true when the previous pass found the service steady.
	Steady bool
	// Tasks are the service's tasks, including stopped ones still retained.
	Tasks []TaskState
	// Instances matter for DAEMON services only.
	Instances []InstanceState
	// AlarmBakeTime is how long a rolling deployment with enabled
	// deployment alarms keeps watching them once all its tasks are
	// healthy, before it completes (ECS's bake time, derived from the
	// alarms' periods); 0 completes it at once.
	AlarmBakeTime time.Duration
	// DeploymentSeq is the number of the service's last deployment
	// (Service.DeploymentSeq). A deployment the planner creates, a
	// rollback, takes the next number and is named by DeploymentID.
	DeploymentSeq int
	// StopBalance is how the planner keeps the service balanced when it
	// chooses tasks to stop (scale-in, deployments, draining): the
	// service's placement strategy, level by level, as in TaskState.Placement.
	// Empty means spread over instances.
	StopBalance []BalanceKind
	// Seed drives the choice among tasks that random levels of StopBalance
	// leave equal, so that a plan is reproducible.
	Seed uint64
	// Routing is how the service's listener rules forward, as last
	// applied (blue/green strategies; nil when never applied).
	Routing *AppliedRouting
	// AZRebalancing is true when the service rebalances its tasks over
	// availability zones (availabilityZoneRebalancing ENABLED, a REPLICA
	// service with a rolling deployment whose first level of StopBalance
	// spreads over availability zones: TaskState.Placement[0].Spread is
	// a task's zone). See rebalance.
	AZRebalancing bool
	// Zones are the availability zones that can take the service's tasks
	// now (an ACTIVE instance with a connected agent there), which the
	// rebalance balances the service over.
	Zones []string
	// Rebalancing is true while a rebalance is in progress
	// (Service.Rebalancing, as the last plan left it).
	Rebalancing bool
	Now         time.Time
}

// Start asks for Count new tasks of a deployment. For DAEMON services
// InstanceID names the instance to start on.
type Start struct {
	DeploymentID   string
	TaskDefinition string
	InstanceID     string
	Count          int
	// Zone, when set, is the availability zone the tasks must go to: the
	// start of an availability-zone rebalance.
	Zone string
}

// Stop asks for one task to be stopped.
type Stop struct {
	TaskID string
	// Reason is ECS's stoppedReason wording.
	Reason string
	// Health is true when the task is replaced for failing health checks.
	Health bool
}

// Plan is what the planner decided.
type Plan struct {
	// Deployments are the service's deployments after this pass, primary first.
	Deployments []Deployment
	// LastCompleted is the rollback target after this pass.
	LastCompleted *Deployment
	// DeploymentSeq is the number of the service's last deployment after
	// this pass: Input.DeploymentSeq, plus one for a rollback.
	DeploymentSeq int
	// Steady is true when the service has reached a steady state.
	Steady bool
	Starts []Start
	Stops  []Stop
	// Events are service events in ECS's wording.
	Events []string
	// RequeueAt is when the plan may change through time alone (a health
	// grace period ends, a throttle delay passes); zero if never.
	RequeueAt time.Time
	// Rebalancing is true while an availability-zone rebalance is in
	// progress (store it in Service.Rebalancing).
	Rebalancing bool
}

// Stop reasons.
const (
	ReasonScaling   = "Scaling activity initiated by (deployment %s)"
	ReasonUnhealthy = "Task failed container health checks"
	ReasonDraining  = "Container instance is DRAINING"
	ReasonRemoved   = "Container instance is no longer eligible for this DAEMON service"
)

type planner struct {
	in      Input
	plan    Plan
	primary *Deployment
	// stopped holds the tasks this plan stops; nil until it stops one
	// (most passes stop nothing, and a service has a handful of
	// deployments, found by a scan: the planner runs for every service on
	// every pass, so it allocates as little as it can).
	stopped map[string]bool
	// hold holds tasks the replica planner must leave alone (blue/green:
	// tasks that may still get traffic); nil when none.
	hold map[string]bool
	// holdCompletion keeps the primary from completing (blue/green:
	// before CLEAN_UP).
	holdCompletion bool
	// keep names a deployment that stays listed without tasks (blue/green:
	// blue, the rollback target).
	keep string
}

// Compute is the deployment planner: a pure function of the service's state
// and the time. It applies ECS's rules: tasks RUNNING or PENDING never exceed
// floor(desired × maximumPercent / 100); healthy tasks are only stopped while
// at least ceil(desired × minimumHealthyPercent / 100) remain; unhealthy tasks
// are replaced start-first when room allows; tasks that keep failing to start
// are throttled; the circuit breaker fails (and rolls back) deployments.
func Compute(in Input) Plan {
	p := &planner{in: in}
	p.plan.Rebalancing = in.Rebalancing && in.AZRebalancing
	p.plan.Deployments = append(in.DeploymentsBuf[:0:cap(in.DeploymentsBuf)], in.Deployments...)
	if len(in.Deployments) == 0 {
		p.plan.Deployments = slices.Clone(in.Deployments) // nil or empty, as given
	}
	p.plan.DeploymentSeq = in.DeploymentSeq
	if in.LastCompleted != nil {
		lc := *in.LastCompleted
		p.plan.LastCompleted = &lc
	}
	if len(p.plan.Deployments) == 0 {
		return p.plan
	}
	p.index()
	switch {
	case in.Strategy == Replica && in.Config.Strategy.BlueGreen():
		p.blueGreen()
	case in.Strategy == Daemon:
		p.circuitBreaker()
		p.daemon()
	default:
		p.circuitBreaker()
		p.replica()
	}
	p.account()
	return p.plan
}

func (p *planner) index() {
	p.primary = &p.plan.Deployments[0]
}

// deployment returns the index in p.plan.Deployments of the deployment
// with the given ID, or -1.
func (p *planner) deployment(id string) int {
	for i := range p.plan.Deployments {
		if p.plan.Deployments[i].ID == id {
			return i
		}
	}
	return -1
}

func (p *planner) event(format string, args ...any) {
	p.plan.Events = append(p.plan.Events, fmt.Sprintf("(service %s) ", p.in.Service)+fmt.Sprintf(format, args...))
}

func (p *planner) requeue(at time.Time) {
	if !at.After(p.in.Now) {
		return
	}
	if p.plan.RequeueAt.IsZero() || at.Before(p.plan.RequeueAt) {
		p.plan.RequeueAt = at
	}
}

// healthy reports whether a task counts towards minimumHealthyPercent.
func (p *planner) healthy(t *TaskState) bool {
	if t.Phase != PhaseRunning || t.DesiredStopped || p.stopped[t.ID] {
		return false
	}
	if t.HealthChecked {
		return t.Health == health.Healthy
	}
	settled := t.StartedAt.Add(UncheckedSettleTime)
	if p.in.Now.Before(settled) {
		p.requeue(settled)
		return false
	}
	return true
}

// unhealthy reports whether a running task failed its health checks and its
// grace period is over, so it must be replaced.
func (p *planner) unhealthy(t *TaskState) bool {
	if t.Phase != PhaseRunning || t.DesiredStopped || !t.HealthChecked || t.Health != health.Unhealthy {
		return false
	}
	graceEnd := t.StartedAt.Add(p.in.HealthCheckGracePeriod)
	if p.in.Now.Before(graceEnd) {
		p.requeue(graceEnd)
		return false
	}
	return true
}

// wanted reports whether a task is desired RUNNING and not yet asked to stop.
func (p *planner) wanted(t *TaskState) bool {
	return !t.DesiredStopped && !p.stopped[t.ID] && (t.Phase == PhasePending || t.Phase == PhaseRunning)
}

func (p *planner) stop(t *TaskState, reason string, forHealth bool) {
	if p.stopped == nil {
		p.stopped = map[string]bool{}
	}
	p.stopped[t.ID] = true
	p.plan.Stops = append(p.plan.Stops, Stop{TaskID: t.ID, Reason: reason, Health: forHealth})
}

func (p *planner) counts() (occupying, healthy int) {
	for i := range p.in.Tasks {
		t := &p.in.Tasks[i]
		if t.occupying() {
			occupying++
		}
		if p.healthy(t) {
			healthy++
		}
	}
	return occupying, healthy
}

// launchAllowed applies the circuit breaker and start throttling to the
// primary deployment.
func (p *planner) launchAllowed() bool {
	if p.primary.RolloutState == RolloutFailed {
		return false
	}
	// Consecutive failures to start since the deployment began, newest first,
	// up to the last task that reached RUNNING.
	var stopped []*TaskState
	for i := range p.in.Tasks {
		t := &p.in.Tasks[i]
		if t.DeploymentID == p.primary.ID && t.Phase == PhaseStopped && !t.StoppedAt.Before(p.primary.CreatedAt) {
			stopped = append(stopped, t)
		}
	}
	slices.SortFunc(stopped, func(a, b *TaskState) int { return b.StoppedAt.Compare(a.StoppedAt) })
	// A task still on its way to STOPPED without ever running may have
	// failed to start: decide once it has stopped and can be counted, or a
	// launch now would beat the throttle.
	for i := range p.in.Tasks {
		t := &p.in.Tasks[i]
		stopping := t.Phase == PhaseStopping || (t.DesiredStopped && t.Phase != PhaseStopped)
		if t.DeploymentID == p.primary.ID && stopping && !t.ReachedRunning {
			return false
		}
	}
	failures := 0
	for _, t := range stopped {
		if t.ReachedRunning {
			break
		}
		failures++
	}
	// ECS says so once when the throttle engages, not on every pass
	// while it holds: the episode is stored in the deployment.
	delay := ThrottleDelay(failures)
	if throttled := delay > 0; throttled != p.primary.Throttled {
		p.primary.Throttled = throttled
		if throttled {
			p.event("is unable to consistently start tasks successfully.")
		}
	}
	if failures == 0 {
		return true
	}
	next := stopped[0].StoppedAt.Add(delay)
	if p.in.Now.Before(next) {
		p.requeue(next)
		return false
	}
	return true
}

// circuitBreaker fails the primary deployment when too many of its tasks
// failed or a deployment alarm fired, and rolls back when configured.
func (p *planner) circuitBreaker() {
	p.countFailures()
	if p.primary.RolloutState != RolloutInProgress {
		return
	}
	if a := p.in.Config.Alarms; a != nil && a.Enable && p.primary.AlarmFired != "" && p.primary.RollbackOf == "" {
		alarm := fmt.Sprintf(ReasonAlarm, p.primary.AlarmFired)
		p.failPrimary("ECS deployment alarms: "+alarm+".", alarm, a.Rollback,
			"ECS deployment alarms: rolling back to deploymentId %s.")
		return
	}
	cb := p.in.Config.CircuitBreaker
	if cb == nil || !cb.Enable || p.primary.FailedTasks < CircuitBreakerThreshold(p.in.DesiredCount) {
		return
	}
	p.failPrimary("ECS deployment circuit breaker: tasks failed to start.", "tasks failed to start", cb.Rollback,
		"ECS deployment circuit breaker: rolling back to deploymentId %s.")
}

// failPrimary marks the primary deployment FAILED with reason (the event
// says why) and, with rollback, starts a deployment of the last completed
// one, whose reason is rollbackReason with that deployment's ID.
func (p *planner) failPrimary(reason, why string, rollback bool, rollbackReason string) {
	p.primary.RolloutState = RolloutFailed
	p.primary.RolloutStateReason = reason
	p.primary.UpdatedAt = p.in.Now
	p.event("(deployment %s) deployment failed: %s.", p.primary.ID, why)
	lc := p.plan.LastCompleted
	if !rollback || lc == nil || lc.ID == p.primary.ID || p.primary.RollbackOf != "" {
		return
	}
	p.plan.DeploymentSeq++
	next := Deployment{
		ID:                   DeploymentID(p.in.Service, p.plan.DeploymentSeq),
		Status:               Primary,
		TaskDefinition:       lc.TaskDefinition,
		NetworkConfiguration: lc.NetworkConfiguration,
		DesiredCount:         p.in.DesiredCount,
		RolloutState:         RolloutInProgress,
		RolloutStateReason:   fmt.Sprintf(rollbackReason, lc.ID),
		RollbackOf:           p.primary.ID,
		CreatedAt:            p.in.Now,
		UpdatedAt:            p.in.Now,
	}
	p.primary.Status = Active
	p.plan.Deployments = append([]Deployment{next}, p.plan.Deployments...)
	p.index()
	p.event("(deployment %s) rolling back to deployment %s.", next.ID, lc.ID)
}

// countFailures updates the primary's count of failed tasks.
func (p *planner) countFailures() {
	failed := 0
	for i := range p.in.Tasks {
		t := &p.in.Tasks[i]
		if t.DeploymentID == p.primary.ID && t.failed() && !t.StoppedAt.Before(p.primary.CreatedAt) {
			failed++
		}
	}
	// Stopped tasks may be forgotten after their retention: never count down.
	p.primary.FailedTasks = max(p.primary.FailedTasks, failed)
}

func (p *planner) replica() {
	in := p.in
	desired := in.DesiredCount
	minHealthy, maxTotal := in.Config.Bounds(Replica, desired)
	primary := p.primary

	// Primary tasks that fulfil the desired count, and the rest that must go.
	// Most tasks are kept: room for all of them at once.
	keep := make([]*TaskState, 0, len(in.Tasks))
	var unhealthy, surplus []*TaskState
	for i := range in.Tasks {
		t := &in.Tasks[i]
		if !p.wanted(t) || p.hold[t.ID] {
			continue
		}
		switch {
		case t.DeploymentID != primary.ID || t.OnDrainingInstance:
			surplus = append(surplus, t)
		case p.unhealthy(t):
			unhealthy = append(unhealthy, t)
		default:
			keep = append(keep, t)
		}
	}
	if len(keep) > desired && !p.rebalanceHolds(keep, len(unhealthy)+len(surplus)) {
		// Cheapest to lose first: the first extra ones go, the best stay.
		extra := len(keep) - desired
		p.stopOrder(keep, extra)
		surplus = append(surplus, keep[:extra]...)
		keep = keep[extra:]
	}

	occupying, healthy := p.counts()
	need := desired - len(keep)
	room := maxTotal - occupying
	launch := p.launchAllowed()

	// Unhealthy tasks: start-first when maximumPercent leaves room for the
	// replacement, and stop the unhealthy task once its replacement is
	// healthy; without room, stop it to make room. Unhealthy tasks do not
	// count as healthy, so stopping them never breaks the minimum.
	healthyKeep := 0
	for _, t := range keep {
		if p.healthy(t) {
			healthyKeep++
		}
	}
	startFirst := 0
	if launch {
		startFirst = min(need, max(room, 0))
	}
	for _, t := range unhealthy {
		switch {
		case startFirst > 0:
			startFirst-- // its replacement starts in this pass
		case healthyKeep >= desired, !launch, room <= 0 && len(keep) < desired:
			p.stop(t, ReasonUnhealthy, true)
			p.event("(task %s) failed container health checks.", t.ID)
		}
	}

	// Surplus tasks (older deployments, draining instances, scale-in):
	// those not counted healthy go at once, healthy ones within the minimum.
	budget := healthy - minHealthy
	p.stopOrder(surplus, p.countUnhealthy(surplus)+max(budget, 0))
	var stopped []string
	for _, t := range surplus {
		reason := fmt.Sprintf(ReasonScaling, primary.ID)
		if t.OnDrainingInstance {
			reason = ReasonDraining
		}
		if !p.healthy(t) {
			p.stop(t, reason, false)
			stopped = append(stopped, t.ID)
			continue
		}
		if budget <= 0 {
			break
		}
		budget--
		p.stop(t, reason, false)
		stopped = append(stopped, t.ID)
	}
	if len(stopped) > 0 {
		p.event("has stopped %d running tasks: %s.", len(stopped), taskList(stopped))
	}

	// Launch what is missing, within maximumPercent.
	if need > 0 && launch {
		if n := min(need, room); n > 0 {
			p.plan.Starts = append(p.plan.Starts, Start{DeploymentID: primary.ID, TaskDefinition: primary.TaskDefinition, Count: n})
		}
	}
	p.rebalance(keep, len(unhealthy)+len(surplus), minHealthy, maxTotal, launch)
}

func (p *planner) daemon() {
	in := p.in
	primary := p.primary
	eligible, disconnected := map[string]bool{}, map[string]bool{}
	for _, inst := range in.Instances {
		if inst.Eligible && !inst.Draining {
			eligible[inst.ID] = true
			disconnected[inst.ID] = inst.AgentDisconnected
		}
	}
	byInstance := map[string][]*TaskState{}
	for i := range in.Tasks {
		t := &in.Tasks[i]
		if t.occupying() || t.Phase == PhaseStopping {
			byInstance[t.InstanceID] = append(byInstance[t.InstanceID], t)
		}
	}
	// An instance whose agent is away counts while its task is there.
	desired := 0
	for id := range eligible {
		if !disconnected[id] || len(byInstance[id]) > 0 {
			desired++
		}
	}
	primary.DesiredCount = desired
	minHealthy, maxTotal := in.Config.Bounds(Daemon, desired)
	occupying, healthy := p.counts()
	budget := healthy - minHealthy
	launch := p.launchAllowed()

	var stopped []string
	stop := func(t *TaskState, reason string, forHealth bool) {
		p.stop(t, reason, forHealth)
		stopped = append(stopped, t.ID)
	}
	instances := make([]string, 0, len(byInstance))
	for id := range byInstance {
		instances = append(instances, id)
	}
	slices.Sort(instances)
	// Instances that left the service: stop everything there.
	for _, id := range instances {
		if eligible[id] {
			continue
		}
		for _, t := range byInstance[id] {
			if p.wanted(t) {
				reason := ReasonRemoved
				if t.OnDrainingInstance {
					reason = ReasonDraining
				}
				stop(t, reason, false)
			}
		}
	}
	ids := make([]string, 0, len(eligible))
	for id := range eligible {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	room := maxTotal - occupying
	var starts []Start
	for _, id := range ids {
		var current, old []*TaskState
		busy := false
		for _, t := range byInstance[id] {
			switch {
			case !p.wanted(t):
				busy = true // still stopping: one task per instance
			case p.unhealthy(t):
				stop(t, ReasonUnhealthy, true)
				p.event("(task %s) failed container health checks.", t.ID)
				busy = true
			case t.DeploymentID == primary.ID && len(current) == 0:
				current = append(current, t)
			default:
				old = append(old, t)
			}
		}
		p.stopOrder(old, len(old))
		for _, t := range old {
			if p.healthy(t) {
				if budget <= 0 {
					busy = true
					continue
				}
				budget--
			}
			stop(t, fmt.Sprintf(ReasonScaling, primary.ID), false)
			busy = true
		}
		if len(current) > 0 || busy || !launch || room <= 0 || disconnected[id] {
			continue
		}
		room--
		starts = append(starts, Start{DeploymentID: primary.ID, TaskDefinition: primary.TaskDefinition, InstanceID: id, Count: 1})
	}
	if len(stopped) > 0 {
		p.event("has stopped %d running tasks: %s.", len(stopped), taskList(stopped))
	}
	p.plan.Starts = append(p.plan.Starts, starts...)
}

// account refreshes deployment counts, completes the primary when the
// service converged, drops drained deployments and reports steady state.
func (p *planner) account() {
	in := p.in
	for i := range p.plan.Deployments {
		d := &p.plan.Deployments[i]
		d.PendingCount, d.RunningCount, d.HealthyCount = 0, 0, 0
	}
	// stopping counts, per deployment (by index), the tasks on their way
	// to STOPPED.
	var stoppingBuf [4]int
	stopping := stoppingBuf[:0]
	if n := len(p.plan.Deployments); n <= len(stoppingBuf) {
		stopping = stoppingBuf[:n]
	} else {
		stopping = make([]int, n)
	}
	occupyingOld := 0
	for i := range in.Tasks {
		t := &in.Tasks[i]
		di := p.deployment(t.DeploymentID)
		if di < 0 {
			continue
		}
		d := &p.plan.Deployments[di]
		if t.DesiredStopped || p.stopped[t.ID] {
			if t.Phase != PhaseStopped {
				stopping[di]++
			}
			if d != p.primary && t.occupying() {
				occupyingOld++
			}
			continue
		}
		switch t.Phase {
		case PhasePending:
			d.PendingCount++
		case PhaseRunning:
			d.RunningCount++
			if p.healthy(t) {
				d.HealthyCount++
			}
		case PhaseStopping:
			stopping[di]++
		}
		if d != p.primary && t.occupying() {
			occupyingOld++
		}
	}
	primary := p.primary
	if in.Strategy == Replica {
		primary.DesiredCount = in.DesiredCount
	}
	converged := !p.holdCompletion && primary.HealthyCount == primary.DesiredCount &&
		primary.RunningCount == primary.DesiredCount &&
		primary.PendingCount == 0 && occupyingOld == 0 && !p.starting()
	if primary.RolloutState == RolloutInProgress {
		converged = p.alarmsBaked(primary, converged)
	}
	if converged && primary.RolloutState == RolloutInProgress {
		primary.RolloutState = RolloutCompleted
		primary.RolloutStateReason = "ECS deployment " + primary.ID + " completed."
		primary.UpdatedAt = in.Now
		lc := *primary
		p.plan.LastCompleted = &lc
		p.event("(deployment %s) deployment completed.", primary.ID)
	}
	// Older deployments leave once none of their tasks remains.
	kept := p.plan.Deployments[:1]
	for i, d := range p.plan.Deployments[1:] {
		d.Status = Active
		failedVisible := d.RolloutState == RolloutFailed && p.primary.RolloutState == RolloutInProgress
		// A rolled-back blue/green deployment shows how it ended while
		// the deployment it rolled back to (an older one) is primary.
		rolledBack := d.LifecycleStage == StageRollbackSuccessful && p.primary.RolloutState == RolloutCompleted &&
			d.CreatedAt.After(p.primary.CreatedAt)
		if rolledBack {
			d.Status = Inactive
		}
		if d.PendingCount+d.RunningCount+stopping[i+1] > 0 || failedVisible || d.ID == p.keep || rolledBack {
			d.DesiredCount = d.PendingCount + d.RunningCount
			kept = append(kept, d)
		}
	}
	p.plan.Deployments = kept
	p.primary = &p.plan.Deployments[0]
	p.primary.Status = Primary
	if p.plan.LastCompleted != nil && p.plan.LastCompleted.ID == p.primary.ID {
		lc := *p.primary
		p.plan.LastCompleted = &lc
	}
	others := len(p.plan.Deployments) - 1
	for _, d := range p.plan.Deployments[1:] {
		if d.LifecycleStage == StageRollbackSuccessful {
			others--
		}
	}
	// A rebalance's start keeps a steady service steady (no zone may be
	// able to take it), but makes none steady in the middle of a
	// rebalance.
	rebalanceStart := len(p.plan.Starts) > 0 && !p.starting()
	p.plan.Steady = converged && others == 0 && len(p.plan.Stops) == 0 && stopping[0] == 0 && (!rebalanceStart || in.Steady)
	if p.plan.Steady && !in.Steady {
		p.event("has reached a steady state.")
	}
}

// alarmsBaked reports whether a converged rolling deployment may complete:
// with enabled deployment alarms it first stays in its BAKE_TIME stage for
// AlarmBakeTime, the alarms still watched (a deployment that stops being
// converged starts its bake time over). Other deployments are as converged
// says.
func (p *planner) alarmsBaked(d *Deployment, converged bool) bool {
	a := p.in.Config.Alarms
	if a == nil || !a.Enable || p.in.AlarmBakeTime <= 0 || p.in.Config.Strategy.BlueGreen() {
		return converged
	}
	if !converged {
		if d.LifecycleStage == StageBakeTime {
			d.LifecycleStage, d.StageStartedAt = "", time.Time{}
		}
		return false
	}
	if d.LifecycleStage != StageBakeTime {
		d.LifecycleStage, d.StageStartedAt = StageBakeTime, p.in.Now
	}
	if end := p.alarmBakeEnd(d, d.StageStartedAt.Add(p.in.AlarmBakeTime)); p.in.Now.Before(end) {
		p.requeue(end)
		return false
	}
	d.LifecycleStage, d.StageStartedAt = "", time.Time{}
	return true
}

// alarmBakeEnd is when the bake of deployment d, due to end at end, may
// end with its alarms watched long enough: no sooner than AlarmBakeTime
// after their present watch began (Deployment.AlarmsWatchedFrom), when
// its alarms are enabled.
func (p *planner) alarmBakeEnd(d *Deployment, end time.Time) time.Time {
	a := p.in.Config.Alarms
	if a == nil || !a.Enable || p.in.AlarmBakeTime <= 0 || d.AlarmsWatchedFrom.IsZero() || d.RollbackOf != "" {
		return end
	}
	if watched := d.AlarmsWatchedFrom.Add(p.in.AlarmBakeTime); watched.After(end) {
		return watched
	}
	return end
}

func taskList(ids []string) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = "(task " + id + ")"
	}
	return strings.Join(parts, " ")
}
