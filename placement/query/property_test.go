package query

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// The generators draw from small pools so that conditions hold on generated
// instances often enough for the properties to mean something.
var (
	poolAttributeNames = []string{"a", "b", "ecs.instance-type"}
	poolValues         = []string{"x", "y", "x*", "*y", "*", "1", "9", "10", "t2.small", "team a", "it's", `back\slash`, ""}
	poolPatterns       = []string{"x", "x.*", ".*", "y|x", "[0-9]+", "t2\\..*", "(a|b)c"}
	poolGroups         = []string{"g1", "g2", "service:web", "g*", "service:*"}
	poolVersions       = []string{"1.0", "1.5.0", "1.10.2", "2", "v1.5", "1.5.0-dev"}
	poolDates          = []string{"2020-01-01", "2020-01-02", "2020-01-01T12:00:00Z", "2020-01-01T12:00:00+02:00", "2020-01-01T23:59:59"}
	poolInstanceIDs    = []string{"i-1", "i-2", "i-*"}
	poolRegistered     = []time.Time{
		time.Date(2019, 12, 31, 23, 0, 0, 0, time.UTC),
		time.Date(2020, 1, 1, 10, 0, 0, 0, time.UTC),
		time.Date(2020, 1, 1, 12, 0, 0, 0, time.UTC),
		time.Date(2020, 1, 1, 12, 0, 0, 999, time.UTC),
		time.Date(2020, 1, 1, 23, 59, 59, 0, time.UTC),
		time.Date(2020, 1, 2, 5, 0, 0, 0, time.UTC),
		time.Date(2020, 1, 3, 0, 0, 0, 0, time.UTC),
	}
)

func quoteMaybe(t *rapid.T, v string) string {
	if v != "" && isBare(v) && rapid.Bool().Draw(t, "bare") {
		return v
	}
	var b strings.Builder
	writeValue(&b, v)
	return b.String()
}

func listOf(t *rapid.T, pool []string) string {
	items := rapid.SliceOfN(rapid.SampledFrom(pool), 0, 3).Draw(t, "list")
	quoted := make([]string, len(items))
	for i, v := range items {
		quoted[i] = quoteMaybe(t, v)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// condition draws one valid `subject operator argument`.
var conditionGen = rapid.Custom(func(t *rapid.T) string {
	switch rapid.IntRange(0, 6).Draw(t, "subject") {
	case 0:
		name := "attribute:" + rapid.SampledFrom(poolAttributeNames).Draw(t, "name")
		switch op := rapid.SampledFrom([]string{"==", "!=", ">", ">=", "<", "<=", "exists", "!exists", "in", "not_in", "=~", "!~"}).Draw(t, "op"); op {
		case "exists", "!exists":
			return name + " " + op
		case "in", "not_in":
			return name + " " + op + " " + listOf(t, poolValues)
		case "=~", "!~":
			return name + " " + op + " " + quoteMaybe(t, rapid.SampledFrom(poolPatterns).Draw(t, "re"))
		default:
			return name + " " + op + " " + quoteMaybe(t, rapid.SampledFrom(poolValues).Draw(t, "v"))
		}
	case 1:
		switch op := rapid.SampledFrom([]string{"==", "!=", "in", "!in", "=~", "!~", "exists", "!exists"}).Draw(t, "op"); op {
		case "exists", "!exists":
			return "task:group " + op
		case "in", "!in":
			return "task:group " + op + " " + listOf(t, poolGroups)
		case "=~", "!~":
			return "task:group " + op + " " + quoteMaybe(t, rapid.SampledFrom([]string{"g.", "service:.*", "g1|g2"}).Draw(t, "re"))
		default:
			return "task:group " + op + " " + rapid.SampledFrom(poolGroups).Draw(t, "v")
		}
	case 2:
		op := rapid.SampledFrom([]string{"==", "!=", ">", ">=", "<", "<="}).Draw(t, "op")
		return fmt.Sprintf("runningTasksCount %s %d", op, rapid.IntRange(0, 3).Draw(t, "n"))
	case 3:
		op := rapid.SampledFrom([]string{"==", "!=", "in", "!in"}).Draw(t, "op")
		if op == "in" || op == "!in" {
			return "agentConnected " + op + " " + listOf(t, []string{"true", "false"})
		}
		return "agentConnected " + op + " " + rapid.SampledFrom([]string{"true", "false"}).Draw(t, "v")
	case 4:
		op := rapid.SampledFrom([]string{"==", "!=", ">", ">=", "<", "<="}).Draw(t, "op")
		return "agentVersion " + op + " " + rapid.SampledFrom(poolVersions).Draw(t, "v")
	case 5:
		op := rapid.SampledFrom([]string{"==", "!=", ">", ">=", "<", "<="}).Draw(t, "op")
		return "registeredAt " + op + " " + rapid.SampledFrom(poolDates).Draw(t, "v")
	default:
		op := rapid.SampledFrom([]string{"==", "!=", "in", "!in"}).Draw(t, "op")
		if op == "in" || op == "!in" {
			return "ec2InstanceId " + op + " " + listOf(t, poolInstanceIDs)
		}
		return "instanceId " + op + " " + rapid.SampledFrom(poolInstanceIDs).Draw(t, "v")
	}
})

// expressionGen draws a valid expression of at most depth levels, spelled
// in any of the accepted ways.
func expressionGen(depth int) *rapid.Generator[string] {
	return rapid.Custom(func(t *rapid.T) string {
		kind := 0
		if depth > 0 {
			kind = rapid.IntRange(0, 3).Draw(t, "kind")
		}
		sub := func() string { return "(" + expressionGen(depth-1).Draw(t, "sub") + ")" }
		switch kind {
		case 1:
			return rapid.SampledFrom([]string{"not ", "!", "NOT"}).Draw(t, "not") + sub()
		case 2:
			return sub() + rapid.SampledFrom([]string{" and ", " && ", "&&", " AND "}).Draw(t, "and") + sub()
		case 3:
			return sub() + rapid.SampledFrom([]string{" or ", " || ", "||", " Or "}).Draw(t, "or") + sub()
		}
		return conditionGen.Draw(t, "condition")
	})
}

var instanceGen = rapid.Custom(func(t *rapid.T) *instance {
	in := &instance{attributes: map[string]string{}}
	for _, name := range poolAttributeNames {
		if rapid.Bool().Draw(t, "has "+name) {
			in.attributes[name] = rapid.SampledFrom(poolValues).Draw(t, name)
		}
	}
	in.id = rapid.SampledFrom([]string{"i-1", "i-2", "i-3"}).Draw(t, "id")
	in.groups = rapid.SliceOfN(rapid.SampledFrom([]string{"g1", "g2", "service:web", "family:x"}), 0, 3).Draw(t, "groups")
	in.connected = rapid.Bool().Draw(t, "connected")
	in.version = rapid.SampledFrom(append([]string{"", "bad"}, poolVersions...)).Draw(t, "version")
	in.registered = rapid.SampledFrom(poolRegistered).Draw(t, "registered")
	return in
})

func evalString(t *rapid.T, expr string, in *instance) bool {
	e, err := Parse(expr)
	if err != nil {
		t.Fatalf("Parse(%q): %v", expr, err)
	}
	return e.Eval(in)
}

func TestPropertyCanonicalForm(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		expr := expressionGen(3).Draw(t, "expr")
		in := instanceGen.Draw(t, "instance")
		e, err := Parse(expr)
		if err != nil {
			t.Fatalf("Parse(%q): %v", expr, err)
		}
		canonical := e.String()
		again, err := Parse(canonical)
		if err != nil {
			t.Fatalf("Parse(canonical %q): %v", canonical, err)
		}
		if again.String() != canonical {
			t.Fatalf("canonical form not stable: %q then %q", canonical, again.String())
		}
		if e.Eval(in) != again.Eval(in) {
			t.Fatalf("%q and its canonical form %q disagree", expr, canonical)
		}
	})
}

func TestPropertyLogic(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		a := expressionGen(2).Draw(t, "a")
		b := expressionGen(2).Draw(t, "b")
		c := expressionGen(1).Draw(t, "c")
		in := instanceGen.Draw(t, "instance")
		A, B, C := evalString(t, a, in), evalString(t, b, in), evalString(t, c, in)
		check := func(expr string, want bool) {
			if got := evalString(t, expr, in); got != want {
				t.Fatalf("%q = %v, want %v", expr, got, want)
			}
		}
		p := func(s string) string { return "(" + s + ")" }
		check("not not "+p(a), A)
		check("!!"+p(a), A)
		check("not "+p(a), !A)
		check(p(a)+" and "+p(b), A && B)
		check(p(a)+" or "+p(b), A || B)
		// De Morgan
		check("not ("+p(a)+" and "+p(b)+")", !A || !B)
		check("not "+p(a)+" or not "+p(b), !A || !B)
		check("not ("+p(a)+" or "+p(b)+")", !A && !B)
		check("not "+p(a)+" and not "+p(b), !A && !B)
		// Precedence: not > and > or
		check(p(a)+" or "+p(b)+" and "+p(c), A || (B && C))
		check(p(a)+" and "+p(b)+" or "+p(c), (A && B) || C)
		check("not "+p(a)+" and "+p(b), !A && B)
		check("! "+p(a)+" || "+p(b)+" && "+p(c), !A || (B && C))
	})
}

// TestPropertyNegatedOperators: a negated operator is the negation of the
// positive one, except that on an attribute every comparison needs the
// attribute to exist.
func TestPropertyNegatedOperators(t *testing.T) {
	t.Parallel()
	pairs := map[string]string{"==": "!=", "in": "!in", "=~": "!~", "exists": "!exists",
		"equals": "not_equals", "matches": "not_matches"}
	rapid.Check(t, func(t *rapid.T) {
		cond := conditionGen.Draw(t, "condition")
		in := instanceGen.Draw(t, "instance")
		fields := strings.SplitN(cond, " ", 3)
		subject, op := fields[0], fields[1]
		negated, ok := pairs[op]
		if !ok {
			t.Skip("not a positive operator")
		}
		arg := ""
		if len(fields) == 3 {
			arg = " " + fields[2]
		}
		got := evalString(t, subject+" "+negated+arg, in)
		want := !evalString(t, cond, in)
		if name, isAttr := strings.CutPrefix(subject, "attribute:"); isAttr && op != "exists" {
			_, has := in.attributes[name]
			want = want && has
		}
		if got != want {
			t.Fatalf("%s %s%s = %v, want %v", subject, negated, arg, got, want)
		}
	})
}

// TestPropertyOrdering: on runningTasksCount and registeredAt exactly one
// of <, == and > holds, and <= and >= are the unions.
func TestPropertyOrdering(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		in := instanceGen.Draw(t, "instance")
		subject, arg := "registeredAt", rapid.SampledFrom(poolDates).Draw(t, "date")
		if rapid.Bool().Draw(t, "count") {
			subject, arg = "runningTasksCount", fmt.Sprint(rapid.IntRange(0, 3).Draw(t, "n"))
		}
		holds := func(op string) bool { return evalString(t, subject+" "+op+" "+arg, in) }
		lt, eq, gt := holds("<"), holds("=="), holds(">")
		if n := btoi(lt) + btoi(eq) + btoi(gt); n != 1 {
			t.Fatalf("%s vs %s: <=%v ==%v >=%v", subject, arg, lt, eq, gt)
		}
		if holds("<=") != (lt || eq) || holds(">=") != (gt || eq) || holds("!=") == eq {
			t.Fatalf("%s vs %s: <=, >= or != disagree with <, ==, >", subject, arg)
		}
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
