package errdefs

import "errors"

// The kinds. Test for them with errors.Is; every error of a Stevedore
// package that fails for one of these reasons wraps exactly one of them.
var (
	// ErrNotFound means the object asked for does not exist.
	ErrNotFound error = notFound{}
	// ErrAlreadyExists means the object to create exists already.
	ErrAlreadyExists error = alreadyExists{}
	// ErrInvalid means an input breaks a rule: the request is wrong, and
	// asking again unchanged fails again. A *FieldError names the field.
	ErrInvalid error = invalid{}
	// ErrConflict means the input contradicts the state as it is now: an
	// object changed since it was read, or a registration contradicts
	// another one.
	ErrConflict error = conflict{}
	// ErrInUse means an object cannot be removed while others use it.
	ErrInUse error = inUse{}
	// ErrClosed means the object called (an Orchestrator, a store, a
	// runtime, a server) was closed.
	ErrClosed error = closed{}
)

// Each kind is a type of its own with the method by which containerd's
// errdefs (and moby's) recognise the kind of the same meaning, so that
// cerrdefs.IsNotFound(err) holds for a NotFound; its Is method matches
// any target with that method, so that errors.Is(err, cerrdefs.ErrNotFound)
// holds too. Closed has no such kind.

type notFound struct{}

func (notFound) Error() string        { return "not found" }
func (notFound) NotFound()            {}
func (notFound) Is(target error) bool { return is[interface{ NotFound() }](target) }

type alreadyExists struct{}

func (alreadyExists) Error() string        { return "already exists" }
func (alreadyExists) AlreadyExists()       {}
func (alreadyExists) Is(target error) bool { return is[interface{ AlreadyExists() }](target) }

type invalid struct{}

func (invalid) Error() string        { return "invalid" }
func (invalid) InvalidParameter()    {}
func (invalid) Is(target error) bool { return is[interface{ InvalidParameter() }](target) }

type conflict struct{}

func (conflict) Error() string        { return "conflict" }
func (conflict) Conflict()            {}
func (conflict) Is(target error) bool { return is[interface{ Conflict() }](target) }

type inUse struct{}

func (inUse) Error() string        { return "in use" }
func (inUse) FailedPrecondition()  {}
func (inUse) Is(target error) bool { return is[interface{ FailedPrecondition() }](target) }

// closed has no counterpart: containerd's Unavailable means "try again
// later" (runtime/containerd retries on it, as an engine outage), and a
// closed object stays closed.
type closed struct{}

func (closed) Error() string { return "closed" }

// is reports whether target has the method of interface T.
func is[T any](target error) bool {
	_, ok := target.(T)
	return ok
}

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
