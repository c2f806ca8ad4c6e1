package placement

import "fmt"

// strategyKind tells the built-in strategies apart.
type strategyKind int

const (
	kindBinpackCPU strategyKind = iota
	kindBinpackMemory
	kindSpreadInstance
	kindSpreadAttribute
	kindRandom
)

// builtinStrategy is binpack, spread or random. Its Select serves the
// general path; the index (index.go) implements the same order without
// scanning every instance.
type builtinStrategy struct {
	kind      strategyKind
	spec      StrategySpec
	attribute string
}

// Name returns "binpack(memory)", "spread(attribute:ecs.availability-zone)",
// "random" and so on.
func (b *builtinStrategy) Name() string {
	if b.kind == kindRandom {
		return "random"
	}
	return fmt.Sprintf("%s(%s)", b.spec.Type, b.spec.Field)
}

// Select keeps the candidates with the smallest key (remaining cpu or
// memory for binpack, tasks of the group per instance or per attribute
// value for spread), or one candidate drawn at random.
func (b *builtinStrategy) Select(r *Round, req *Request, candidates []*InstanceInfo) ([]*InstanceInfo, *Status) {
	if b.kind == kindRandom {
		i := r.rng.IntN(len(candidates))
		return candidates[i : i+1], nil
	}
	var key func(*InstanceInfo) int
	switch b.kind {
	case kindBinpackCPU:
		key = func(inf *InstanceInfo) int { return inf.cpu }
	case kindBinpackMemory:
		key = func(inf *InstanceInfo) int { return inf.memory }
	case kindSpreadInstance:
		group := r.groups.intern(req.group())
		key = func(inf *InstanceInfo) int { return int(inf.groupCount(group)) }
	case kindSpreadAttribute:
		sc := r.spreadCounts(r.groups.intern(req.group()), b.attribute)
		key = func(inf *InstanceInfo) int { return int(*sc.of(inf.index)) }
	}
	return keepMin(candidates, key), nil
}

// keepMin keeps, in order, the candidates with the smallest key.
func keepMin(candidates []*InstanceInfo, key func(*InstanceInfo) int) []*InstanceInfo {
	out := candidates[:0]
	best := 0
	for _, c := range candidates {
		k := key(c)
		switch {
		case len(out) == 0 || k < best:
			best = k
			out = append(out[:0], c)
		case k == best:
			out = append(out, c)
		}
	}
	return out
}

// placeScan places count tasks by running the chain of strategies over
// every candidate for every task: the general path, for chains with
// plug-in strategies.
func (r *Round) placeScan(p *plan, alive []int32, count int, out []Decision) ([]Decision, error) {
	base := make([]*InstanceInfo, 0, len(alive))
	var last *InstanceInfo
	for range count {
		if last != nil {
			last.dirty = false
			reason, err := r.check(p, last, false)
			if err != nil {
				return out, err
			}
			if reason != "" {
				alive = removeSorted(alive, last.index)
			}
		}
		if len(alive) == 0 {
			return out, errNoFit
		}
		buf := base[:0]
		for _, i := range alive {
			buf = append(buf, &r.infos[i])
		}
		for _, s := range p.chain {
			var st *Status
			buf, st = s.Select(r, p.req, buf)
			switch {
			case st.Code() == CodeUnfit:
				return out, &PluginError{Plugin: s.Name(), Err: fmt.Errorf("a strategy cannot turn instances down (Unfit: %s); use a Filter", st.Reason())}
			case !st.IsSuccess():
				return out, &PluginError{Plugin: s.Name(), Err: st.Err()}
			case len(buf) == 0:
				return out, &PluginError{Plugin: s.Name(), Err: errEmptySelection}
			}
		}
		last = buf[0]
		out = append(out, r.commit(p, last))
	}
	return out, nil
}

// removeSorted removes v from the sorted slice s.
func removeSorted(s []int32, v int32) []int32 {
	lo, hi := 0, len(s)
	for lo < hi {
		m := (lo + hi) / 2
		if s[m] < v {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(s) && s[lo] == v {
		return append(s[:lo], s[lo+1:]...)
	}
	return s
}
