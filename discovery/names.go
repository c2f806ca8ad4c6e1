package discovery

import (
	"strings"
)

// nameKind is what a name inside the zone stands for.
type nameKind int

const (
	nameMissing  nameKind = iota // nothing: NXDOMAIN
	nameApex                     // the zone apex: SOA, NS
	nameEmpty                    // exists only as a parent of other names: NODATA
	nameService                  // <service>[.<ns>]: A, AAAA, SRV
	nameSRV                      // _<service>._tcp[.<ns>]: SRV
	nameInstance                 // <id>.<service>[.<ns>]: A, AAAA, SRV of one instance
)

// resolution is a name inside the zone, resolved against the registry.
type resolution struct {
	kind nameKind
	// service and namespace are lower-cased; scoped means the name named
	// the namespace (otherwise instances of every namespace answer).
	service   string
	namespace string
	scoped    bool
	// healthy is the immutable snapshot of the instances to answer.
	healthy []Instance
}

// srvProto reports whether a label is the protocol label of an SRV name.
func srvProto(l string) bool { return l == "_tcp" || l == "_udp" }

// resolve looks up labels, the lower-cased labels of a name left of the
// zone, leftmost first. The grammar, with <zone> left out:
//
//	(none)                        apex
//	<service>                     every namespace
//	<service>.<ns>                one namespace
//	_<service>._tcp[.<ns>]        SRV form (_udp too)
//	<id>.<service>                one instance, any namespace
//	<id>.<service>.<ns>           one instance of the namespace
//
// <service>.<ns> and <id>.<service> have the same shape: the service reading
// wins when service <service> has instances in namespace <ns>.
func (r *Registry) resolve(labels []string) resolution {
	r.mu.RLock()
	defer r.mu.RUnlock()
	switch len(labels) {
	case 0:
		return resolution{kind: nameApex}
	case 1:
		if res, ok := r.service(labels[0], "", false, nameService); ok {
			return res
		}
		// Parents of existing names: <ns> and _tcp.
		if r.namespaces[labels[0]] > 0 || srvProto(labels[0]) && len(r.services) > 0 {
			return resolution{kind: nameEmpty}
		}
	case 2:
		if svc, ok := strings.CutPrefix(labels[0], "_"); ok && srvProto(labels[1]) {
			if res, ok := r.service(svc, "", false, nameSRV); ok {
				return res
			}
			break
		}
		if res, ok := r.service(labels[0], labels[1], true, nameService); ok {
			return res
		}
		if res, ok := r.instance(labels[0], labels[1], "", false); ok {
			return res
		}
		if srvProto(labels[0]) && r.namespaces[labels[1]] > 0 {
			return resolution{kind: nameEmpty} // _tcp.<ns>
		}
	case 3:
		if svc, ok := strings.CutPrefix(labels[0], "_"); ok && srvProto(labels[1]) {
			if res, ok := r.service(svc, labels[2], true, nameSRV); ok {
				return res
			}
			break
		}
		if res, ok := r.instance(labels[0], labels[1], labels[2], true); ok {
			return res
		}
	}
	return resolution{kind: nameMissing}
}

// service resolves a service name; r.mu is held. A service exists in a
// namespace when it has an instance there, healthy or not.
func (r *Registry) service(service, namespace string, scoped bool, kind nameKind) (resolution, bool) {
	svc := r.services[service]
	if svc == nil {
		return resolution{}, false
	}
	res := resolution{kind: kind, service: service, namespace: namespace, scoped: scoped, healthy: svc.healthy}
	if scoped {
		ns := svc.byNamespace[namespace]
		if ns == nil {
			return resolution{}, false
		}
		res.healthy = ns.healthy
	}
	return res, true
}

// instance resolves an instance name; r.mu is held.
func (r *Registry) instance(id, service, namespace string, scoped bool) (resolution, bool) {
	svc := r.services[service]
	if svc == nil {
		return resolution{}, false
	}
	inst := svc.instances[id]
	if inst == nil || scoped && strings.ToLower(inst.Namespace) != namespace {
		return resolution{}, false
	}
	res := resolution{kind: nameInstance, service: service, namespace: namespace, scoped: scoped}
	if inst.Healthy {
		res.healthy = []Instance{*inst}
	}
	return res, true
}

// target is the name of an instance's own record, the target of its SRV
// record: <id>.<service>[.<ns>].<zone> (zone fully qualified).
func (res *resolution) target(inst *Instance, zone string) string {
	var b strings.Builder
	b.Grow(len(inst.ID) + len(res.service) + len(res.namespace) + len(zone) + 3)
	b.WriteString(strings.ToLower(inst.ID))
	b.WriteByte('.')
	b.WriteString(res.service)
	b.WriteByte('.')
	if res.scoped {
		b.WriteString(res.namespace)
		b.WriteByte('.')
	}
	b.WriteString(zone)
	return b.String()
}
