package probe

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stevedore-io/stevedore/health"
	"github.com/stevedore-io/stevedore/runtime"
)

// Execer runs a command inside a running container. runtime.Runtime
// implementations satisfy it.
type Execer interface {
	Exec(ctx context.Context, id string, cmd []string) (runtime.ExecResult, error)
}

// Exec runs an ECS health-check command inside a container: exit code 0
// passes, anything else fails, and so does a command that does not finish
// before ctx's deadline. A command the engine could not be reached to run
// (runtime.ErrUnavailable) is an inconclusive result, not a failure: an
// engine outage says nothing of the container's health.
type Exec struct {
	execer      Execer
	containerID string
	kind        health.CommandKind
	argv        []string
}

// NewExec returns a prober that runs command (an ECS healthCheck command,
// CMD or CMD-SHELL; see health.ParseCommand) in container containerID
// through execer. Errors wrap health.ErrInvalidCommand, also for HTTP and
// TCP commands, which NewNet runs.
func NewExec(execer Execer, containerID string, command []string) (*Exec, error) {
	if execer == nil {
		return nil, errors.New("health: exec prober: nil Execer")
	}
	kind, argv, err := health.ParseCommand(command)
	if err != nil {
		return nil, fmt.Errorf("exec prober for container %s: %w", containerID, err)
	}
	if kind.IsNetwork() {
		return nil, fmt.Errorf("exec prober for container %s: %w: %s checks are not run in the container; see NewNet", containerID, health.ErrInvalidCommand, kind)
	}
	return &Exec{execer: execer, containerID: containerID, kind: kind, argv: argv}, nil
}

// Kind returns the command's form, CMD or CMD-SHELL.
func (p *Exec) Kind() health.CommandKind { return p.kind }

// Argv returns a copy of the command line run in the container.
func (p *Exec) Argv() []string { return append([]string(nil), p.argv...) }

// Probe runs the command once.
func (p *Exec) Probe(ctx context.Context) health.Result {
	start := time.Now()
	res, err := p.execer.Exec(ctx, p.containerID, p.Argv())
	r := health.Result{
		Time:     start,
		Duration: time.Since(start),
		ExitCode: res.ExitCode,
		Output:   string(res.Output),
	}
	switch {
	case errors.Is(err, runtime.ErrUnavailable):
		r.ExitCode = -1
		r.Err = fmt.Errorf("exec in container %s: %w", p.containerID, err)
		r.Inconclusive = true
	case err != nil:
		r.ExitCode = -1
		r.Err = fmt.Errorf("exec in container %s: %w", p.containerID, err)
		r.TimedOut = errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded)
	case ctx.Err() != nil:
		// The command returned, but only after the deadline: the result is
		// not to be trusted, and ECS would have given up on it.
		r.ExitCode = -1
		r.Err = context.Cause(ctx)
		r.TimedOut = errors.Is(ctx.Err(), context.DeadlineExceeded)
	default:
		r.OK = res.ExitCode == 0
	}
	return r
}
