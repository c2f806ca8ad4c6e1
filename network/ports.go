package network

import (
	"fmt"
	"sync"
)

// PortRange is an inclusive range of ports.
type PortRange struct {
	First uint16 `json:"first"`
	Last  uint16 `json:"last"`
}

// DefaultDynamicPorts is ECS's ephemeral host-port range for bridge mode.
var DefaultDynamicPorts = PortRange{First: 49153, Last: 65535}

// Contains reports whether port is in r.
func (r PortRange) Contains(port uint16) bool { return port >= r.First && port <= r.Last }

// Validate checks that r is a non-empty range of non-zero ports.
func (r PortRange) Validate() error {
	if r.First == 0 || r.Last < r.First {
		return fieldErr("dynamicPorts", "%d-%d is not a range of ports between 1 and 65535", r.First, r.Last)
	}
	return nil
}

// String formats r as "first-last".
func (r PortRange) String() string { return fmt.Sprintf("%d-%d", r.First, r.Last) }

// PortProbe reports whether something outside the allocator already uses a
// host port; the Linux provider tries to bind it. A nil probe assumes free.
type PortProbe func(proto Protocol, port uint16) (inUse bool)

// PortAllocator keeps track of host ports, per protocol (tcp and udp): static
// reservations of a given port, and dynamic ports picked from a range. Each
// port belongs to an owner (a task ID) and is released with it.
//
// Dynamic allocation is next-fit like the IPAM's: it starts after the last
// dynamic port handed out, so released ports are reused as late as possible.
// A PortAllocator is safe for concurrent use.
type PortAllocator struct {
	portOptions // set by NewPortAllocator, never changed

	mu      sync.Mutex
	used    map[Protocol]*[1024]uint64 // 65536 bits per protocol
	next    map[Protocol]uint16
	owners  map[portKey]string
	byOwner map[string][]portKey
}

type portKey struct {
	proto Protocol
	port  uint16
}

// PortOption configures a PortAllocator made by NewPortAllocator.
type PortOption func(*portOptions) error

// portOptions are what the options of NewPortAllocator set.
type portOptions struct {
	dynamic PortRange
	probe   PortProbe
}

// WithDynamicPorts sets the range dynamic ports come from
// (DefaultDynamicPorts when not given).
func WithDynamicPorts(r PortRange) PortOption {
	return func(p *portOptions) error {
		if err := r.Validate(); err != nil {
			return err
		}
		p.dynamic = r
		return nil
	}
}

// WithPortProbe makes dynamic allocation skip ports that probe reports in
// use.
func WithPortProbe(probe PortProbe) PortOption {
	return func(p *portOptions) error {
		p.probe = probe
		return nil
	}
}

// NewPortAllocator returns an empty allocator.
func NewPortAllocator(opts ...PortOption) (*PortAllocator, error) {
	p := &PortAllocator{
		portOptions: portOptions{dynamic: DefaultDynamicPorts},
		used:        map[Protocol]*[1024]uint64{ProtocolTCP: new([1024]uint64), ProtocolUDP: new([1024]uint64)},
		next:        map[Protocol]uint16{},
		owners:      map[portKey]string{},
		byOwner:     map[string][]portKey{},
	}
	for _, opt := range opts {
		if err := opt(&p.portOptions); err != nil {
			return nil, err
		}
	}
	p.next[ProtocolTCP] = p.dynamic.First
	p.next[ProtocolUDP] = p.dynamic.First
	return p, nil
}

// DynamicRange returns the range dynamic ports come from.
func (p *PortAllocator) DynamicRange() PortRange { return p.dynamic }

// Reserve reserves one given port for owner. Reserving a port owner already
// holds is a no-op; a port held by another owner is an error wrapping
// ErrPortInUse. An empty protocol means tcp.
func (p *PortAllocator) Reserve(owner string, proto Protocol, port uint16) error {
	proto = proto.orTCP()
	if err := p.check(owner, proto); err != nil {
		return err
	}
	if port == 0 {
		return fieldErr("hostPort", "must be between 1 and 65535")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	k := portKey{proto, port}
	if o, ok := p.owners[k]; ok {
		if o == owner {
			return nil
		}
		return fmt.Errorf("%w: %s/%d is reserved by task %q", ErrPortInUse, proto, port, o)
	}
	p.take(owner, k)
	return nil
}

// Allocate picks a free dynamic port for owner. It returns an error wrapping
// ErrExhausted when every port of the range is taken.
func (p *PortAllocator) Allocate(owner string, proto Protocol) (uint16, error) {
	proto = proto.orTCP()
	if err := p.check(owner, proto); err != nil {
		return 0, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	bits := p.used[proto]
	r := p.dynamic
	n := int(r.Last) - int(r.First) + 1
	port := p.next[proto]
	for range n {
		cur := port
		if port == r.Last {
			port = r.First
		} else {
			port++
		}
		if bits[cur/64]&(1<<(cur%64)) != 0 {
			continue
		}
		if p.probe != nil && p.probe(proto, cur) {
			continue
		}
		p.take(owner, portKey{proto, cur})
		p.next[proto] = port
		return cur, nil
	}
	return 0, fmt.Errorf("%w: no free %s host port in %s for task %q", ErrExhausted, proto, r, owner)
}

// Release frees every port owner holds.
func (p *PortAllocator) Release(owner string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range p.byOwner[owner] {
		p.used[k.proto][k.port/64] &^= 1 << (k.port % 64)
		delete(p.owners, k)
	}
	delete(p.byOwner, owner)
}

// Owner returns who holds a port.
func (p *PortAllocator) Owner(proto Protocol, port uint16) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	o, ok := p.owners[portKey{proto.orTCP(), port}]
	return o, ok
}

func (p *PortAllocator) check(owner string, proto Protocol) error {
	if owner == "" {
		return fieldErr("taskID", "must not be empty")
	}
	if !proto.HasPorts() {
		return fieldErr("protocol", "%q: host ports are tcp or udp", string(proto))
	}
	return nil
}

func (p *PortAllocator) take(owner string, k portKey) {
	p.used[k.proto][k.port/64] |= 1 << (k.port % 64)
	p.owners[k] = owner
	p.byOwner[owner] = append(p.byOwner[owner], k)
}
