package service

import (
	"fmt"
	"slices"
	"strings"
)

// ReasonRebalancing is the stoppedReason of a task stopped to rebalance
// its service over availability zones.
const ReasonRebalancing = "AZ rebalancing initiated by (deployment %s)"

// rebalances reports whether availability-zone rebalancing applies to
// the service in this pass: enabled, over at least two zones, on a REPLICA
// service whose only deployment completed.
func (p *planner) rebalances() bool {
	in := &p.in
	return in.AZRebalancing && in.Strategy == Replica && len(in.Zones) >= 2 && in.DesiredCount > 0 &&
		len(p.plan.Deployments) == 1 && p.primary.RolloutState == RolloutCompleted && len(in.StopBalance) > 0 &&
		in.StopBalance[0] == BalanceSpread
}

// rebalanceHolds reports whether the one task the service has beyond its
// desired count is the one a rebalance in progress started, to be kept
// until the rebalance stops another (others counts the tasks to stop
// or replace: unhealthy, surplus).
func (p *planner) rebalanceHolds(keep []*TaskState, others int) bool {
	return p.plan.Rebalancing && p.rebalances() && others == 0 && len(keep) == p.in.DesiredCount+1
}

// rebalance moves the service's tasks towards balance over its
// availability zones, as ECS's availabilityZoneRebalancing does: once the
// service is steady and the zones' counts of its tasks differ by more than
// one, it says so, starts a task in the zone with the fewest (within
// maximumPercent), and once that task is healthy, stops one from the zone
// with the most (the balanced stop order), one task at a time, until the
// service is balanced, which it says too. When maximumPercent leaves no
// room, it stops first, within minimumHealthyPercent, and the replacement
// goes where the placement strategy's spread puts it: the zone with the
// fewest. keep are the primary's tasks kept this pass, others how many
// tasks are to be stopped or replaced.
func (p *planner) rebalance(keep []*TaskState, others, minHealthy, maxTotal int, launch bool) {
	if !p.rebalances() {
		p.plan.Rebalancing = false
		return
	}
	if others > 0 || len(p.plan.Stops) > 0 || len(p.plan.Starts) > 0 {
		return // something else is going on: look again when it is done
	}
	counts := map[string]int{}
	for _, z := range p.in.Zones {
		counts[z] = 0
	}
	healthy := 0
	for _, t := range keep {
		if len(t.Placement) == 0 {
			return // where the tasks are is not known
		}
		if !p.available(t.Placement[0].Spread) {
			// A zone that cannot take tasks still holds some (its
			// agents are away, say): rebalancing waits for it to come
			// back, or for its tasks to be replaced.
			return
		}
		counts[t.Placement[0].Spread]++
		if p.healthy(t) {
			healthy++
		}
	}
	desired := p.in.DesiredCount
	if len(keep) > desired {
		// The task the rebalance started is there: once every task is
		// healthy, stop one from the zone with the most.
		if healthy < len(keep) {
			return
		}
		victims := slices.Clone(keep)
		p.stopOrder(victims, 1)
		p.rebalanceStop(victims[0])
		return
	}
	if len(keep) < desired {
		return
	}
	zones := slices.Sorted(slices.Values(p.in.Zones)) // every task is in one of them
	fewest, most := zones[0], zones[0]
	for _, z := range zones {
		if counts[z] < counts[fewest] {
			fewest = z
		}
		if counts[z] > counts[most] {
			most = z
		}
	}
	if counts[most]-counts[fewest] <= 1 {
		if p.plan.Rebalancing {
			p.plan.Rebalancing = false
			p.event("is AZ balanced with %s.", zoneCounts(zones, counts, " tasks"))
		}
		return
	}
	if (!p.plan.Rebalancing && !p.in.Steady) || healthy < len(keep) {
		return // ECS watches a service's balance once it is steady
	}
	if !p.plan.Rebalancing {
		p.plan.Rebalancing = true
		p.event("is not AZ balanced with %s. AZ Rebalancing in progress.", zoneCounts(zones, counts, ""))
	}
	occupying, _ := p.counts()
	switch {
	case launch && occupying < maxTotal:
		p.plan.Starts = append(p.plan.Starts, Start{DeploymentID: p.primary.ID, TaskDefinition: p.primary.TaskDefinition,
			Count: 1, Zone: fewest})
	case healthy-1 >= minHealthy:
		// No room above the desired count: stop first.
		victims := slices.Clone(keep)
		p.stopOrder(victims, 1)
		p.rebalanceStop(victims[0])
	}
}

// available reports whether zone z can take tasks now.
func (p *planner) available(z string) bool { return slices.Contains(p.in.Zones, z) }

// rebalanceStop stops t to rebalance the service, with ECS's event.
func (p *planner) rebalanceStop(t *TaskState) {
	p.stop(t, fmt.Sprintf(ReasonRebalancing, p.primary.ID), false)
	p.event("has stopped 1 running tasks in %s due to AZ rebalancing: (task %s).", t.Placement[0].Spread, t.ID)
}

// starting reports whether the plan starts tasks other than a rebalance's
// (which keeps a balanced service steady while no zone can take it).
func (p *planner) starting() bool {
	for _, s := range p.plan.Starts {
		if s.Zone == "" {
			return true
		}
	}
	return false
}

// zoneCounts says how many tasks each zone holds, in ECS's words: "2
// tasks in a, 1 in b, and 0 in c" (the unit repeated when unit is " tasks").
func zoneCounts(zones []string, counts map[string]int, unit string) string {
	parts := make([]string, len(zones))
	for i, z := range zones {
		u := unit
		if i == 0 {
			u = " tasks"
		}
		parts[i] = fmt.Sprintf("%d%s in %s", counts[z], u, z)
	}
	switch len(parts) {
	case 1:
		return parts[0]
	case 2:
		return parts[0] + " and " + parts[1]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + ", and " + parts[len(parts)-1]
}
