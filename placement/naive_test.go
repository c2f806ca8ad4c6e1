package placement_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/placement"
	"github.com/stevedore-io/stevedore/placement/query"
)

// naivePlace is the reference the engine is measured and checked against.
// For every task it scans every instance and evaluates everything from
// scratch: status, resources, ports, constraints (memberOf expressions are
// evaluated each time), spread counts over the whole cluster; then it
// narrows the candidates strategy by strategy and takes the first one left.
// It keeps its state in cluster values and applies each decision with
// AddTask, which cannot overcommit an instance. It does not know random
// strategies or plug-ins.
//
// instances are changed in place (pass clones).
func naivePlace(instances []cluster.ContainerInstance, req *placement.Request, count int) ([]placement.Decision, error) {
	group := req.Group
	if group == "" {
		group = "family:" + req.Family
	}
	distinct := false
	var exprs []*query.Expr
	for _, c := range req.Constraints {
		switch c.Type {
		case placement.ConstraintDistinctInstance:
			distinct = true
		case placement.ConstraintMemberOf:
			e, err := query.Parse(c.Expression)
			if err != nil {
				return nil, err
			}
			exprs = append(exprs, e)
		}
	}
	slots := 0
	if req.NetworkSlot {
		slots = 1
	}
	var out []placement.Decision
	for range count {
		var cands []int
		var candPorts [][]cluster.Port
	instances:
		for i := range instances {
			ci := &instances[i]
			if ci.Status != cluster.StatusActive || !ci.AgentConnected {
				continue
			}
			if req.CapacityProvider != "" && ci.CapacityProvider != req.CapacityProvider {
				continue
			}
			if req.CPU > ci.Remaining.CPU || req.Memory > ci.Remaining.Memory || slots > ci.Remaining.NetworkSlots {
				continue
			}
			ports, ok := naivePorts(ci, req.Ports)
			if !ok {
				continue
			}
			if distinct && ci.TaskGroups[group] > 0 {
				continue
			}
			for _, e := range exprs {
				if !e.Eval(naiveTarget{ci}) {
					continue instances
				}
			}
			cands = append(cands, i)
			candPorts = append(candPorts, ports)
		}
		if len(cands) == 0 {
			return out, fmt.Errorf("naive: task %d: %w", len(out), placement.ErrNoFit)
		}
		order := make([]int, len(cands))
		for i := range order {
			order[i] = i
		}
		for _, s := range req.Strategies {
			var key func(ci *cluster.ContainerInstance) int
			switch {
			case s.Type == placement.StrategyBinpack && s.Field == placement.FieldCPU:
				key = func(ci *cluster.ContainerInstance) int { return ci.Remaining.CPU }
			case s.Type == placement.StrategyBinpack && s.Field == placement.FieldMemory:
				key = func(ci *cluster.ContainerInstance) int { return ci.Remaining.Memory }
			case s.Type == placement.StrategySpread && (s.Field == placement.FieldInstanceID || s.Field == placement.FieldHost):
				key = func(ci *cluster.ContainerInstance) int { return ci.TaskGroups[group] }
			case s.Type == placement.StrategySpread && strings.HasPrefix(s.Field, placement.FieldAttributePrefix):
				attr := strings.TrimPrefix(s.Field, placement.FieldAttributePrefix)
				counts := map[string]int{}
				for i := range instances {
					counts[naiveValue(&instances[i], attr)] += instances[i].TaskGroups[group]
				}
				key = func(ci *cluster.ContainerInstance) int { return counts[naiveValue(ci, attr)] }
			default:
				return out, fmt.Errorf("naive: strategy %v not supported", s)
			}
			best, kept := 0, order[:0]
			for _, o := range order {
				k := key(&instances[cands[o]])
				switch {
				case len(kept) == 0 || k < best:
					best, kept = k, append(kept[:0], o)
				case k == best:
					kept = append(kept, o)
				}
			}
			order = kept
		}
		chosen := &instances[cands[order[0]]]
		r := cluster.Resources{CPU: req.CPU, Memory: req.Memory, NetworkSlots: slots, Ports: candPorts[order[0]]}
		if err := chosen.AddTask(group, r); err != nil {
			return out, fmt.Errorf("naive: %w", err)
		}
		out = append(out, placement.Decision{Instance: chosen.ID, CapacityProvider: chosen.CapacityProvider, Group: group, Resources: r})
	}
	return out, nil
}

// naivePorts resolves the host ports of a request on ci: fixed ports must
// be free, dynamic ones are the lowest free ports from 49153.
func naivePorts(ci *cluster.ContainerInstance, want []cluster.Port) ([]cluster.Port, bool) {
	if len(want) == 0 {
		return nil, true
	}
	taken := func(p cluster.Port, mine []cluster.Port) bool {
		if ci.PortInUse(p) {
			return true
		}
		for _, q := range mine {
			if q == p {
				return true
			}
		}
		return false
	}
	var fixed []cluster.Port
	for _, p := range want {
		if p.Number != 0 {
			if taken(p, nil) {
				return nil, false
			}
			fixed = append(fixed, p)
		}
	}
	out := make([]cluster.Port, len(want))
	mine := fixed
	for i, p := range want {
		if p.Number != 0 {
			out[i] = p
			continue
		}
		found := false
		for n := placement.DynamicPortFirst; n <= placement.DynamicPortLast; n++ {
			q := cluster.Port{Protocol: p.Protocol, Number: uint16(n)}
			if !taken(q, mine) {
				out[i], found = q, true
				mine = append(mine, q)
				break
			}
		}
		if !found {
			return nil, false
		}
	}
	return out, true
}

func naiveValue(ci *cluster.ContainerInstance, attr string) string {
	if v, ok := ci.Attributes[attr]; ok {
		return v
	}
	return "\x00missing"
}

// naiveTarget is a query.Target over a cluster value.
type naiveTarget struct{ ci *cluster.ContainerInstance }

func (n naiveTarget) InstanceID() string { return n.ci.ID }

func (n naiveTarget) Attribute(name string) (string, bool) { return n.ci.Attribute(name) }

func (n naiveTarget) RegisteredAt() time.Time { return n.ci.RegisteredAt }

func (n naiveTarget) RunningTasksCount() int { return n.ci.DesiredRunningTasks() }

func (n naiveTarget) HasTaskGroup(match func(string) bool) bool {
	for g, c := range n.ci.TaskGroups {
		if c > 0 && match(g) {
			return true
		}
	}
	return false
}

func (n naiveTarget) AgentConnected() bool { return n.ci.AgentConnected }

func (n naiveTarget) AgentVersion() string { return n.ci.AgentVersion }
