// Package health implements ECS container health checks: a pure state
// machine that turns check results into a health status, the checks'
// configuration and commands, and the Prober interface. What runs checks
// (the probers: exec in the container, HTTP, TCP; and the Monitor that runs
// a prober on schedule) is in package health/probe, so that health imports
// no runtime, no network code and no timers, and the planners that read
// health statuses stay pure.
//
// # Rules
//
// A container health check has a command (see ParseCheck) and a Config:
// interval 5-300 s (default 30), timeout 2-60 s (default 5), retries 1-10
// (default 3) and startPeriod 0-300 s (default 0). A container's status is
// UNKNOWN until the first result that counts, HEALTHY after a success and
// UNHEALTHY after Retries consecutive counted failures. A success resets
// the failure count. Failures of checks that start within the start period
// do not count, but a success during it makes the container HEALTHY at once
// (and ends the start period), as in ECS and Docker. A check that exceeds
// its timeout is a failure. A check that cannot run because the container
// engine is unreachable (Result.Inconclusive) is no result at all: it
// leaves the status and the failure count as they were. A task's status is the worst of its essential
// containers that have a health check (UNHEALTHY > UNKNOWN > HEALTHY); see
// TaskStatus and Worst.
//
// # Commands
//
// The command is ECS's healthCheck.command. Besides ECS's forms, run in the
// container, Stevedore accepts two network forms in the same field, so that
// task-definition JSON round-trips and images need no curl:
//
//	["CMD", "pg_isready", "-q"]                         exec in the container
//	["CMD-SHELL", "curl -f http://localhost/ || exit 1"] /bin/sh -c in the container
//	["HTTP", "http://localhost:8080/healthz"]            GET; 200-399 pass
//	["HTTP", "http://localhost:8080/healthz", "200,204"] GET; the statuses that pass
//	["TCP", "8080"]                                      connect to 127.0.0.1:8080
//	["TCP", "localhost:5432"]
//
// The agent dials HTTP and TCP checks from inside the task's network
// namespace (network.TaskDialer), so localhost is the task's own loopback.
// ParseCheck parses every form; probe.NewExec and probe.NewNet make the
// prober of a check.
//
// # The state machine
//
// State is a value and State.Observe a pure function: the caller passes the
// time, so planners and tests drive it without clocks or goroutines.
//
//	cfg := health.DefaultConfig()
//	if err := cfg.Validate(); err != nil { // errors.Is(err, health.ErrInvalidConfig)
//		return err                         // errors.As(err, new(*health.RangeError)) names the field
//	}
//	s := health.NewState(startedAt)
//	s = s.Observe(cfg, health.Result{OK: true}, now) // s.Status == health.Healthy
//	next := s.NextCheck(cfg, now)                   // now + cfg.Interval
//
// A State keeps the last LogSize results in its Log, each output truncated
// to MaxOutput bytes, and carries JSON tags so that it can be stored as is.
//
// # Probers
//
// A Prober runs one check and reports it as a Result; failures to run the
// check are failed results, not errors, except when the engine that runs
// it is away: that result is Inconclusive. ProberFunc turns a function into a
// Prober; package health/probe provides the probers of the command forms.
//
// # Monitor
//
// probe.Monitor runs a Prober on the schedule of a Config, feeding each
// result through this state machine and reporting changes through
// callbacks. It lives in health/probe because it owns goroutines and timers;
// this package stays a pure function of results and times.
//
// # Concurrency
//
// State and the other values are safe to copy and share. Probers are safe
// for concurrent use.
//
// # Errors
//
// Configuration errors wrap ErrInvalidConfig (with a *RangeError per field),
// and command errors wrap ErrInvalidCommand. Test for them with errors.Is.
package health
