package store

import (
	"errors"
	"fmt"

	"github.com/stevedore-io/stevedore/errdefs"
)

// Sentinel errors returned (wrapped) by every Store implementation. Test for
// them with errors.Is. ErrNotFound, ErrAlreadyExists, ErrConflict, ErrClosed
// and ErrInvalid match their kinds of package errdefs too
// (errors.Is(err, errdefs.ErrNotFound)); ErrCompacted and ErrWatcherTooSlow
// have a meaning of their own.
var (
	// ErrNotFound means the object does not exist.
	ErrNotFound = errdefs.New(errdefs.ErrNotFound, "store: not found")
	// ErrAlreadyExists means Create found an object with the same kind and ID.
	ErrAlreadyExists = errdefs.New(errdefs.ErrAlreadyExists, "store: already exists")
	// ErrConflict means Update's compare-and-swap failed: the object changed
	// since the caller read it. The error is a *ConflictError.
	ErrConflict = errdefs.New(errdefs.ErrConflict, "store: revision conflict")
	// ErrCompacted means a watch asked for history the store no longer
	// keeps. Read a fresh snapshot and watch from its revision.
	ErrCompacted = errors.New("store: revision compacted")
	// ErrWatcherTooSlow means a watcher fell too far behind the writers
	// and was ended. Watch again from the last revision handled.
	ErrWatcherTooSlow = errors.New("store: watcher too slow")
	// ErrClosed means the store was closed.
	ErrClosed = errdefs.New(errdefs.ErrClosed, "store: closed")
	// ErrInvalid means an argument is unusable: an empty kind or ID, a nil
	// object, an object of the wrong type, or an object the store already
	// holds passed to Update instead of a copy.
	ErrInvalid = errdefs.New(errdefs.ErrInvalid, "store: invalid argument")
)

// ConflictError is the error of a failed compare-and-swap. errors.Is(err,
// ErrConflict) holds for it.
type ConflictError struct {
	// Kind and ID name the object.
	Kind, ID string
	// Expected is the ModRevision the caller's object carried.
	Expected int64
	// Actual is the ModRevision stored.
	Actual int64
}

// Error names the object and both revisions.
func (e *ConflictError) Error() string {
	return fmt.Sprintf("store: revision conflict on %s/%s: expected revision %d, stored revision %d",
		e.Kind, e.ID, e.Expected, e.Actual)
}

// Unwrap returns ErrConflict, so that errors.Is(err, ErrConflict) and
// errors.Is(err, errdefs.ErrConflict) hold.
func (e *ConflictError) Unwrap() error { return ErrConflict }

// NotFoundError returns an error wrapping ErrNotFound that names kind/id.
// Implementations use it so that messages read the same everywhere.
func NotFoundError(kind, id string) error {
	// One small allocation, not fmt.Errorf's several: a lookup that
	// misses (a fresh task ID checked for a clash) is common.
	return &notFoundError{kind: kind, id: id}
}

// notFoundError reads as fmt.Errorf("%w: %s/%s", ErrNotFound, kind, id)
// did, and unwraps to ErrNotFound.
type notFoundError struct{ kind, id string }

func (e *notFoundError) Error() string {
	return ErrNotFound.Error() + ": " + e.kind + "/" + e.id
}

func (e *notFoundError) Unwrap() error { return ErrNotFound }

// AlreadyExistsError returns an error wrapping ErrAlreadyExists that names
// kind/id.
func AlreadyExistsError(kind, id string) error {
	return fmt.Errorf("%w: %s/%s", ErrAlreadyExists, kind, id)
}

// CompactedError returns an error wrapping ErrCompacted for a watch from
// revision from when the oldest revision still watchable from is oldest.
func CompactedError(from, oldest int64) error {
	return fmt.Errorf("%w: watch from revision %d, history starts after revision %d",
		ErrCompacted, from, oldest)
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}
