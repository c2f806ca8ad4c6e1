package health

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of the per-container check log, the same as Docker's.
const (
	// LogSize is the number of results a State keeps in its Log.
	LogSize = 5
	// MaxOutput is the maximum length in bytes of Entry.Output; longer output
	// is cut at a UTF-8 boundary.
	MaxOutput = 4096
)

// Result is the outcome of one health check, as a Prober reports it.
//
// A result passes only when OK is true, TimedOut is false, Err is nil and
// Duration does not exceed the configured timeout. An Inconclusive result
// neither passes nor fails. Everything else is a failure.
type Result struct {
	// Time is when the check started.
	Time time.Time
	// Duration is how long the check took.
	Duration time.Duration
	// OK is true when the check itself succeeded: exit code 0, an expected
	// HTTP status, a TCP connection accepted.
	OK bool
	// ExitCode is the command's exit code for exec checks. Other probers set
	// 0 when OK and 1 otherwise, like the usual `curl -f ... || exit 1`;
	// -1 means the command did not run to completion.
	ExitCode int
	// Output is what the check printed or a short description of what it
	// saw. It is truncated to MaxOutput bytes when recorded in a State.
	Output string
	// TimedOut is true when the check did not finish within its timeout.
	TimedOut bool
	// Err is set when the check could not be carried out (container gone,
	// connection refused, ...).
	Err error
	// Inconclusive is true when the check could not run for a reason
	// outside the container, which says nothing of its health: the
	// container engine could not be reached to exec the command. Err says
	// why. Such a result is logged and changes nothing else (see
	// State.Observe).
	Inconclusive bool
}

// passed reports whether r counts as a success under cfg.
func (r Result) passed(cfg Config) bool {
	return r.OK && !r.TimedOut && r.Err == nil && !r.overran(cfg)
}

// overran reports whether r took longer than cfg.Timeout.
func (r Result) overran(cfg Config) bool {
	return cfg.Timeout > 0 && r.Duration > cfg.Timeout
}

// Entry is one result as recorded in a State's log.
type Entry struct {
	// Start and End bound the check: End is the time the result was observed.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// ExitCode is Result.ExitCode (-1 for timeouts and checks that did not run).
	ExitCode int `json:"exitCode"`
	// Passed is true when the check counted as a success.
	Passed bool `json:"passed"`
	// Counted is false for a failure inside the start period, which does
	// not count toward Retries, and for an inconclusive result.
	Counted bool `json:"counted"`
	// Inconclusive is true for a check that could not run for a reason
	// outside the container (Result.Inconclusive).
	Inconclusive bool `json:"inconclusive,omitempty"`
	// Output is the check's output and, for failures, the reason,
	// truncated to MaxOutput bytes.
	Output string `json:"output,omitempty"`
}

// State is the health of one container. It is a value: Observe returns a
// new State and never modifies the one it is called on, so a State can be
// shared and stored freely.
type State struct {
	// Status is the container's health.
	Status Status `json:"status"`
	// Failures is the number of consecutive counted failures since the last
	// success (or since the start).
	Failures int `json:"failures"`
	// Started is when the container started; the start period runs from it.
	Started time.Time `json:"started"`
	// LastCheck is when the last result was observed (zero before the first).
	LastCheck time.Time `json:"lastCheck"`
	// Log holds the last LogSize results, oldest first.
	Log []Entry `json:"log,omitempty"`
}

// NewState returns the state of a container that started at started:
// Unknown, no failures, no results.
func NewState(started time.Time) State {
	return State{Status: Unknown, Started: started}
}

// Last returns the most recent log entry, and false when there is none.
func (s State) Last() (Entry, bool) {
	if len(s.Log) == 0 {
		return Entry{}, false
	}
	return s.Log[len(s.Log)-1], true
}

// InStartPeriod reports whether a check started at t falls in the start
// period: the container has never been HEALTHY or UNHEALTHY and t is less
// than cfg.StartPeriod after Started. A State with a zero Started has no
// start period.
func (s State) InStartPeriod(cfg Config, t time.Time) bool {
	return s.Status.normalize() == Unknown && !s.Started.IsZero() && t.Before(s.Started.Add(cfg.StartPeriod))
}

// Observe returns the state after result r, observed at now. It is a pure
// function of its arguments.
//
//   - A success makes the status HEALTHY and resets Failures, even inside the
//     start period (as in ECS and Docker).
//   - A failure whose check started inside the start period (see
//     InStartPeriod) is logged but not counted.
//   - Any other failure increments Failures; at cfg.Retries consecutive
//     counted failures the status becomes UNHEALTHY.
//   - An inconclusive result (the engine could not be reached to run the
//     check) is logged, uncounted, and leaves Status and Failures as they
//     were: UNKNOWN stays UNKNOWN, HEALTHY stays HEALTHY. It is no
//     result, only the time of the next check moves on.
//
// If r.Time is zero, now is taken as the check's start. Observe expects a
// valid cfg; a Retries below 1 is treated as 1.
func (s State) Observe(cfg Config, r Result, now time.Time) State {
	start := r.Time
	if start.IsZero() {
		start = now
	}
	next := s
	next.Status = s.Status.normalize()
	next.LastCheck = now

	passed := !r.Inconclusive && r.passed(cfg)
	counted := true
	switch {
	case r.Inconclusive:
		counted = false
	case passed:
		next.Status = Healthy
		next.Failures = 0
	case s.InStartPeriod(cfg, start):
		counted = false
	default:
		next.Failures++
		if next.Failures >= max(cfg.Retries, 1) {
			next.Status = Unhealthy
		}
	}

	exitCode := r.ExitCode
	if r.Inconclusive || r.TimedOut || r.overran(cfg) {
		exitCode = -1
	}
	entry := Entry{
		Start:        start,
		End:          now,
		ExitCode:     exitCode,
		Passed:       passed,
		Counted:      counted,
		Inconclusive: r.Inconclusive,
		Output:       truncate(describe(cfg, r), MaxOutput),
	}
	keep := s.Log
	if len(keep) > LogSize-1 {
		keep = keep[len(keep)-(LogSize-1):]
	}
	// A fresh slice, so that states never share a backing array.
	next.Log = append(append(make([]Entry, 0, len(keep)+1), keep...), entry)
	return next
}

// NextCheck returns when the next check should start: cfg.Interval after
// the last result, or after Started before the first one (ECS and Docker
// wait one interval before the first check). A time already past yields now,
// and so does a State with neither a result nor a start time.
func (s State) NextCheck(cfg Config, now time.Time) time.Time {
	base := s.LastCheck
	if base.IsZero() {
		base = s.Started
	}
	if base.IsZero() {
		return now
	}
	next := base.Add(cfg.Interval)
	if next.Before(now) {
		return now
	}
	return next
}

// describe is r's output followed, for failures, by why the check failed.
func describe(cfg Config, r Result) string {
	var reasons []string
	if r.Output != "" {
		reasons = append(reasons, r.Output)
	}
	switch {
	case r.Inconclusive:
		reason := "health check not run"
		if r.Err != nil {
			reason += ": " + r.Err.Error()
		}
		reasons = append(reasons, reason)
	case r.TimedOut || r.overran(cfg):
		reasons = append(reasons, fmt.Sprintf("health check exceeded timeout (%s)", cfg.Timeout))
	case r.Err != nil:
		reasons = append(reasons, "error: "+r.Err.Error())
	}
	return strings.Join(reasons, "\n")
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
