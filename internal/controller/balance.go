package controller

import (
	"slices"
	"strings"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/placement"
	"github.com/stevedore-io/stevedore/service"
)

// defaultStopBalance is how a service that names no placement strategy is
// balanced: ECS's default for services, spread over availability zones,
// then over instances.
var defaultStopBalance = []placement.StrategySpec{
	placement.Spread(placement.FieldAttributePrefix + cluster.AttributeAvailabilityZone),
	placement.Spread(placement.FieldInstanceID),
}

// missingAttribute is the spread value of an instance lacking the
// attribute: no attribute value holds a NUL.
const missingAttribute = "\x00missing"

// balanceLevel is one level of a service's placement strategy, as the
// planner uses it to choose the tasks to stop (service.Input.StopBalance).
type balanceLevel struct {
	kind service.BalanceKind
	// attribute is the spread field's attribute; "" spreads over
	// instances.
	attribute string
	// memory is true for binpack on memory, false on cpu.
	memory bool
}

// stopBalance turns a service's placement strategy into the levels the
// planner balances on when it stops tasks: spread on a field keeps the
// field's values balanced, binpack empties the instance left with the most
// of the resource, random chooses at random (reproducibly). A strategy it
// does not know is left out (the service's validation refuses them).
func stopBalance(specs []placement.StrategySpec, buf []balanceLevel) []balanceLevel {
	if len(specs) == 0 {
		specs = defaultStopBalance
	}
	out := buf[:0]
	for _, s := range specs {
		switch s.Type {
		case placement.StrategySpread:
			switch {
			case s.Field == placement.FieldInstanceID || s.Field == placement.FieldHost:
				out = append(out, balanceLevel{kind: service.BalanceSpread})
			case strings.HasPrefix(s.Field, placement.FieldAttributePrefix):
				out = append(out, balanceLevel{kind: service.BalanceSpread, attribute: strings.TrimPrefix(s.Field, placement.FieldAttributePrefix)})
			}
		case placement.StrategyBinpack:
			switch s.Field {
			case placement.FieldCPU:
				out = append(out, balanceLevel{kind: service.BalanceBinpack})
			case placement.FieldMemory:
				out = append(out, balanceLevel{kind: service.BalanceBinpack, memory: true})
			}
		case placement.StrategyRandom:
			out = append(out, balanceLevel{kind: service.BalanceRandom})
		}
	}
	return out
}

// stopSpecs returns the built-in strategies that choose the tasks of a
// service placed with specs to stop: specs themselves when they are all
// built in (the usual case, without allocating); a custom strategy type
// of the scheduler stands for the built-in strategies its
// placement.StopBalancer returns, or for none when it implements none.
// When no level is left, stopBalance falls back to ECS's default for
// services (spread over zones, then instances).
func stopSpecs(sched *placement.Scheduler, specs []placement.StrategySpec) []placement.StrategySpec {
	if !slices.ContainsFunc(specs, func(s placement.StrategySpec) bool { return !s.IsBuiltin() }) {
		return specs
	}
	var out []placement.StrategySpec
	for _, spec := range specs {
		if spec.IsBuiltin() {
			out = append(out, spec)
			continue
		}
		st, err := sched.Strategy(spec)
		if err != nil {
			continue // the API checked it; a scheduler changed since cannot stop the service
		}
		if b, ok := st.(placement.StopBalancer); ok {
			for _, level := range b.StopBalance() {
				if level.IsBuiltin() {
					out = append(out, level)
				}
			}
		}
	}
	return out
}

// placementValue is where a task on inst sits for level l: the instance's
// value of the spread field, or what is left of the binpack resource on
// the instance and what the task holds of it. A task whose instance is not
// known has the zero value.
func (l balanceLevel) placementValue(t *state.Task, inst *state.Instance) service.PlacementValue {
	switch l.kind {
	case service.BalanceSpread:
		if l.attribute == "" {
			return service.PlacementValue{Spread: t.ContainerInstanceID()}
		}
		// An instance lacking the attribute has a value of its own, as
		// in placement, distinct from every real value.
		if inst == nil {
			return service.PlacementValue{Spread: missingAttribute}
		}
		v, ok := inst.Attribute(l.attribute)
		if !ok {
			v = missingAttribute
		}
		return service.PlacementValue{Spread: v}
	case service.BalanceBinpack:
		var pv service.PlacementValue
		if l.memory {
			pv.Used = int64(t.Reserved.Memory)
			if inst != nil {
				pv.Free = int64(inst.Remaining.Memory)
			}
		} else {
			pv.Used = int64(t.Reserved.CPU)
			if inst != nil {
				pv.Free = int64(inst.Remaining.CPU)
			}
		}
		return pv
	}
	return service.PlacementValue{}
}

// stopSeed is the seed of a service's random choices among tasks to stop:
// the Orchestrator's seed mixed with the service's cluster and name, so
// that the same seed makes the same choices, and two services do not make
// theirs in lockstep.
func stopSeed(seed uint64, clusterName, serviceName string) uint64 {
	// FNV-1a over cluster, a NUL and name, without allocating: it runs
	// on every pass of every service.
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for _, s := range [...]string{clusterName, "\x00", serviceName} {
		for i := 0; i < len(s); i++ {
			h = (h ^ uint64(s[i])) * prime
		}
	}
	return seed ^ h
}
