package testutil

import (
	"slices"
	"strings"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/placement"
)

// RequestBuilder builds a placement.Request.
type RequestBuilder struct {
	req placement.Request
}

// Task starts a request for the task named name ("web:3"): family "web",
// group "family:web", 256 cpu units and 512 MiB, no ports, no constraints,
// no strategies.
func Task(name string) *RequestBuilder {
	family, _, _ := strings.Cut(name, ":")
	return &RequestBuilder{req: placement.Request{
		Task:   name,
		Family: family,
		Group:  "family:" + family,
		CPU:    256,
		Memory: 512,
	}}
}

// CPU sets the cpu units.
func (b *RequestBuilder) CPU(units int) *RequestBuilder {
	b.req.CPU = units
	return b
}

// Memory sets the MiB of memory.
func (b *RequestBuilder) Memory(mib int) *RequestBuilder {
	b.req.Memory = mib
	return b
}

// Group sets the task group.
func (b *RequestBuilder) Group(group string) *RequestBuilder {
	b.req.Group = group
	return b
}

// Service puts the task in the group "service:<name>".
func (b *RequestBuilder) Service(name string) *RequestBuilder {
	return b.Group("service:" + name)
}

// Port adds a fixed TCP host port.
func (b *RequestBuilder) Port(n uint16) *RequestBuilder {
	b.req.Ports = append(b.req.Ports, cluster.TCPPort(n))
	return b
}

// UDPPort adds a fixed UDP host port.
func (b *RequestBuilder) UDPPort(n uint16) *RequestBuilder {
	b.req.Ports = append(b.req.Ports, cluster.UDPPort(n))
	return b
}

// Ports adds host ports (number 0 for a dynamic one).
func (b *RequestBuilder) Ports(ports ...cluster.Port) *RequestBuilder {
	b.req.Ports = append(b.req.Ports, ports...)
	return b
}

// DynamicPort adds a dynamic TCP host port (bridge mode, host port 0).
func (b *RequestBuilder) DynamicPort() *RequestBuilder {
	b.req.Ports = append(b.req.Ports, cluster.TCPPort(0))
	return b
}

// AWSVPC makes the task take a task-network slot.
func (b *RequestBuilder) AWSVPC() *RequestBuilder {
	b.req.NetworkSlot = true
	return b
}

// DistinctInstance adds a distinctInstance constraint.
func (b *RequestBuilder) DistinctInstance() *RequestBuilder {
	b.req.Constraints = append(b.req.Constraints, placement.Constraint{Type: placement.ConstraintDistinctInstance})
	return b
}

// MemberOf adds a memberOf constraint.
func (b *RequestBuilder) MemberOf(expr string) *RequestBuilder {
	b.req.Constraints = append(b.req.Constraints, placement.Constraint{Type: placement.ConstraintMemberOf, Expression: expr})
	return b
}

// Spread adds a spread strategy on field.
func (b *RequestBuilder) Spread(field string) *RequestBuilder {
	b.req.Strategies = append(b.req.Strategies, placement.Spread(field))
	return b
}

// SpreadAZ adds spread(attribute:ecs.availability-zone).
func (b *RequestBuilder) SpreadAZ() *RequestBuilder {
	return b.Spread(placement.FieldAttributePrefix + cluster.AttributeAvailabilityZone)
}

// Binpack adds a binpack strategy on field (cpu or memory).
func (b *RequestBuilder) Binpack(field string) *RequestBuilder {
	b.req.Strategies = append(b.req.Strategies, placement.Binpack(field))
	return b
}

// Strategy adds a strategy.
func (b *RequestBuilder) Strategy(spec placement.StrategySpec) *RequestBuilder {
	b.req.Strategies = append(b.req.Strategies, spec)
	return b
}

// Random adds a random strategy.
func (b *RequestBuilder) Random() *RequestBuilder {
	b.req.Strategies = append(b.req.Strategies, placement.Random())
	return b
}

// Provider restricts the task to a capacity provider.
func (b *RequestBuilder) Provider(name string) *RequestBuilder {
	b.req.CapacityProvider = name
	return b
}

// ProviderStrategy adds an item to the capacity provider strategy.
func (b *RequestBuilder) ProviderStrategy(name string, base, weight int) *RequestBuilder {
	b.req.CapacityProviderStrategy = append(b.req.CapacityProviderStrategy,
		cluster.CapacityProviderStrategyItem{CapacityProvider: name, Base: base, Weight: weight})
	return b
}

// Obj returns the request.
func (b *RequestBuilder) Obj() *placement.Request {
	r := b.req
	r.Ports = slices.Clone(r.Ports)
	r.Constraints = slices.Clone(r.Constraints)
	r.Strategies = slices.Clone(r.Strategies)
	r.CapacityProviderStrategy = slices.Clone(r.CapacityProviderStrategy)
	return &r
}
