package placement

import (
	"fmt"
	"maps"
	"slices"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/errdefs"
	"github.com/stevedore-io/stevedore/placement/query"
)

// Dynamic host ports (bridge mode, host port 0) are drawn from this range,
// lowest free port first.
const (
	DynamicPortFirst = 49153
	DynamicPortLast  = 65535
)

// Limits of a request, as in ECS.
const (
	// MaxStrategies is the most placement strategies a request may chain.
	MaxStrategies = 5
	// MaxConstraints is the most placement constraints a request may carry.
	MaxConstraints = 10
)

// Request is what placement needs to know about a task: its size, its host
// ports, its group, and how it wants to be placed. The orchestrator builds
// it from a task definition and a RunTask call or a service.
type Request struct {
	// Task names the task in messages, such as "web:3" (family:revision).
	// Empty means Family.
	Task string
	// Family is the task definition family.
	Family string
	// Group is the task group: "service:<name>" for the tasks of a
	// service, "family:<family>" by default. Spread counts, distinctInstance
	// and the task:group query subject work on groups.
	Group string
	// CPU is in cpu units, Memory in MiB.
	CPU    int
	Memory int
	// Ports are the host ports the task binds. A Number of 0 asks for a
	// dynamic host port (bridge mode), chosen from 49153-65535 when the
	// task is placed.
	Ports []cluster.Port
	// NetworkSlot is true for an awsvpc task, which takes one task-network
	// slot of its instance.
	NetworkSlot bool
	// Constraints must all hold on the chosen instance.
	Constraints []Constraint
	// Strategies choose among the instances that fit, at most five, each
	// breaking the ties the previous one left. Empty means the scheduler's
	// default strategies.
	Strategies []StrategySpec
	// CapacityProvider, when set, restricts placement to instances of that
	// capacity provider.
	CapacityProvider string
	// CapacityProviderStrategy, when set, shares the batch among capacity
	// providers (see SplitCapacity) and places each share on its
	// provider's instances. It excludes CapacityProvider.
	CapacityProviderStrategy cluster.CapacityProviderStrategy
	// ProviderTasks counts the group's tasks already running per capacity
	// provider; a service passes it so that the split accounts for them.
	ProviderTasks map[string]int
	// Refuse, when set, is asked once per instance and round whether the
	// instance refuses the task for a reason decided outside placement
	// (such as the instance's task policy): a non-empty Reason keeps the
	// task off it.
	Refuse func(*cluster.ContainerInstance) Reason
	// Attributes are instance attributes the task requires, name to
	// value, besides its constraints: those its definition implies, such
	// as ecs.cpu-architecture arm64 for runtimePlatform.cpuArchitecture
	// ARM64. An instance without one of them, or with another value, is
	// turned down (AttributeReason).
	Attributes map[string]string
}

// missingAttribute returns the reason ci lacks an attribute of the
// request (the first by name), or "".
func (r *Request) missingAttribute(ci *cluster.ContainerInstance) Reason {
	if len(r.Attributes) == 0 {
		return ""
	}
	for _, name := range slices.Sorted(maps.Keys(r.Attributes)) {
		if v, ok := ci.Attribute(name); !ok || v != r.Attributes[name] {
			return AttributeReason(name)
		}
	}
	return ""
}

// name returns the task's name for messages.
func (r *Request) name() string {
	if r.Task != "" {
		return r.Task
	}
	if r.Family != "" {
		return r.Family
	}
	return "(unnamed)"
}

// group returns the task group, defaulting to "family:<family>".
func (r *Request) group() string {
	if r.Group != "" {
		return r.Group
	}
	return "family:" + r.Family
}

// ConstraintType is the type of a placement constraint.
type ConstraintType string

// Constraint types.
const (
	// ConstraintDistinctInstance places each task of the group on a
	// different instance: an instance with a task of the group whose desired
	// status is RUNNING (including tasks placed earlier in the batch) is
	// turned down.
	ConstraintDistinctInstance ConstraintType = "distinctInstance"
	// ConstraintMemberOf places tasks on instances that satisfy a cluster
	// query expression.
	ConstraintMemberOf ConstraintType = "memberOf"
)

// Constraint is a placement constraint, as in ECS's placementConstraints.
type Constraint struct {
	// Type is distinctInstance, memberOf, or a custom type registered on
	// the scheduler (WithConstraintType).
	Type ConstraintType `json:"type"`
	// Expression is the cluster query of a memberOf constraint, such as
	// "attribute:ecs.instance-type =~ m5.*". It must be empty for
	// distinctInstance; a custom type's builder reads it.
	Expression string `json:"expression,omitempty"`
}

// StrategyType is the type of a placement strategy.
type StrategyType string

// Strategy types.
const (
	// StrategyBinpack picks the instance with the least remaining amount of
	// a resource (Field cpu or memory) that still fits the task.
	StrategyBinpack StrategyType = "binpack"
	// StrategySpread balances the tasks of the group across the values of
	// Field: instanceId (or host) for instances, attribute:<name> for an
	// attribute. Tasks already on the instances count.
	StrategySpread StrategyType = "spread"
	// StrategyRandom picks at random, from the round's seeded source.
	StrategyRandom StrategyType = "random"
)

// Strategy fields.
const (
	FieldCPU        = "cpu"
	FieldMemory     = "memory"
	FieldInstanceID = "instanceId"
	FieldHost       = "host"
	// FieldAttributePrefix starts a spread field naming an attribute, as in
	// "attribute:ecs.availability-zone".
	FieldAttributePrefix = "attribute:"
)

// StrategySpec is a placement strategy as data, as in ECS's
// placementStrategy: {"type": "spread", "field": "attribute:ecs.availability-zone"}.
// Type is binpack, spread, random, or a custom strategy type registered
// on the scheduler (WithStrategyType), whose builder takes Field as its
// parameter: {"type": "gpu-first", "field": "memory"}.
type StrategySpec struct {
	Type  StrategyType `json:"type"`
	Field string       `json:"field,omitempty"`
}

// Binpack returns the strategy spec binpack on field (FieldCPU or
// FieldMemory).
func Binpack(field string) StrategySpec { return StrategySpec{Type: StrategyBinpack, Field: field} }

// Spread returns the strategy spec spread on field (FieldInstanceID,
// FieldHost or "attribute:<name>").
func Spread(field string) StrategySpec { return StrategySpec{Type: StrategySpread, Field: field} }

// Random returns the strategy spec random.
func Random() StrategySpec { return StrategySpec{Type: StrategyRandom} }

// Strategy checks the spec and returns the built-in Strategy it names, for
// use in a chain of plug-ins (WithStrategies).
func (s StrategySpec) Strategy() (Strategy, error) {
	b, err := s.compile()
	if err != nil {
		return nil, prefixField("placementStrategy", err)
	}
	return b, nil
}

// compile checks the spec and turns it into a built-in strategy.
func (s StrategySpec) compile() (*builtinStrategy, error) {
	switch s.Type {
	case StrategyBinpack:
		switch s.Field {
		case FieldCPU:
			return &builtinStrategy{kind: kindBinpackCPU, spec: s}, nil
		case FieldMemory:
			return &builtinStrategy{kind: kindBinpackMemory, spec: s}, nil
		}
		return nil, invalidValue("field", fmt.Sprintf("%q", s.Field), "must be cpu or memory for binpack")
	case StrategySpread:
		switch {
		case s.Field == FieldInstanceID || s.Field == FieldHost:
			return &builtinStrategy{kind: kindSpreadInstance, spec: s}, nil
		case len(s.Field) > len(FieldAttributePrefix) && s.Field[:len(FieldAttributePrefix)] == FieldAttributePrefix:
			return &builtinStrategy{kind: kindSpreadAttribute, spec: s, attribute: s.Field[len(FieldAttributePrefix):]}, nil
		}
		return nil, invalidValue("field", fmt.Sprintf("%q", s.Field), "must be instanceId, host or attribute:<name> for spread")
	case StrategyRandom:
		if s.Field != "" {
			return nil, invalidValue("field", fmt.Sprintf("%q", s.Field), "must be empty for random")
		}
		return &builtinStrategy{kind: kindRandom, spec: s}, nil
	}
	return nil, invalidValue("type", fmt.Sprintf("%q", s.Type), "must be binpack, spread or random")
}

// prefixField prepends path to the Path of an *errdefs.FieldError.
func prefixField(path string, err error) error { return errdefs.WithPrefix(path, err) }

// memberOf is a compiled memberOf constraint.
type memberOf struct {
	expr *query.Expr
	// key identifies the expression in the round's cache of results
	// (only for expressions that are not dynamic).
	key string
}

// plan is a checked request, ready to place.
type plan struct {
	req      *Request
	task     string
	group    int32
	provider string
	cpu, mem int
	slots    int
	// static are the request's fixed host ports, encoded and sorted.
	static []uint32
	// dynamic counts dynamic ports wanted, per protocol; staticInRange the
	// fixed ports that fall in the dynamic range, per protocol.
	dynamic       [2]int
	staticInRange [2]int
	distinct      bool
	memberOf      []memberOf
	filters       []Filter
	chain         []Strategy
	random        bool
}

// validate checks the request's own fields and compiles constraints and
// strategies; it does not look at CapacityProviderStrategy beyond checking
// it (the split is done by the caller).
func (r *Request) validate() error {
	if r.CPU < 0 {
		return invalidValue("cpu", r.CPU, "must not be negative")
	}
	if r.Memory < 0 {
		return invalidValue("memory", r.Memory, "must not be negative")
	}
	for i, p := range r.Ports {
		if !p.Protocol.Valid() {
			return invalidValue(fmt.Sprintf("ports[%d].protocol", i), fmt.Sprintf("%q", p.Protocol), `must be "tcp" or "udp"`)
		}
		if p.Number != 0 && slices.Contains(r.Ports[:i], p) {
			return invalidValue(fmt.Sprintf("ports[%d]", i), p, "appears twice")
		}
	}
	if len(r.Constraints) > MaxConstraints {
		return invalidValue("placementConstraints", len(r.Constraints), fmt.Sprintf("constraints given, at most %d are allowed", MaxConstraints))
	}
	if len(r.Strategies) > MaxStrategies {
		return invalidValue("placementStrategy", len(r.Strategies), fmt.Sprintf("strategies given, at most %d are allowed", MaxStrategies))
	}
	if r.CapacityProvider != "" && len(r.CapacityProviderStrategy) > 0 {
		return &errdefs.FieldError{Path: "capacityProvider", Reason: "must be empty when capacityProviderStrategy is set"}
	}
	if len(r.CapacityProviderStrategy) > 0 {
		if err := r.CapacityProviderStrategy.Validate(); err != nil {
			return err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(r.ProviderTasks)) {
		if n := r.ProviderTasks[name]; n < 0 {
			return invalidValue(fmt.Sprintf("providerTasks[%q]", name), n, "must not be negative")
		}
	}
	return nil
}

// compile checks the request and turns it into a plan for the scheduler s,
// interning its group in the round.
func (s *Scheduler) compile(r *Round, req *Request, provider string) (*plan, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	p := &plan{
		req:      req,
		task:     req.name(),
		group:    r.groups.intern(req.group()),
		provider: provider,
		cpu:      req.CPU,
		mem:      req.Memory,
	}
	if req.NetworkSlot {
		p.slots = 1
	}
	for _, port := range req.Ports {
		proto := protoIndex(port.Protocol)
		if port.Number == 0 {
			p.dynamic[proto]++
			continue
		}
		p.static = append(p.static, encodePort(port))
		if port.Number >= DynamicPortFirst {
			p.staticInRange[proto]++
		}
	}
	slices.Sort(p.static)
	p.filters = s.filters
	for i, c := range req.Constraints {
		if err := s.compileConstraint(p, fmt.Sprintf("placementConstraints[%d]", i), c); err != nil {
			return nil, err
		}
	}
	if len(req.Strategies) == 0 {
		p.chain = s.strategies
	} else {
		for i, spec := range req.Strategies {
			st, err := s.Strategy(spec)
			if err != nil {
				return nil, prefixField(fmt.Sprintf("placementStrategy[%d]", i), err)
			}
			p.chain = append(p.chain, st)
		}
	}
	// random settles every tie: what follows it can never matter.
	for i, st := range p.chain {
		if b, ok := st.(*builtinStrategy); ok && b.kind == kindRandom {
			p.chain = p.chain[:i+1]
			p.random = true
			break
		}
	}
	return p, nil
}

// compileConstraint checks constraint c, at path, and adds it to plan p:
// distinctInstance and memberOf are built in, other types are the custom
// filters registered with WithConstraintType (added after the scheduler's
// own filters, in the order of the constraints).
func (s *Scheduler) compileConstraint(p *plan, path string, c Constraint) error {
	switch c.Type {
	case ConstraintDistinctInstance:
		if c.Expression != "" {
			return invalidValue(path+".expression", fmt.Sprintf("%q", c.Expression), "must be empty for distinctInstance")
		}
		p.distinct = true
	case ConstraintMemberOf:
		if c.Expression == "" {
			return &errdefs.FieldError{Path: path + ".expression", Reason: "must not be empty for memberOf"}
		}
		expr, err := query.Parse(c.Expression)
		if err != nil {
			return &errdefs.FieldError{Path: path + ".expression", Reason: "is not a valid cluster query", Err: err}
		}
		m := memberOf{expr: expr}
		if !expr.Dynamic() {
			m.key = expr.String()
		}
		p.memberOf = append(p.memberOf, m)
	default:
		f, err := s.customFilter(path, c)
		if err != nil {
			return err
		}
		// A copy: the scheduler's filters are shared by every plan.
		p.filters = append(slices.Clip(p.filters), f)
	}
	return nil
}

// protoIndex maps TCP to 0 and UDP to 1.
func protoIndex(p cluster.Protocol) int {
	if p == cluster.UDP {
		return 1
	}
	return 0
}

// encodePort packs a port into a sortable integer: protocol, then number.
func encodePort(p cluster.Port) uint32 {
	return uint32(protoIndex(p.Protocol))<<16 | uint32(p.Number)
}
