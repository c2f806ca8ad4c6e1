// Package dnssync is the service discovery loop: it keeps a discovery
// registry in step with the tasks in the store (the healthy tasks of every
// service answer by name), serves it over DNS, and drains the stopping
// tasks whose drain names it (state.DrainDNS): their records go, and the
// drain says so in the store. The resolv.conf that points tasks at the
// server is written on each task when it is created (state.Task.DNS, from
// DNSConfig), so that the agents need nothing from this loop.
package dnssync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/stevedore-io/stevedore/discovery"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

// Config is what the loop needs. Store is required; Discovery must be
// valid (discovery.Config.Validate).
type Config struct {
	// Store holds the tasks.
	Store store.Store
	// Discovery configures the registry and the DNS server.
	Discovery discovery.Config
	// Logger receives the loop's log (default: discard).
	Logger *slog.Logger
}

// Sync keeps the discovery registry in step with the tasks and runs the
// DNS server.
type Sync struct {
	st        store.Store
	log       *slog.Logger
	cfg       discovery.Config
	reg       *discovery.Registry
	resolver  *discovery.Resolver
	advertise netip.Addr
	zone      string

	mu     sync.Mutex
	server *discovery.Server
}

// New returns the loop for c. Its errors name the bad setting.
func New(c Config) (*Sync, error) {
	if c.Store == nil {
		return nil, errors.New("dnssync: Config.Store missing")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	cfg := c.Discovery
	reg := discovery.NewRegistry()
	// A server built only to learn the effective settings (defaults applied).
	probe, err := discovery.NewServer(reg, cfg)
	if err != nil {
		return nil, err
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
			return nil, fmt.Errorf("listen %q: %w", cfg.Listen, err)
		}
		advertise = ap.Addr()
	}
	return &Sync{st: c.Store, log: c.Logger, cfg: cfg, reg: reg, resolver: resolver, advertise: advertise, zone: zone}, nil
}

// DNSConfig is the resolv.conf of a task of cluster clusterName.
func (d *Sync) DNSConfig(clusterName string) network.DNSConfig {
	return discovery.TaskDNSConfig(d.advertise, d.zone, clusterName)
}

// Serve binds the DNS server, retrying while its address does not exist
// yet, and serves until ctx ends.
func (d *Sync) Serve(ctx context.Context) error {
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

// Run follows every task change into the registry, and drains the
// DEACTIVATING tasks whose drain names it (state.DrainDNS): their records
// go, and the drain says so in the store. It returns when ctx ends, or the
// store fails.
func (d *Sync) Run(ctx context.Context) error {
	var snapshot []*state.Task
	f, err := store.Follow(ctx, d.st, store.FollowConfig{
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
			d.drain(ctx, t)
		}
		snapshot = nil
		return nil
	}
	if err := replace(); err != nil {
		return err
	}
	var buf []store.Event
	for {
		evs, resynced, err := f.Next(ctx, buf[:0])
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
					d.log.Warn("service discovery: cannot register task", "task", t.ID(), "err", err)
				}
			}
			d.drain(ctx, t)
		}
		clear(evs)
		buf = evs
	}
}

// drain takes a DEACTIVATING task whose drain waits for service discovery
// out of the registry and marks it drained.
func (d *Sync) drain(ctx context.Context, t *state.Task) {
	if t.LastStatus != task.Deactivating || !t.Drain.Wants(state.DrainDNS) {
		return
	}
	d.reg.DeregisterID(t.ID())
	if err := state.MarkDrained(ctx, d.st, t.ID(), state.DrainDNS); err != nil && ctx.Err() == nil {
		d.log.Warn("service discovery: cannot mark task drained", "task", t.ID(), "err", err)
	}
}

// Resolver answers service names in-process, as the DNS server does.
func (d *Sync) Resolver() *discovery.Resolver { return d.resolver }

// ServerAddr is the address the DNS server listens on, once it does; ok
// is false before.
func (d *Sync) ServerAddr() (addr netip.AddrPort, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.server == nil {
		return netip.AddrPort{}, false
	}
	return d.server.Addr(), true
}
