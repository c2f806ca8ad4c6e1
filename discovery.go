package stevedore

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/stevedore-io/stevedore/discovery"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/store"
)

// WithServiceDiscovery runs a DNS server authoritative for cfg.Namespace
// ("local" by default) that answers the healthy tasks of every service by
// name: web.local (and web.<cluster>.local) gives A records of awsvpc tasks,
// _web._tcp.local SRV records with their ports. Tasks whose definition names
// no DNS server get a resolv.conf pointing at it, so containers reach each
// other by service name. cfg.Listen must be an address tasks reach on port
// 53, typically the task bridge's gateway ("10.88.0.1:53"); the server binds
// it as soon as it exists (the bridge appears with the first task). Resolver
// gives the same answers in-process.
func WithServiceDiscovery(cfg discovery.Config) Option {
	return func(o *options) error {
		if err := cfg.Validate(); err != nil {
			return fmt.Errorf("%w: WithServiceDiscovery: %w", ErrInvalid, err)
		}
		o.discovery = &cfg
		return nil
	}
}

// serviceDiscovery keeps the discovery registry in step with the tasks and
// runs the DNS server.
type serviceDiscovery struct {
	cfg       discovery.Config
	reg       *discovery.Registry
	resolver  *discovery.Resolver
	advertise netip.Addr
	zone      string

	mu     sync.Mutex
	server *discovery.Server
}

func newServiceDiscovery(cfg discovery.Config) (*serviceDiscovery, error) {
	reg := discovery.NewRegistry()
	// A server built only to learn the effective settings (defaults applied).
	probe, err := discovery.NewServer(reg, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: service discovery: %w", ErrInvalid, err)
	}
	zone := probe.Namespace()
	resolver, err := discovery.NewResolver(reg, zone)
	if err != nil {
		return nil, err
	}
	advertise := cfg.Advertise
	if !advertise.IsValid() {
		ap, err := netip.ParseAddrPort(cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("%w: service discovery: listen %q: %w", ErrInvalid, cfg.Listen, err)
		}
		advertise = ap.Addr()
	}
	return &serviceDiscovery{cfg: cfg, reg: reg, resolver: resolver, advertise: advertise, zone: zone}, nil
}

// dnsConfig is the resolv.conf of a task of cluster clusterName.
func (d *serviceDiscovery) dnsConfig(clusterName string) network.DNSConfig {
	return discovery.TaskDNSConfig(d.advertise, d.zone, clusterName)
}

// serve binds the DNS server, retrying while its address does not exist
// yet, and serves until ctx ends.
func (d *serviceDiscovery) serve(ctx context.Context, _ *Orchestrator) error {
	for {
		srv, err := discovery.NewServer(d.reg, d.cfg)
		if err != nil {
			return err
		}
		if err := srv.Start(ctx); err == nil {
			d.mu.Lock()
			d.server = srv
			d.mu.Unlock()
			<-ctx.Done()
			return srv.Close()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// sync follows every task change into the registry.
func (d *serviceDiscovery) sync(ctx context.Context, o *Orchestrator) error {
	var snapshot []*state.Task
	w, err := store.ViewAndWatch(ctx, o.store, func(tx store.ReadTx) error {
		var err error
		snapshot, err = store.List[*state.Task](tx, state.KindTasks)
		return err
	}, store.WithKinds(state.KindTasks))
	if err != nil {
		return err
	}
	defer w.Close()
	var insts []discovery.Instance
	for _, t := range snapshot {
		if inst, ok := discovery.FromTask(t.Task, t.Network, discovery.TaskOptions{Service: t.ServiceName}); ok {
			insts = append(insts, inst)
		}
	}
	if err := d.reg.Replace(insts); err != nil {
		return err
	}
	for ev := range w.Events() {
		if ev.Type == store.Deleted {
			d.reg.DeregisterID(ev.ID)
			o.leaving.Delete(ev.ID)
			continue
		}
		t, ok := ev.Object.(*state.Task)
		if !ok || t.ServiceName == "" {
			continue
		}
		if o.isLeaving(t.ID()) {
			d.reg.DeregisterID(t.ID()) // an event from before its deactivation
			continue
		}
		if err := d.reg.SyncTask(t.Task, t.Network, discovery.TaskOptions{Service: t.ServiceName}); err != nil {
			o.log.Warn("service discovery: cannot register task", "task", t.ID(), "err", err)
		}
	}
	if err := w.Err(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// Resolver answers service names from the Orchestrator's service discovery
// in-process, as the DNS server does; nil without WithServiceDiscovery.
func (o *Orchestrator) Resolver() *discovery.Resolver {
	if o.discovery == nil {
		return nil
	}
	return o.discovery.resolver
}

// DNSServerAddr is the address the discovery DNS server listens on, once it
// does; ok is false before (or without WithServiceDiscovery).
func (o *Orchestrator) DNSServerAddr() (addr netip.AddrPort, ok bool) {
	if o.discovery == nil {
		return netip.AddrPort{}, false
	}
	o.discovery.mu.Lock()
	defer o.discovery.mu.Unlock()
	if o.discovery.server == nil {
		return netip.AddrPort{}, false
	}
	return o.discovery.server.Addr(), true
}
