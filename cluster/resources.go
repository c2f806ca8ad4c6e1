package cluster

import (
	"fmt"
	"math"
	"slices"
	"strconv"
)

// MaxAmount is the largest amount of cpu units, MiB or network slots a
// Resources holds: the ECS API types resource amounts as 32-bit integers.
// It keeps sums of amounts (an instance's remaining resources plus a
// released task's) far from overflowing.
const MaxAmount = math.MaxInt32

// Protocol is the transport protocol of a host port.
type Protocol string

// Host port protocols. TCP and UDP ports are separate spaces: 53/tcp and
// 53/udp can be used by different tasks on the same instance.
const (
	TCP Protocol = "tcp"
	UDP Protocol = "udp"
)

// Valid reports whether p is TCP or UDP.
func (p Protocol) Valid() bool { return p == TCP || p == UDP }

// Port is a host port with its protocol.
type Port struct {
	// Protocol is TCP or UDP.
	Protocol Protocol
	// Number is the port number, 1-65535.
	Number uint16
}

// TCPPort returns the TCP port n.
func TCPPort(n uint16) Port { return Port{Protocol: TCP, Number: n} }

// UDPPort returns the UDP port n.
func UDPPort(n uint16) Port { return Port{Protocol: UDP, Number: n} }

// String returns the port as "80/tcp".
func (p Port) String() string {
	return strconv.Itoa(int(p.Number)) + "/" + string(p.Protocol)
}

// ResourceName names one kind of resource of a container instance, with the
// names ECS uses in placement failure reasons (RESOURCE:CPU, ...).
type ResourceName string

// Resource names.
const (
	// ResourceCPU is cpu units; 1024 units are one vCPU.
	ResourceCPU ResourceName = "CPU"
	// ResourceMemory is memory in MiB.
	ResourceMemory ResourceName = "MEMORY"
	// ResourcePorts is host ports.
	ResourcePorts ResourceName = "PORTS"
	// ResourceNetworkSlots is task-network slots: how many awsvpc tasks,
	// each with a network interface of its own, an instance can hold. ECS
	// reports a shortage of them as RESOURCE:ENI.
	ResourceNetworkSlots ResourceName = "ENI"
)

// Resources is an amount of the resources of a container instance: what it
// registered, what it has left, or what a task takes.
//
// Resources is a plain value; Clone gives a copy that shares nothing.
type Resources struct {
	// CPU is in cpu units (1024 = 1 vCPU).
	CPU int
	// Memory is in MiB.
	Memory int
	// NetworkSlots counts task-network (awsvpc) slots.
	NetworkSlots int
	// Ports are host ports. In an instance's registered resources they are
	// the ports reserved at registration (for example 22/tcp); in its
	// remaining resources, following ECS, they are every host port in use;
	// in what a task reserves, the host ports it binds.
	Ports []Port
}

// Clone returns a deep copy of r.
func (r Resources) Clone() Resources {
	if r.Ports != nil {
		r.Ports = append([]Port(nil), r.Ports...)
	}
	return r
}

// Validate checks that amounts are between 0 and MaxAmount and that ports
// have a known protocol, a number other than 0, and appear once.
func (r Resources) Validate() error {
	outside := func(field string, n int) error {
		return invalidValue(field, n, fmt.Sprintf("must be between 0 and %d", MaxAmount))
	}
	switch {
	case r.CPU < 0 || r.CPU > MaxAmount:
		return outside("cpu", r.CPU)
	case r.Memory < 0 || r.Memory > MaxAmount:
		return outside("memory", r.Memory)
	case r.NetworkSlots < 0 || r.NetworkSlots > MaxAmount:
		return outside("networkSlots", r.NetworkSlots)
	}
	// Instances can hold thousands of ports in use: look for duplicates in
	// a set rather than pair by pair.
	var seen map[Port]struct{}
	if len(r.Ports) > 8 {
		seen = make(map[Port]struct{}, len(r.Ports))
	}
	for i, p := range r.Ports {
		field := fmt.Sprintf("ports[%d]", i)
		if !p.Protocol.Valid() {
			return invalidValue(field+".protocol", quote(string(p.Protocol)), `must be "tcp" or "udp"`)
		}
		if p.Number == 0 {
			return invalidValue(field+".number", 0, "must be between 1 and 65535")
		}
		dup := false
		if seen != nil {
			_, dup = seen[p]
			seen[p] = struct{}{}
		} else {
			dup = slices.Contains(r.Ports[:i], p)
		}
		if dup {
			return invalidValue(field, p, "appears twice")
		}
	}
	return nil
}

// InsufficientResourcesError reports that an instance cannot take a
// reservation because one resource is short. It wraps
// ErrInsufficientResources.
type InsufficientResourcesError struct {
	// Instance is the ID of the container instance.
	Instance string
	// Resource is the resource that is short.
	Resource ResourceName
	// Requested and Available are amounts of Resource (cpu units, MiB or
	// network slots); both are 0 for ResourcePorts.
	Requested, Available int
	// Port is the host port already in use, for ResourcePorts.
	Port Port
}

// Error returns a message such as
// "cluster: instance i-1: MEMORY: 1024 requested, 512 available".
func (e *InsufficientResourcesError) Error() string {
	if e.Resource == ResourcePorts {
		return fmt.Sprintf("cluster: instance %s: PORTS: %s is already in use", e.Instance, e.Port)
	}
	return fmt.Sprintf("cluster: instance %s: %s: %d requested, %d available", e.Instance, e.Resource, e.Requested, e.Available)
}

// Unwrap returns ErrInsufficientResources.
func (e *InsufficientResourcesError) Unwrap() error { return ErrInsufficientResources }
