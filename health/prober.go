package health

import "context"

// Prober carries out one health check. Package health/probe has the
// probers a task definition's commands need: exec in the container, HTTP
// and TCP.
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
