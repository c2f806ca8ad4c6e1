package main

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/lb"
)

// The target groups' settings. Their targets are tasks on this host,
// which answer at once: checks every second (lb.WithFastHealthChecks),
// healthy after two passes; a deregistered task drains for at most
// deregistrationDelay (at once when nothing is in flight).
var (
	targetHealthCheck = lb.HealthCheck{
		Interval: lb.FastMinHealthCheckInterval, Timeout: lb.FastMinHealthCheckTimeout,
		HealthyThreshold: 2, UnhealthyThreshold: 2,
	}
	deregistrationDelay = 10 * time.Second
)

// loadBalancing returns the Orchestrator's options for the -target-group
// and -listener-rule flags, and a function that closes the groups, to call
// once the Orchestrator is closed. A listener rule "name=a,b" is a forward
// action over groups a and b, all the weight on the first: the rule a
// blue/green service names as its production listener rule.
func loadBalancing(cfg config, log *slog.Logger) ([]stevedore.Option, func(), error) {
	groups := map[string]*lb.TargetGroup{}
	var all []stevedore.TargetGroup
	closeAll := func() {
		for _, g := range groups {
			if err := g.Close(); err != nil {
				log.Error("close a target group", "targetGroup", g.Name(), "err", err)
			}
		}
	}
	for _, name := range cfg.TargetGroups {
		if groups[name] != nil {
			closeAll()
			return nil, nil, fmt.Errorf("target-group %q: given twice", name)
		}
		g, err := lb.NewTargetGroup(name, lb.TCP, lb.WithHealthCheck(targetHealthCheck), lb.WithFastHealthChecks(),
			lb.WithDeregistrationDelay(deregistrationDelay), lb.WithGroupLogger(log))
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("target-group %q: %w", name, err)
		}
		groups[name] = g
		all = append(all, g)
	}
	var rules []stevedore.ListenerRule
	for _, spec := range cfg.ListenerRules {
		rule, err := listenerRule(spec, groups)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		rules = append(rules, rule)
	}
	var opts []stevedore.Option
	if len(all) > 0 {
		opts = append(opts, stevedore.WithTargetGroups(all...))
	}
	if len(rules) > 0 {
		opts = append(opts, stevedore.WithListenerRules(rules...))
	}
	return opts, closeAll, nil
}

// listenerRule parses "name=group,group" into a forward action over those
// of groups, the first weighing 1000.
func listenerRule(spec string, groups map[string]*lb.TargetGroup) (*lb.ForwardAction, error) {
	name, list, ok := strings.Cut(spec, "=")
	if !ok || name == "" || list == "" {
		return nil, fmt.Errorf("listener-rule %q: want name=group,group", spec)
	}
	var weighted []lb.WeightedTargetGroup
	for i, g := range strings.Split(list, ",") {
		group := groups[g]
		if group == nil {
			return nil, fmt.Errorf("listener-rule %q: no target-group %q", spec, g)
		}
		weight := 0
		if i == 0 {
			weight = lb.MaxWeight
		}
		weighted = append(weighted, lb.WeightedTargetGroup{TargetGroup: group, Weight: weight})
	}
	rule, err := lb.NewForwardAction(name, weighted...)
	if err != nil {
		return nil, fmt.Errorf("listener-rule %q: %w", spec, err)
	}
	return rule, nil
}
