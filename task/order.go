package task

import (
	"slices"
	"strings"

	"github.com/stevedore-io/stevedore/errdefs"
)

// StartOrder returns the task's containers in the order they start:
// stages of container names, where the containers of a stage depend only
// on containers of earlier stages, in definition order within a stage.
// A container depends on the containers it names in dependsOn, links and
// volumesFrom (Docker needs the latter two to exist first). Names that
// are not containers of the task are ignored; Validate reports them.
//
// A dependency cycle gives an error matching ErrInvalid whose
// *errdefs.FieldError names the cycle.
func (td *TaskDefinition) StartOrder() ([][]string, error) {
	g := newDependencyGraph(td)
	if errs := g.cycleErrors(td); len(errs) > 0 {
		return nil, newInvalid(td.Family, errs)
	}
	placed := make([]bool, len(td.ContainerDefinitions))
	var stages [][]string
	for left := len(placed); left > 0; {
		var stage []int
		for i := range placed {
			if !placed[i] && !slices.ContainsFunc(g.edges[i], func(e depEdge) bool { return !placed[e.to] }) {
				stage = append(stage, i)
			}
		}
		names := make([]string, len(stage))
		for k, i := range stage {
			placed[i] = true
			names[k] = td.ContainerDefinitions[i].Name
		}
		left -= len(stage)
		stages = append(stages, names)
	}
	return stages, nil
}

// StopOrder returns the stages of StartOrder in reverse: containers stop
// before the containers they depend on.
func (td *TaskDefinition) StopOrder() ([][]string, error) {
	stages, err := td.StartOrder()
	slices.Reverse(stages)
	return stages, err
}

// depEdge says that container from depends on container to, through the
// given field of from.
type depEdge struct {
	from, to int
	field    string // "dependsOn", "links" or "volumesFrom"
}

// dependencyGraph holds, per container index, its dependencies.
type dependencyGraph struct {
	edges [][]depEdge
}

func newDependencyGraph(td *TaskDefinition) *dependencyGraph {
	index := map[string]int{}
	for i, c := range td.ContainerDefinitions {
		if _, dup := index[c.Name]; !dup {
			index[c.Name] = i
		}
	}
	g := &dependencyGraph{edges: make([][]depEdge, len(td.ContainerDefinitions))}
	for i, c := range td.ContainerDefinitions {
		add := func(name, field string) {
			j, ok := index[name]
			if !ok || j == i || slices.ContainsFunc(g.edges[i], func(e depEdge) bool { return e.to == j }) {
				return // unknown, itself (Validate reports both) or already known
			}
			g.edges[i] = append(g.edges[i], depEdge{from: i, to: j, field: field})
		}
		for _, d := range c.DependsOn {
			add(d.ContainerName, "dependsOn")
		}
		for _, l := range c.Links {
			name, _, _ := strings.Cut(l, ":")
			add(name, "links")
		}
		for _, vf := range c.VolumesFrom {
			add(vf.SourceContainer, "volumesFrom")
		}
	}
	return g
}

// cycles returns the cycles a depth-first search finds, one per back
// edge, each as its edges in order.
func (g *dependencyGraph) cycles() [][]depEdge {
	const (
		unvisited = iota
		onPath
		done
	)
	state := make([]int, len(g.edges))
	var path []depEdge // edges from the search's root to the current node
	var found [][]depEdge
	var visit func(u int)
	visit = func(u int) {
		state[u] = onPath
		for _, e := range g.edges[u] {
			switch state[e.to] {
			case onPath:
				k := slices.IndexFunc(path, func(p depEdge) bool { return p.from == e.to })
				found = append(found, append(slices.Clone(path[k:]), e))
			case unvisited:
				path = append(path, e)
				visit(e.to)
				path = path[:len(path)-1]
			}
		}
		state[u] = done
	}
	for u := range g.edges {
		if state[u] == unvisited {
			visit(u)
		}
	}
	return found
}

// cycleErrors describes each cycle as a FieldError on the field of its
// first edge, naming the cycle like "a -> b -> a".
func (g *dependencyGraph) cycleErrors(td *TaskDefinition) []*errdefs.FieldError {
	var errs []*errdefs.FieldError
	for _, cyc := range g.cycles() {
		names := make([]string, 0, len(cyc)+1)
		for _, e := range cyc {
			names = append(names, td.ContainerDefinitions[e.from].Name)
		}
		names = append(names, names[0])
		errs = append(errs, &errdefs.FieldError{
			Path:   indexPath("containerDefinitions", cyc[0].from) + "." + cyc[0].field,
			Reason: "dependency cycle: " + strings.Join(names, " -> "),
		})
	}
	return errs
}
