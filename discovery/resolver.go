package discovery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
)

// Resolver answers the DNS server's questions in-process, straight from a
// Registry: the same names, the same healthy instances, no sockets. It is
// safe for concurrent use.
type Resolver struct {
	reg  *Registry
	zone string // lower-cased, without the final dot: "local"
	turn atomic.Uint64
}

// SRV is one SRV answer: an instance's port, with the name of its own
// record and, to save a lookup, its address.
type SRV struct {
	// Target is the instance's own name, fully qualified:
	// "<id>.<service>.<zone>." ("<id>.<service>.<ns>.<zone>." when the
	// query named the namespace).
	Target   string
	Port     uint16
	Priority uint16
	Weight   uint16
	// Addr is Target's address, and ID the instance's ID.
	Addr netip.Addr
	ID   string
}

// NewResolver returns a Resolver for the names of namespace (the server's
// zone; "" for DefaultNamespace) answering from reg. It fails with
// ErrInvalid when namespace is not a domain name.
func NewResolver(reg *Registry, namespace string) (*Resolver, error) {
	if reg == nil {
		return nil, fmt.Errorf("discovery: NewResolver: nil registry: %w", ErrInvalid)
	}
	if namespace == "" {
		namespace = DefaultNamespace
	}
	if err := validZone(namespace); err != nil {
		return nil, fmt.Errorf("discovery: NewResolver: namespace: %w", err)
	}
	return &Resolver{reg: reg, zone: strings.ToLower(strings.TrimSuffix(namespace, "."))}, nil
}

// LookupHost returns the addresses of the healthy instances behind name,
// in an order that rotates from call to call. name is a service
// ("web"), a service in a sub-namespace ("web.prod") or an instance
// ("<id>.web"), with or without the zone ("web.local"); a name with a final
// dot must be inside the zone.
//
// Errors are *net.DNSError with IsNotFound set, wrapping ErrNotFound (no
// such name) or ErrNoHealthy (no healthy instance), or wrapping
// ErrOutsideZone; or the context's error.
func (r *Resolver) LookupHost(ctx context.Context, name string) ([]netip.Addr, error) {
	res, err := r.resolve(ctx, name)
	if err != nil {
		return nil, err
	}
	if res.kind != nameService && res.kind != nameInstance {
		return nil, notFound(name, ErrNotFound)
	}
	if len(res.healthy) == 0 {
		return nil, notFound(name, ErrNoHealthy)
	}
	n := len(res.healthy)
	first := r.start(n)
	out := make([]netip.Addr, n)
	for i := range n {
		out[i] = res.healthy[(first+i)%n].Addr
	}
	return out, nil
}

// LookupSRV returns the SRV answers of the healthy instances of service
// that have a port, in an order that rotates from call to call. service is
// named as for LookupHost ("web", "web.prod", "web.local") or in SRV form
// ("_web._tcp", "_web._tcp.local."). Errors are as for LookupHost;
// ErrNoHealthy also means that no healthy instance has a port.
func (r *Resolver) LookupSRV(ctx context.Context, service string) ([]SRV, error) {
	res, err := r.resolve(ctx, service)
	if err != nil {
		return nil, err
	}
	if res.kind != nameService && res.kind != nameInstance && res.kind != nameSRV {
		return nil, notFound(service, ErrNotFound)
	}
	n := len(res.healthy)
	first := r.start(n)
	out := make([]SRV, 0, n)
	for i := range n {
		inst := &res.healthy[(first+i)%n]
		if inst.Port == 0 {
			continue
		}
		out = append(out, SRV{
			Target:   res.target(inst, r.zone+"."),
			Port:     inst.Port,
			Priority: srvPriority,
			Weight:   srvWeight,
			Addr:     inst.Addr,
			ID:       inst.ID,
		})
	}
	if len(out) == 0 {
		return nil, notFound(service, ErrNoHealthy)
	}
	return out, nil
}

// resolve parses name relative to the zone and resolves it.
func (r *Resolver) resolve(ctx context.Context, name string) (resolution, error) {
	if err := ctx.Err(); err != nil {
		return resolution{}, &net.DNSError{Err: err.Error(), Name: name, UnwrapErr: err}
	}
	rel := strings.ToLower(name)
	fqdn := strings.HasSuffix(rel, ".")
	rel = strings.TrimSuffix(rel, ".")
	switch {
	case rel == r.zone:
		rel = ""
	case strings.HasSuffix(rel, "."+r.zone):
		rel = strings.TrimSuffix(rel, "."+r.zone)
	case fqdn:
		return resolution{}, &net.DNSError{Err: "name outside the namespace " + r.zone, Name: name, UnwrapErr: ErrOutsideZone}
	}
	var labels []string
	if rel != "" {
		labels = strings.Split(rel, ".")
	}
	return r.reg.resolve(labels), nil
}

func (r *Resolver) start(n int) int {
	if n <= 1 {
		return 0
	}
	return int(r.turn.Add(1) % uint64(n))
}

// notFound is the error of a name without answers, shaped like the
// net package's.
func notFound(name string, err error) error {
	msg := "no such host"
	if errors.Is(err, ErrNoHealthy) {
		msg = "no healthy instance"
	}
	return &net.DNSError{Err: msg, Name: name, IsNotFound: true, UnwrapErr: err}
}
