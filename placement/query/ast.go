package query

import (
	"strconv"
	"strings"
	"time"
)

// subject is what a condition reads from the Target.
type subject uint8

const (
	subjectAgentConnected subject = iota + 1
	subjectAgentVersion
	subjectAttribute
	subjectInstanceID
	subjectRegisteredAt
	subjectRunningTasksCount
	subjectTaskGroup
)

// subjectNames maps the lower-cased spelling of each fixed subject to the
// subject; attribute:<name> is handled apart.
var subjectNames = map[string]subject{
	"agentconnected":    subjectAgentConnected,
	"agentversion":      subjectAgentVersion,
	"ec2instanceid":     subjectInstanceID,
	"instanceid":        subjectInstanceID, // Stevedore's alias
	"registeredat":      subjectRegisteredAt,
	"runningtaskscount": subjectRunningTasksCount,
	"task:group":        subjectTaskGroup,
}

const attributePrefix = "attribute:"

// canonical spelling, as String prints it.
func (s subject) String() string {
	switch s {
	case subjectAgentConnected:
		return "agentConnected"
	case subjectAgentVersion:
		return "agentVersion"
	case subjectAttribute:
		return "attribute"
	case subjectInstanceID:
		return "ec2InstanceId"
	case subjectRegisteredAt:
		return "registeredAt"
	case subjectRunningTasksCount:
		return "runningTasksCount"
	case subjectTaskGroup:
		return "task:group"
	}
	return "subject(" + strconv.Itoa(int(s)) + ")"
}

// operator is a comparison.
type operator uint8

const (
	opEq operator = iota + 1
	opNe
	opGt
	opGe
	opLt
	opLe
	opExists
	opNotExists
	opIn
	opNotIn
	opMatches
	opNotMatches
)

// opSet is a set of operators, one bit each.
type opSet uint16

func setOf(ops ...operator) opSet {
	var s opSet
	for _, op := range ops {
		s |= 1 << op
	}
	return s
}

func (s opSet) has(op operator) bool { return s&(1<<op) != 0 }

// String lists the set in canonical spelling, for error messages.
func (s opSet) String() string {
	var b strings.Builder
	for op := opEq; op <= opNotMatches; op++ {
		if s.has(op) {
			if b.Len() > 0 {
				b.WriteString(", ")
			}
			b.WriteString(op.String())
		}
	}
	return b.String()
}

var (
	stringOps   = setOf(opEq, opNe, opIn, opNotIn, opMatches, opNotMatches)
	orderingOps = setOf(opEq, opNe, opGt, opGe, opLt, opLe)
	existsOps   = setOf(opExists, opNotExists)
)

// allowedOps is what each subject supports: the lists of the ECS
// documentation, plus exists and !exists on task:group, and the string
// operators (in, !in, =~, !~) on agentVersion.
var allowedOps = map[subject]opSet{
	subjectAgentConnected:    stringOps,
	subjectAgentVersion:      stringOps | orderingOps,
	subjectAttribute:         stringOps | orderingOps | existsOps,
	subjectInstanceID:        stringOps,
	subjectRegisteredAt:      orderingOps,
	subjectRunningTasksCount: orderingOps,
	subjectTaskGroup:         stringOps | existsOps,
}

// operatorSpellings maps every accepted spelling, lower-cased, to its
// operator.
var operatorSpellings = map[string]operator{
	"==": opEq, "equals": opEq,
	"!=": opNe, "not_equals": opNe,
	">": opGt, "greater_than": opGt,
	">=": opGe, "greater_than_equal": opGe,
	"<": opLt, "less_than": opLt,
	"<=": opLe, "less_than_equal": opLe,
	"exists":  opExists,
	"!exists": opNotExists, "not_exists": opNotExists,
	"in":  opIn,
	"!in": opNotIn, "not_in": opNotIn,
	"=~": opMatches, "matches": opMatches,
	"!~": opNotMatches, "not_matches": opNotMatches,
}

// String is the canonical spelling.
func (op operator) String() string {
	switch op {
	case opEq:
		return "=="
	case opNe:
		return "!="
	case opGt:
		return ">"
	case opGe:
		return ">="
	case opLt:
		return "<"
	case opLe:
		return "<="
	case opExists:
		return "exists"
	case opNotExists:
		return "!exists"
	case opIn:
		return "in"
	case opNotIn:
		return "!in"
	case opMatches:
		return "=~"
	case opNotMatches:
		return "!~"
	}
	return "operator(" + strconv.Itoa(int(op)) + ")"
}

// negated reports whether op is the negation of a positive operator
// (!=, !in, !~, !exists).
func (op operator) negated() bool {
	return op == opNe || op == opNotIn || op == opNotMatches || op == opNotExists
}

// holds reports whether a three-way comparison result satisfies an
// ordering operator.
func (op operator) holds(cmp int) bool {
	switch op {
	case opEq:
		return cmp == 0
	case opNe:
		return cmp != 0
	case opGt:
		return cmp > 0
	case opGe:
		return cmp >= 0
	case opLt:
		return cmp < 0
	case opLe:
		return cmp <= 0
	}
	return false
}

// Operator precedence, lowest first; String uses it to print only the
// parentheses that are needed.
const (
	precOr = iota + 1
	precAnd
	precNot
)

// node is one element of a parsed expression.
type node interface {
	eval(t Target) bool
	write(b *strings.Builder)
	prec() int
	walk(f func(*condition))
}

type orNode struct{ terms []node }

func (n *orNode) eval(t Target) bool {
	for _, x := range n.terms {
		if x.eval(t) {
			return true
		}
	}
	return false
}

func (n *orNode) prec() int { return precOr }

func (n *orNode) write(b *strings.Builder) {
	for i, x := range n.terms {
		if i > 0 {
			b.WriteString(" or ")
		}
		writeOperand(b, x, precOr)
	}
}

func (n *orNode) walk(f func(*condition)) {
	for _, x := range n.terms {
		x.walk(f)
	}
}

type andNode struct{ terms []node }

func (n *andNode) eval(t Target) bool {
	for _, x := range n.terms {
		if !x.eval(t) {
			return false
		}
	}
	return true
}

func (n *andNode) prec() int { return precAnd }

func (n *andNode) write(b *strings.Builder) {
	for i, x := range n.terms {
		if i > 0 {
			b.WriteString(" and ")
		}
		writeOperand(b, x, precAnd)
	}
}

func (n *andNode) walk(f func(*condition)) {
	for _, x := range n.terms {
		x.walk(f)
	}
}

type notNode struct{ x node }

func (n *notNode) eval(t Target) bool { return !n.x.eval(t) }

func (n *notNode) prec() int { return precNot }

// write always parenthesizes a condition under not, as the ECS
// documentation writes not(task:group == database): it reads better and
// parses the same.
func (n *notNode) write(b *strings.Builder) {
	b.WriteString("not ")
	if _, ok := n.x.(*notNode); ok {
		n.x.write(b)
		return
	}
	b.WriteByte('(')
	n.x.write(b)
	b.WriteByte(')')
}

func (n *notNode) walk(f func(*condition)) { n.x.walk(f) }

// writeOperand writes x, parenthesized when it binds more loosely than its
// parent.
func writeOperand(b *strings.Builder, x node, parent int) {
	if x.prec() < parent {
		b.WriteByte('(')
		x.write(b)
		b.WriteByte(')')
		return
	}
	x.write(b)
}

// matchAnyGroup is the group matcher of task:group exists.
var matchAnyGroup = func(string) bool { return true }

// condition is one `subject operator [argument]`, compiled. Which of the
// compiled fields are set depends on the subject and operator; Parse fills
// them once so that eval does no parsing and no allocation.
type condition struct {
	subject subject
	name    string   // attribute name, for subjectAttribute
	op      operator // the comparison
	args    []string // canonical argument values, for String
	list    bool     // args were written as a list

	matcher    *stringMatcher    // string operators (==, !=, in, !in, =~, !~)
	groupMatch func(string) bool // task:group: matcher.match, bound once
	number     float64           // attribute ordering: the argument as a number
	isNumber   bool              // and whether it is one
	version    string            // agentVersion ordering: the argument's versionCore
	count      int               // runningTasksCount
	date       dateRange         // registeredAt
	ifTrue     bool              // agentConnected: result when connected
	ifFalse    bool              // and when not
}

func (c *condition) prec() int { return precNot + 1 }

func (c *condition) walk(f func(*condition)) { f(c) }

// subjectString is the canonical spelling of the condition's subject.
func (c *condition) subjectString() string {
	if c.subject == subjectAttribute {
		return attributePrefix + c.name
	}
	return c.subject.String()
}

func (c *condition) eval(t Target) bool {
	switch c.subject {
	case subjectAttribute:
		v, ok := t.Attribute(c.name)
		switch c.op {
		case opExists:
			return ok
		case opNotExists:
			return !ok
		}
		// As in ECS, every comparison (!= and !in included) needs the
		// attribute: `attribute:stack != prod` selects instances that
		// have a stack attribute whose value is not prod.
		if !ok {
			return false
		}
		return c.evalString(v)
	case subjectInstanceID:
		return c.evalString(t.InstanceID())
	case subjectAgentVersion:
		v := t.AgentVersion()
		switch c.op {
		case opGt, opGe, opLt, opLe:
			core, ok := versionCore(v)
			return ok && c.op.holds(compareVersionCores(core, c.version))
		}
		return c.evalString(v)
	case subjectAgentConnected:
		if t.AgentConnected() {
			return c.ifTrue
		}
		return c.ifFalse
	case subjectRunningTasksCount:
		n := t.RunningTasksCount()
		switch {
		case n < c.count:
			return c.op.holds(-1)
		case n > c.count:
			return c.op.holds(1)
		}
		return c.op.holds(0)
	case subjectRegisteredAt:
		return c.evalDate(t.RegisteredAt())
	case subjectTaskGroup:
		// A negated operator is the negation of the positive one: the
		// instance holds no task of a matching group. That is what
		// anti-affinity needs; "holds some task of another group" would
		// be true of nearly every busy instance.
		return t.HasTaskGroup(c.groupMatch) != c.op.negated()
	}
	return false
}

// evalString applies a string operator, or an ordering one on attributes.
func (c *condition) evalString(v string) bool {
	switch c.op {
	case opEq, opIn, opMatches:
		return c.matcher.match(v)
	case opNe, opNotIn, opNotMatches:
		return !c.matcher.match(v)
	}
	// Ordering on an attribute: numeric when both sides are numbers,
	// otherwise byte-wise on the strings.
	if c.isNumber {
		if f, ok := parseNumber(v); ok {
			switch {
			case f < c.number:
				return c.op.holds(-1)
			case f > c.number:
				return c.op.holds(1)
			}
			return c.op.holds(0)
		}
	}
	return c.op.holds(strings.Compare(v, c.args[0]))
}

// evalDate compares a registration time with the span the argument names.
func (c *condition) evalDate(r time.Time) bool {
	d := c.date
	switch c.op {
	case opEq:
		return !r.Before(d.from) && r.Before(d.to)
	case opNe:
		return r.Before(d.from) || !r.Before(d.to)
	case opLt:
		return r.Before(d.from)
	case opLe:
		return r.Before(d.to)
	case opGt:
		return !r.Before(d.to)
	case opGe:
		return !r.Before(d.from)
	}
	return false
}

func (c *condition) write(b *strings.Builder) {
	b.WriteString(c.subjectString())
	b.WriteByte(' ')
	b.WriteString(c.op.String())
	if c.op == opExists || c.op == opNotExists {
		return
	}
	b.WriteByte(' ')
	if !c.list {
		writeValue(b, c.args[0])
		return
	}
	b.WriteByte('[')
	for i, v := range c.args {
		if i > 0 {
			b.WriteString(", ")
		}
		writeValue(b, v)
	}
	b.WriteByte(']')
}

// writeValue writes v bare when it reads back as the same value in any
// argument position, and single-quoted otherwise.
func writeValue(b *strings.Builder, v string) {
	if isBare(v) {
		b.WriteString(v)
		return
	}
	b.WriteByte('\'')
	for i := 0; i < len(v); i++ {
		// A backslash needs doubling only where the parser would read it
		// as an escape: before a quote, another backslash or the end.
		if v[i] == '\'' || v[i] == '\\' && (i+1 == len(v) || v[i+1] == '\'' || v[i+1] == '\\') {
			b.WriteByte('\\')
		}
		b.WriteByte(v[i])
	}
	b.WriteByte('\'')
}

// isBare reports whether v can be written without quotes: it is not empty
// and made only of characters that never end or start anything in an
// argument.
func isBare(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("._:/@*+-\\^$?{}~#%=<>!", c) >= 0:
		default:
			return false
		}
	}
	return true
}
