package discovery

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/stevedore-io/stevedore/errdefs"
	quotepkg "github.com/stevedore-io/stevedore/internal/quote"
	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/task"
)

// Sentinel errors returned (possibly wrapped) by this package. Test for them
// with errors.Is. ErrInvalid, ErrNotFound and ErrClosed match their kinds of
// package errdefs too; ErrNoHealthy and ErrOutsideZone have a meaning of
// their own.
var (
	// ErrInvalid means an instance, a name or a configuration is malformed.
	ErrInvalid = errdefs.New(errdefs.ErrInvalid, "discovery: invalid")
	// ErrNotFound means no service, namespace or instance has the name.
	ErrNotFound = errdefs.New(errdefs.ErrNotFound, "discovery: not found")
	// ErrNoHealthy means the name is known but none of its instances is
	// healthy (or, for SRV, none has a port).
	ErrNoHealthy = errors.New("discovery: no healthy instance")
	// ErrOutsideZone means a fully qualified name is not inside the
	// server's namespace (the DNS server answers REFUSED).
	ErrOutsideZone = errors.New("discovery: name outside the namespace")
	// ErrClosed means the server was closed or is already running.
	ErrClosed = errdefs.New(errdefs.ErrClosed, "discovery: server closed")
)

// MaxLabelLen is the longest service, namespace or instance ID: one DNS
// label.
const MaxLabelLen = 63

// Instance is one registered endpoint of a service: a task's address (and,
// for SRV records, its port).
type Instance struct {
	// Service is the service name, one DNS label (letters, digits, '-' and
	// '_', not starting with '_' or '-'). Names compare case-insensitively.
	Service string `json:"service"`
	// Namespace optionally scopes the instance under a sub-namespace (for
	// example its cluster): it then also answers as
	// <service>.<namespace>.<zone>. Empty means the zone apex only.
	Namespace string `json:"namespace,omitempty"`
	// ID identifies the instance within its service (the task ID), one DNS
	// label like Service. It names the instance's own record
	// <id>.<service>.<zone>, the target of its SRV record.
	ID string `json:"id"`
	// Addr is the address answered: IPv4 in A records, IPv6 in AAAA.
	Addr netip.Addr `json:"addr"`
	// Port is the port in SRV records; 0 means the instance has no SRV
	// record (A or AAAA only).
	Port uint16 `json:"port,omitempty"`
	// Healthy instances are answered; unhealthy ones stay registered but
	// are left out of every answer.
	Healthy bool `json:"healthy"`
	// Attributes are free-form metadata (cluster, task definition, ...).
	// They are not served over DNS. Treat them as read-only.
	Attributes map[string]string `json:"attributes,omitempty"`
}

// Registry is the in-memory set of registered instances that the DNS server
// and the in-process Resolver answer from. It holds no history and is not
// persisted: rebuild it from the tasks (Replace) after a restart. A Registry
// is safe for concurrent use; its zero value is not usable, call
// NewRegistry.
type Registry struct {
	mu       sync.RWMutex
	services map[string]*serviceEntry // by lower-cased service name
	// namespaces counts the instances (healthy or not) per lower-cased
	// namespace, to tell namespaces and services apart in names.
	namespaces map[string]int
	version    uint64
}

// serviceEntry is one service. healthy and byNamespace are immutable
// snapshots rebuilt on every change, so readers can use them without the
// lock and without copying.
type serviceEntry struct {
	instances   map[string]*Instance // by lower-cased ID
	healthy     []Instance           // every namespace, sorted by ID
	byNamespace map[string]*nsEntry  // by lower-cased namespace ("" included)
}

type nsEntry struct {
	count   int        // instances, healthy or not
	healthy []Instance // sorted by ID
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry {
	return &Registry{
		services:   make(map[string]*serviceEntry),
		namespaces: make(map[string]int),
	}
}

// Register adds inst, or replaces the instance with the same Service and ID
// (which may move it to another namespace). It copies inst and its
// Attributes. It fails with ErrInvalid when a name is not a valid label or
// Addr is invalid or unspecified; an IPv4-mapped IPv6 address is stored as
// IPv4.
func (r *Registry) Register(inst Instance) error {
	inst, err := normalize(inst)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if svc := r.services[strings.ToLower(inst.Service)]; svc != nil {
		if old := svc.instances[strings.ToLower(inst.ID)]; old != nil && sameInstance(old, &inst) {
			return nil // nothing changes: no rebuild, same SOA serial
		}
	}
	r.put(inst)
	r.version++
	return nil
}

// SyncTask registers or deregisters the instance of a service task as
// FromTask decides, to be called with every change of the task: the whole
// wiring of a task watch is
//
//	deleted: reg.DeregisterID(taskID)
//	changed: err = reg.SyncTask(t, att, opts)
//
// It returns Register's error, which FromTask's checks make unlikely.
// Tasks that belong to no service are ignored.
func (r *Registry) SyncTask(t *task.Task, att *network.Attachment, opts TaskOptions) error {
	inst, ok := FromTask(t, att, opts)
	switch {
	case ok:
		return r.Register(inst)
	case inst.Service != "":
		r.Deregister(inst.Service, inst.ID)
	}
	return nil
}

// Deregister removes the instance id of service and reports whether it was
// registered. It is idempotent.
func (r *Registry) Deregister(service, id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.remove(strings.ToLower(service), strings.ToLower(id)) {
		return false
	}
	r.version++
	return true
}

// DeregisterID removes the instances with the given ID from every service
// (a task deleted from the store, whose service is no longer known) and
// returns how many it removed.
func (r *Registry) DeregisterID(id string) int {
	id = strings.ToLower(id)
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for name, svc := range r.services {
		if _, ok := svc.instances[id]; ok && r.remove(name, id) {
			n++
		}
	}
	if n > 0 {
		r.version++
	}
	return n
}

// SetHealth marks the instance id of service healthy or unhealthy. It fails
// with ErrNotFound when the instance is not registered.
func (r *Registry) SetHealth(service, id string, healthy bool) error {
	key, idKey := strings.ToLower(service), strings.ToLower(id)
	r.mu.Lock()
	defer r.mu.Unlock()
	svc := r.services[key]
	if svc == nil || svc.instances[idKey] == nil {
		return fmt.Errorf("discovery: instance %s/%s: %w", clip(service), clip(id), ErrNotFound)
	}
	if svc.instances[idKey].Healthy == healthy {
		return nil
	}
	inst := *svc.instances[idKey]
	inst.Healthy = healthy
	svc.instances[idKey] = &inst
	svc.rebuild()
	r.version++
	return nil
}

// Replace makes insts the registry's whole content in one step: instances
// not in insts are removed. It validates every instance first and changes
// nothing when one is invalid. Use it to load the registry from a snapshot
// of the tasks before following their changes.
func (r *Registry) Replace(insts []Instance) error {
	clean := make([]Instance, len(insts))
	var errs []error
	for i, inst := range insts {
		var err error
		if clean[i], err = normalize(inst); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.services = make(map[string]*serviceEntry)
	r.namespaces = make(map[string]int)
	for _, inst := range clean {
		r.put(inst)
	}
	r.version++
	return nil
}

// Lookup returns the healthy instances of service in every namespace,
// sorted by ID, or nil when there is none.
func (r *Registry) Lookup(service string) []Instance {
	r.mu.RLock()
	svc := r.services[strings.ToLower(service)]
	var healthy []Instance
	if svc != nil {
		healthy = svc.healthy
	}
	r.mu.RUnlock()
	return cloneInstances(healthy)
}

// LookupIn returns the healthy instances of service in namespace, sorted
// by ID, or nil when there is none. The empty namespace is the zone apex
// (instances registered without a namespace).
func (r *Registry) LookupIn(namespace, service string) []Instance {
	r.mu.RLock()
	var healthy []Instance
	if svc := r.services[strings.ToLower(service)]; svc != nil {
		if ns := svc.byNamespace[strings.ToLower(namespace)]; ns != nil {
			healthy = ns.healthy
		}
	}
	r.mu.RUnlock()
	return cloneInstances(healthy)
}

// Instances returns every registered instance, healthy or not, sorted by
// service, then ID.
func (r *Registry) Instances() []Instance {
	r.mu.RLock()
	var out []Instance
	for _, svc := range r.services {
		for _, inst := range svc.instances {
			out = append(out, *inst)
		}
	}
	r.mu.RUnlock()
	slices.SortFunc(out, func(a, b Instance) int {
		return cmp.Or(cmp.Compare(strings.ToLower(a.Service), strings.ToLower(b.Service)),
			cmp.Compare(strings.ToLower(a.ID), strings.ToLower(b.ID)))
	})
	return cloneInstances(out)
}

// Version counts the registry's changes; the DNS server uses it as the SOA
// serial.
func (r *Registry) Version() uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.version
}

// put stores a normalized instance; r.mu is held.
func (r *Registry) put(inst Instance) {
	key, idKey := strings.ToLower(inst.Service), strings.ToLower(inst.ID)
	if old := r.services[key]; old != nil && old.instances[idKey] != nil {
		r.remove(key, idKey)
	}
	svc := r.services[key]
	if svc == nil {
		svc = &serviceEntry{instances: make(map[string]*Instance)}
		r.services[key] = svc
	}
	svc.instances[idKey] = &inst
	r.namespaces[strings.ToLower(inst.Namespace)]++
	svc.rebuild()
}

// remove deletes an instance by lower-cased keys; r.mu is held.
func (r *Registry) remove(key, idKey string) bool {
	svc := r.services[key]
	if svc == nil {
		return false
	}
	inst := svc.instances[idKey]
	if inst == nil {
		return false
	}
	delete(svc.instances, idKey)
	ns := strings.ToLower(inst.Namespace)
	if r.namespaces[ns]--; r.namespaces[ns] <= 0 {
		delete(r.namespaces, ns)
	}
	if len(svc.instances) == 0 {
		delete(r.services, key)
		return true
	}
	svc.rebuild()
	return true
}

// rebuild recomputes the snapshots of a service after a change.
func (s *serviceEntry) rebuild() {
	ids := slices.Sorted(maps.Keys(s.instances))
	s.healthy = nil
	s.byNamespace = make(map[string]*nsEntry)
	for _, id := range ids {
		inst := s.instances[id]
		nsKey := strings.ToLower(inst.Namespace)
		ns := s.byNamespace[nsKey]
		if ns == nil {
			ns = &nsEntry{}
			s.byNamespace[nsKey] = ns
		}
		ns.count++
		if inst.Healthy {
			s.healthy = append(s.healthy, *inst)
			ns.healthy = append(ns.healthy, *inst)
		}
	}
}

// normalize validates inst and returns the copy to store.
func normalize(inst Instance) (Instance, error) {
	name := clip(inst.Service) + "/" + clip(inst.ID)
	var errs []error
	if err := validLabel(inst.Service); err != nil {
		errs = append(errs, fmt.Errorf("discovery: instance %s: service: %w", name, err))
	}
	if inst.Namespace != "" {
		if err := validLabel(inst.Namespace); err != nil {
			errs = append(errs, fmt.Errorf("discovery: instance %s: namespace: %w", name, err))
		}
	}
	if err := validLabel(inst.ID); err != nil {
		errs = append(errs, fmt.Errorf("discovery: instance %s: id: %w", name, err))
	}
	inst.Addr = inst.Addr.Unmap().WithZone("")
	if !inst.Addr.IsValid() || inst.Addr.IsUnspecified() {
		errs = append(errs, fmt.Errorf("discovery: instance %s: addr %v: not a usable address: %w", name, inst.Addr, ErrInvalid))
	}
	if err := errors.Join(errs...); err != nil {
		return Instance{}, err
	}
	inst.Attributes = maps.Clone(inst.Attributes)
	return inst, nil
}

// sameInstance reports whether two normalized instances are equal.
func sameInstance(a, b *Instance) bool {
	return a.Service == b.Service && a.Namespace == b.Namespace && a.ID == b.ID &&
		a.Addr == b.Addr && a.Port == b.Port && a.Healthy == b.Healthy &&
		maps.Equal(a.Attributes, b.Attributes)
}

// validLabel checks that s can be a DNS label of this package's names.
func validLabel(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("empty: %w", ErrInvalid)
	case len(s) > MaxLabelLen:
		return fmt.Errorf("%s longer than %d characters: %w", quote(s), MaxLabelLen, ErrInvalid)
	case s[0] == '_' || s[0] == '-':
		return fmt.Errorf("%s starts with %q: %w", quote(s), s[0], ErrInvalid)
	}
	for i := 0; i < len(s); i++ {
		if !labelByte(s[i]) {
			return fmt.Errorf("%s has %q (letters, digits, '-' and '_' only): %w", quote(s), s[i], ErrInvalid)
		}
	}
	return nil
}

func labelByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// cloneInstances copies a snapshot for a caller, Attributes included.
func cloneInstances(in []Instance) []Instance {
	if len(in) == 0 {
		return nil
	}
	out := slices.Clone(in)
	for i := range out {
		out[i].Attributes = maps.Clone(out[i].Attributes)
	}
	return out
}

// quote and clip cut what errors echo (see package internal/quote).
var (
	quote = quotepkg.Quote
	clip  = quotepkg.Clip
)
