package lb

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by this package wrap one of them; test
// with errors.Is.
var (
	// ErrInvalid reports a configuration or argument that breaks a rule;
	// errors.As with a *FieldError names the field.
	ErrInvalid = errors.New("lb: invalid")
	// ErrNotFound reports a target ID that is not registered.
	ErrNotFound = errors.New("lb: target not registered")
	// ErrConflict reports a registration that contradicts an existing one
	// (the same target ID with another address).
	ErrConflict = errors.New("lb: conflict")
	// ErrClosed reports a call on a closed target group or load balancer.
	ErrClosed = errors.New("lb: closed")
)

// FieldError is an invalid value of one field. It wraps ErrInvalid.
type FieldError struct {
	// Field names the field as the load balancer API spells it, for example
	// "healthCheck.interval" or "rules[1].pathPrefix".
	Field string
	// Msg says what is wrong.
	Msg string
}

// Error implements error.
func (e *FieldError) Error() string { return fmt.Sprintf("lb: invalid %s: %s", e.Field, e.Msg) }

// Unwrap returns ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

func invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}
