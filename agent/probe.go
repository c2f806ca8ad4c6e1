package agent

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/stevedore-io/stevedore/health"
	"github.com/stevedore-io/stevedore/health/probe"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/network"
)

// healthProber returns the prober of c's health check, chosen by the
// command's form: CMD and CMD-SHELL run in the container through the
// runtime; HTTP and TCP are dialled by the agent from inside the task's
// network namespace, through the network provider's TaskDialer. A check
// that cannot run (no TaskDialer, or a command the definition's validation
// should have refused) gets a prober that fails every check with the
// reason, so that the container turns UNHEALTHY on the check's schedule
// like any failing check, and the reason is recorded on the container at
// once rather than only logged.
func (r *runner) healthProber(c *ctr, command []string) health.Prober {
	p, err := r.newProber(c, command)
	if err == nil {
		return p
	}
	reason := "HealthCheckError: " + err.Error()
	r.log.Warn("agent: health check cannot run", "container", c.name, "reason", reason)
	r.keep(func(t *state.Task) error {
		if sc := t.Container(c.name); sc != nil && sc.Reason != reason {
			sc.Reason = reason
			t.Version++
		}
		return nil
	})
	return health.ProberFunc(func(context.Context) health.Result {
		return health.Result{Time: time.Now(), ExitCode: -1, Err: err}
	})
}

func (r *runner) newProber(c *ctr, command []string) (health.Prober, error) {
	check, err := health.ParseCheck(command)
	if err != nil {
		return nil, err
	}
	if !check.Kind.IsNetwork() {
		return probe.NewExec(r.a.cfg.Runtime, c.id, command)
	}
	dialer, ok := r.a.cfg.Network.(network.TaskDialer)
	if !ok {
		return nil, fmt.Errorf("%s health checks need a network provider that dials into tasks (network.TaskDialer); %T does not", check.Kind, r.a.cfg.Network)
	}
	taskID := r.id
	return probe.NewNet(check, probe.WithDialer(func(ctx context.Context, nw, addr string) (net.Conn, error) {
		return dialer.DialTask(ctx, taskID, nw, addr)
	}))
}
