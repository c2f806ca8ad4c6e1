package service

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/stevedore-io/stevedore/health"
)

// zonedService is a steady service with one running task per entry of
// placements, each "zone/instance", spread over zones then instances.
func zonedService(placements ...string) Input {
	var tasks []TaskState
	for i, pl := range placements {
		zone, inst, _ := cut(pl)
		tasks = append(tasks, TaskState{
			ID: fmt.Sprintf("t%02d", i), DeploymentID: "d1", InstanceID: inst,
			Phase: PhaseRunning, ReachedRunning: true, Health: health.Healthy, HealthChecked: true,
			StartedAt: t0, Placement: []PlacementValue{{Spread: zone}, {Spread: inst}},
		})
	}
	return Input{
		Service: "web", Strategy: Replica, DesiredCount: len(tasks), Config: cfg(100, 200),
		Deployments: []Deployment{{ID: "d1", Status: Primary, TaskDefinition: "web:1", RolloutState: RolloutCompleted, CreatedAt: t0}},
		Steady:      true,
		StopBalance: []BalanceKind{BalanceSpread, BalanceSpread},
		Tasks:       tasks,
		Now:         t0,
	}
}

func cut(pl string) (zone, inst string, ok bool) {
	for i := range pl {
		if pl[i] == '/' {
			return pl[:i], pl[i+1:], true
		}
	}
	return "", pl, false
}

// scaleIn sets the desired count, plans, and leaves in the tasks that
// remain; it returns the zone of every task stopped.
func scaleIn(t *testing.T, in *Input, desired int) {
	t.Helper()
	in.DesiredCount = desired
	plan := Compute(*in)
	require.Len(t, plan.Stops, len(in.Tasks)-desired)
	stopped := map[string]bool{}
	for _, s := range plan.Stops {
		stopped[s.TaskID] = true
	}
	in.Tasks = slices.DeleteFunc(in.Tasks, func(ts TaskState) bool { return stopped[ts.ID] })
	in.Deployments = plan.Deployments
}

func countBy(tasks []TaskState, level int) map[string]int {
	out := map[string]int{}
	for _, ts := range tasks {
		out[ts.Placement[level].Spread]++
	}
	return out
}

// TestScaleInKeepsZonesBalanced is the case ECS users saw go wrong: zones of
// 3, 1 and 2 instances, two tasks per zone. Scaling 6 to 3 must leave one
// task in every zone (zone b's only instance held two and lost one), and
// 3 to 2 two zones with one task each.
func TestScaleInKeepsZonesBalanced(t *testing.T) {
	t.Parallel()
	in := zonedService("a/a1", "a/a2", "b/b1", "b/b1", "c/c1", "c/c2")
	scaleIn(t, &in, 3)
	assert.Equal(t, map[string]int{"a": 1, "b": 1, "c": 1}, countBy(in.Tasks, 0))
	scaleIn(t, &in, 2)
	zones := countBy(in.Tasks, 0)
	assert.Len(t, zones, 2, "two tasks in two zones: %v", zones)
}

// TestScaleInStopsFromTheMostCrowdedInstanceOfTheMostCrowdedZone checks the
// order within a zone: its most crowded instance loses first.
func TestScaleInStopsFromTheMostCrowdedInstanceOfTheMostCrowdedZone(t *testing.T) {
	t.Parallel()
	in := zonedService("a/a1", "a/a1", "a/a1", "a/a2", "b/b1", "b/b2", "c/c1", "c/c2")
	scaleIn(t, &in, 7)
	assert.Equal(t, map[string]int{"a1": 2, "a2": 1, "b1": 1, "b2": 1, "c1": 1, "c2": 1}, countBy(in.Tasks, 1))
	scaleIn(t, &in, 6)
	assert.Equal(t, map[string]int{"a": 2, "b": 2, "c": 2}, countBy(in.Tasks, 0))
	assert.Equal(t, map[string]int{"a1": 1, "a2": 1, "b1": 1, "b2": 1, "c1": 1, "c2": 1}, countBy(in.Tasks, 1))
}

// TestScaleInBalanceProperty: from any placement over zones and instances,
// scaling in never leaves zones further apart than they were, nor than one
// task when they started balanced, and the plan is the same on every run.
func TestScaleInBalanceProperty(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(2, 30).Draw(rt, "tasks")
		zones := rapid.IntRange(1, 4).Draw(rt, "zones")
		var placements []string
		for i := range n {
			z := rapid.IntRange(0, zones-1).Draw(rt, fmt.Sprint("zone", i))
			inst := rapid.IntRange(0, 2).Draw(rt, fmt.Sprint("instance", i))
			placements = append(placements, fmt.Sprintf("z%d/z%d-i%d", z, z, inst))
		}
		in := zonedService(placements...)
		spreadOf := func(m map[string]int) int {
			vals := slices.Collect(maps.Values(m))
			if len(vals) == 0 {
				return 0
			}
			return slices.Max(vals) - slices.Min(vals)
		}
		before := spreadOf(countBy(in.Tasks, 0))
		desired := rapid.IntRange(0, n-1).Draw(rt, "desired")
		first := Compute(withDesired(in, desired))
		again := Compute(withDesired(in, desired))
		if !slices.Equal(first.Stops, again.Stops) {
			rt.Fatalf("two plans of one input differ: %v and %v", first.Stops, again.Stops)
		}
		stopped := map[string]bool{}
		for _, s := range first.Stops {
			stopped[s.TaskID] = true
		}
		left := slices.DeleteFunc(slices.Clone(in.Tasks), func(ts TaskState) bool { return stopped[ts.ID] })
		if len(left) != desired {
			rt.Fatalf("%d tasks left, want %d", len(left), desired)
		}
		// Zones that still hold tasks: the spread among them shrinks or
		// stays, and a zone is emptied only when every zone holds at most
		// one task.
		after := countBy(left, 0)
		if spreadOf(after) > max(before, 1) {
			rt.Fatalf("zones %v after scale-in from %v", after, countBy(in.Tasks, 0))
		}
		if len(after) < len(countBy(in.Tasks, 0)) && desired >= len(countBy(in.Tasks, 0)) {
			rt.Fatalf("a zone was emptied with %d tasks for %d zones: %v", desired, len(countBy(in.Tasks, 0)), after)
		}
	})
}

func withDesired(in Input, n int) Input {
	in.DesiredCount = n
	return in
}

// TestScaleInBinpackStopsFromTheEmptiestInstance: with binpack, the task
// to stop is on the instance that has the most left once it is gone, so
// the others stay packed.
func TestScaleInBinpackStopsFromTheEmptiestInstance(t *testing.T) {
	t.Parallel()
	in := zonedService("a/i1", "a/i1", "a/i2", "a/i3")
	free := map[string]int64{"i1": 100, "i2": 900, "i3": 400}
	for i := range in.Tasks {
		in.Tasks[i].Placement = []PlacementValue{{Free: free[in.Tasks[i].InstanceID], Used: 256}}
	}
	in.StopBalance = []BalanceKind{BalanceBinpack}
	scaleIn(t, &in, 3)
	assert.NotContains(t, instancesOf(in.Tasks), "i2")
	scaleIn(t, &in, 2)
	assert.NotContains(t, instancesOf(in.Tasks), "i3")
	assert.Equal(t, []string{"i1", "i1"}, instancesOf(in.Tasks))
}

func instancesOf(tasks []TaskState) []string {
	var out []string
	for _, ts := range tasks {
		out = append(out, ts.InstanceID)
	}
	slices.Sort(out)
	return out
}

// TestScaleInRandomIsReproducibleUnderASeed: a random level chooses the same
// tasks for the same seed, and not always the same ones over seeds.
func TestScaleInRandomIsReproducibleUnderASeed(t *testing.T) {
	t.Parallel()
	in := zonedService("a/i1", "a/i2", "a/i3", "a/i4", "a/i5", "a/i6")
	in.StopBalance = []BalanceKind{BalanceRandom}
	chosen := map[string]bool{}
	for seed := range uint64(20) {
		in.Seed = seed
		a, b := Compute(withDesired(in, 3)), Compute(withDesired(in, 3))
		require.Equal(t, a.Stops, b.Stops, "seed %d", seed)
		var ids []string
		for _, s := range a.Stops {
			ids = append(ids, s.TaskID)
		}
		slices.Sort(ids)
		chosen[fmt.Sprint(ids)] = true
	}
	assert.Greater(t, len(chosen), 1, "the seed decides")
}

// TestStopOrderStillPrefersTasksCheapestToLose: balance never beats what a
// task is: a pending or unhealthy task goes before a healthy one on the
// most crowded zone.
func TestStopOrderStillPrefersTasksCheapestToLose(t *testing.T) {
	t.Parallel()
	in := zonedService("a/a1", "a/a1", "a/a2", "b/b1")
	in.Tasks[3].Health = health.Unhealthy
	in.Config = cfg(0, 200)
	scaleIn(t, &in, 3)
	assert.Equal(t, map[string]int{"a": 3}, countBy(in.Tasks, 0), "the unhealthy task in zone b went first")
}
