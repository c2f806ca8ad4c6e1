package query

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fuzzSeeds are the expressions FuzzParse starts from: the documented
// examples and a few of every kind of error.
var fuzzSeeds = []string{
	"attribute:ecs.instance-type == t2.small",
	"attribute:ecs.instance-type =~ g2.*",
	"attribute:ecs.availability-zone in [us-east-1a, us-east-1b]",
	"not(task:group == database)",
	"runningTasksCount == 1",
	"registeredAt < 2018-03-01",
	"registeredAt >= 2018-06-18T22:28:28+00:00",
	"attribute:ecs.instance-type =~ t2.* and attribute:ecs.availability-zone != us-east-1d",
	"ec2InstanceId in ['i-abcd1234', 'i-wxyx7890']",
	"task:group == service:production",
	"agentVersion >= 1.5.0",
	"agentConnected != false || !(attribute:stack exists) && attribute:owner == 'team \\'a\\''",
	"(attribute:a =~ \"x(y|z)\\\\d\" or instanceId !in [i-1,i-*]) and attribute:slots > 9",
	"NOT task:group !~ (a|b)[0-9]+ AND attribute:x not_exists",
	"attribute:ecs.instance-type in [t2.small",
	"attribute:ecs.instance-type == 'unterminated",
	"runningTasksCount =~ 1",
	"((",
	"",
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalid)
			var syn *SyntaxError
			var sem *SemanticError
			switch {
			case errorAs(err, &syn):
				require.True(t, syn.Pos >= 0 && syn.Pos <= len(s), "position %d out of range", syn.Pos)
			case errorAs(err, &sem):
				require.True(t, sem.Pos >= 0 && sem.Pos < len(s), "position %d out of range", sem.Pos)
			default:
				require.ErrorIs(t, err, ErrTooLong)
			}
			return
		}
		canonical := e.String()
		again, err := parseUnlimited(canonical)
		require.NoError(t, err, "canonical form %q of %q does not parse", canonical, s)
		require.Equal(t, canonical, again.String(), "canonical form of %q is not stable", s)
		require.Equal(t, e.Dynamic(), again.Dynamic())
		require.Equal(t, e.Subjects(), again.Subjects())
		for _, in := range append(derivedInstances(e), everyInstance...) {
			require.Equal(t, e.Eval(in), again.Eval(in), "%q and its canonical form %q disagree on %+v", s, canonical, in)
		}
	})
}

// derivedInstances builds instances out of the expression's own arguments,
// so that its conditions hold on some of them.
func derivedInstances(e *Expr) []*instance {
	var out []*instance
	for _, pick := range []func([]string) string{
		func(a []string) string { return first(a) },
		func(a []string) string { return strings.ReplaceAll(first(a), "*", "") },
		func(a []string) string { return strings.ReplaceAll(first(a), "*", "xyz") },
		func(a []string) string {
			if len(a) == 0 {
				return ""
			}
			return a[len(a)-1]
		},
	} {
		in := &instance{attributes: map[string]string{}, connected: len(out)%2 == 0}
		e.root.walk(func(c *condition) {
			v := pick(c.args)
			switch c.subject {
			case subjectAttribute:
				in.attributes[c.name] = v
			case subjectInstanceID:
				in.id = v
			case subjectAgentVersion:
				in.version = v
			case subjectTaskGroup:
				in.groups = append(in.groups, v)
			case subjectRegisteredAt:
				in.registered = c.date.from.Add(time.Duration(len(out)-1) * time.Second)
			}
		})
		out = append(out, in)
	}
	return out
}

func first(a []string) string {
	if len(a) == 0 {
		return ""
	}
	return a[0]
}
