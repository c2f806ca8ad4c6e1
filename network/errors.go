package network

import (
	"errors"
	"fmt"
)

// Sentinel errors returned (possibly wrapped) by this package and by every
// Provider implementation. Test for them with errors.Is.
var (
	// ErrInvalid means a request, rule, mapping or configuration is malformed.
	// Errors that wrap it are usually a *FieldError naming the field.
	ErrInvalid = errors.New("network: invalid")
	// ErrExhausted means no address is left in the subnet, or no dynamic port
	// is left in the ephemeral range.
	ErrExhausted = errors.New("network: exhausted")
	// ErrPortInUse means a host port is already reserved by another task, or
	// something else on the host is bound to it.
	ErrPortInUse = errors.New("network: host port in use")
	// ErrNotFound means the task has no network attachment.
	ErrNotFound = errors.New("network: not found")
	// ErrExists means Setup was called for a task that already has an
	// attachment; call Teardown first, or Attachment to read it.
	ErrExists = errors.New("network: attachment already exists")
	// ErrConflict means persisted state does not match the configuration (for
	// example allocations outside the configured subnet), or two task IDs map
	// to the same kernel object name.
	ErrConflict = errors.New("network: conflict")
)

// FieldError is a validation error about one field. It wraps ErrInvalid.
type FieldError struct {
	// Field is a path such as "portMappings[1].hostPort".
	Field string
	// Reason says what is wrong, for example "must be between 1 and 65535".
	Reason string
}

// Error implements error.
func (e *FieldError) Error() string {
	return fmt.Sprintf("network: invalid %s: %s", e.Field, e.Reason)
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *FieldError) Unwrap() error { return ErrInvalid }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// prefixField returns err with every FieldError's field prefixed by prefix.
func prefixField(prefix string, err error) error {
	if err == nil {
		return nil
	}
	errs := flatten(err)
	out := make([]error, 0, len(errs))
	for _, e := range errs {
		var fe *FieldError
		if errors.As(e, &fe) {
			f := prefix
			if fe.Field != "" {
				if fe.Field[0] == '[' {
					f += fe.Field
				} else {
					f += "." + fe.Field
				}
			}
			out = append(out, &FieldError{Field: f, Reason: fe.Reason})
			continue
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}

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
