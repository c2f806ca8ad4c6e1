package api

import (
	"fmt"

	"github.com/stevedore-io/stevedore/errdefs"
)

// The kinds of the API's errors: they are package errdefs' kinds, which
// the errors of every Stevedore package wrap, so errors.Is(err, ErrInvalid)
// holds for every invalid input through every entry point, whichever
// package found it (task.ErrInvalid, service.ErrInvalid and
// placement.ErrInvalid are the same value).
var (
	// ErrNotFound means a cluster, instance, task definition, task,
	// service or security group does not exist. A *NotFoundError names it.
	ErrNotFound = errdefs.ErrNotFound
	// ErrAlreadyExists means the object to create exists already.
	ErrAlreadyExists = errdefs.ErrAlreadyExists
	// ErrInvalid means a request is malformed: *FieldError values (see
	// FieldErrors) name the fields and the rules they break.
	ErrInvalid = errdefs.ErrInvalid
	// ErrConflict means the request contradicts the state as it is now.
	ErrConflict = errdefs.ErrConflict
	// ErrInUse means the object cannot be removed while others use it. An
	// *InUseError names the users.
	ErrInUse = errdefs.ErrInUse
	// ErrClosed means the Orchestrator was closed.
	ErrClosed = errdefs.ErrClosed
)

// NotFoundError is an object that does not exist. It matches ErrNotFound.
type NotFoundError struct {
	// Kind is "cluster", "service", "task", "task definition",
	// "container instance", ...
	Kind string
	ID   string
}

// Error names the kind and the object.
func (e *NotFoundError) Error() string {
	return fmt.Sprintf("stevedore: %v: %s %q", ErrNotFound, e.Kind, e.ID)
}

// Unwrap returns ErrNotFound, so that errors.Is(err, ErrNotFound) holds.
func (e *NotFoundError) Unwrap() error { return ErrNotFound }

// FieldError is an invalid request field: its Path in the style of ECS's
// JSON ("containerDefinitions[0].memory",
// "placementConstraints[1].expression") and the Reason, the rule it
// breaks. It matches ErrInvalid. Every invalid input of the API is
// reported as FieldError values, whichever package found it; FieldErrors
// lists them.
type FieldError = errdefs.FieldError

// FieldErrors returns the *FieldError values in err, which may join several
// (an invalid request is reported field by field), in order; none when err
// is nil or names no field.
func FieldErrors(err error) []*FieldError { return errdefs.FieldErrors(err) }
