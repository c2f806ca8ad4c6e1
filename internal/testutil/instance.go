package testutil

import (
	"fmt"
	"time"

	"github.com/stevedore-io/stevedore/cluster"
)

// RegisteredAt is the registration time builders give instances unless told
// otherwise.
var RegisteredAt = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// InstanceBuilder builds a cluster.ContainerInstance.
type InstanceBuilder struct {
	ci cluster.ContainerInstance
}

// Instance starts an ACTIVE instance with a connected agent, 4096 cpu units,
// 8192 MiB of memory, no network slots, no ports and no attributes.
func Instance(id string) *InstanceBuilder {
	return &InstanceBuilder{ci: cluster.ContainerInstance{
		ID:             id,
		Status:         cluster.StatusActive,
		AgentConnected: true,
		AgentVersion:   "1.0.0",
		RegisteredAt:   RegisteredAt,
		Attributes:     map[string]string{},
		Registered:     cluster.Resources{CPU: 4096, Memory: 8192},
		Remaining:      cluster.Resources{CPU: 4096, Memory: 8192},
		TaskGroups:     map[string]int{},
	}}
}

// CPU sets the registered cpu units; none is in use.
func (b *InstanceBuilder) CPU(units int) *InstanceBuilder {
	b.ci.Registered.CPU, b.ci.Remaining.CPU = units, units
	return b
}

// Memory sets the registered memory in MiB; none is in use.
func (b *InstanceBuilder) Memory(mib int) *InstanceBuilder {
	b.ci.Registered.Memory, b.ci.Remaining.Memory = mib, mib
	return b
}

// NetworkSlots sets the registered task-network slots; none is in use.
func (b *InstanceBuilder) NetworkSlots(n int) *InstanceBuilder {
	b.ci.Registered.NetworkSlots, b.ci.Remaining.NetworkSlots = n, n
	return b
}

// Used takes cpu units and MiB of memory from what remains, as if tasks
// outside any group of interest held them.
func (b *InstanceBuilder) Used(cpu, memory int) *InstanceBuilder {
	b.ci.Remaining.CPU -= cpu
	b.ci.Remaining.Memory -= memory
	return b
}

// ReservedPorts adds ports reserved at registration (such as 22/tcp).
func (b *InstanceBuilder) ReservedPorts(ports ...cluster.Port) *InstanceBuilder {
	b.ci.Registered.Ports = append(b.ci.Registered.Ports, ports...)
	b.ci.Remaining.Ports = append(b.ci.Remaining.Ports, ports...)
	return b
}

// UsedPorts marks host ports as in use by tasks.
func (b *InstanceBuilder) UsedPorts(ports ...cluster.Port) *InstanceBuilder {
	b.ci.Remaining.Ports = append(b.ci.Remaining.Ports, ports...)
	return b
}

// Attr sets an attribute.
func (b *InstanceBuilder) Attr(name, value string) *InstanceBuilder {
	b.ci.Attributes[name] = value
	return b
}

// AZ sets the ecs.availability-zone attribute.
func (b *InstanceBuilder) AZ(zone string) *InstanceBuilder {
	return b.Attr(cluster.AttributeAvailabilityZone, zone)
}

// InstanceType sets the ecs.instance-type attribute.
func (b *InstanceBuilder) InstanceType(t string) *InstanceBuilder {
	return b.Attr(cluster.AttributeInstanceType, t)
}

// OSType sets the ecs.os-type attribute.
func (b *InstanceBuilder) OSType(os string) *InstanceBuilder {
	return b.Attr(cluster.AttributeOSType, os)
}

// Status sets the status.
func (b *InstanceBuilder) Status(s cluster.InstanceStatus) *InstanceBuilder {
	b.ci.Status = s
	return b
}

// Draining sets the status to DRAINING.
func (b *InstanceBuilder) Draining() *InstanceBuilder { return b.Status(cluster.StatusDraining) }

// Disconnected marks the agent as disconnected.
func (b *InstanceBuilder) Disconnected() *InstanceBuilder {
	b.ci.AgentConnected = false
	return b
}

// AgentVersion sets the agent version.
func (b *InstanceBuilder) AgentVersion(v string) *InstanceBuilder {
	b.ci.AgentVersion = v
	return b
}

// Provider sets the capacity provider.
func (b *InstanceBuilder) Provider(name string) *InstanceBuilder {
	b.ci.CapacityProvider = name
	return b
}

// RegisteredAt sets the registration time.
func (b *InstanceBuilder) RegisteredAt(t time.Time) *InstanceBuilder {
	b.ci.RegisteredAt = t
	return b
}

// Tasks counts n tasks of group, desired RUNNING, on the instance. It takes
// no resources; use Task for that.
func (b *InstanceBuilder) Tasks(group string, n int) *InstanceBuilder {
	b.ci.TaskGroups[group] += n
	return b
}

// Task adds one task of group holding r, as ContainerInstance.AddTask does.
func (b *InstanceBuilder) Task(group string, r cluster.Resources) *InstanceBuilder {
	if err := b.ci.AddTask(group, r); err != nil {
		panic(fmt.Sprintf("testutil: instance %s: %v", b.ci.ID, err))
	}
	return b
}

// Obj returns the instance. It panics when the instance is invalid.
func (b *InstanceBuilder) Obj() cluster.ContainerInstance {
	if err := b.ci.Validate(); err != nil {
		panic(fmt.Sprintf("testutil: instance %s: %v", b.ci.ID, err))
	}
	return b.ci.Clone()
}
