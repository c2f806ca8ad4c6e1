package network

import (
	"errors"

	"github.com/stevedore-io/stevedore/errdefs"
)

// Sentinel errors returned (possibly wrapped) by this package and by every
// Provider implementation. Test for them with errors.Is. ErrInvalid,
// ErrNotFound, ErrExists and ErrConflict match the kinds of package errdefs
// (ErrInvalid is errdefs.ErrInvalid; ErrExists matches errdefs.ErrAlreadyExists); ErrExhausted and ErrPortInUse
// have a meaning of their own.
var (
	// ErrInvalid means a request, rule, mapping or configuration is malformed.
	// Errors that wrap it are usually an *errdefs.FieldError naming the
	// field. It is errdefs.ErrInvalid.
	ErrInvalid = errdefs.ErrInvalid
	// ErrExhausted means no address is left in the subnet, or no dynamic port
	// is left in the ephemeral range.
	ErrExhausted = errors.New("network: exhausted")
	// ErrPortInUse means a host port is already reserved by another task, or
	// something else on the host is bound to it.
	ErrPortInUse = errors.New("network: host port in use")
	// ErrNotFound means the task has no network attachment.
	ErrNotFound = errdefs.New(errdefs.ErrNotFound, "network: not found")
	// ErrExists means Setup was called for a task that already has an
	// attachment; call Teardown first, or Attachment to read it.
	ErrExists = errdefs.New(errdefs.ErrAlreadyExists, "network: attachment already exists")
	// ErrConflict means persisted state does not match the configuration (for
	// example allocations outside the configured subnet), or two task IDs map
	// to the same kernel object name.
	ErrConflict = errdefs.New(errdefs.ErrConflict, "network: conflict")
)

// fieldErr returns the *errdefs.FieldError of field.
var fieldErr = errdefs.Invalid

// prefixField returns err with every field error's path prefixed by
// prefix.
var prefixField = errdefs.WithPrefix

// flatten lists the errors joined in err, however deeply.
func flatten(err error) []error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, flatten(e)...)
	}
	return out
}
