package cluster

import (
	"errors"
	"fmt"

	quotepkg "github.com/stevedore-io/stevedore/internal/quote"
)

// Sentinel errors. Every error this package returns wraps exactly one of
// them; test with errors.Is.
var (
	// ErrInvalid means a value breaks a rule of the model: a negative
	// amount, an unknown status, a malformed name. The error is a
	// *FieldError naming the field.
	ErrInvalid = errors.New("cluster: invalid value")
	// ErrInsufficientResources means Reserve asked for more than an
	// instance has left. The error is an *InsufficientResourcesError
	// naming the resource.
	ErrInsufficientResources = errors.New("cluster: insufficient resources")
	// ErrNotReserved means Release (or RemoveTask) gave back something that
	// was not reserved: more cpu or memory than the instance registered, a
	// port that is not in use, or a task group with no task.
	ErrNotReserved = errors.New("cluster: not reserved")
)

// FieldError reports a value that breaks a rule. Field is a path in the
// style of the ECS JSON ("capacityProviderStrategy[1].weight",
// "registeredResources.cpu").
type FieldError struct {
	// Field is the path of the offending field.
	Field string
	// Value is the offending value, formatted with %v.
	Value any
	// Reason states the rule that was broken, such as "must be between 0 and 1000".
	Reason string
}

// Error returns a message such as
// `cluster: capacityProviderStrategy[1].weight: 1001 must be between 0 and 1000`.
func (e *FieldError) Error() string {
	if e.Value == nil {
		return fmt.Sprintf("cluster: %s: %s", e.Field, e.Reason)
	}
	return fmt.Sprintf("cluster: %s: %v %s", e.Field, e.Value, e.Reason)
}

// Unwrap returns ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// prefixed returns err with path prepended to the field of every
// *FieldError it carries; other errors pass through.
func prefixed(path string, err error) error {
	var fe *FieldError
	if errors.As(err, &fe) {
		c := *fe
		if c.Field == "" {
			c.Field = path
		} else {
			c.Field = path + "." + c.Field
		}
		return &c
	}
	return err
}

// quote cuts what errors echo (see package internal/quote).
var quote = quotepkg.Quote
