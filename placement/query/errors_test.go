package query

import (
	"errors"
	"regexp/syntax"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	subjects  = "a subject (agentConnected, agentVersion, attribute:<name>, ec2InstanceId, registeredAt, runningTasksCount, task:group)"
	operators = "an operator (==, !=, >, >=, <, <=, exists, !exists, in, !in, =~, !~)"
)

func TestSyntaxErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr     string
		pos      int
		expected string
		found    string
	}{
		{"", 0, subjects, ""},
		{"   ", 3, subjects, ""},
		{"foo == bar", 0, subjects, "foo"},
		{"attribute:ecs.instance-type foo t2.small", 28, operators, "foo"},
		{"attribute:ecs.instance-type", 27, operators, ""},
		{"attribute: == x", 11, `an attribute name after "attribute:"`, "=="},
		{"attribute:ecs.instance-type ==", 30, "a value", ""},
		{"attribute:ecs.instance-type == t2.small extra", 40, `"and", "or" or end of expression`, "extra"},
		{"attribute:ecs.instance-type in t2.small", 31, "a list such as [a, b]", "t2.small"},
		{"attribute:ecs.instance-type in [t2.small", 40, `"," or "]"`, ""},
		{"attribute:ecs.instance-type in [t2.small t2.medium]", 41, `"," or "]"`, "t2.medium"},
		{"attribute:ecs.instance-type in [t2.small,]", 41, "a value", "]"},
		{"attribute:ecs.instance-type in [,]", 32, "a value", ","},
		{"attribute:ecs.instance-type == 'unterminated", 31, `a closing "'" for the string that starts here`, ""},
		{`attribute:ecs.instance-type == "it's`, 31, `a closing "\"" for the string that starts here`, ""},
		{"(attribute:a == b", 17, `"and", "or" or ")"`, ""},
		{"attribute:a == b)", 16, `"and", "or" or end of expression`, ")"},
		{"attribute:a == b and", 20, subjects, ""},
		{"attribute:a == b or or attribute:c == d", 20, subjects, "or"},
		{"attribute:a == b && || attribute:b == c", 20, subjects, "||"},
		{"not", 3, subjects, ""},
		{"!", 1, subjects, ""},
		{"()", 1, subjects, ")"},
		{"attribute:a == (b)", 15, "a value", "("},
		{"attribute:a == b, c", 16, `"and", "or" or end of expression`, ","},
		{"task:group == [a]", 14, "a value", "["},
		{"attribute:a !index x", 12, operators, "!index"},
		{"attribute:a not exists", 12, operators, "not"},
		{"attribute:a == b and fooVeryLongAttributeNameThatGoesOnAndOn == x", 21, subjects, "fooVeryLongAttributeName..."},
		{"attribute:a == 'é' and ééééééééééééé == x", 24, subjects, "éééééééééééé..."},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(tt.expr)
			var se *SyntaxError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, SyntaxError{Pos: tt.pos, Expected: tt.expected, Found: tt.found}, *se)
			assert.ErrorIs(t, err, ErrSyntax)
			assert.ErrorIs(t, err, ErrInvalid)
			assert.NotErrorIs(t, err, ErrSemantic)
			assert.NotErrorIs(t, err, ErrTooLong)
		})
	}
}

// TestErrorMessages pins the full text of a few messages.
func TestErrorMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr string
		want string
	}{
		{"attribute:ecs.instance-type == t2.small and task:group foo",
			`query: at position 55: expected an operator (==, !=, >, >=, <, <=, exists, !exists, in, !in, =~, !~), found "foo"`},
		{"attribute:a == b and",
			`query: at position 20: expected a subject (agentConnected, agentVersion, attribute:<name>, ec2InstanceId, registeredAt, runningTasksCount, task:group), found end of expression`},
		{"attribute:ecs.instance-type in [t2.small t2.medium]",
			`query: at position 41: expected "," or "]", found "t2.medium"`},
		{"runningTasksCount =~ 1",
			`query: at position 18: runningTasksCount: operator =~ is not supported (use ==, !=, >, >=, <, <=)`},
		{"runningTasksCount == x",
			`query: at position 21: runningTasksCount: "x" is not an integer`},
		{"attribute:a =~ a(",
			"query: at position 15: attribute:a: \"a(\" is not a valid regular expression: error parsing regexp: missing closing ): `a(`"},
		{strings.Repeat("x", 2001),
			"query: expression is 2001 characters long, at most 2000 are allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(tt.expr)
			require.Error(t, err)
			assert.Equal(t, tt.want, err.Error())
		})
	}
}

func TestSemanticErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr    string
		pos     int
		subject string
		reason  string
	}{
		{"runningTasksCount =~ 1", 18, "runningTasksCount", "operator =~ is not supported (use ==, !=, >, >=, <, <=)"},
		{"runningTasksCount in [1]", 18, "runningTasksCount", "operator in is not supported (use ==, !=, >, >=, <, <=)"},
		{"runningTasksCount == x", 21, "runningTasksCount", `"x" is not an integer`},
		{"runningTasksCount == 1.5", 21, "runningTasksCount", `"1.5" is not an integer`},
		{"runningTasksCount == 99999999999999999999", 21, "runningTasksCount", `"99999999999999999999" is not an integer`},
		{"registeredAt > yesterday", 15, "registeredAt",
			`"yesterday" is not a date (use 2018-06-18, 2018-06-18T22:28:28, 2018-06-18T22:28:28Z or 2018-06-18T22:28:28+00:00)`},
		{"registeredAt in [2018-01-01]", 13, "registeredAt", "operator in is not supported (use ==, !=, >, >=, <, <=)"},
		{"registeredAt exists", 13, "registeredAt", "operator exists is not supported (use ==, !=, >, >=, <, <=)"},
		{"agentVersion > latest", 15, "agentVersion", `"latest" is not a version such as 1.14.5`},
		{"agentVersion exists", 13, "agentVersion", "operator exists is not supported (use ==, !=, >, >=, <, <=, in, !in, =~, !~)"},
		{"agentConnected == yes", 18, "agentConnected", `"yes" is not true or false`},
		{"agentConnected in [true, maybe]", 25, "agentConnected", `"maybe" is not true or false`},
		{"agentConnected > false", 15, "agentConnected", "operator > is not supported (use ==, !=, in, !in, =~, !~)"},
		{"ec2InstanceId exists", 14, "ec2InstanceId", "operator exists is not supported (use ==, !=, in, !in, =~, !~)"},
		{"instanceId < i-1", 11, "ec2InstanceId", "operator < is not supported (use ==, !=, in, !in, =~, !~)"},
		{"task:group > a", 11, "task:group", "operator > is not supported (use ==, !=, exists, !exists, in, !in, =~, !~)"},
		{"attribute:a =~ '('", 15, "attribute:a", `"(" is not a valid regular expression`},
		{"attribute:a == b and attribute:c !~ x{2,1}", 36, "attribute:c", `"x{2,1}" is not a valid regular expression`},
		{"agentConnected =~ '['", 18, "agentConnected", `"[" is not a valid regular expression`},
		{"attribute:a =~ a{1000}", 15, "attribute:a", `"a{1000}" is not a valid regular expression`},
		{"attribute:a =~ " + strings.Repeat("a{999}", 300), 15, "attribute:a",
			`"a{999}a{999}a{999}a{999}"... is not a valid regular expression`},
		{"runningTasksCount == " + strings.Repeat("9", 30), 21, "runningTasksCount",
			`"999999999999999999999999"... is not an integer`},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(tt.expr)
			var se *SemanticError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, tt.pos, se.Pos)
			assert.Equal(t, tt.subject, se.Subject)
			assert.Equal(t, tt.reason, se.Reason)
			assert.ErrorIs(t, err, ErrSemantic)
			assert.ErrorIs(t, err, ErrInvalid)
			assert.NotErrorIs(t, err, ErrSyntax)
			if strings.Contains(tt.reason, "regular expression") {
				var re *syntax.Error
				if strings.Contains(tt.expr, "a{") {
					assert.ErrorIs(t, err, errRegexpTooComplex)
				} else {
					assert.ErrorAs(t, err, &re, "the regexp error is wrapped")
				}
			}
		})
	}
}

func TestLength(t *testing.T) {
	t.Parallel()
	// 2000 characters exactly: accepted. Multi-byte characters count once.
	value := strings.Repeat("é", MaxLength-len("attribute:a == ''"))
	e, err := Parse("attribute:a == '" + value + "'")
	require.NoError(t, err)
	assert.True(t, e.Eval(&instance{attributes: map[string]string{"a": value}}))

	_, err = Parse("attribute:a == '" + value + "x'")
	assert.ErrorIs(t, err, ErrTooLong)
	assert.ErrorIs(t, err, ErrInvalid)
	assert.False(t, errors.Is(err, ErrSyntax))

	// A long chain of conditions parses too.
	long := strings.Repeat("runningTasksCount == 1 or ", 76) + "runningTasksCount == 2"
	require.LessOrEqual(t, len(long), MaxLength)
	e, err = Parse(long)
	require.NoError(t, err)
	assert.True(t, e.Eval(m5))

	// So does deep nesting.
	deep := strings.Repeat("not (", 300) + "runningTasksCount == 2" + strings.Repeat(")", 300)
	e, err = Parse(deep)
	require.NoError(t, err)
	assert.True(t, e.Eval(m5))
}
