package errdefs

import (
	"errors"
	"fmt"
	"reflect"
)

// FieldError is an invalid input: the field and the rule it breaks. It
// matches ErrInvalid.
type FieldError struct {
	// Path is the field's path in the style of ECS's JSON, relative to
	// the input: "containerDefinitions[0].memory",
	// "placementConstraints[1].expression", "groupName". Empty when the
	// input as a whole is wrong.
	Path string
	// Reason states the rule the value breaks, with the value when it
	// helps: `must be at least 6 MiB, got 4`.
	Reason string
	// Err, when set, is a more precise error the rule matches, such as a
	// *query.SyntaxError or task.ErrTooLarge; errors.Is and errors.As see
	// it.
	Err error
}

// Invalid returns a *FieldError for path, its Reason formatted with
// fmt.Sprintf.
func Invalid(path, format string, args ...any) error {
	return &FieldError{Path: path, Reason: fmt.Sprintf(format, args...)}
}

// Error returns a message such as
// "containerDefinitions[0].memory: must be at least 6 MiB, got 4": the
// field and the rule, which says what is wrong; callers that wrap it add
// the context ("invalid task definition \"web\": ...").
func (e *FieldError) Error() string {
	msg := e.Path + ": " + e.Reason
	if e.Path == "" {
		msg = e.Reason
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns ErrInvalid and Err, when set.
func (e *FieldError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrInvalid}
	}
	return []error{ErrInvalid, e.Err}
}

// FieldErrors returns the *FieldError values in err, in order: err
// itself, the errors it wraps, and every error joined in it (an input with
// several broken rules reports them joined). None when err is nil or names
// no field.
func FieldErrors(err error) []*FieldError {
	var out []*FieldError
	walk(err, func(fe *FieldError) { out = append(out, fe) })
	return out
}

// walk calls fn with each *FieldError in err, depth first, without
// descending into a FieldError's Err.
func walk(err error, fn func(*FieldError)) {
	for err != nil {
		switch e := err.(type) {
		case *FieldError:
			fn(e)
			return
		case interface{ Unwrap() []error }:
			for _, inner := range e.Unwrap() {
				walk(inner, fn)
			}
			return
		default:
			err = errors.Unwrap(err)
		}
	}
}

// WithPrefix returns err with prefix put in front of the path of each
// *FieldError it is or joins (errors.Join): "containerDefinitions[1]" and
// "memory" make "containerDefinitions[1].memory", and a path starting with
// "[" is appended without a dot. The field errors are copied, not changed.
// Other errors are returned as they are, including one that wraps a
// *FieldError with a message of its own; nil stays nil.
func WithPrefix(prefix string, err error) error {
	switch e := err.(type) {
	case nil:
		return nil
	case *FieldError:
		c := *e
		c.Path = JoinPath(prefix, e.Path)
		return &c
	case interface{ Unwrap() []error }:
		if reflect.TypeOf(err) != joinType {
			return err
		}
		inner := e.Unwrap()
		out := make([]error, len(inner))
		for i, x := range inner {
			out[i] = WithPrefix(prefix, x)
		}
		return errors.Join(out...)
	}
	return err
}

// joinType is the type of errors.Join's errors.
var joinType = reflect.TypeOf(errors.Join(errors.New("")))

// JoinPath joins two paths: "a" and "b" make "a.b", "a" and "[1].b" make
// "a[1].b", and either alone is itself.
func JoinPath(prefix, path string) string {
	switch {
	case prefix == "":
		return path
	case path == "":
		return prefix
	case path[0] == '[':
		return prefix + path
	}
	return prefix + "." + path
}
