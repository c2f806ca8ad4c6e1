package query

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// Expr is a parsed cluster query. It is immutable, so one Expr may be
// evaluated from many goroutines at once.
type Expr struct {
	root     node
	dynamic  bool
	subjects []string
}

// Parse parses and compiles a cluster query expression such as
// `attribute:ecs.instance-type =~ t2.* and not(task:group == database)`.
// Regular expressions, wildcards, lists, numbers, dates and versions are
// compiled here, once, so that Eval only compares.
//
// Every error matches ErrInvalid; a *SyntaxError matches ErrSyntax, a
// *SemanticError matches ErrSemantic, and an expression longer than
// MaxLength characters matches ErrTooLong.
func Parse(expr string) (*Expr, error) {
	if n := utf8.RuneCountInString(expr); n > MaxLength {
		return nil, &tooLongError{n: n}
	}
	return parseUnlimited(expr)
}

// parseUnlimited parses without the length limit: the canonical form of a
// long expression may be longer than the text it came from.
func parseUnlimited(expr string) (*Expr, error) {
	root, err := parse(expr)
	if err != nil {
		return nil, err
	}
	e := &Expr{root: root}
	root.walk(func(c *condition) {
		if c.subject == subjectTaskGroup || c.subject == subjectRunningTasksCount {
			e.dynamic = true
		}
		if s := c.subjectString(); !slices.Contains(e.subjects, s) {
			e.subjects = append(e.subjects, s)
		}
	})
	slices.Sort(e.subjects)
	return e, nil
}

// MustParse is like Parse but panics on error. It is meant for expressions
// written in code, such as package-level variables and tests.
func MustParse(expr string) *Expr {
	e, err := Parse(expr)
	if err != nil {
		panic(err)
	}
	return e
}

// Eval reports whether the target satisfies the expression. It does not
// allocate, apart from what the Target's methods do.
func (e *Expr) Eval(t Target) bool {
	return e.root.eval(t)
}

// String returns the canonical form of the expression: operators in their
// symbolic spelling, subjects as the documentation spells them, single
// spaces, values quoted only where needed, and only the parentheses that
// precedence requires (plus those after not). Parsing the result yields an
// expression that evaluates the same on every target and has the same
// String; the canonical form can be longer than the original text, and so
// exceed MaxLength.
func (e *Expr) String() string {
	var b strings.Builder
	e.root.write(&b)
	return b.String()
}

// Dynamic reports whether the expression reads task:group or
// runningTasksCount, whose values change as tasks are placed. The result of
// an expression that is not dynamic depends only on the instance, so a
// placement engine may compute it once per instance and round.
func (e *Expr) Dynamic() bool { return e.dynamic }

// Subjects returns the subjects the expression reads, in canonical form
// (such as "attribute:ecs.instance-type" or "task:group"), sorted and
// without duplicates. The slice is the caller's to keep.
func (e *Expr) Subjects() []string { return slices.Clone(e.subjects) }
