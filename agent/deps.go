package agent

import (
	"context"
	"fmt"
	"time"

	"github.com/stevedore-io/stevedore/health"
	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/task"
)

// ctr is what a task's runner knows of one of its containers. Only the
// runner's goroutine touches it.
type ctr struct {
	name string
	// def is the container's definition; nil when the task definition
	// could not be loaded.
	def *task.ContainerDefinition
	// id is the runtime's container ID.
	id string

	created bool // exists in the runtime
	started bool // its main process was started (it may have exited since)
	exited  bool // its main process ended, or it will never start
	// abandoned is true for a container that will never start: its start
	// failed or its dependencies can never be met.
	abandoned bool
	exitCode  *int
	startedAt time.Time
	health    health.Status

	stopMonitor context.CancelFunc // nil when no health monitor runs
	// exit, when not nil, delivers the exit of the main process: the
	// runner waits for it itself (see runner.forwardExits); stopWait
	// ends that wait.
	exit     <-chan runtime.ExitStatus
	stopWait func()
}

func (c *ctr) essential() bool { return c.def == nil || c.def.IsEssential() }

func (c *ctr) running() bool { return c.started && !c.exited }

func (c *ctr) stopTimeout() time.Duration {
	if c.def == nil {
		return task.DefaultStopTimeout
	}
	return c.def.StopTimeout()
}

func (c *ctr) healthCheck() *task.HealthCheck {
	if c.def == nil {
		return nil
	}
	return c.def.HealthCheck
}

// verdict is the outcome of checking a container's dependencies.
type verdict int

const (
	// wait: some dependency is not met yet.
	wait verdict = iota
	// ready: every dependency is met; the container may start.
	ready
	// never: some dependency can never be met, or took longer than its
	// start timeout.
	never
)

// checkDependency says whether dep satisfies cond. why explains a never.
func checkDependency(dep *ctr, cond task.DependencyCondition) (v verdict, why string) {
	if dep.abandoned {
		return never, fmt.Sprintf("%s never started", dep.name)
	}
	switch cond {
	case task.ConditionStart:
		if dep.started {
			return ready, ""
		}
	case task.ConditionComplete:
		if dep.exited {
			return ready, ""
		}
	case task.ConditionSuccess:
		if dep.exited {
			if dep.exitCode != nil && *dep.exitCode == 0 {
				return ready, ""
			}
			return never, fmt.Sprintf("%s exited with %s, not 0", dep.name, codeString(dep.exitCode))
		}
	case task.ConditionHealthy:
		switch {
		case dep.healthCheck() == nil:
			return never, fmt.Sprintf("%s has no health check", dep.name)
		case dep.exited:
			return never, fmt.Sprintf("%s exited before it was healthy", dep.name)
		case dep.health == health.Healthy:
			return ready, ""
		}
	default:
		return never, fmt.Sprintf("unknown condition %q on %s", cond, dep.name)
	}
	return wait, ""
}

// checkDependencies checks every dependsOn entry of c at now. For a wait,
// deadline is when the earliest start timeout runs out (zero when none
// applies); timeout is the default start timeout of a dependency that sets
// none.
func checkDependencies(c *ctr, ctrs map[string]*ctr, now time.Time, timeout time.Duration) (v verdict, why string, deadline time.Time) {
	if c.def == nil {
		return ready, "", time.Time{}
	}
	v = ready
	for _, d := range c.def.DependsOn {
		dep := ctrs[d.ContainerName]
		if dep == nil {
			return never, fmt.Sprintf("dependency %s is not a container of the task", d.ContainerName), time.Time{}
		}
		dv, dwhy := checkDependency(dep, d.Condition)
		switch dv {
		case never:
			return never, fmt.Sprintf("dependency %s can never be met: %s", d.Condition, dwhy), time.Time{}
		case wait:
			v = wait
			if !dep.started || d.Condition == task.ConditionStart {
				// Its own dependencies hold it back; their timeouts apply.
				continue
			}
			limit := timeout
			if dep.def != nil {
				if t, ok := dep.def.StartTimeout(); ok {
					limit = t
				}
			}
			end := dep.startedAt.Add(limit)
			if !now.Before(end) {
				return never, fmt.Sprintf("dependency %s did not become %s within %v (startTimeout)", dep.name, d.Condition, limit), time.Time{}
			}
			if deadline.IsZero() || end.Before(deadline) {
				deadline = end
			}
		}
	}
	if v == ready {
		deadline = time.Time{}
	}
	return v, "", deadline
}

func codeString(code *int) string {
	if code == nil {
		return "an unknown code"
	}
	return fmt.Sprintf("code %d", *code)
}
