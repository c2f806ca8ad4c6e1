package query_test

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/stevedore-io/stevedore/placement/query"
)

// host is a minimal query.Target.
type host struct {
	id     string
	attrs  map[string]string
	groups []string
}

func (h host) InstanceID() string { return h.id }
func (h host) Attribute(name string) (string, bool) {
	v, ok := h.attrs[name]
	return v, ok
}
func (h host) RegisteredAt() time.Time { return time.Date(2018, 6, 18, 22, 28, 28, 0, time.UTC) }
func (h host) RunningTasksCount() int  { return len(h.groups) }
func (h host) HasTaskGroup(match func(string) bool) bool {
	return slices.ContainsFunc(h.groups, match)
}
func (h host) AgentConnected() bool { return true }
func (h host) AgentVersion() string { return "1.14.5" }

func Example() {
	hosts := []host{
		{id: "i-1", attrs: map[string]string{"ecs.instance-type": "t2.small", "ecs.availability-zone": "us-east-1a"}},
		{id: "i-2", attrs: map[string]string{"ecs.instance-type": "t2.micro", "ecs.availability-zone": "us-east-1d"}},
		{id: "i-3", attrs: map[string]string{"ecs.instance-type": "t2.large", "ecs.availability-zone": "us-east-1b"}, groups: []string{"database"}},
		{id: "i-4", attrs: map[string]string{"ecs.instance-type": "m5.large", "ecs.availability-zone": "us-east-1a"}},
	}
	e, err := query.Parse("attribute:ecs.instance-type =~ t2.* AND attribute:ecs.availability-zone != us-east-1d && not(task:group == database)")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(e)
	fmt.Println("dynamic:", e.Dynamic(), "reads:", e.Subjects())
	for _, h := range hosts {
		fmt.Println(h.id, e.Eval(h))
	}
	// Output:
	// attribute:ecs.instance-type =~ t2.* and attribute:ecs.availability-zone != us-east-1d and not (task:group == database)
	// dynamic: true reads: [attribute:ecs.availability-zone attribute:ecs.instance-type task:group]
	// i-1 true
	// i-2 false
	// i-3 false
	// i-4 false
}

func ExampleParse_errors() {
	for _, expr := range []string{
		"attribute:ecs.instance-type foo t2.small",
		"runningTasksCount > few",
	} {
		_, err := query.Parse(expr)
		var syn *query.SyntaxError
		switch {
		case errors.As(err, &syn):
			fmt.Printf("syntax error at %d, found %q\n", syn.Pos, syn.Found)
		case errors.Is(err, query.ErrSemantic):
			fmt.Println("semantic error")
		}
		fmt.Println(err)
	}
	// Output:
	// syntax error at 28, found "foo"
	// query: at position 28: expected an operator (==, !=, >, >=, <, <=, exists, !exists, in, !in, =~, !~), found "foo"
	// semantic error
	// query: at position 20: runningTasksCount: "few" is not an integer
}
