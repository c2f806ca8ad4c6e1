package lb

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync/atomic"
)

// Limits of a forward action.
const (
	// MaxWeight is the largest weight of a target group in a forward
	// action (ALB stops at 999; 1000 lets per-mille shares be exact).
	MaxWeight = 1000
	// MaxForwardGroups is how many target groups one forward action
	// weighs, as in ALB.
	MaxForwardGroups = 5
)

// WeightedTargetGroup is a target group and its weight in a forward action.
// Weight 0 sends it nothing.
type WeightedTargetGroup struct {
	TargetGroup *TargetGroup
	Weight      int
}

// ForwardAction is an ALB forward action with weighted target groups: each
// request goes to one of its groups, chosen in proportion to their weights
// among the groups that have a target to take it (a group whose targets are
// all unhealthy or gone gets nothing while another group of positive weight
// has one; when none has, the weights alone decide, and the group answers
// 503 or fails open). Rules use it as their action (Rule.Forward) and
// listeners as their default (Listener.SetDefaultForward). Its weights change
// atomically with SetWeights: a request sees the old weights or the new ones,
// never a mix. Its name identifies it (Stevedore's blue/green deployments
// find their listener rules by this name). A ForwardAction is safe for
// concurrent use.
type ForwardAction struct {
	name     string
	protocol Protocol // of every group
	groups   atomic.Pointer[[]WeightedTargetGroup]
	next     atomic.Uint64 // requests forwarded, for the spread of picks
}

// NewForwardAction returns a forward action named name over groups (1 to
// MaxForwardGroups distinct groups of one protocol, weights 0 to
// MaxWeight). An action over HTTP groups serves HTTP listeners (rules and
// default), one over TCP groups a TCP listener, by connection.
func NewForwardAction(name string, groups ...WeightedTargetGroup) (*ForwardAction, error) {
	if name == "" {
		return nil, invalid("forward.name", "is required")
	}
	switch {
	case len(groups) == 0:
		return nil, fmt.Errorf("forward action %s: %w", name, invalid("forward.targetGroups", "need at least one target group"))
	case len(groups) > MaxForwardGroups:
		return nil, fmt.Errorf("forward action %s: %w", name, invalid("forward.targetGroups", "at most %d target groups, got %d", MaxForwardGroups, len(groups)))
	}
	gs := slices.Clone(groups)
	for i, wg := range gs {
		field := fmt.Sprintf("forward.targetGroups[%d]", i)
		switch {
		case wg.TargetGroup == nil:
			return nil, fmt.Errorf("forward action %s: %w", name, invalid(field+".targetGroup", "is required"))
		case wg.TargetGroup.protocol != gs[0].TargetGroup.protocol:
			return nil, fmt.Errorf("forward action %s: %w", name, invalid(field+".targetGroup", "%s has protocol %s, want %s as %s", wg.TargetGroup.name, wg.TargetGroup.protocol, gs[0].TargetGroup.protocol, gs[0].TargetGroup.name))
		case slices.IndexFunc(gs[:i], func(o WeightedTargetGroup) bool { return o.TargetGroup.name == wg.TargetGroup.name }) >= 0:
			return nil, fmt.Errorf("forward action %s: %w", name, invalid(field+".targetGroup", "%s appears twice", wg.TargetGroup.name))
		case wg.Weight < 0 || wg.Weight > MaxWeight:
			return nil, fmt.Errorf("forward action %s: %w", name, invalid(field+".weight", "must be between 0 and %d, got %d", MaxWeight, wg.Weight))
		}
	}
	f := &ForwardAction{name: name, protocol: gs[0].TargetGroup.protocol}
	f.groups.Store(&gs)
	return f, nil
}

// Name returns the action's name.
func (f *ForwardAction) Name() string { return f.name }

// Protocol returns the protocol of the action's groups.
func (f *ForwardAction) Protocol() Protocol { return f.protocol }

// Weights returns the weight of each target group, by group name.
func (f *ForwardAction) Weights() map[string]int {
	out := map[string]int{}
	for _, wg := range *f.groups.Load() {
		out[wg.TargetGroup.name] = wg.Weight
	}
	return out
}

// SetWeights changes the weights of the named target groups (groups left
// out keep theirs), all at once. Naming a group the action does not forward
// to, or a weight outside 0 to MaxWeight, is ErrInvalid and changes nothing.
func (f *ForwardAction) SetWeights(weights map[string]int) error {
	cur := *f.groups.Load()
	next := slices.Clone(cur)
	for _, name := range slices.Sorted(maps.Keys(weights)) {
		w := weights[name]
		i := slices.IndexFunc(next, func(wg WeightedTargetGroup) bool { return wg.TargetGroup.name == name })
		switch {
		case i < 0:
			return fmt.Errorf("forward action %s: %w", f.name, invalid("weights", "no target group %q in the action", name))
		case w < 0 || w > MaxWeight:
			return fmt.Errorf("forward action %s: %w", f.name, invalid("weights["+name+"]", "must be between 0 and %d, got %d", MaxWeight, w))
		}
		next[i].Weight = w
	}
	f.groups.Store(&next)
	return nil
}

// ServeHTTP forwards r to the target group pick chooses; 503 when every
// weight is 0.
func (f *ForwardAction) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g := f.pick()
	if g == nil {
		http.Error(w, "no target group has a weight", http.StatusServiceUnavailable)
		return
	}
	g.proxy.ServeHTTP(w, r)
}

// pick chooses the group of the next request: by weight among the groups
// of positive weight that can take it now, else among all groups of
// positive weight; nil when every weight is 0. Successive picks follow a
// low-discrepancy sequence (the golden-ratio sequence): over any run of n
// requests, each group's share is within a few requests of its weight's
// share, under any concurrency, without a lock.
func (f *ForwardAction) pick() *TargetGroup {
	groups := *f.groups.Load()
	var live [MaxForwardGroups]bool
	total := 0
	for i, wg := range groups {
		if wg.Weight > 0 && wg.TargetGroup.canServe() {
			live[i] = true
			total += wg.Weight
		}
	}
	if total == 0 {
		for i, wg := range groups {
			live[i] = wg.Weight > 0
			total += wg.Weight
		}
	}
	if total == 0 {
		return nil
	}
	n := f.next.Add(1)
	// frac(n·φ) scaled to [0, total).
	x := (n * 0x9E3779B97F4A7C15) >> 32
	pos := int((x * uint64(total)) >> 32)
	for i, wg := range groups {
		if !live[i] {
			continue
		}
		if pos < wg.Weight {
			return wg.TargetGroup
		}
		pos -= wg.Weight
	}
	return groups[len(groups)-1].TargetGroup // unreachable: pos < total
}

// canServe reports whether the group has a target for new traffic.
func (g *TargetGroup) canServe() bool {
	rs := g.routes.Load()
	return len(rs.healthy) > 0 || (g.failOpen && len(rs.unhealthy) > 0)
}
