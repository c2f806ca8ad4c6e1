package lb

import (
	"github.com/stevedore-io/stevedore/errdefs"
)

// Sentinel errors. Errors returned by this package wrap one of them; test
// with errors.Is. Each matches its kind of package errdefs.
var (
	// ErrInvalid reports a configuration or argument that breaks a rule;
	// errors.As with an *errdefs.FieldError names the field. It is
	// errdefs.ErrInvalid.
	ErrInvalid = errdefs.ErrInvalid
	// ErrNotFound reports a target ID that is not registered.
	ErrNotFound = errdefs.New(errdefs.ErrNotFound, "lb: target not registered")
	// ErrConflict reports a registration that contradicts an existing one
	// (the same target ID with another address).
	ErrConflict = errdefs.New(errdefs.ErrConflict, "lb: conflict")
	// ErrClosed reports a call on a closed target group or load balancer.
	ErrClosed = errdefs.New(errdefs.ErrClosed, "lb: closed")
)

var invalid = errdefs.Invalid
