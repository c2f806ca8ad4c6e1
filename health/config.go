package health

import (
	"errors"
	"fmt"
	"time"

	"github.com/stevedore-io/stevedore/errdefs"
)

// ECS limits and defaults for a container health check.
const (
	MinInterval     = 5 * time.Second
	MaxInterval     = 300 * time.Second
	DefaultInterval = 30 * time.Second

	MinTimeout     = 2 * time.Second
	MaxTimeout     = 60 * time.Second
	DefaultTimeout = 5 * time.Second

	MinRetries     = 1
	MaxRetries     = 10
	DefaultRetries = 3

	MinStartPeriod     = 0
	MaxStartPeriod     = 300 * time.Second
	DefaultStartPeriod = 0
)

// ErrInvalidConfig is wrapped by every error Config.Validate returns.
// It matches errdefs.ErrInvalid.
var ErrInvalidConfig = errdefs.New(errdefs.ErrInvalid, "health: invalid config")

// Config is the timing of a container health check: the ECS healthCheck
// fields interval, timeout, retries and startPeriod.
type Config struct {
	// Interval is the time between the end of one check and the start of
	// the next (5 s to 300 s, default 30 s).
	Interval time.Duration
	// Timeout is how long one check may take before it counts as a failure
	// (2 s to 60 s, default 5 s).
	Timeout time.Duration
	// StartPeriod is the grace period after the container starts during
	// which failures do not count (0 to 300 s, default 0). A success during
	// it makes the container HEALTHY at once and ends the grace period.
	StartPeriod time.Duration
	// Retries is the number of consecutive counted failures that make the
	// container UNHEALTHY (1 to 10, default 3).
	Retries int
}

// DefaultConfig returns the ECS defaults: interval 30 s, timeout 5 s,
// retries 3, no start period.
func DefaultConfig() Config {
	return Config{
		Interval:    DefaultInterval,
		Timeout:     DefaultTimeout,
		StartPeriod: DefaultStartPeriod,
		Retries:     DefaultRetries,
	}
}

// WithDefaults returns c with every zero field replaced by its ECS default,
// the way ECS treats fields missing from a task definition.
func (c Config) WithDefaults() Config {
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Retries == 0 {
		c.Retries = DefaultRetries
	}
	return c
}

// RangeError reports a Config field outside its ECS range. It wraps
// ErrInvalidConfig.
type RangeError struct {
	// Field is the ECS name of the field: "interval", "timeout", "retries"
	// or "startPeriod".
	Field string
	// Value, Min and Max are the offending value and the inclusive bounds,
	// formatted for people ("3s", "30s", "11").
	Value, Min, Max string
}

// Error implements error.
func (e *RangeError) Error() string {
	return fmt.Sprintf("health: invalid config: %s %s out of range [%s, %s]", e.Field, e.Value, e.Min, e.Max)
}

// Unwrap returns ErrInvalidConfig.
func (e *RangeError) Unwrap() error { return ErrInvalidConfig }

// Validate checks every field against its ECS range. It returns nil or one
// *RangeError per bad field, joined with errors.Join; each wraps
// ErrInvalidConfig.
func (c Config) Validate() error {
	var errs []error
	checkDuration := func(field string, v, lo, hi time.Duration) {
		if v < lo || v > hi {
			errs = append(errs, &RangeError{Field: field, Value: v.String(), Min: lo.String(), Max: hi.String()})
		}
	}
	checkDuration("interval", c.Interval, MinInterval, MaxInterval)
	checkDuration("timeout", c.Timeout, MinTimeout, MaxTimeout)
	if c.Retries < MinRetries || c.Retries > MaxRetries {
		errs = append(errs, &RangeError{
			Field: "retries",
			Value: fmt.Sprint(c.Retries),
			Min:   fmt.Sprint(MinRetries),
			Max:   fmt.Sprint(MaxRetries),
		})
	}
	checkDuration("startPeriod", c.StartPeriod, MinStartPeriod, MaxStartPeriod)
	return errors.Join(errs...)
}
