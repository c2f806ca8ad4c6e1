package query

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// compile checks the condition's arguments against its subject and
// operator and prepares everything eval needs. positions are the byte
// offsets of c.args, for error messages.
func (c *condition) compile(positions []int) error {
	invalid := func(i int, reason string, err error) error {
		return &SemanticError{Pos: positions[i], Subject: c.subjectString(), Reason: reason, Err: err}
	}
	switch c.subject {
	case subjectAgentConnected:
		return c.compileBool(invalid)
	case subjectRunningTasksCount:
		n, err := strconv.Atoi(c.args[0])
		if err != nil {
			return invalid(0, fmt.Sprintf("%s is not an integer", clip(c.args[0])), nil)
		}
		c.count = n
		c.args[0] = strconv.Itoa(n)
		return nil
	case subjectRegisteredAt:
		d, ok := parseDateRange(c.args[0])
		if !ok {
			return invalid(0, fmt.Sprintf("%s is not a date (use 2018-06-18, 2018-06-18T22:28:28, 2018-06-18T22:28:28Z or 2018-06-18T22:28:28+00:00)", clip(c.args[0])), nil)
		}
		c.date = d
		c.args[0] = d.String()
		return nil
	}

	switch c.op {
	case opExists, opNotExists:
		c.groupMatch = matchAnyGroup
		return nil
	case opGt, opGe, opLt, opLe:
		if c.subject == subjectAgentVersion {
			core, ok := versionCore(c.args[0])
			if !ok {
				return invalid(0, fmt.Sprintf("%s is not a version such as 1.14.5", clip(c.args[0])), nil)
			}
			c.version = core
			return nil
		}
		c.number, c.isNumber = parseNumber(c.args[0])
		return nil
	case opMatches, opNotMatches:
		m, err := newRegexpMatcher(c.args[0])
		if err != nil {
			return invalid(0, fmt.Sprintf("%s is not a valid regular expression", clip(c.args[0])), err)
		}
		c.matcher = m
	default: // ==, !=, in, !in
		c.matcher = newValueMatcher(c.args)
	}
	c.groupMatch = c.matcher.match
	return nil
}

// compileBool works out, once, what an agentConnected condition yields for
// a connected and a disconnected agent.
func (c *condition) compileBool(invalid func(int, string, error) error) error {
	switch c.op {
	case opMatches, opNotMatches:
		m, err := newRegexpMatcher(c.args[0])
		if err != nil {
			return invalid(0, fmt.Sprintf("%s is not a valid regular expression", clip(c.args[0])), err)
		}
		c.ifTrue, c.ifFalse = m.match("true"), m.match("false")
	default:
		for i, v := range c.args {
			switch strings.ToLower(v) {
			case "true":
				c.ifTrue = true
				c.args[i] = "true"
			case "false":
				c.ifFalse = true
				c.args[i] = "false"
			default:
				return invalid(i, fmt.Sprintf("%s is not true or false", clip(v)), nil)
			}
		}
	}
	if c.op.negated() {
		c.ifTrue, c.ifFalse = !c.ifTrue, !c.ifFalse
	}
	return nil
}

// clip quotes a value for an error message, shortened to foundMax bytes.
func clip(v string) string {
	if len(v) <= foundMax {
		return strconv.Quote(v)
	}
	end := foundMax
	for end > 0 && !utf8.RuneStart(v[end]) {
		end--
	}
	return strconv.Quote(v[:end]) + "..."
}
