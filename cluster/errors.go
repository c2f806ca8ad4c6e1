package cluster

import (
	"errors"
	"fmt"

	"github.com/stevedore-io/stevedore/errdefs"
	quotepkg "github.com/stevedore-io/stevedore/internal/quote"
)

// Sentinel errors. Every error this package returns wraps exactly one of
// them; test with errors.Is.
var (
	// ErrInvalid means a value breaks a rule of the model: a negative
	// amount, an unknown status, a malformed name. The error is an
	// *errdefs.FieldError naming the field. It is errdefs.ErrInvalid.
	ErrInvalid = errdefs.ErrInvalid
	// ErrInsufficientResources means Reserve asked for more than an
	// instance has left. The error is an *InsufficientResourcesError
	// naming the resource.
	ErrInsufficientResources = errors.New("cluster: insufficient resources")
	// ErrNotReserved means Release (or RemoveTask) gave back something that
	// was not reserved: more cpu or memory than the instance registered, a
	// port that is not in use, or a task group with no task.
	ErrNotReserved = errors.New("cluster: not reserved")
)

// invalidValue returns the *errdefs.FieldError of a value that breaks a
// rule: its reason reads like `1001 must be between 0 and 1000`.
func invalidValue(path string, value any, reason string) error {
	return &errdefs.FieldError{Path: path, Reason: fmt.Sprintf("%v %s", value, reason)}
}

// prefixed returns err with path prepended to the path of every
// *errdefs.FieldError it carries; other errors pass through.
func prefixed(path string, err error) error { return errdefs.WithPrefix(path, err) }

// quote cuts what errors echo (see package internal/quote).
var quote = quotepkg.Quote
