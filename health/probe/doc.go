// Package probe carries out ECS container health checks: it has the
// health.Prober of each command form that package health parses.
//
//   - Exec runs a CMD or CMD-SHELL command in the container through an
//     Execer, which every runtime.Runtime is. CMD runs its arguments
//     directly, CMD-SHELL runs /bin/sh -c "<command>"; exit code 0 passes.
//   - HTTP sends GET http://host:port/path and passes on an expected status
//     (health.DefaultExpectedStatus, or WithExpectedStatus("200,302")).
//   - TCP passes when a TCP connection is accepted.
//
// NewExec and NewNet make the prober of a parsed command:
//
//	c, err := health.ParseCheck(def.HealthCheck.Command)
//	if err != nil {
//		return err
//	}
//	var p health.Prober
//	if c.Kind.IsNetwork() {
//		p, err = probe.NewNet(c, probe.WithDialer(dialInTask))
//	} else {
//		p, err = probe.NewExec(rt, containerID, def.HealthCheck.Command)
//	}
//
// The network probers dial through a DialFunc (WithDialer), so that an
// agent can dial from inside a task's network namespace; the default is a
// plain net.Dialer to health.DefaultHost.
//
// # Monitor
//
// A Monitor runs a prober on the schedule of a health.Config, keeps the
// health.State its results make, and reports through callbacks:
//
//	m, err := probe.NewMonitor(cfg, prober, startedAt,
//		probe.OnStatusChange(func(prev, next health.State) {
//			report(containerID, next.Status)
//		}))
//	if err != nil {
//		return err
//	}
//	go m.Run(ctx) // returns when ctx is done
//
// WithState resumes from a stored state (an agent adopting a running
// container). The Monitor uses the time package's clock and timers only, so
// tests run it deterministically inside testing/synctest.
//
// Health and its state machine import none of this: the split keeps
// net/http, os/exec and the runtime out of the pure packages that read
// health statuses.
//
// # Concurrency
//
// Probers are safe for concurrent use. A Monitor's State method may be
// called from any goroutine while Run runs; Run itself runs at most once at
// a time (a second call returns ErrMonitorRunning).
//
// # Errors
//
// Construction errors wrap ErrInvalid (NewExec's command errors wrap
// health.ErrInvalidCommand) and status-matcher errors wrap
// ErrInvalidStatusMatcher. Test for them with errors.Is. A check that
// fails, or cannot be carried out, is a failed health.Result, not an
// error; an exec check whose engine cannot be reached
// (runtime.ErrUnavailable) is an inconclusive one, which the state machine
// does not count.
package probe
