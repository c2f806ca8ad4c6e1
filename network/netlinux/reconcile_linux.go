package netlinux

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/stevedore-io/stevedore/internal/nldump"
)

// Reconcile tears down every task for which keep returns false and removes
// leftovers; see network.Provider. The tasks it considers are those with an
// attachment record, those with an address in the IPAM (a crash during
// Setup leaves an address but no record), and those named by the label on
// the loopback of a namespace carrying the provider's prefix. Namespaces,
// veths and host nftables tables with the prefix that belong to no kept task
// are removed, as are stale task directories in StateDir. It waits for
// Setup and Teardown calls in flight, and they wait for it.
func (p *Provider) Reconcile(ctx context.Context, keep func(taskID string) bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.opMu.Lock()
	defer p.opMu.Unlock()
	return p.reconcile(keep)
}

func (p *Provider) reconcile(keep func(string) bool) error {
	prefix := p.cfg.NamePrefix
	objs, err := p.listObjects()
	if err != nil {
		return err
	}

	tasks := map[string]bool{} // task ID -> seen
	p.mu.Lock()
	for id := range p.records {
		tasks[id] = true
	}
	p.mu.Unlock()
	for id := range p.alloc.IPAM().Allocations() {
		tasks[id] = true
	}
	named := map[string]bool{}
	for id := range tasks {
		named[objectName(prefix, id)] = true
	}
	lostAddrs := map[string]netip.Addr{} // tasks known only from a label
	for _, ns := range objs.netns {
		if named[ns] {
			continue
		}
		id, addr, ok := p.readLabel(ns)
		if ok && objectName(prefix, id) == ns {
			tasks[id] = true
			named[ns] = true
			lostAddrs[id] = addr
		}
	}

	var errs []error
	keptNames := map[string]bool{}
	for _, id := range slices.Sorted(maps.Keys(tasks)) {
		if keep(id) {
			keptNames[objectName(prefix, id)] = true
			if addr, lost := lostAddrs[id]; lost && addr.IsValid() {
				// The namespace still uses the address: take it back so that
				// no other task gets it.
				if err := p.alloc.IPAM().Reserve(id, addr); err != nil {
					p.log.Warn("reconcile: cannot reserve the address of a kept task", "task", id, "address", addr, "err", err)
				}
			}
			continue
		}
		p.log.Info("reconcile: tearing down the network of a task that is not kept", "task", id)
		errs = append(errs, p.teardown(id))
	}

	removeIfOrphan := func(kind, name string, remove func() error) {
		if keptNames[name] {
			return
		}
		p.log.Info("reconcile: removing a leftover", "kind", kind, "name", name)
		if err := remove(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, name := range objs.tables {
		removeIfOrphan("nftables table", name, func() error {
			return p.withNFT(func(conn *nftables.Conn) error {
				return deleteTable(conn, nftables.TableFamilyIPv4, name)
			})
		})
	}
	for _, name := range objs.guards {
		removeIfOrphan("nftables bridge table", name, func() error {
			return p.withNFT(func(conn *nftables.Conn) error {
				return deleteTable(conn, nftables.TableFamilyBridge, name)
			})
		})
	}
	for _, name := range objs.netns {
		removeIfOrphan("namespace", name, func() error { return deleteNetNS(filepath.Join(p.cfg.NetNSDir, name)) })
	}
	for _, link := range objs.veths {
		removeIfOrphan("veth", link.Attrs().Name, func() error {
			if err := p.nl.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
				return fmt.Errorf("delete veth %s: %w", link.Attrs().Name, err)
			}
			return nil
		})
	}
	dirs, err := os.ReadDir(filepath.Join(p.cfg.StateDir, "tasks"))
	if err != nil {
		errs = append(errs, err)
	}
	for _, d := range dirs {
		if isObjectName(prefix, d.Name()) {
			removeIfOrphan("task directory", d.Name(), func() error { return os.RemoveAll(p.taskDir(d.Name())) })
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("netlinux: reconcile: %w", err)
	}
	return nil
}

// objects are the kernel objects carrying the provider's prefix.
type objects struct {
	netns  []string
	veths  []netlink.Link
	tables []string // family ip: published ports
	guards []string // family bridge: bridge port guards
}

func (p *Provider) listObjects() (objects, error) {
	var o objects
	var err error
	if o.netns, err = listNetNS(p.cfg.NetNSDir, p.cfg.NamePrefix); err != nil {
		return o, fmt.Errorf("netlinux: %w", err)
	}
	links, err := nldump.Retry(p.nl.LinkList)
	if err != nil {
		return o, fmt.Errorf("netlinux: list links: %w", err)
	}
	for _, l := range links {
		if l.Type() == "veth" && isObjectName(p.cfg.NamePrefix, l.Attrs().Name) {
			o.veths = append(o.veths, l)
		}
	}
	for _, f := range []struct {
		family nftables.TableFamily
		into   *[]string
	}{{nftables.TableFamilyIPv4, &o.tables}, {nftables.TableFamilyBridge, &o.guards}} {
		var tables []string
		err = p.withNFT(func(conn *nftables.Conn) (err error) {
			tables, err = listTables(conn, f.family, p.cfg.NamePrefix)
			return err
		})
		if err != nil {
			return o, fmt.Errorf("netlinux: %w", err)
		}
		for _, t := range tables {
			if isObjectName(p.cfg.NamePrefix, t) {
				*f.into = append(*f.into, t)
			}
		}
	}
	return o, nil
}

// readLabel returns the task ID in the alias of the loopback of the
// namespace name, and eth0's IPv4 address when it has one.
func (p *Provider) readLabel(name string) (taskID string, addr netip.Addr, ok bool) {
	var alias string
	err := onFreshThread(func() error {
		if err := enterNetNS(filepath.Join(p.cfg.NetNSDir, name)); err != nil {
			return err
		}
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			return err
		}
		defer h.Close()
		lo, err := h.LinkByIndex(1)
		if err != nil {
			return err
		}
		alias = lo.Attrs().Alias
		eth0, err := h.LinkByName("eth0")
		if err != nil {
			return nil // none mode
		}
		addrs, err := nldump.Retry(func() ([]netlink.Addr, error) { return h.AddrList(eth0, unix.AF_INET) })
		if err == nil && len(addrs) > 0 {
			addr = prefixOf(addrs[0].IPNet).Addr()
		}
		return nil
	})
	if err != nil {
		p.log.Debug("cannot read the label of a namespace", "name", name, "err", err)
		return "", netip.Addr{}, false
	}
	taskID, ok = taskFromLabel(alias)
	return taskID, addr, ok
}

// Destroy tears down every task's network and removes the bridge and the
// provider's host table: what an instance leaving the cluster (or a test)
// does. The provider can still be used afterwards; the next Setup creates
// the bridge again.
func (p *Provider) Destroy(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.opMu.Lock()
	defer p.opMu.Unlock()
	errs := []error{p.reconcile(func(string) bool { return false })}
	errs = append(errs, p.withNFT(func(conn *nftables.Conn) error {
		return deleteTable(conn, nftables.TableFamilyIPv4, hostTableName(p.cfg.NamePrefix))
	}))
	link, err := p.nl.LinkByName(p.cfg.BridgeName)
	var notFound netlink.LinkNotFoundError
	switch {
	case errors.As(err, &notFound):
	case err != nil:
		errs = append(errs, err)
	case link.Type() == "bridge":
		if err := p.nl.LinkDel(link); err != nil {
			errs = append(errs, fmt.Errorf("delete bridge %s: %w", p.cfg.BridgeName, err))
		}
	}
	p.invalidateHost()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("netlinux: destroy: %w", err)
	}
	return nil
}
