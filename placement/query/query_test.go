package query

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// names of the shared instances, in the order everyInstance lists them.
var instanceNames = []string{"m5", "t2", "g2", "bare"}

// matching returns the names of the shared instances e selects, space
// separated, or "none".
func matching(e *Expr) string {
	var names []string
	for i, in := range everyInstance {
		if e.Eval(in) {
			names = append(names, instanceNames[i])
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, " ")
}

// TestECSExamples runs the expressions of the ECS documentation (cluster
// query language and task placement constraint pages).
func TestECSExamples(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr      string
		canonical string
		matches   string
	}{
		{"attribute:ecs.instance-type == t2.small", "", "t2"},
		{"attribute:ecs.instance-type == g2.2xlarge", "", "g2"},
		{"attribute:ecs.instance-type =~ g2.*", "", "g2"},
		{"attribute:ecs.instance-type =~ t2.*", "", "t2"},
		{"attribute:ecs.instance-type == t2.*", "", "t2"},
		{"attribute:ecs.availability-zone in [us-east-1a, us-east-1b]", "", "m5 g2"},
		{"attribute:ecs.instance-type in [t2.small, t2.medium]", "", "t2"},
		{"attribute:ecs.instance-type =~ g2.* and attribute:ecs.availability-zone != us-east-1d", "", "g2"},
		{"attribute:ecs.instance-type =~ t2.* and attribute:ecs.availability-zone != us-east-1d", "", "none"},
		{"attribute:ecs.instance-type =~ t2.* and attribute:ecs.availability-zone == us-east-1a", "", "none"},
		{"attribute:stack == prod", "", "m5"},
		// ECS: "the instances with the custom attribute stack unless the
		// attribute value is prod" - instances without it do not match.
		{"attribute:stack != prod", "", "none"},
		{"task:group == service:production", "", "m5"},
		{"task:group == databases", "", "none"},
		{"not(task:group == database)", "not (task:group == database)", "m5 g2 bare"},
		{"runningTasksCount == 1", "", "t2"},
		{"agentVersion < 1.14.5", "", "t2"},
		{"agentVersion >= 1.5.0", "", "m5 t2 g2"},
		{"registeredAt < 2018-02-13", "", "bare"},
		{"registeredAt < 2018-03-01", "", "m5 bare"},
		{"ec2InstanceId in ['i-abcd1234', 'i-wxyx7890']", "ec2InstanceId in [i-abcd1234, i-wxyx7890]", "m5 t2"},
		{"(attribute:ecs.availability-zone == us-east-1a or attribute:ecs.availability-zone == us-east-1b) and agentConnected == true",
			"", "m5 g2"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			t.Parallel()
			e, err := Parse(tt.expr)
			require.NoError(t, err)
			want := tt.canonical
			if want == "" {
				want = tt.expr
			}
			assert.Equal(t, want, e.String())
			assert.Equal(t, tt.matches, matching(e))
		})
	}
}

func TestDynamicAndSubjects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr     string
		dynamic  bool
		subjects []string
	}{
		{"attribute:ecs.instance-type == t2.small", false, []string{"attribute:ecs.instance-type"}},
		{"task:group == db", true, []string{"task:group"}},
		{"runningTasksCount < 3", true, []string{"runningTasksCount"}},
		{"not (runningTasksCount < 3)", true, []string{"runningTasksCount"}},
		{"agentConnected == true and agentVersion > 1.0 and registeredAt < 2020-01-01", false,
			[]string{"agentConnected", "agentVersion", "registeredAt"}},
		{"instanceId == i-1 or ec2InstanceId == i-2 or attribute:b exists or attribute:a exists or attribute:b == x", false,
			[]string{"attribute:a", "attribute:b", "ec2InstanceId"}},
		{"attribute:x exists and (task:group exists or attribute:y exists)", true,
			[]string{"attribute:x", "attribute:y", "task:group"}},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			t.Parallel()
			e := MustParse(tt.expr)
			assert.Equal(t, tt.dynamic, e.Dynamic())
			assert.Equal(t, tt.subjects, e.Subjects())
			s := e.Subjects()
			s[0] = "changed"
			assert.Equal(t, tt.subjects, e.Subjects(), "Subjects must return a copy")
		})
	}
}

func TestMustParsePanics(t *testing.T) {
	t.Parallel()
	assert.Panics(t, func() { MustParse("nonsense") })
}
