package network

import (
	"errors"
	"fmt"
	"net/netip"
)

// Allocator combines an IPAM and a PortAllocator into what a Provider
// reserves for one task: an address when the mode has an interface, and the
// host ports of its port mappings. Provider implementations (the Linux one
// and the fake) share it, so the fake allocates exactly like the real thing.
type Allocator struct {
	ipam  *IPAM
	ports *PortAllocator
}

// NewAllocator returns an Allocator over ipam and ports.
func NewAllocator(ipam *IPAM, ports *PortAllocator) *Allocator {
	return &Allocator{ipam: ipam, ports: ports}
}

// IPAM returns the allocator's IPAM.
func (a *Allocator) IPAM() *IPAM { return a.ipam }

// Ports returns the allocator's PortAllocator.
func (a *Allocator) Ports() *PortAllocator { return a.ports }

// Allocation is what Allocate reserved for a task.
type Allocation struct {
	// Address is the task's address with the subnet's prefix length;
	// invalid in host and none mode.
	Address netip.Prefix
	// Bindings has one entry per port mapping, in the same order.
	Bindings []PortBinding
}

// Allocate reserves an address (awsvpc and bridge mode) and host ports for
// req, which must be valid. In bridge mode host port 0 gets a dynamic port
// and others are reserved as given; in host mode the container ports are
// reserved on the host; awsvpc mode reserves no host port (the binding's
// host port is the container port, on the task's own address). On error
// nothing stays reserved.
func (a *Allocator) Allocate(req Request) (Allocation, error) {
	var out Allocation
	if req.Mode.HasInterface() {
		addr, err := a.ipam.Allocate(req.TaskID)
		if err != nil {
			return Allocation{}, err
		}
		out.Address = netip.PrefixFrom(addr, a.ipam.Subnet().Bits())
	}
	for i, m := range req.PortMappings {
		b := PortBinding{ContainerPort: m.ContainerPort, HostPort: m.HostPort, Protocol: m.Protocol.orTCP()}
		var err error
		switch {
		case req.Mode == ModeAWSVPC:
			b.HostPort = m.ContainerPort
		case req.Mode == ModeHost:
			b.HostPort = m.ContainerPort
			err = a.ports.Reserve(req.TaskID, b.Protocol, b.HostPort)
		case req.Mode == ModeBridge && b.HostPort == 0:
			b.HostPort, err = a.ports.Allocate(req.TaskID, b.Protocol)
		case req.Mode == ModeBridge:
			err = a.ports.Reserve(req.TaskID, b.Protocol, b.HostPort)
		default:
			err = fieldErr("portMappings", "%s mode has no ports", req.Mode)
		}
		if err != nil {
			return Allocation{}, errors.Join(
				fmt.Errorf("portMappings[%d]: %w", i, err),
				a.Release(req.TaskID))
		}
		out.Bindings = append(out.Bindings, b)
	}
	return out, nil
}

// Restore re-reserves what an attachment holds after a restart: its
// address (normally already in the IPAM, loaded from its store; reserved
// again when missing) and its host ports. An address the IPAM gives to
// another task, or a host port another task holds, is an error wrapping
// ErrConflict or ErrPortInUse.
func (a *Allocator) Restore(att *Attachment) error {
	if att.Mode.HasInterface() {
		if err := a.ipam.Reserve(att.TaskID, att.Address.Addr()); err != nil {
			return fmt.Errorf("restore task %q: %w", att.TaskID, err)
		}
	}
	if att.Mode != ModeHost && att.Mode != ModeBridge {
		return nil
	}
	for _, b := range att.PortBindings {
		if err := a.ports.Reserve(att.TaskID, b.Protocol, b.HostPort); err != nil {
			return fmt.Errorf("restore task %q: %w", att.TaskID, err)
		}
	}
	return nil
}

// Release gives back everything reserved for taskID; it is idempotent.
func (a *Allocator) Release(taskID string) error {
	a.ports.Release(taskID)
	return a.ipam.Release(taskID)
}
