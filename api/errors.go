package api

import (
	"errors"
	"fmt"
)

// Sentinel errors of the API. Errors returned by the Orchestrator wrap one of
// these (or a package's own, such as task.ErrInvalid), so callers can test
// them with errors.Is.
var (
	// ErrNotFound means a cluster, instance, task definition, task or
	// service does not exist.
	ErrNotFound = errors.New("stevedore: not found")
	// ErrAlreadyExists means the object to create exists already.
	ErrAlreadyExists = errors.New("stevedore: already exists")
	// ErrInvalid means a request is malformed; the error names the field.
	ErrInvalid = errors.New("stevedore: invalid request")
	// ErrInUse means the object cannot be removed while others use it.
	ErrInUse = errors.New("stevedore: in use")
	// ErrClosed means the Orchestrator was closed.
	ErrClosed = errors.New("stevedore: closed")
)

// NotFoundError is an object that does not exist. It matches ErrNotFound.
type NotFoundError struct {
	// Kind is "cluster", "service", "task", "task definition",
	// "container instance", ...
	Kind string
	ID   string
}

// Error names the kind and the object.
func (e *NotFoundError) Error() string { return fmt.Sprintf("%v: %s %q", ErrNotFound, e.Kind, e.ID) }

// Is makes errors.Is(err, ErrNotFound) hold.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// FieldError is an invalid request field. It matches ErrInvalid.
type FieldError struct {
	Field string
	Rule  string
}

// Error names the field and the rule it broke.
func (e *FieldError) Error() string { return "stevedore: invalid request: " + e.Field + ": " + e.Rule }

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *FieldError) Unwrap() error { return ErrInvalid }
