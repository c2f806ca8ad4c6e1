package controller

import (
	"slices"
	"strings"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/placement"
	"github.com/stevedore-io/stevedore/placement/query"
	"github.com/stevedore-io/stevedore/service"
)

// rebalancesOverZones reports whether a service rebalances its tasks over
// availability zones (service.Input.AZRebalancing): availabilityZoneRebalancing
// ENABLED, a REPLICA service with a rolling deployment, whose placement
// strategy first spreads over availability zones (ECS's default for
// services, which CreateService stores, does; a custom strategy type, or
// a scheduler's own default chain for a service that names none, never
// counts, even one that stops tasks as such a spread would), and so does
// the first level the planner balances on when it stops tasks.
func rebalancesOverZones(s *service.Service, levels []balanceLevel) bool {
	return s.AvailabilityZoneRebalancing.Enabled() && s.SchedulingStrategy == service.Replica &&
		!s.DeploymentConfiguration.Strategy.BlueGreen() && len(s.PlacementStrategy) > 0 &&
		s.PlacementStrategy[0] == defaultStopBalance[0] && len(levels) > 0 &&
		levels[0].kind == service.BalanceSpread && levels[0].attribute == cluster.AttributeAvailabilityZone
}

// zones lists, sorted, the availability zones that can take a task of s
// now: those of the cluster's ACTIVE instances with a connected agent
// that satisfy its memberOf constraints and belong to one of its capacity
// providers (when it names some).
func (c *Controller) zones(s *service.Service) ([]string, error) {
	plain := len(s.CapacityProviders) == 0 && !slices.ContainsFunc(s.PlacementConstraints, func(pc placement.Constraint) bool {
		return pc.Type == placement.ConstraintMemberOf
	})
	if zones, ok := c.zoneCache[s.Cluster]; ok && plain {
		return zones, nil
	}
	exprs, err := memberOfExprs(s.PlacementConstraints)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, inst := range c.instances {
		zone, ok := inst.Attribute(cluster.AttributeAvailabilityZone)
		if !ok || inst.Cluster != s.Cluster || slices.Contains(out, zone) || !c.takes(s, inst, exprs) {
			continue
		}
		out = append(out, zone)
	}
	slices.Sort(out)
	if plain {
		c.zoneCache[s.Cluster] = out
	}
	return out, nil
}

// takes reports whether inst may take a task of s, as far as its status,
// agent, capacity provider and s's memberOf constraints say.
func (c *Controller) takes(s *service.Service, inst *state.Instance, exprs []*query.Expr) bool {
	if inst.Status != cluster.StatusActive || !inst.AgentConnected {
		return false
	}
	if len(s.CapacityProviders) > 0 && !slices.ContainsFunc(s.CapacityProviders, func(p cluster.CapacityProviderStrategyItem) bool {
		return p.CapacityProvider == inst.CapacityProvider
	}) {
		return false
	}
	if len(exprs) == 0 {
		return true
	}
	target := c.cfg.Launcher.Scheduler().NewRound([]cluster.ContainerInstance{inst.ContainerInstance}, 0).Instance(0)
	for _, e := range exprs {
		if !e.Eval(target) {
			return false
		}
	}
	return true
}

// memberOfExprs parses the expressions of the memberOf constraints among
// constraints, in order.
func memberOfExprs(constraints []placement.Constraint) ([]*query.Expr, error) {
	var exprs []*query.Expr
	for _, pc := range constraints {
		if pc.Type != placement.ConstraintMemberOf {
			continue
		}
		e, err := query.Parse(pc.Expression)
		if err != nil {
			return nil, err
		}
		exprs = append(exprs, e)
	}
	return exprs, nil
}

// quoteQuery quotes v as a string of the cluster query language.
func quoteQuery(v string) string {
	if strings.Contains(v, "'") {
		return `"` + v + `"`
	}
	return "'" + v + "'"
}

// zoneNoCapacityEvent is the event of a rebalance that could not place its
// task in zone: ECS's words, then Stevedore's account of the instances
// there.
func zoneNoCapacityEvent(serviceName, zone string, e placement.Explanation) string {
	msg := "(service " + serviceName + ") is unable to place a task in " + zone +
		" because no container instance met all of its requirements."
	if closest := e.ClosestMatch(); closest != "" {
		msg += " " + closest
	}
	if e.Instances > 0 {
		msg += " (" + e.String() + ")"
	}
	return msg
}
