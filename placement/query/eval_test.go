package query

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEval(t *testing.T) {
	t.Parallel()
	many := "attribute:ecs.instance-type in [a1, a2, a3, a4, a5, a6, a7, a8, a9, m5.large]"
	versioned := func(v string) *instance { return &instance{version: v} }
	tests := []struct {
		expr string
		on   *instance
		want bool
	}{
		// attribute: exists
		{"attribute:stack exists", m5, true},
		{"attribute:stack exists", t2, false},
		{"attribute:stack !exists", t2, true},
		{"attribute:stack not_exists", m5, false},
		{"not attribute:stack exists", t2, true},
		{"attribute:empty exists", &instance{attributes: map[string]string{"empty": ""}}, true},
		{"attribute:empty == ''", &instance{attributes: map[string]string{"empty": ""}}, true},

		// attribute: equality and wildcards
		{"attribute:ecs.instance-type equals m5.large", m5, true},
		{"attribute:ecs.instance-type == M5.LARGE", m5, false},
		{"attribute:ecs.instance-type == *.large", m5, true},
		{"attribute:ecs.instance-type == m*.l*e", m5, true},
		{"attribute:ecs.instance-type == *", m5, true},
		{"attribute:ecs.instance-type == m5.large*", m5, true},
		{"attribute:ecs.instance-type == *m5.large", m5, true},
		{"attribute:ecs.instance-type == m5.*.large", m5, false},
		{"attribute:ecs.os-type == l*x*x", m5, false},
		{"attribute:ecs.os-type == l*n*x", m5, true},
		{"attribute:ecs.instance-type != t2.*", m5, true},
		{"attribute:ecs.instance-type not_equals m5.*", m5, false},
		{"attribute:owner == 'team a'", m5, true},
		{`attribute:owner == "team a"`, m5, true},
		{"attribute:owner == team*", m5, true},
		{"attribute:missing != x", m5, false},
		{"not attribute:missing == x", m5, true},

		// attribute: lists
		{"attribute:ecs.instance-type in [m5.large, m5.xlarge]", m5, true},
		{"attribute:ecs.instance-type in [m5.xlarge]", m5, false},
		{"attribute:ecs.instance-type in [t2.*, m5.*]", m5, true},
		{"attribute:ecs.instance-type in []", m5, false},
		{"attribute:ecs.instance-type !in []", m5, true},
		{"attribute:ecs.instance-type not_in [t2.small]", m5, true},
		{"attribute:ecs.instance-type !in [m5.large]", m5, false},
		{"attribute:missing !in [x]", m5, false},
		{"attribute:owner in ['team a', \"team b\"]", m5, true},
		{many, m5, true},
		{many, t2, false},
		{"attribute:ecs.instance-type in [a1, a2, a3, a4, a5, a6, a7, a8, a9, t*]", t2, true},

		// attribute: regular expressions, anchored like Java's matches
		{"attribute:ecs.instance-type =~ large", m5, false},
		{"attribute:ecs.instance-type =~ .*large", m5, true},
		{"attribute:ecs.instance-type matches m5\\.(large|xlarge)", m5, true},
		{"attribute:ecs.instance-type =~ 'm5\\.(large|xlarge)'", m5, true},
		{"attribute:ecs.instance-type =~ m5|t2.*", m5, false},
		{"attribute:ecs.instance-type =~ m5.*|t2.*", m5, true},
		{"attribute:ecs.instance-type =~ [mt][0-9].large", m5, true},
		{"attribute:ecs.instance-type !~ t2.*", m5, true},
		{"attribute:ecs.instance-type not_matches m5.*", m5, false},
		{"attribute:missing !~ x", m5, false},

		// attribute: ordering, numeric when both sides are numbers
		{"attribute:slots > 9", m5, true}, // 10 > 9, though "10" < "9"
		{"attribute:slots > 9", t2, false},
		{"attribute:slots >= 9", t2, true},
		{"attribute:slots < 9.5", t2, true},
		{"attribute:slots <= 1e1", m5, true},
		{"attribute:slots greater_than_equal 10", m5, true},
		{"attribute:slots less_than 10", m5, false},
		{"attribute:slots less_than_equal -1", m5, false},
		{"attribute:ecs.instance-type > m5", m5, true},  // lexicographic
		{"attribute:ecs.instance-type < m5", m5, false}, // lexicographic
		{"attribute:ecs.instance-type > 5", m5, true},   // "m5.large" > "5"
		{"attribute:slots > abc", m5, false},            // "10" < "abc"
		{"attribute:missing < 100", m5, false},
		{"attribute:missing >= 0", m5, false},

		// ec2InstanceId and its alias
		{"ec2InstanceId == i-abcd1234", m5, true},
		{"instanceId == i-abcd1234", m5, true},
		{"ec2InstanceId != i-abcd1234", m5, false},
		{"ec2InstanceId =~ i-[a-d]+[0-9]+", m5, true},
		{"ec2InstanceId !in [i-1, i-2]", m5, true},

		// agentVersion: strings for == and !=, versions for ordering
		{"agentVersion == 1.14.5", m5, true},
		{"agentVersion == 1.14.*", m5, true},
		{"agentVersion != 1.14.5", m5, false},
		{"agentVersion > 1.5.0", m5, true}, // 14 > 5, though "1.14" < "1.5"
		{"agentVersion > 1.14.5", m5, false},
		{"agentVersion >= 1.14.5", m5, true},
		{"agentVersion <= 1.14.5", m5, true},
		{"agentVersion < 1.14.10", m5, true},
		{"agentVersion >= 1.14", m5, true},
		{"agentVersion >= 1.5", versioned("1.5.0"), true},
		{"agentVersion <= 1.5", versioned("1.5.0"), true},
		{"agentVersion == 1.5", versioned("1.5.0"), false}, // string equality
		{"agentVersion > 1.4.99", versioned("v1.5.0"), true},
		{"agentVersion < v2", versioned("1.99.0-dev"), true},
		{"agentVersion >= 1.0.0", versioned("unknown"), false},
		{"agentVersion < 1.0.0", versioned(""), false},
		{"agentVersion in [1.14.5, 1.15.0]", m5, true},
		{"agentVersion =~ 1\\.14\\..*", m5, true},

		// agentConnected
		{"agentConnected == true", m5, true},
		{"agentConnected == TRUE", m5, true},
		{"agentConnected == false", m5, false},
		{"agentConnected == false", t2, true},
		{"agentConnected != true", t2, true},
		{"agentConnected in [true, false]", t2, true},
		{"agentConnected !in [true, false]", m5, false},
		{"agentConnected =~ t.*", m5, true},
		{"agentConnected =~ t.*", t2, false},
		{"agentConnected !~ t.*", t2, true},

		// registeredAt: a date is a whole day, a timestamp a whole second
		// (m5 registered at 2018-02-13T10:30:15.0000005Z)
		{"registeredAt == 2018-02-13", m5, true},
		{"registeredAt != 2018-02-13", m5, false},
		{"registeredAt <= 2018-02-13", m5, true},
		{"registeredAt < 2018-02-13", m5, false},
		{"registeredAt >= 2018-02-13", m5, true},
		{"registeredAt > 2018-02-13", m5, false},
		{"registeredAt > 2018-02-12", m5, true},
		{"registeredAt < 2018-02-14", m5, true},
		{"registeredAt == 2018-02-13T10:30:15Z", m5, true},
		{"registeredAt == 2018-02-13T10:30:15", m5, true},
		{"registeredAt == 2018-02-13T10:30:15+00:00", m5, true},
		{"registeredAt == 2018-02-13T11:30:15+01:00", m5, true},
		{"registeredAt == 2018-02-13T05:30:15-05:00", m5, true},
		{"registeredAt == 2018-02-13T10:30:16Z", m5, false},
		{"registeredAt > 2018-02-13T10:30:14Z", m5, true},
		{"registeredAt > 2018-02-13T10:30:15Z", m5, false},
		{"registeredAt >= 2018-02-13T10:30:15Z", m5, true},
		{"registeredAt == 2018-02-13T10:30:15.0000005Z", m5, true},
		{"registeredAt < 2018-02-13T10:30:15.0000005Z", m5, false},
		{"registeredAt <= 2018-02-13T10:30:15.0000005Z", m5, true},
		{"registeredAt == 2018-03-01T00:00:00Z", t2, true},

		// runningTasksCount (m5 runs 2 tasks)
		{"runningTasksCount == 2", m5, true},
		{"runningTasksCount != 2", m5, false},
		{"runningTasksCount > 1", m5, true},
		{"runningTasksCount >= 3", m5, false},
		{"runningTasksCount < 3", m5, true},
		{"runningTasksCount <= 1", m5, false},
		{"runningTasksCount == 0", bare, true},
		{"runningTasksCount > -1", bare, true},

		// task:group: a negated operator means no task of a matching group
		{"task:group == service:production", m5, true},
		{"task:group == family:web", m5, true},
		{"task:group == service:*", m5, true},
		{"task:group != service:production", m5, false},
		{"task:group != database", m5, true},
		{"task:group != database", bare, true},
		{"task:group in [database, cache]", t2, true},
		{"task:group !in [database, cache]", t2, false},
		{"task:group =~ service:prod.*", m5, true},
		{"task:group !~ service:prod.*", m5, false},
		{"task:group !~ service:prod.*", t2, true},
		{"task:group exists", m5, true},
		{"task:group exists", bare, false},
		{"task:group !exists", bare, true},

		// logic and precedence: not > and > or
		{"task:group == database or attribute:stack == prod and agentConnected == false", m5, false},
		{"(task:group == database or attribute:stack == prod) and agentConnected == false", m5, false},
		{"task:group == database or attribute:stack == prod and agentConnected == true", t2, true},
		{"not task:group == database and runningTasksCount == 0", bare, true},
		{"not (task:group == database and runningTasksCount == 0)", bare, true},
		{"not task:group == database or runningTasksCount == 1", t2, true},
		{"!(task:group == database) || runningTasksCount == 1", t2, true},
		{"!task:group == database && runningTasksCount == 1", t2, false},
		{"not not task:group == database", t2, true},
		{"NOT task:group == database AND runningTasksCount == 0", bare, true},
		{"runningTasksCount==1&&task:group==database", t2, true},
		{"runningTasksCount==1||task:group==x", t2, true},
		{"((((runningTasksCount == 1))))", t2, true},
		{"attribute:a == 1 or attribute:b == 2 or attribute:slots == 9", t2, true},
		{"attribute:slots == 9 and attribute:ecs.instance-type == t2.* and agentConnected == false", t2, true},
		{"attribute:slots == 9 and attribute:ecs.instance-type == t2.* and agentConnected == true", t2, false},
		{"not(attribute:ecs.instance-type =~ (t2|m5).*)", g2, true},
		{"not(attribute:ecs.instance-type =~ (t2|m5).*)", t2, false},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			t.Parallel()
			e, err := Parse(tt.expr)
			require.NoError(t, err)
			assert.Equal(t, tt.want, e.Eval(tt.on))
			// The canonical form must mean the same.
			again, err := Parse(e.String())
			require.NoError(t, err, "canonical form %q", e.String())
			assert.Equal(t, tt.want, again.Eval(tt.on), "canonical form %q", e.String())
		})
	}
}

// TestEvalConcurrent evaluates one Expr from many goroutines; run it with
// -race.
func TestEvalConcurrent(t *testing.T) {
	t.Parallel()
	e := MustParse("attribute:ecs.instance-type =~ t2.* or task:group in [service:*] and agentVersion >= 1.0")
	done := make(chan bool)
	for range 8 {
		go func() {
			ok := true
			for range 200 {
				ok = ok && e.Eval(m5) && e.Eval(t2) && !e.Eval(g2)
			}
			done <- ok
		}()
	}
	for range 8 {
		assert.True(t, <-done)
	}
}

func TestEvalAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	for _, expr := range benchmarkExprs {
		e := MustParse(expr)
		allocs := testing.AllocsPerRun(100, func() {
			for _, in := range everyInstance {
				e.Eval(in)
			}
		})
		assert.Zero(t, allocs, "Eval(%q) allocates", expr)
	}
}

func TestVersions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		cmp  int
		ok   bool
	}{
		{"1.14.5", "1.5.0", 1, true},
		{"1.5", "1.5.0", 0, true},
		{"1.5.0.0", "1.5", 0, true},
		{"v1.2.3", "1.2.3", 0, true},
		{"1.2.3-rc1", "1.2.3+build", 0, true},
		{"01.002", "1.2", 0, true},
		{"2", "10", -1, true},
		{"99999999999999999999999", "99999999999999999999998", 1, true},
		{"1..2", "1", 0, false},
		{"1.", "1", 0, false},
		{".1", "1", 0, false},
		{"", "1", 0, false},
		{"v", "1", 0, false},
		{"1.x", "1", 0, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s vs %s", tt.a, tt.b), func(t *testing.T) {
			t.Parallel()
			cmp, ok := compareVersions(tt.a, tt.b)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.cmp, cmp)
			if ok {
				back, _ := compareVersions(tt.b, tt.a)
				assert.Equal(t, -tt.cmp, back)
			}
		})
	}
}

func TestNumbers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"42", 42, true},
		{"-1.5", -1.5, true},
		{"+3", 3, true},
		{".5", 0.5, true},
		{"5.", 5, true},
		{"2e3", 2000, true},
		{"2E-1", 0.2, true},
		{"", 0, false},
		{".", 0, false},
		{"-", 0, false},
		{"1e", 0, false},
		{"0x10", 0, false},
		{"inf", 0, false},
		{"NaN", 0, false},
		{"1_000", 0, false},
		{"1e999", 0, false},
		{"10 ", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, ok := parseNumber(tt.in)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestDates(t *testing.T) {
	t.Parallel()
	utc := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err)
		return tm
	}
	tests := []struct {
		in        string
		from, to  string
		canonical string
	}{
		{"2018-06-18", "2018-06-18T00:00:00Z", "2018-06-19T00:00:00Z", "2018-06-18"},
		{"2018-06-18T22:28:28", "2018-06-18T22:28:28Z", "2018-06-18T22:28:29Z", "2018-06-18T22:28:28Z"},
		{"2018-06-18T22:28:28Z", "2018-06-18T22:28:28Z", "2018-06-18T22:28:29Z", "2018-06-18T22:28:28Z"},
		{"2018-06-18T22:28:28+00:00", "2018-06-18T22:28:28Z", "2018-06-18T22:28:29Z", "2018-06-18T22:28:28Z"},
		{"2018-06-19T00:28:28+02:00", "2018-06-18T22:28:28Z", "2018-06-18T22:28:29Z", "2018-06-18T22:28:28Z"},
		{"2018-06-18T22:28:28.25Z", "2018-06-18T22:28:28.25Z", "2018-06-18T22:28:28.250000001Z", "2018-06-18T22:28:28.25Z"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			d, ok := parseDateRange(tt.in)
			require.True(t, ok)
			assert.Equal(t, utc(tt.from), d.from)
			assert.Equal(t, utc(tt.to), d.to)
			assert.Equal(t, tt.canonical, d.String())
		})
	}
	for _, bad := range []string{"2018-6-18", "2018-06-31", "18-06-2018", "2018-06-18 22:28:28", "2018-06-18T25:00:00Z",
		"0000-01-01T00:00:00+01:00", "9999-12-31T23:00:00-01:00", "yesterday", ""} {
		_, ok := parseDateRange(bad)
		assert.False(t, ok, bad)
	}
}

func TestRegexpQuoting(t *testing.T) {
	t.Parallel()
	in := &instance{attributes: map[string]string{"a": "x.*)", "b": "x.*)y"}}
	e := MustParse(`attribute:a =~ '\Qx.*)'`)
	assert.True(t, e.Eval(in))
	e = MustParse(`attribute:b =~ '\Qx.*)'`)
	assert.False(t, e.Eval(in), "the pattern is anchored at the end")
	e = MustParse(`attribute:b =~ '\Qx.*)\Ey'`)
	assert.True(t, e.Eval(in))
}
