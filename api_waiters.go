package stevedore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stevedore-io/stevedore/api"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/task"
)

// ErrWaiterFailure is api.ErrWaiterFailure.
var ErrWaiterFailure = api.ErrWaiterFailure

// ErrWaitTimeout means the wait lasted its maximum without success.
var ErrWaitTimeout = api.ErrWaitTimeout

// WaiterOptions is api.WaiterOptions.
type WaiterOptions = api.WaiterOptions

// DefaultWaiterMinDelay is api.DefaultWaiterMinDelay.
const DefaultWaiterMinDelay = api.DefaultWaiterMinDelay

// DefaultWaiterMaxDelay is api.DefaultWaiterMaxDelay.
const DefaultWaiterMaxDelay = api.DefaultWaiterMaxDelay

func waiterOptions(optFns []func(*WaiterOptions)) WaiterOptions {
	o := WaiterOptions{MinDelay: DefaultWaiterMinDelay, MaxDelay: DefaultWaiterMaxDelay}
	for _, fn := range optFns {
		fn(&o)
	}
	o.MinDelay = max(o.MinDelay, time.Millisecond)
	o.MaxDelay = max(o.MaxDelay, o.MinDelay)
	return o
}

// poll calls check until it reports done, fails, or maxWait passes.
func poll(ctx context.Context, what string, opts WaiterOptions, maxWait time.Duration, check func(context.Context) (bool, error)) error {
	if maxWait <= 0 {
		return invalid("maxWaitDur", "must be positive, got %v", maxWait)
	}
	ctx, cancel := context.WithTimeout(ctx, maxWait)
	defer cancel()
	delay := opts.MinDelay
	for {
		done, err := check(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			return fmt.Errorf("%s: %w", what, err)
		case done:
			return nil
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%s: %w after %v", what, ErrWaitTimeout, maxWait)
			}
			return ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, opts.MaxDelay)
	}
}

// ServicesStableWaiter waits for services to be stable, as aws-sdk-go-v2's
// ecs.ServicesStableWaiter: each has one deployment and runs its desired
// count. A service that is missing, DRAINING or INACTIVE fails the wait.
type ServicesStableWaiter struct {
	o    *Orchestrator
	opts WaiterOptions
}

// NewServicesStableWaiter returns a waiter of o's services.
func NewServicesStableWaiter(o *Orchestrator, optFns ...func(*WaiterOptions)) *ServicesStableWaiter {
	return &ServicesStableWaiter{o: o, opts: waiterOptions(optFns)}
}

// Wait waits at most maxWait for the services of in to be stable.
func (w *ServicesStableWaiter) Wait(ctx context.Context, in *DescribeServicesInput, maxWait time.Duration) error {
	return poll(ctx, "services stable", w.opts, maxWait, func(ctx context.Context) (bool, error) {
		out, err := w.o.DescribeServices(ctx, in)
		if err != nil {
			return false, err
		}
		if len(out.Failures) > 0 {
			return false, fmt.Errorf("%w: %s is %s", ErrWaiterFailure, out.Failures[0].Arn, out.Failures[0].Reason)
		}
		stable := true
		for _, s := range out.Services {
			if s.Status != service.StatusActive {
				return false, fmt.Errorf("%w: service %s is %s", ErrWaiterFailure, s.Name, s.Status)
			}
			deployments := 0
			for _, d := range s.Deployments {
				if d.Status != service.Inactive {
					deployments++
				}
			}
			stable = stable && deployments == 1 && s.RunningCount == s.DesiredCount
		}
		return stable, nil
	})
}

// TasksWaiter waits for tasks to reach a status, as aws-sdk-go-v2's
// ecs.TasksRunningWaiter and ecs.TasksStoppedWaiter.
type TasksWaiter struct {
	o      *Orchestrator
	opts   WaiterOptions
	status task.Status
}

// NewTasksRunningWaiter returns a waiter for tasks to be RUNNING; a task
// that is missing or STOPPED fails the wait.
func NewTasksRunningWaiter(o *Orchestrator, optFns ...func(*WaiterOptions)) *TasksWaiter {
	return &TasksWaiter{o: o, opts: waiterOptions(optFns), status: task.Running}
}

// NewTasksStoppedWaiter returns a waiter for tasks to be STOPPED.
func NewTasksStoppedWaiter(o *Orchestrator, optFns ...func(*WaiterOptions)) *TasksWaiter {
	return &TasksWaiter{o: o, opts: waiterOptions(optFns), status: task.Stopped}
}

// Wait waits at most maxWait for every task of in to reach the waiter's
// status.
func (w *TasksWaiter) Wait(ctx context.Context, in *DescribeTasksInput, maxWait time.Duration) error {
	return poll(ctx, "tasks "+string(w.status), w.opts, maxWait, func(ctx context.Context) (bool, error) {
		out, err := w.o.DescribeTasks(ctx, in)
		if err != nil {
			return false, err
		}
		if len(out.Failures) > 0 && w.status == task.Running {
			return false, fmt.Errorf("%w: %s is %s", ErrWaiterFailure, out.Failures[0].Arn, out.Failures[0].Reason)
		}
		done := len(out.Tasks) > 0
		for _, t := range out.Tasks {
			if w.status == task.Running && t.LastStatus == task.Stopped {
				return false, fmt.Errorf("%w: task %s is STOPPED (%s)", ErrWaiterFailure, t.ID(), t.StoppedReason)
			}
			done = done && t.LastStatus == w.status
		}
		return done, nil
	})
}
