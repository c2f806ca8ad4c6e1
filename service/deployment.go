package service

import (
	"errors"
	"time"

	"github.com/stevedore-io/stevedore/errdefs"
	quotepkg "github.com/stevedore-io/stevedore/internal/quote"
	"github.com/stevedore-io/stevedore/task"
)

// SchedulingStrategy says how a service decides where and how many tasks run.
type SchedulingStrategy string

// Scheduling strategies, as in ECS.
const (
	// Replica keeps DesiredCount tasks running across the cluster.
	Replica SchedulingStrategy = "REPLICA"
	// Daemon keeps exactly one task on every eligible ACTIVE instance.
	Daemon SchedulingStrategy = "DAEMON"
)

// DeploymentStatus is the role of a deployment within its service.
type DeploymentStatus string

// Deployment statuses, as in ECS.
const (
	// Primary is the newest deployment: the one the service converges to.
	Primary DeploymentStatus = "PRIMARY"
	// Active is an older deployment whose tasks are still being replaced.
	Active DeploymentStatus = "ACTIVE"
	// Inactive is a deployment all of whose tasks have been replaced.
	Inactive DeploymentStatus = "INACTIVE"
)

// RolloutState is how far a deployment has got.
type RolloutState string

// Rollout states, as in ECS.
const (
	RolloutInProgress RolloutState = "IN_PROGRESS"
	RolloutCompleted  RolloutState = "COMPLETED"
	RolloutFailed     RolloutState = "FAILED"
)

// Defaults and limits of the deployment configuration.
const (
	DefaultReplicaMinimumHealthyPercent = 100
	DefaultReplicaMaximumPercent        = 200
	DefaultDaemonMinimumHealthyPercent  = 0
	DefaultDaemonMaximumPercent         = 100

	// MaxMaximumPercent is the largest maximumPercent accepted.
	MaxMaximumPercent = 1000

	// MinCircuitBreakerThreshold and MaxCircuitBreakerThreshold clamp the
	// circuit breaker's failure threshold (half the desired count).
	MinCircuitBreakerThreshold = 3
	MaxCircuitBreakerThreshold = 200

	// UncheckedSettleTime is how long a RUNNING task without any health check
	// on an essential container must have run before it counts as healthy
	// towards minimumHealthyPercent (ECS waits 40 seconds).
	UncheckedSettleTime = 40 * time.Second

	// MaxThrottleDelay caps the delay between launches of a service whose
	// tasks keep failing to start (ECS reaches about 27 minutes).
	MaxThrottleDelay = 27 * time.Minute
	// BaseThrottleDelay is the delay after the first task that failed to start.
	BaseThrottleDelay = 5 * time.Second
)

// ErrInvalid is matched (errors.Is) by every validation error of this
// package. It is errdefs.ErrInvalid; errdefs.FieldErrors lists the
// invalid fields.
var ErrInvalid = errdefs.ErrInvalid

// validation collects the invalid fields of a request.
type validation struct {
	fields []error
}

func (v *validation) add(path, format string, args ...any) {
	v.fields = append(v.fields, errdefs.Invalid(path, format, args...))
}

// err returns the invalid fields joined, nil when there are none.
func (v *validation) err() error { return errors.Join(v.fields...) }

// quote cuts what validation errors echo (see package internal/quote).
var quote = quotepkg.Quote

// CircuitBreaker is the deployment circuit breaker: with Enable, a rolling
// deployment whose tasks keep failing to start or failing health checks is
// marked FAILED; with Rollback too, the service returns to the last
// deployment that COMPLETED.
type CircuitBreaker struct {
	Enable   bool `json:"enable"`
	Rollback bool `json:"rollback"`
}

// DeploymentConfiguration bounds a rolling deployment. Nil percentages take
// the defaults of the scheduling strategy (REPLICA 100/200, DAEMON 0/100).
//
// Strategy picks how a new deployment replaces the old one: ROLLING (the
// default) replaces tasks within the percentages; BLUE_GREEN, LINEAR and
// CANARY start a full set of new (green) tasks beside the old (blue) ones
// and shift load-balancer traffic to them (see bluegreen.go).
type DeploymentConfiguration struct {
	MinimumHealthyPercent *int            `json:"minimumHealthyPercent,omitempty"`
	MaximumPercent        *int            `json:"maximumPercent,omitempty"`
	CircuitBreaker        *CircuitBreaker `json:"deploymentCircuitBreaker,omitempty"`
	// Strategy defaults to ROLLING.
	Strategy DeploymentStrategy `json:"strategy,omitempty"`
	// BakeTime is how long the blue tasks keep running once production
	// traffic is all on green, before they stop (0 to 1440 minutes; ECS's
	// bakeTimeInMinutes; nanoseconds in JSON).
	BakeTime            time.Duration        `json:"bakeTime,omitempty"`
	LinearConfiguration *LinearConfiguration `json:"linearConfiguration,omitempty"`
	CanaryConfiguration *CanaryConfiguration `json:"canaryConfiguration,omitempty"`
	// Alarms roll back (or fail) a blue/green deployment when one of the
	// named alarms fires.
	Alarms *DeploymentAlarms `json:"alarms,omitempty"`
}

// Percentages returns the effective minimumHealthyPercent and maximumPercent.
func (c DeploymentConfiguration) Percentages(s SchedulingStrategy) (minPct, maxPct int) {
	minPct, maxPct = DefaultReplicaMinimumHealthyPercent, DefaultReplicaMaximumPercent
	if s == Daemon {
		minPct, maxPct = DefaultDaemonMinimumHealthyPercent, DefaultDaemonMaximumPercent
	}
	if c.MinimumHealthyPercent != nil {
		minPct = *c.MinimumHealthyPercent
	}
	if c.MaximumPercent != nil {
		maxPct = *c.MaximumPercent
	}
	return minPct, maxPct
}

// Effective returns a copy of c with the percentages in force filled in
// for strategy s (the defaults of s where c leaves them unset), as ECS
// describes a service: REPLICA 100/200, DAEMON 0/100 unless set, and the
// LINEAR step and CANARY shares (10% and 5% unless set). c itself is not
// changed, so that what is stored still says what the user set.
func (c DeploymentConfiguration) Effective(s SchedulingStrategy) DeploymentConfiguration {
	out := c.clone()
	minPct, maxPct := c.Percentages(s)
	out.MinimumHealthyPercent, out.MaximumPercent = &minPct, &maxPct
	if l := out.LinearConfiguration; l != nil {
		l.StepPercent = l.Percent()
	}
	if cc := out.CanaryConfiguration; cc != nil {
		cc.CanaryPercent = cc.Percent()
	}
	return out
}

// Bounds returns the rolling-deployment bounds for desired tasks: at least
// ceil(desired × minimumHealthyPercent / 100) healthy tasks, and at most
// floor(desired × maximumPercent / 100) tasks RUNNING or PENDING.
func (c DeploymentConfiguration) Bounds(s SchedulingStrategy, desired int) (minHealthy, maxTotal int) {
	minPct, maxPct := c.Percentages(s)
	minHealthy = (desired*minPct + 99) / 100
	maxTotal = desired * maxPct / 100
	return minHealthy, maxTotal
}

// Validate checks the configuration for strategy s.
func (c DeploymentConfiguration) Validate(s SchedulingStrategy) error {
	var v validation
	c.validate(&v, "deploymentConfiguration", s)
	return v.err()
}

func (c DeploymentConfiguration) validate(v *validation, path string, s SchedulingStrategy) {
	minPct, maxPct := c.Percentages(s)
	if minPct < 0 || minPct > 100 {
		v.add(path+".minimumHealthyPercent", "must be between 0 and 100, got %d", minPct)
	}
	switch {
	case s == Daemon && maxPct != DefaultDaemonMaximumPercent:
		// ECS: a DAEMON service's maximumPercent stays at 100, one task
		// per instance; its minimumHealthyPercent may be 0-100.
		v.add(path+".maximumPercent", "must be %d with the DAEMON scheduling strategy, got %d", DefaultDaemonMaximumPercent, maxPct)
	case s != Daemon && (maxPct < 100 || maxPct > MaxMaximumPercent):
		v.add(path+".maximumPercent", "must be between 100 and %d, got %d", MaxMaximumPercent, maxPct)
	}
	if cb := c.CircuitBreaker; cb != nil && cb.Rollback && !cb.Enable {
		v.add(path+".deploymentCircuitBreaker.rollback", "requires enable to be true")
	}
	c.validateStrategy(v, path, s)
}

// CircuitBreakerThreshold is the number of failed tasks that trips the
// circuit breaker of a deployment of desired tasks: half of desired, rounded
// up, clamped to [3, 200].
func CircuitBreakerThreshold(desired int) int {
	t := (desired + 1) / 2
	return max(MinCircuitBreakerThreshold, min(t, MaxCircuitBreakerThreshold))
}

// ThrottleDelay is how long the scheduler waits before launching again after
// failures consecutive tasks stopped before reaching RUNNING: nothing for the
// first, then 5 s doubling up to MaxThrottleDelay.
func ThrottleDelay(failures int) time.Duration {
	if failures <= 1 {
		return 0
	}
	d := BaseThrottleDelay
	for i := 2; i < failures && d < MaxThrottleDelay; i++ {
		d *= 2
	}
	return min(d, MaxThrottleDelay)
}

// Deployment is one task-definition revision a service runs or ran.
type Deployment struct {
	ID             string           `json:"id"`
	Status         DeploymentStatus `json:"status"`
	TaskDefinition string           `json:"taskDefinition"`
	DesiredCount   int              `json:"desiredCount"`
	PendingCount   int              `json:"pendingCount"`
	RunningCount   int              `json:"runningCount"`
	// HealthyCount is the number of RUNNING tasks that count as healthy.
	HealthyCount int `json:"healthyCount"`
	// FailedTasks counts tasks of this deployment that failed to reach
	// RUNNING or failed their health checks (what the circuit breaker counts).
	FailedTasks        int          `json:"failedTasks"`
	RolloutState       RolloutState `json:"rolloutState"`
	RolloutStateReason string       `json:"rolloutStateReason,omitempty"`
	CreatedAt          time.Time    `json:"createdAt"`
	UpdatedAt          time.Time    `json:"updatedAt"`
	// NetworkConfiguration is the network configuration the deployment's
	// tasks start with. Copies of a Deployment share it, and it is never
	// changed in place (a change makes a new deployment): Deployment values
	// stay comparable with ==. Service.Clone copies it.
	NetworkConfiguration *task.NetworkConfiguration `json:"networkConfiguration,omitempty"`

	// The fields below are used by the BLUE_GREEN, LINEAR and CANARY
	// strategies only.

	// LifecycleStage is the stage a blue/green deployment has reached.
	LifecycleStage LifecycleStage `json:"lifecycleStage,omitempty"`
	// StageStartedAt is when the deployment entered LifecycleStage, or
	// its current traffic-shift step.
	StageStartedAt time.Time `json:"stageStartedAt,omitzero"`
	// Alternate is true when the deployment's tasks serve from the
	// alternate target groups of the service's load balancers
	// (AdvancedConfiguration.AlternateTargetGroup): the two groups swap
	// roles from one deployment to the next.
	Alternate bool `json:"usesAlternateTargetGroups,omitempty"`
	// ProductionPercent is the share of production traffic the
	// deployment's target groups take (0 to 100).
	ProductionPercent float64 `json:"productionTrafficPercent,omitempty"`
	// TestTraffic is true when the test listener rules forward to the
	// deployment's target groups.
	TestTraffic bool `json:"testTraffic,omitempty"`
	// ShiftStep counts the production traffic-shift steps taken (LINEAR and
	// CANARY).
	ShiftStep int `json:"shiftStep,omitempty"`
	// RollbackOf is the ID of the failed deployment this one rolls back
	// (circuit breaker or alarms of a rolling deployment). A rollback is
	// not rolled back in turn, and its alarms are not watched.
	RollbackOf string `json:"rollbackOf,omitempty"`
	// AlarmFired names the alarm that fired during the deployment and says
	// why, when one did.
	AlarmFired string `json:"alarmFired,omitempty"`
	// AlarmsWatchedFrom is when the present watch of the deployment's
	// alarms began: written by the loop that watches them when it starts
	// (again), and set to the start of a process that opens a data
	// directory, whose earlier watches died with the process before it.
	// An alarm's datapoints live with its watch, so a bake with alarms
	// ends no sooner than the alarm bake time after it: a restart during
	// the bake does not let the deployment complete with its alarms
	// watched for less than their window. Zero: not recorded.
	AlarmsWatchedFrom time.Time `json:"alarmsWatchedFrom,omitzero"`
	// Throttled is true while the deployment's launches are throttled:
	// its tasks keep failing to start (ThrottleDelay is not zero). It
	// ends when one of its tasks reaches RUNNING. The service's event
	// "is unable to consistently start tasks successfully." marks each
	// time it begins.
	Throttled bool `json:"throttled,omitempty"`
}
