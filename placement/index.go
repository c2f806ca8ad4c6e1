package placement

import (
	"encoding/binary"
	"math/bits"
	"slices"
)

// The index places tasks without scanning every instance per task. It
// serves chains made of built-in strategies only, which covers everything
// a request can name (a random strategy must come last, after spreads on
// attributes only; the compiler trims what follows random, and other
// chains take the general path).
//
// The candidates are split into partitions, one per combination of the
// values of the attributes the chain spreads on. Within a partition every
// instance has the same spread counts, so the chain orders the partition's
// instances by their own keys only (remaining cpu or memory, tasks of the
// group on the instance, then round order): each partition is a binary heap
// on those keys. The partitions themselves are in a heap ordered by the
// full chain key of their best instance. Placing a task is then: look at
// the best instance of the best partition, place, sift both down -
// O(log n) instead of O(n).
//
// Pruning is lazy and safe: only the instance a task was just placed on
// changes, so only that one is checked again (it is marked dirty); an
// instance that cannot take a task now never can later in the batch, since
// its resources only shrink and its groups only grow, so it is dropped from
// the heap for good. Heap keys of partitions whose best instance has not
// been checked yet are lower bounds of their real keys, which keeps the
// minimum correct.

// component is one strategy of a chain the index serves.
type component struct {
	kind strategyKind
	// attr indexes chainPlan.attrs for kindSpreadAttribute.
	attr int
}

// chainPlan is a chain of built-in strategies, ready for the index.
type chainPlan struct {
	comps  []component
	attrs  []string
	random bool
}

// compileChain returns the index's form of p's chain, or nil when the
// chain needs the general path.
func compileChain(p *plan) *chainPlan {
	c := &chainPlan{}
	for _, s := range p.chain {
		b, ok := s.(*builtinStrategy)
		if !ok {
			return nil
		}
		switch b.kind {
		case kindRandom:
			for _, prev := range c.comps {
				if prev.kind != kindSpreadAttribute {
					return nil
				}
			}
			c.random = true
		case kindSpreadAttribute:
			i := slices.Index(c.attrs, b.attribute)
			if i < 0 {
				i = len(c.attrs)
				c.attrs = append(c.attrs, b.attribute)
			}
			c.comps = append(c.comps, component{kind: b.kind, attr: i})
		default:
			c.comps = append(c.comps, component{kind: b.kind})
		}
	}
	return c
}

// partition holds the candidates sharing one combination of spread values.
type partition struct {
	// counters are the group's task counts for this partition's value of
	// each spread attribute (shared with the round's spread counts).
	counters []*int32
	// members are instance indices: a heap on the chain's per-instance
	// keys, or a plain list for a random chain.
	members []int32
	// hpos is the partition's position in the index's heap.
	hpos int
}

// index is the state of one batch on the indexed path.
type index struct {
	r     *Round
	p     *plan
	c     *chainPlan
	parts []*partition
	heap  []*partition
}

func newIndex(r *Round, p *plan, c *chainPlan, cands []int32) *index {
	x := &index{r: r, p: p, c: c}
	counts := make([]*spreadCounts, len(c.attrs))
	for i, a := range c.attrs {
		counts[i] = r.spreadCounts(p.group, a)
	}
	newPart := func(inst int32) *partition {
		part := &partition{counters: make([]*int32, len(c.attrs))}
		for i := range c.attrs {
			part.counters[i] = counts[i].of(inst)
		}
		x.parts = append(x.parts, part)
		return part
	}
	switch len(c.attrs) {
	case 0:
		if len(cands) > 0 {
			part := newPart(cands[0])
			part.members = cands
		}
	case 1:
		av := counts[0].attr
		byValue := make([]*partition, len(av.values))
		for _, i := range cands {
			v := av.ids[i]
			if byValue[v] == nil {
				byValue[v] = newPart(i)
			}
			byValue[v].members = append(byValue[v].members, i)
		}
	default:
		// A combination of values is numbered in mixed radix when the
		// numbers fit in 64 bits, and spelled out as bytes otherwise.
		radix, fits := uint64(1), true
		for _, sc := range counts {
			hi, lo := bits.Mul64(radix, uint64(len(sc.attr.values)))
			radix, fits = lo, fits && hi == 0
		}
		byNumber := map[uint64]*partition{}
		byBytes := map[string]*partition{}
		var buf []byte
		for _, i := range cands {
			var part *partition
			if fits {
				var key uint64
				for _, sc := range counts {
					key = key*uint64(len(sc.attr.values)) + uint64(sc.attr.ids[i])
				}
				if part = byNumber[key]; part == nil {
					part = newPart(i)
					byNumber[key] = part
				}
			} else {
				buf = buf[:0]
				for _, sc := range counts {
					buf = binary.LittleEndian.AppendUint32(buf, uint32(sc.attr.ids[i]))
				}
				if part = byBytes[string(buf)]; part == nil {
					part = newPart(i)
					byBytes[string(buf)] = part
				}
			}
			part.members = append(part.members, i)
		}
	}
	if !c.random {
		for _, part := range x.parts {
			for i := len(part.members)/2 - 1; i >= 0; i-- {
				x.siftMember(part, i)
			}
			x.heap = append(x.heap, part)
		}
		x.heapify()
	}
	return x
}

// key returns the value of one chain component for instance i of part.
func (x *index) key(c component, part *partition, i int32) int {
	inf := &x.r.infos[i]
	switch c.kind {
	case kindSpreadAttribute:
		return int(*part.counters[c.attr])
	case kindSpreadInstance:
		return int(inf.groupCount(x.p.group))
	case kindBinpackCPU:
		return inf.cpu
	case kindBinpackMemory:
		return inf.memory
	}
	return 0
}

// memberLess orders the instances of one partition: spread counts are
// equal there, so only per-instance keys and round order matter.
func (x *index) memberLess(part *partition, a, b int32) bool {
	for _, c := range x.c.comps {
		if c.kind == kindSpreadAttribute {
			continue
		}
		if ka, kb := x.key(c, part, a), x.key(c, part, b); ka != kb {
			return ka < kb
		}
	}
	return a < b
}

// partLess orders partitions by the full chain key of their best instance.
func (x *index) partLess(pa, pb *partition) bool {
	a, b := pa.members[0], pb.members[0]
	for _, c := range x.c.comps {
		if ka, kb := x.key(c, pa, a), x.key(c, pb, b); ka != kb {
			return ka < kb
		}
	}
	return a < b
}

func (x *index) siftMember(part *partition, i int) {
	m := part.members
	for {
		l := 2*i + 1
		if l >= len(m) {
			return
		}
		j := l
		if r := l + 1; r < len(m) && x.memberLess(part, m[r], m[l]) {
			j = r
		}
		if !x.memberLess(part, m[j], m[i]) {
			return
		}
		m[i], m[j] = m[j], m[i]
		i = j
	}
}

// popMember removes the partition's best instance.
func (x *index) popMember(part *partition) {
	last := len(part.members) - 1
	part.members[0] = part.members[last]
	part.members = part.members[:last]
	x.siftMember(part, 0)
}

func (x *index) siftPart(i int) {
	h := x.heap
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		j := l
		if r := l + 1; r < len(h) && x.partLess(h[r], h[l]) {
			j = r
		}
		if !x.partLess(h[j], h[i]) {
			return
		}
		h[i], h[j] = h[j], h[i]
		h[i].hpos, h[j].hpos = i, j
		i = j
	}
}

func (x *index) heapify() {
	for i, part := range x.heap {
		part.hpos = i
	}
	for i := len(x.heap)/2 - 1; i >= 0; i-- {
		x.siftPart(i)
	}
}

// popPart removes the best partition, which has become empty.
func (x *index) popPart() {
	last := len(x.heap) - 1
	x.heap[0] = x.heap[last]
	x.heap[0].hpos = 0
	x.heap = x.heap[:last]
	x.siftPart(0)
}

// placeIndexed places count tasks of plan p through the index.
func (r *Round) placeIndexed(p *plan, c *chainPlan, cands []int32, count int, out []Decision) ([]Decision, error) {
	x := newIndex(r, p, c, cands)
	if c.random {
		return x.placeRandom(count, out)
	}
	for range count {
		var part *partition
		var inf *InstanceInfo
		for {
			if len(x.heap) == 0 {
				return out, errNoFit
			}
			part = x.heap[0]
			inf = &r.infos[part.members[0]]
			if !inf.dirty {
				break
			}
			inf.dirty = false
			reason, err := r.check(p, inf, false)
			if err != nil {
				return out, err
			}
			if reason == "" {
				break
			}
			x.popMember(part)
			if len(part.members) == 0 {
				x.popPart()
			} else {
				x.siftPart(0)
			}
		}
		out = append(out, r.commit(p, inf))
		// Only the chosen instance's keys changed, and it is the root of
		// its partition, which is the root of the heap. With one spread
		// attribute (or none) no other partition's key moved; with several,
		// every partition sharing one of the chosen values did.
		x.siftMember(part, 0)
		if len(c.attrs) <= 1 {
			x.siftPart(0)
		} else {
			x.heapify()
		}
	}
	return out, nil
}

// placeRandom places count tasks of a chain ending in random: among the
// partitions with the lowest spread counts, an instance drawn uniformly
// from their candidates.
func (x *index) placeRandom(count int, out []Decision) ([]Decision, error) {
	r, p := x.r, x.p
	var tied []*partition
	for range count {
		for {
			tied = tied[:0]
			total := 0
			for _, part := range x.parts {
				if len(part.members) == 0 {
					continue
				}
				if len(tied) > 0 {
					switch x.compareCounts(part, tied[0]) {
					case 1:
						continue
					case -1:
						tied, total = tied[:0], 0
					}
				}
				tied = append(tied, part)
				total += len(part.members)
			}
			if total == 0 {
				return out, errNoFit
			}
			k := r.rng.IntN(total)
			part := tied[0]
			for _, part = range tied {
				if k < len(part.members) {
					break
				}
				k -= len(part.members)
			}
			inf := &r.infos[part.members[k]]
			if inf.dirty {
				inf.dirty = false
				reason, err := r.check(p, inf, false)
				if err != nil {
					return out, err
				}
				if reason != "" {
					last := len(part.members) - 1
					part.members[k] = part.members[last]
					part.members = part.members[:last]
					continue
				}
			}
			out = append(out, r.commit(p, inf))
			break
		}
	}
	return out, nil
}

// compareCounts compares two partitions by their spread counts, in chain
// order.
func (x *index) compareCounts(a, b *partition) int {
	for _, c := range x.c.comps {
		ka, kb := *a.counters[c.attr], *b.counters[c.attr]
		switch {
		case ka < kb:
			return -1
		case ka > kb:
			return 1
		}
	}
	return 0
}
