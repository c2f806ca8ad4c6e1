package service

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/stevedore-io/stevedore/health"
)

// BalanceKind is one level of a service's placement strategy, as the
// planner uses it to choose the tasks to stop.
type BalanceKind int

// Balance kinds, after ECS's placement strategies. ECS chooses the tasks to
// stop so that what remains follows the strategy: with spread, the service
// stays balanced over the field's values; with binpack, tasks go from the
// instance left with the most of the resource; with random, at random.
const (
	// BalanceSpread stops from the value of the field (an availability
	// zone, an instance) that holds the most of the service's tasks.
	BalanceSpread BalanceKind = iota
	// BalanceBinpack stops from the instance that, once the task is gone,
	// has the most of the resource left.
	BalanceBinpack
	// BalanceRandom chooses at random, reproducibly under Input.Seed.
	BalanceRandom
)

// PlacementValue is where a task sits for one level of Input.StopBalance.
type PlacementValue struct {
	// Spread is the value of the spread field on the task's instance (its
	// availability zone, its instance ID, ...).
	Spread string
	// Free is how much of the binpack resource the task's instance has
	// left, and Used how much the task holds.
	Free, Used int64
}

// countUnhealthy counts the tasks of cands that do not count as healthy.
func (p *planner) countUnhealthy(cands []*TaskState) int {
	n := 0
	for _, t := range cands {
		if !p.healthy(t) {
			n++
		}
	}
	return n
}

// stopOrder orders candidates so that stopping them from the front costs
// least and keeps the service balanced. Its first k are chosen one at a
// time, each by, in turn:
//
//   - what the task is: one not yet running goes first, then an unhealthy
//     one, one whose health is not known yet, one on a draining instance,
//     and last a healthy one;
//   - each level of Input.StopBalance: for spread, the task whose value
//     holds the most of the service's remaining tasks (counting the ones
//     chosen so far as gone); for binpack, the task whose instance would
//     have the most left; for random, a draw from Input.Seed;
//   - the instance holding the most of the service's remaining tasks;
//   - the newest, then the instance and task IDs.
//
// The rest, after the first k, keep that order without the counting.
func (p *planner) stopOrder(cands []*TaskState, k int) {
	if len(cands) < 2 || k <= 0 {
		return
	}
	levels := p.in.StopBalance
	// The service's tasks that would remain, counted per level's value.
	spread := make([]map[string]int, len(levels)+1)
	for l := range spread {
		spread[l] = map[string]int{}
	}
	instance := len(levels) // the implicit last level: instances
	freed := map[string]int64{}
	for i := range p.in.Tasks {
		t := &p.in.Tasks[i]
		if !p.wanted(t) {
			continue
		}
		for l, kind := range levels {
			if kind == BalanceSpread {
				spread[l][placementOf(t, l).Spread]++
			}
		}
		spread[instance][t.InstanceID]++
	}
	var draws map[string]uint64
	if slices.Contains(levels, BalanceRandom) {
		// Draws in a fixed order, so that they depend on the seed alone.
		sorted := append([]*TaskState(nil), cands...)
		slices.SortStableFunc(sorted, tieBreak)
		rng := rand.New(rand.NewPCG(p.in.Seed, p.in.Seed^0x6a09e667f3bcc909))
		draws = make(map[string]uint64, len(sorted))
		for _, t := range sorted {
			draws[t.ID] = rng.Uint64()
		}
	}
	better := func(a, b *TaskState) bool { // a is a better task to stop than b
		if c := cmp.Compare(stopRank(a), stopRank(b)); c != 0 {
			return c < 0
		}
		for l, kind := range levels {
			var c int
			switch kind {
			case BalanceSpread:
				c = cmp.Compare(spread[l][placementOf(b, l).Spread], spread[l][placementOf(a, l).Spread])
			case BalanceBinpack:
				pa, pb := placementOf(a, l), placementOf(b, l)
				c = cmp.Compare(pb.Free+pb.Used+freed[b.InstanceID], pa.Free+pa.Used+freed[a.InstanceID])
			case BalanceRandom:
				c = cmp.Compare(draws[a.ID], draws[b.ID])
			}
			if c != 0 {
				return c < 0
			}
		}
		if c := cmp.Compare(spread[instance][b.InstanceID], spread[instance][a.InstanceID]); c != 0 {
			return c < 0
		}
		return tieBreak(a, b) < 0
	}
	for i := range min(k, len(cands)) {
		best := i
		for j := i + 1; j < len(cands); j++ {
			if better(cands[j], cands[best]) {
				best = j
			}
		}
		cands[i], cands[best] = cands[best], cands[i]
		t := cands[i]
		for l, kind := range levels {
			switch kind {
			case BalanceSpread:
				spread[l][placementOf(t, l).Spread]--
			case BalanceBinpack:
				freed[t.InstanceID] += placementOf(t, l).Used
			}
		}
		spread[instance][t.InstanceID]--
	}
	if k < len(cands) {
		rest := cands[k:]
		slices.SortStableFunc(rest, func(a, b *TaskState) int {
			if better(a, b) {
				return -1
			}
			if better(b, a) {
				return 1
			}
			return 0
		})
	}
}

// stopRank orders tasks by what losing them costs: lowest first.
func stopRank(t *TaskState) int {
	switch {
	case t.Phase != PhaseRunning:
		return 0
	case t.HealthChecked && t.Health == health.Unhealthy:
		return 1
	case t.HealthChecked && t.Health != health.Healthy:
		return 2 // not known healthy yet: cheaper to lose than a healthy one
	case t.OnDrainingInstance:
		return 3
	default:
		return 4
	}
}

// tieBreak orders tasks newest first, then by instance and task ID.
func tieBreak(a, b *TaskState) int {
	if c := b.StartedAt.Compare(a.StartedAt); c != 0 {
		return c
	}
	if c := strings.Compare(a.InstanceID, b.InstanceID); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// placementOf returns the task's value for level l (zero if it has none).
func placementOf(t *TaskState, l int) PlacementValue {
	if l < len(t.Placement) {
		return t.Placement[l]
	}
	return PlacementValue{}
}
