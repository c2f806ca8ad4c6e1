package errdefs

import (
	"errors"

	cerrdefs "github.com/containerd/errdefs"
)

// The kinds. Test for them with errors.Is; every error of a Stevedore
// package that fails for one of these reasons wraps exactly one of them.
var (
	// ErrNotFound means the object asked for does not exist.
	ErrNotFound error = &kind{"not found", cerrdefs.ErrNotFound}
	// ErrAlreadyExists means the object to create exists already.
	ErrAlreadyExists error = &kind{"already exists", cerrdefs.ErrAlreadyExists}
	// ErrInvalid means an input breaks a rule: the request is wrong, and
	// asking again unchanged fails again. A *FieldError names the field.
	ErrInvalid error = &kind{"invalid", cerrdefs.ErrInvalidArgument}
	// ErrConflict means the input contradicts the state, as it is now: an
	// object changed since it was read, or a registration contradicts
	// another one.
	ErrConflict error = &kind{"conflict", cerrdefs.ErrConflict}
	// ErrInUse means an object cannot be removed while others use it.
	ErrInUse error = &kind{"in use", cerrdefs.ErrFailedPrecondition}
	// ErrClosed means the object called (an Orchestrator, a store, a
	// runtime, a server) was closed.
	ErrClosed error = &kind{"closed", cerrdefs.ErrUnavailable}
)

// kind is one of the kinds; containerd is containerd's kind of the same
// meaning, which it also matches.
type kind struct {
	text       string
	containerd error
}

func (k *kind) Error() string { return k.text }

// Is makes errors.Is(err, cerrdefs.ErrXxx) hold for the kind of the same
// meaning.
func (k *kind) Is(target error) bool { return target == k.containerd }

// New returns a sentinel of a package: an error with text that matches
// kind (errors.Is(New(ErrNotFound, "store: not found"), ErrNotFound)), and
// that callers can test for by itself. Each call returns a distinct error.
func New(kind error, text string) error { return &sentinel{text: text, kind: kind} }

type sentinel struct {
	text string
	kind error
}

func (s *sentinel) Error() string { return s.text }

// Unwrap returns the kind.
func (s *sentinel) Unwrap() error { return s.kind }

// kinds lists the kinds, for Kind.
var kinds = []error{ErrNotFound, ErrAlreadyExists, ErrInvalid, ErrConflict, ErrInUse, ErrClosed}

// Kind returns the kind err matches, or nil when it matches none.
func Kind(err error) error {
	for _, k := range kinds {
		if errors.Is(err, k) {
			return k
		}
	}
	return nil
}
