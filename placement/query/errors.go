package query

import (
	"errors"
	"fmt"

	"github.com/stevedore-io/stevedore/errdefs"
)

// MaxLength is the longest expression Parse accepts, in characters (runes),
// the same limit ECS puts on a memberOf expression.
const MaxLength = 2000

// Sentinel errors for errors.Is. Every error Parse returns matches ErrInvalid
// and exactly one of ErrSyntax, ErrSemantic and ErrTooLong.
var (
	// ErrInvalid matches every error Parse returns: the expression is not a
	// valid cluster query. It matches errdefs.ErrInvalid.
	ErrInvalid = errdefs.New(errdefs.ErrInvalid, "query: invalid expression")
	// ErrSyntax matches a *SyntaxError: the text is not in the grammar.
	ErrSyntax = errors.New("query: syntax error")
	// ErrSemantic matches a *SemanticError: the text is in the grammar but
	// means nothing, such as an operator a subject does not support or an
	// argument of the wrong kind.
	ErrSemantic = errors.New("query: semantic error")
	// ErrTooLong is returned for an expression longer than MaxLength.
	ErrTooLong = errors.New("query: expression too long")
)

// SyntaxError reports text that is not in the grammar of the language.
type SyntaxError struct {
	// Pos is the byte offset, counted from 0, where the problem starts.
	Pos int
	// Expected describes what the parser was looking for, such as
	// `an operator (==, !=, in, ...)`.
	Expected string
	// Found is the text found at Pos; empty when the expression ended.
	Found string
}

// Error returns a message such as
// `query: at position 27: expected an operator (==, !=, in, ...), found "foo"`.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("query: at position %d: expected %s, found %s", e.Pos, e.Expected, describeFound(e.Found))
}

// Is makes errors.Is(err, ErrSyntax) true.
func (e *SyntaxError) Is(target error) bool { return target == ErrSyntax }

// Unwrap returns ErrInvalid, which matches errdefs.ErrInvalid.
func (e *SyntaxError) Unwrap() error { return ErrInvalid }

func describeFound(found string) string {
	if found == "" {
		return "end of expression"
	}
	return fmt.Sprintf("%q", found)
}

// SemanticError reports a well-formed condition that means nothing: an
// operator the subject does not support, or an argument that is not a valid
// number, date, version, boolean or regular expression.
type SemanticError struct {
	// Pos is the byte offset, counted from 0, of the offending operator or
	// argument.
	Pos int
	// Subject is the condition's subject in canonical form, such as
	// "runningTasksCount" or "attribute:ecs.instance-type".
	Subject string
	// Reason says what is wrong, such as `operator =~ is not supported
	// (use ==, !=, >, >=, <, <=)`.
	Reason string
	// Err is the underlying error, such as a regexp or time parse error;
	// it may be nil.
	Err error
}

// Error returns a message such as
// `query: at position 21: runningTasksCount: "x" is not an integer`.
func (e *SemanticError) Error() string {
	msg := fmt.Sprintf("query: at position %d: %s: %s", e.Pos, e.Subject, e.Reason)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is makes errors.Is(err, ErrSemantic) true.
func (e *SemanticError) Is(target error) bool { return target == ErrSemantic }

// Unwrap returns ErrInvalid (which matches errdefs.ErrInvalid) and the
// underlying error, if any.
func (e *SemanticError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrInvalid}
	}
	return []error{ErrInvalid, e.Err}
}

// tooLongError is returned for an expression over MaxLength characters.
type tooLongError struct{ n int }

func (e *tooLongError) Error() string {
	return fmt.Sprintf("query: expression is %d characters long, at most %d are allowed", e.n, MaxLength)
}

func (e *tooLongError) Is(target error) bool { return target == ErrTooLong }

func (e *tooLongError) Unwrap() error { return ErrInvalid }
