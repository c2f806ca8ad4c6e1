package health

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stevedore-io/stevedore/runtime"
)

// Prober carries out one health check.
//
// Probe must return promptly once ctx is done; the caller (a Monitor) puts
// the check's timeout on ctx. Probe reports every outcome, including
// failures to run the check, in the Result: it has no error return because
// a check that cannot run is simply a failed check.
//
// Probers are safe for concurrent use.
type Prober interface {
	Probe(ctx context.Context) Result
}

// ProberFunc adapts a function to the Prober interface.
type ProberFunc func(ctx context.Context) Result

// Probe calls f(ctx).
func (f ProberFunc) Probe(ctx context.Context) Result { return f(ctx) }

// Execer runs a command inside a running container. runtime.Runtime
// implementations satisfy it.
type Execer interface {
	Exec(ctx context.Context, id string, cmd []string) (runtime.ExecResult, error)
}

// ExecProber runs an ECS health-check command inside a container: exit code
// 0 passes, anything else fails, and so does a command that does not finish
// before ctx's deadline.
type ExecProber struct {
	execer      Execer
	containerID string
	kind        CommandKind
	argv        []string
}

// NewExecProber returns a prober that runs command (an ECS healthCheck
// command, CMD or CMD-SHELL; see ParseCommand) in container containerID
// through execer. Errors wrap ErrInvalidCommand, also for HTTP and TCP
// commands, which NewNetProber runs.
func NewExecProber(execer Execer, containerID string, command []string) (*ExecProber, error) {
	if execer == nil {
		return nil, errors.New("health: exec prober: nil Execer")
	}
	kind, argv, err := ParseCommand(command)
	if err != nil {
		return nil, fmt.Errorf("exec prober for container %s: %w", containerID, err)
	}
	if kind.IsNetwork() {
		return nil, fmt.Errorf("exec prober for container %s: %w: %s checks are not run in the container; see NewNetProber", containerID, ErrInvalidCommand, kind)
	}
	return &ExecProber{execer: execer, containerID: containerID, kind: kind, argv: argv}, nil
}

// Kind returns the command's form, CMD or CMD-SHELL.
func (p *ExecProber) Kind() CommandKind { return p.kind }

// Argv returns a copy of the command line run in the container.
func (p *ExecProber) Argv() []string { return append([]string(nil), p.argv...) }

// Probe runs the command once.
func (p *ExecProber) Probe(ctx context.Context) Result {
	start := time.Now()
	res, err := p.execer.Exec(ctx, p.containerID, p.Argv())
	r := Result{
		Time:     start,
		Duration: time.Since(start),
		ExitCode: res.ExitCode,
		Output:   string(res.Output),
	}
	switch {
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
