package placement

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/placement/query"
)

// InstanceInfo is what memberOf expressions are evaluated on.
var _ query.Target = (*InstanceInfo)(nil)

// dynamicRangeSize is the number of ports in the dynamic range.
const dynamicRangeSize = DynamicPortLast - DynamicPortFirst + 1

// Round is one round of placement: the engine's view of a set of instances,
// computed once, and updated as tasks are placed so that each placement
// sees the ones before it (resources, ports, task groups, spread counts).
//
// A Round is not safe for concurrent use.
type Round struct {
	sched *Scheduler
	seed  uint64
	rng   *rand.Rand
	infos []InstanceInfo
	// groups interns task-group names.
	groups groupTable
	// memberOf caches, per expression that is not dynamic, its result on
	// each instance: 0 not computed yet, 1 false, 2 true.
	memberOf map[string][]uint8
	// attrs caches, per attribute a strategy spreads on, each instance's
	// value as a small integer.
	attrs map[string]*attrValues
	// spread holds, per task group and attribute, how many of the group's
	// tasks run on instances with each value of the attribute; byGroup
	// lists them per group for updating after a placement.
	spread  map[spreadKey]*spreadCounts
	byGroup map[int32][]*spreadCounts
}

// attrValues numbers the values of one attribute across the round's
// instances. An instance lacking the attribute gets a value of its own
// ("missing"), distinct from every real value.
type attrValues struct {
	// ids holds each instance's value number, by instance index.
	ids []int32
	// values holds the value of each number; missing is the number of
	// "missing", or -1 when every instance has the attribute.
	values  []string
	missing int32
}

// attrValues returns the numbered values of attribute, computing them on
// first use in the round.
func (r *Round) attrValues(attribute string) *attrValues {
	if av, ok := r.attrs[attribute]; ok {
		return av
	}
	av := &attrValues{ids: make([]int32, len(r.infos)), missing: -1}
	byValue := map[string]int32{}
	for i := range r.infos {
		v, ok := r.infos[i].ci.Attributes[attribute]
		var id int32
		switch {
		case !ok && av.missing >= 0:
			id = av.missing
		case !ok:
			id = int32(len(av.values))
			av.missing = id
			av.values = append(av.values, "")
		default:
			var seen bool
			if id, seen = byValue[v]; !seen {
				id = int32(len(av.values))
				byValue[v] = id
				av.values = append(av.values, v)
			}
		}
		av.ids[i] = id
	}
	if r.attrs == nil {
		r.attrs = map[string]*attrValues{}
	}
	r.attrs[attribute] = av
	return av
}

type spreadKey struct {
	group     int32
	attribute string
}

// spreadCounts counts a group's tasks per value of one attribute.
type spreadCounts struct {
	attr *attrValues
	// counts is indexed by value number; it never grows, so pointers to
	// its elements stay valid.
	counts []int32
}

// of returns the count of the value instance i has.
func (s *spreadCounts) of(i int32) *int32 { return &s.counts[s.attr.ids[i]] }

// groupTable interns task-group names as small integers.
type groupTable struct {
	ids   map[string]int32
	names []string
}

func (g *groupTable) intern(name string) int32 {
	if id, ok := g.ids[name]; ok {
		return id
	}
	id := int32(len(g.names))
	g.ids[name] = id
	g.names = append(g.names, name)
	return id
}

type groupCount struct {
	group, count int32
}

// InstanceInfo is a container instance as a round sees it: the instance
// given to NewRound plus what the round has placed on it. Plug-ins read it,
// and it implements query.Target. Like its Round, it is for one goroutine.
type InstanceInfo struct {
	ci      *cluster.ContainerInstance
	round   *Round
	cpu     int
	memory  int
	slots   int32
	tasks   int32
	index   int32
	dynUsed [2]int32
	dynNext [2]int32
	// ports are the host ports in use, encoded (encodePort) and sorted.
	ports  []uint32
	groups []groupCount
	// dirty marks an instance a task was placed on since it was last
	// checked against the request being placed.
	dirty bool
}

// init computes the round's view of ci. Its ports and group counts are
// carved out of the shared arrays ports and groups, capped so that growing
// them past their room copies them out instead of overwriting a neighbour.
func (inf *InstanceInfo) init(r *Round, ci *cluster.ContainerInstance, index int32, ports *[]uint32, groups *[]groupCount) {
	*inf = InstanceInfo{
		ci:      ci,
		round:   r,
		cpu:     ci.Remaining.CPU,
		memory:  ci.Remaining.Memory,
		slots:   int32(ci.Remaining.NetworkSlots),
		index:   index,
		dynNext: [2]int32{DynamicPortFirst, DynamicPortFirst},
	}
	if len(ci.Remaining.Ports) > 0 {
		start := len(*ports)
		for _, p := range ci.Remaining.Ports {
			*ports = append(*ports, encodePort(p))
		}
		mine := (*ports)[start:len(*ports):len(*ports)]
		slices.Sort(mine)
		inf.ports = slices.Compact(mine)
		for _, v := range inf.ports {
			if n := v & 0xffff; n >= DynamicPortFirst {
				inf.dynUsed[v>>16]++
			}
		}
	}
	start := len(*groups)
	for name, n := range ci.TaskGroups {
		if n <= 0 {
			continue
		}
		*groups = append(*groups, groupCount{group: r.groups.intern(name), count: int32(n)})
		inf.tasks += int32(n)
	}
	end := len(*groups)
	*groups = append(*groups, groupCount{}) // room for one more
	inf.groups = (*groups)[start : end : end+1]
}

// Instance returns the instance as given to NewRound. It is read-only and
// does not reflect the round's placements.
func (inf *InstanceInfo) Instance() *cluster.ContainerInstance { return inf.ci }

// InstanceID returns the instance's ID.
func (inf *InstanceInfo) InstanceID() string { return inf.ci.ID }

// Attribute returns the value of the named attribute.
func (inf *InstanceInfo) Attribute(name string) (string, bool) {
	v, ok := inf.ci.Attributes[name]
	return v, ok
}

// Status returns the instance's status.
func (inf *InstanceInfo) Status() cluster.InstanceStatus { return inf.ci.Status }

// CapacityProvider returns the name of the instance's capacity provider.
func (inf *InstanceInfo) CapacityProvider() string { return inf.ci.CapacityProvider }

// RegisteredAt returns when the instance registered.
func (inf *InstanceInfo) RegisteredAt() time.Time { return inf.ci.RegisteredAt }

// AgentConnected reports whether the instance's agent is connected.
func (inf *InstanceInfo) AgentConnected() bool { return inf.ci.AgentConnected }

// AgentVersion returns the version of the instance's agent.
func (inf *InstanceInfo) AgentVersion() string { return inf.ci.AgentVersion }

// RemainingCPU returns the cpu units left, after the round's placements.
func (inf *InstanceInfo) RemainingCPU() int { return inf.cpu }

// RemainingMemory returns the MiB of memory left, after the round's
// placements.
func (inf *InstanceInfo) RemainingMemory() int { return inf.memory }

// RemainingNetworkSlots returns the task-network slots left, after the
// round's placements.
func (inf *InstanceInfo) RemainingNetworkSlots() int { return int(inf.slots) }

// PortInUse reports whether host port p is in use, counting the round's
// placements.
func (inf *InstanceInfo) PortInUse(p cluster.Port) bool {
	_, found := slices.BinarySearch(inf.ports, encodePort(p))
	return found
}

// TaskGroupCount returns how many tasks of group, desired RUNNING, are on
// the instance, counting the round's placements.
func (inf *InstanceInfo) TaskGroupCount(group string) int {
	id, ok := inf.round.groups.ids[group]
	if !ok {
		return 0
	}
	return int(inf.groupCount(id))
}

func (inf *InstanceInfo) groupCount(id int32) int32 {
	for _, g := range inf.groups {
		if g.group == id {
			return g.count
		}
	}
	return 0
}

// RunningTasksCount returns the number of tasks on the instance whose
// desired status is RUNNING, counting the round's placements.
func (inf *InstanceInfo) RunningTasksCount() int { return int(inf.tasks) }

// HasTaskGroup reports whether a task of a group match accepts, desired
// RUNNING, is on the instance.
func (inf *InstanceInfo) HasTaskGroup(match func(group string) bool) bool {
	for _, g := range inf.groups {
		if match(inf.round.groups.names[g.group]) {
			return true
		}
	}
	return false
}

func (inf *InstanceInfo) portUsed(v uint32) bool {
	_, found := slices.BinarySearch(inf.ports, v)
	return found
}

func (inf *InstanceInfo) usePort(v uint32) {
	i, _ := slices.BinarySearch(inf.ports, v)
	inf.ports = slices.Insert(inf.ports, i, v)
	if v&0xffff >= DynamicPortFirst {
		inf.dynUsed[v>>16]++
	}
}

// Seed returns the round's random seed.
func (r *Round) Seed() uint64 { return r.seed }

// Rand returns the round's random source, for strategies.
func (r *Round) Rand() *rand.Rand { return r.rng }

// Len returns the number of instances in the round.
func (r *Round) Len() int { return len(r.infos) }

// Instance returns the i-th instance, in the order given to NewRound.
func (r *Round) Instance(i int) *InstanceInfo { return &r.infos[i] }

// Decision is where one task goes.
type Decision struct {
	// Instance is the ID of the chosen instance.
	Instance string
	// CapacityProvider is the instance's capacity provider.
	CapacityProvider string
	// Group is the task group the task counts in.
	Group string
	// Resources is what the task takes on the instance, dynamic host ports
	// resolved, in the order of Request.Ports: pass it to
	// cluster.ContainerInstance.AddTask along with Group.
	Resources cluster.Resources
	// Random is true when a random strategy chose the instance; Seed is
	// then the round's seed, which reproduces the choice.
	Random bool
	Seed   uint64
}

// Place places count tasks described by req, one after the other, each
// seeing the ones before it. It returns one decision per task placed. When
// a task finds no instance, Place stops and returns the decisions made so
// far with a *NoFitError (errors.Is(err, ErrNoFit)); those tasks stay
// placed in the round. A malformed request is an *errdefs.FieldError
// (errors.Is(err, ErrInvalid)) and places nothing; a plug-in that breaks is
// a *PluginError.
//
// With a CapacityProviderStrategy, the batch is first shared among the
// providers (SplitCapacity, counting req.ProviderTasks), then each share is
// placed on its provider's instances, in strategy order.
func (r *Round) Place(req *Request, count int) ([]Decision, error) {
	if count < 0 {
		return nil, invalidValue("count", count, "must not be negative")
	}
	if len(req.CapacityProviderStrategy) == 0 {
		p, err := r.sched.compile(r, req, req.CapacityProvider)
		if err != nil {
			return nil, err
		}
		return r.place(p, count, nil)
	}
	if err := req.validate(); err != nil {
		return nil, err
	}
	shares, err := SplitCapacity(req.CapacityProviderStrategy, count, req.ProviderTasks)
	if err != nil {
		return nil, err
	}
	var out []Decision
	for _, share := range shares {
		if share.Count == 0 {
			continue
		}
		p, err := r.sched.compile(r, req, share.CapacityProvider)
		if err != nil {
			return out, err
		}
		out, err = r.place(p, share.Count, out)
		if err != nil {
			if nf, ok := err.(*NoFitError); ok {
				nf.Requested, nf.Placed = count, len(out)
			}
			return out, err
		}
	}
	return out, nil
}

// place places count tasks of plan p, appending decisions to out.
func (r *Round) place(p *plan, count int, out []Decision) ([]Decision, error) {
	if count == 0 {
		return out, nil
	}
	cands, err := r.candidates(p)
	if err != nil {
		return out, err
	}
	if room := len(out) + min(count, r.capacity(p, cands, count)); cap(out) < room {
		// Room for the tasks that can fit, and no more: a batch far larger
		// than the cluster must not allocate for tasks never placed.
		out = slices.Grow(out, room-len(out))
	}
	start := len(out)
	if c := compileChain(p); c != nil && !r.sched.scanOnly {
		out, err = r.placeIndexed(p, c, cands, count, out)
	} else {
		out, err = r.placeScan(p, cands, count, out)
	}
	if err == errNoFit {
		expl, err := r.explain(p)
		if err != nil {
			return out, err
		}
		return out, &NoFitError{
			Explanation:      expl,
			Requested:        count,
			Placed:           len(out) - start,
			CapacityProvider: p.provider,
			Seed:             r.seed,
			Random:           p.random,
		}
	}
	return out, err
}

// errNoFit is the internal signal that the next task found no instance.
var errNoFit = fmt.Errorf("no fit: %w", ErrNoFit)

// candidates returns the indices, in round order, of the instances that can
// take a task of plan p now. Every instance is marked clean.
func (r *Round) candidates(p *plan) ([]int32, error) {
	cands := make([]int32, 0, len(r.infos))
	for i := range r.infos {
		inf := &r.infos[i]
		inf.dirty = false
		reason, err := r.check(p, inf, true)
		if err != nil {
			return nil, err
		}
		if reason == "" {
			cands = append(cands, int32(i))
		}
	}
	return cands, nil
}

// capacity returns an upper bound of how many tasks of plan p the
// candidates can take, counting cpu, memory and network slots (and one per
// instance with fixed ports or distinctInstance), stopping at limit.
func (r *Round) capacity(p *plan, cands []int32, limit int) int {
	total := 0
	for _, i := range cands {
		inf := &r.infos[i]
		n := limit
		if p.cpu > 0 {
			n = min(n, inf.cpu/p.cpu)
		}
		if p.mem > 0 {
			n = min(n, inf.memory/p.mem)
		}
		if p.slots > 0 {
			n = min(n, int(inf.slots)/p.slots)
		}
		if p.distinct || len(p.static) > 0 {
			n = min(n, 1)
		}
		if total += n; total >= limit {
			return limit
		}
	}
	return total
}

// check returns the first reason inf cannot take a task of plan p, or ""
// when it can. full includes the checks of what never changes in a round
// (status, agent, capacity provider).
func (r *Round) check(p *plan, inf *InstanceInfo, full bool) (Reason, error) {
	if full {
		switch inf.ci.Status {
		case cluster.StatusActive:
		case cluster.StatusDraining:
			return ReasonDraining, nil
		case cluster.StatusInactive:
			return ReasonInactive, nil
		case cluster.StatusRegistering:
			return ReasonRegistering, nil
		default:
			return Reason(inf.ci.Status), nil
		}
		if !inf.ci.AgentConnected {
			return ReasonAgent, nil
		}
		if p.provider != "" && inf.ci.CapacityProvider != p.provider {
			return ReasonCapacityProvider, nil
		}
		if p.req.Refuse != nil {
			if reason := p.req.Refuse(inf.ci); reason != "" {
				return reason, nil
			}
		}
		if reason := p.req.missingAttribute(inf.ci); reason != "" {
			return reason, nil
		}
	}
	switch {
	case p.cpu > inf.cpu:
		return ReasonCPU, nil
	case p.mem > inf.memory:
		return ReasonMemory, nil
	case p.slots > int(inf.slots):
		return ReasonENI, nil
	case !portsFit(p, inf):
		return ReasonPorts, nil
	case p.distinct && inf.groupCount(p.group) > 0:
		return ReasonDistinctInstance, nil
	}
	for _, m := range p.memberOf {
		if !r.evalMemberOf(m, inf) {
			return ReasonMemberOf, nil
		}
	}
	for _, f := range p.filters {
		st := f.Filter(p.req, inf)
		switch st.Code() {
		case CodeSuccess:
			continue
		case CodeUnfit:
			reason := st.Reason()
			if reason == "" {
				reason = Reason(f.Name())
			}
			return reason, nil
		default:
			return "", &PluginError{Plugin: f.Name(), Instance: inf.ci.ID, Err: st.Err()}
		}
	}
	return "", nil
}

// failures appends to out every check inf fails for a task of plan p, in
// the order check makes them (its first is the reason check returns),
// and returns it: the full account of how far the instance is from
// taking the task, for Explain. A memberOf constraint or a filter
// counts once each.
func (r *Round) failures(p *plan, inf *InstanceInfo, out []Reason) ([]Reason, error) {
	switch inf.ci.Status {
	case cluster.StatusActive:
	case cluster.StatusDraining:
		out = append(out, ReasonDraining)
	case cluster.StatusInactive:
		out = append(out, ReasonInactive)
	case cluster.StatusRegistering:
		out = append(out, ReasonRegistering)
	default:
		out = append(out, Reason(inf.ci.Status))
	}
	if !inf.ci.AgentConnected {
		out = append(out, ReasonAgent)
	}
	if p.provider != "" && inf.ci.CapacityProvider != p.provider {
		out = append(out, ReasonCapacityProvider)
	}
	if p.req.Refuse != nil {
		if reason := p.req.Refuse(inf.ci); reason != "" {
			out = append(out, reason)
		}
	}
	if reason := p.req.missingAttribute(inf.ci); reason != "" {
		out = append(out, reason)
	}
	if p.cpu > inf.cpu {
		out = append(out, ReasonCPU)
	}
	if p.mem > inf.memory {
		out = append(out, ReasonMemory)
	}
	if p.slots > int(inf.slots) {
		out = append(out, ReasonENI)
	}
	if !portsFit(p, inf) {
		out = append(out, ReasonPorts)
	}
	if p.distinct && inf.groupCount(p.group) > 0 {
		out = append(out, ReasonDistinctInstance)
	}
	for _, m := range p.memberOf {
		if !r.evalMemberOf(m, inf) {
			out = append(out, ReasonMemberOf)
		}
	}
	for _, f := range p.filters {
		st := f.Filter(p.req, inf)
		switch st.Code() {
		case CodeSuccess:
		case CodeUnfit:
			reason := st.Reason()
			if reason == "" {
				reason = Reason(f.Name())
			}
			out = append(out, reason)
		default:
			return out, &PluginError{Plugin: f.Name(), Instance: inf.ci.ID, Err: st.Err()}
		}
	}
	return out, nil
}

// evalMemberOf evaluates a memberOf expression on inf, from the round's
// cache when the expression is not dynamic.
func (r *Round) evalMemberOf(m memberOf, inf *InstanceInfo) bool {
	if m.key == "" {
		return m.expr.Eval(inf)
	}
	cache, ok := r.memberOf[m.key]
	if !ok {
		cache = make([]uint8, len(r.infos))
		r.memberOf[m.key] = cache
	}
	switch cache[inf.index] {
	case 1:
		return false
	case 2:
		return true
	}
	ok = m.expr.Eval(inf)
	cache[inf.index] = 1
	if ok {
		cache[inf.index] = 2
	}
	return ok
}

// portsFit reports whether inf has the host ports plan p needs free.
func portsFit(p *plan, inf *InstanceInfo) bool {
	for _, v := range p.static {
		if inf.portUsed(v) {
			return false
		}
	}
	for proto, n := range p.dynamic {
		if n > 0 && n+p.staticInRange[proto] > dynamicRangeSize-int(inf.dynUsed[proto]) {
			return false
		}
	}
	return true
}

// commit places a task of plan p on inf and returns the decision.
func (r *Round) commit(p *plan, inf *InstanceInfo) Decision {
	inf.cpu -= p.cpu
	inf.memory -= p.mem
	inf.slots -= int32(p.slots)
	inf.tasks++
	inf.dirty = true
	d := Decision{
		Instance:         inf.ci.ID,
		CapacityProvider: inf.ci.CapacityProvider,
		Group:            r.groups.names[p.group],
		Resources:        cluster.Resources{CPU: p.cpu, Memory: p.mem, NetworkSlots: p.slots},
		Random:           p.random,
	}
	if p.random {
		d.Seed = r.seed
	}
	if len(p.req.Ports) > 0 {
		for _, v := range p.static {
			inf.usePort(v)
		}
		d.Resources.Ports = make([]cluster.Port, len(p.req.Ports))
		for i, port := range p.req.Ports {
			if port.Number == 0 {
				port = inf.takeDynamicPort(port.Protocol)
			}
			d.Resources.Ports[i] = port
		}
	}
	found := false
	for i := range inf.groups {
		if inf.groups[i].group == p.group {
			inf.groups[i].count++
			found = true
			break
		}
	}
	if !found {
		inf.groups = append(inf.groups, groupCount{group: p.group, count: 1})
	}
	for _, sc := range r.byGroup[p.group] {
		*sc.of(inf.index)++
	}
	return d
}

// takeDynamicPort takes the lowest free port of the dynamic range. Every
// port of the range below dynNext is in use, since ports are only taken
// during a round.
func (inf *InstanceInfo) takeDynamicPort(proto cluster.Protocol) cluster.Port {
	pi := protoIndex(proto)
	n := inf.dynNext[pi]
	for ; n <= DynamicPortLast; n++ {
		if !inf.portUsed(uint32(pi)<<16 | uint32(n)) {
			break
		}
	}
	inf.usePort(uint32(pi)<<16 | uint32(n))
	inf.dynNext[pi] = n + 1
	return cluster.Port{Protocol: proto, Number: uint16(n)}
}

// spreadCounts returns the counts of group's tasks per value of attribute,
// computing them on first use in the round.
func (r *Round) spreadCounts(group int32, attribute string) *spreadCounts {
	key := spreadKey{group: group, attribute: attribute}
	if sc, ok := r.spread[key]; ok {
		return sc
	}
	av := r.attrValues(attribute)
	sc := &spreadCounts{attr: av, counts: make([]int32, len(av.values))}
	for i := range r.infos {
		if n := r.infos[i].groupCount(group); n > 0 {
			*sc.of(int32(i)) += n
		}
	}
	r.spread[key] = sc
	if r.byGroup == nil {
		r.byGroup = map[int32][]*spreadCounts{}
	}
	r.byGroup[group] = append(r.byGroup[group], sc)
	return sc
}

// Explain says, instance by instance, why a task of req can or cannot be
// placed in the round as it stands. It places nothing. With a
// CapacityProviderStrategy the explanation covers all providers' instances
// (Place's *NoFitError explains the provider that ran out).
func (r *Round) Explain(req *Request) (Explanation, error) {
	p, err := r.sched.compile(r, req, req.CapacityProvider)
	if err != nil {
		return Explanation{}, err
	}
	return r.explain(p)
}

func (r *Round) explain(p *plan) (Explanation, error) {
	e := Explanation{Task: p.task, Instances: len(r.infos)}
	counts := map[Reason]int{}
	var closest InstanceResult
	var buf []Reason
	for i := range r.infos {
		inf := &r.infos[i]
		failed, err := r.failures(p, inf, buf[:0])
		if err != nil {
			return Explanation{}, err
		}
		if len(failed) == 0 {
			e.Fit++
			continue
		}
		counts[failed[0]]++
		if closest.Instance == "" || len(failed) < len(closest.Failed) ||
			(len(failed) == len(closest.Failed) && inf.ci.ID < closest.Instance) {
			closest = InstanceResult{Instance: inf.ci.ID, Failed: slices.Clone(failed)}
		}
		buf = failed
	}
	if e.Fit == 0 {
		e.Closest = closest
	}
	for reason, n := range counts {
		e.Reasons = append(e.Reasons, ReasonCount{Reason: reason, Instances: n})
	}
	slices.SortFunc(e.Reasons, func(a, b ReasonCount) int {
		if c := cmp.Compare(b.Instances, a.Instances); c != 0 {
			return c
		}
		return cmp.Compare(a.Reason, b.Reason)
	})
	return e, nil
}
