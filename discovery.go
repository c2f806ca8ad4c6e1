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
	"github.com/stevedore-io/stevedore/task"
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

// sync follows every task change into the registry, and drains the
// DEACTIVATING tasks whose drain names it (state.DrainDNS): their records
// go, and the drain says so in the store.
func (d *serviceDiscovery) sync(ctx context.Context, o *Orchestrator) error {
	var snapshot []*state.Task
	f, err := store.Follow(ctx, o.store, store.FollowConfig{
		Snapshot: func(tx store.ReadTx) error {
			var err error
			snapshot, err = store.List[*state.Task](tx, state.KindTasks)
			return err
		},
		Options: []store.WatchOption{store.WithKinds(state.KindTasks)},
	})
	if err != nil {
		return err
	}
	defer f.Close()
	replace := func() error {
		var insts []discovery.Instance
		for _, t := range snapshot {
			if inst, ok := discovery.FromTask(t.Task, t.Network, discovery.TaskOptions{Service: t.ServiceName}); ok {
				insts = append(insts, inst)
			}
		}
		if err := d.reg.Replace(insts); err != nil {
			return err
		}
		for _, t := range snapshot {
			d.drain(ctx, o, t)
		}
		snapshot = nil
		return nil
	}
	if err := replace(); err != nil {
		return err
	}
	var buf []store.Event
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-f.Ready():
		}
		evs, resynced, err := f.Take(buf[:0])
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if resynced {
			if err := replace(); err != nil {
				return err
			}
		}
		for _, ev := range evs {
			if ev.Type == store.Deleted {
				d.reg.DeregisterID(ev.ID)
				continue
			}
			t, ok := ev.Object.(*state.Task)
			if !ok {
				continue
			}
			if t.ServiceName != "" {
				if err := d.reg.SyncTask(t.Task, t.Network, discovery.TaskOptions{Service: t.ServiceName}); err != nil {
					o.log.Warn("service discovery: cannot register task", "task", t.ID(), "err", err)
				}
			}
			d.drain(ctx, o, t)
		}
		clear(evs)
		buf = evs
	}
}

// drain takes a DEACTIVATING task whose drain waits for service discovery
// out of the registry and marks it drained.
func (d *serviceDiscovery) drain(ctx context.Context, o *Orchestrator, t *state.Task) {
	if t.LastStatus != task.Deactivating || !t.Drain.Wants(state.DrainDNS) {
		return
	}
	d.reg.DeregisterID(t.ID())
	if err := markDrained(ctx, o.store, t.ID(), state.DrainDNS); err != nil && ctx.Err() == nil {
		o.log.Warn("service discovery: cannot mark task drained", "task", t.ID(), "err", err)
	}
}

// markDrained records in the store that drainer is done with task id.
func markDrained(ctx context.Context, s store.Store, id, drainer string) error {
	return s.Update(ctx, func(tx store.Tx) error {
		t, err := store.Get[*state.Task](tx, state.KindTasks, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		next := state.MarkDone(t, drainer)
		if next == nil {
			return nil
		}
		return tx.Update(next)
	})
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
