package netlinux

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/stevedore-io/stevedore/internal/nldump"
	"github.com/stevedore-io/stevedore/network"
)

// Provider is the Linux network.Provider: a named network namespace per
// task, a veth pair whose host end joins a bridge, addresses from an IPAM
// persisted in StateDir, security-group rules as nftables rules inside the task's
// namespace, and published bridge-mode ports as nftables DNAT rules in the
// host namespace. It is safe for concurrent use; calls for different tasks
// run in parallel.
type Provider struct {
	cfg   Config
	log   *slog.Logger
	alloc *network.Allocator
	store *network.FileStore
	nl    *netlink.Handle // netlink socket in the host namespace

	// nft is a lasting nftables connection in the host namespace. A Conn
	// buffers commands until Flush, so batches must not interleave: nftMu
	// serialises them (the kernel serialises commits anyway).
	nftMu sync.Mutex
	nft   *nftables.Conn

	// opMu is held for reading by Setup and Teardown and for writing by
	// Reconcile and Destroy, which look at every task at once.
	opMu  sync.RWMutex
	names keyedMutex // serialises work on one object name

	mu      sync.Mutex
	records map[string]*network.Attachment // by task ID
	byName  map[string]string              // object name -> task ID

	procSys string // /proc/sys; tests point it elsewhere

	// forwarding holds, for tasks set up with DeferReady, a channel
	// closed when the bridge forwards through the task's port (see Ready).
	forwardingMu sync.Mutex
	forwarding   map[string]chan struct{}

	hostMu      sync.Mutex
	hostReady   bool // bridge, sysctls and host table are in place
	localnet    bool // route_localnet is on (bridge mode needs it)
	bridgeIndex int
	nsDirReady  bool
}

var (
	_ network.Provider = (*Provider)(nil)
	_ network.Readier  = (*Provider)(nil)
)

// New returns a Provider for cfg (zero fields take their defaults). It
// loads the IPAM state and the attachment records that an earlier process
// left in StateDir, so tasks set up before a restart keep their addresses
// and host ports and can be torn down. It creates nothing in the kernel:
// the bridge and the host table are created by the first Setup that needs
// them. New needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) for the Provider to
// be usable.
func New(cfg Config) (*Provider, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(cfg.StateDir, "tasks"), 0o755); err != nil {
		return nil, fmt.Errorf("netlinux: create state directory: %w", err)
	}
	store := network.NewFileStore(filepath.Join(cfg.StateDir, "ipam.json"))
	ipam, err := network.NewIPAM(cfg.Subnet, store)
	if err != nil {
		return nil, fmt.Errorf("netlinux: %w", err)
	}
	ports, err := network.NewPortAllocator(network.WithDynamicPorts(cfg.DynamicPorts), network.WithPortProbe(portBusy))
	if err != nil {
		return nil, fmt.Errorf("netlinux: %w", err)
	}
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("netlinux: open netlink: %w", err)
	}
	nft, err := nftables.New(nftables.AsLasting())
	if err != nil {
		h.Close()
		store.Close()
		return nil, fmt.Errorf("netlinux: open nftables: %w", err)
	}
	p := &Provider{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "netlinux", "bridge", cfg.BridgeName),
		alloc:   network.NewAllocator(ipam, ports),
		store:   store,
		nl:      h,
		nft:     nft,
		records: map[string]*network.Attachment{},
		byName:  map[string]string{},
		procSys: "/proc/sys",
	}
	p.loadRecords()
	return p, nil
}

// Close releases the provider's netlink socket and state file. It leaves
// every task's network in place (see Destroy). The provider must not be
// used afterwards.
func (p *Provider) Close() error {
	p.nl.Close()
	return errors.Join(p.nft.CloseLasting(), p.store.Close())
}

// withNFT runs fn with the host nftables connection, one batch at a time.
func (p *Provider) withNFT(fn func(conn *nftables.Conn) error) error {
	p.nftMu.Lock()
	defer p.nftMu.Unlock()
	return fn(p.nft)
}

// Config returns the configuration in use, defaults filled in.
func (p *Provider) Config() Config { return p.cfg }

// Allocator returns the provider's address and port allocator.
func (p *Provider) Allocator() *network.Allocator { return p.alloc }

// Setup creates the task's network; see network.Provider.
func (p *Provider) Setup(ctx context.Context, req network.Request) (*network.Attachment, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p.opMu.RLock()
	defer p.opMu.RUnlock()
	name := objectName(p.cfg.NamePrefix, req.TaskID)
	defer p.names.lock(name)()

	p.mu.Lock()
	_, exists := p.records[req.TaskID]
	other, taken := p.byName[name]
	p.mu.Unlock()
	if exists {
		return nil, fmt.Errorf("netlinux: task %q: %w", req.TaskID, network.ErrExists)
	}
	if taken {
		return nil, fmt.Errorf("netlinux: task %q: %w: its object name %s is used by task %q", req.TaskID, network.ErrConflict, name, other)
	}

	att, err := p.setup(req, name)
	if err != nil {
		p.log.Warn("network setup failed", "task", req.TaskID, "mode", req.Mode, "err", err)
		return nil, err
	}
	p.mu.Lock()
	p.records[req.TaskID] = att
	p.byName[name] = req.TaskID
	p.mu.Unlock()
	if req.DeferReady && req.Mode.HasInterface() {
		p.awaitForwarding(req.TaskID, att.HostInterface)
	}
	p.log.Debug("network set up", "task", req.TaskID, "mode", req.Mode, "name", name, "address", att.Address)
	return att.Clone(), nil
}

// forwardingWait bounds the wait for a bridge port to forward.
const forwardingWait = 2 * time.Second

// awaitForwarding waits in the background for the bridge to forward
// through iface, for Ready.
func (p *Provider) awaitForwarding(taskID, iface string) {
	done := make(chan struct{})
	p.forwardingMu.Lock()
	if p.forwarding == nil {
		p.forwarding = map[string]chan struct{}{}
	}
	p.forwarding[taskID] = done
	p.forwardingMu.Unlock()
	go func() {
		defer close(done)
		if err := waitForwarding(iface, forwardingWait); err != nil {
			p.log.Warn("bridge port is not forwarding yet", "task", taskID, "interface", iface, "err", err)
		}
	}()
}

// Ready implements network.Readier: it waits until the bridge forwards
// through the port of a task set up with DeferReady (at most about two
// seconds after Setup).
func (p *Provider) Ready(ctx context.Context, taskID string) error {
	p.forwardingMu.Lock()
	done := p.forwarding[taskID]
	p.forwardingMu.Unlock()
	if done == nil {
		return nil
	}
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	p.forgetForwarding(taskID, done)
	return nil
}

// forgetForwarding drops the wait of a task (once over, or at teardown).
func (p *Provider) forgetForwarding(taskID string, done chan struct{}) {
	p.forwardingMu.Lock()
	if cur, ok := p.forwarding[taskID]; ok && (done == nil || cur == done) {
		delete(p.forwarding, taskID)
	}
	p.forwardingMu.Unlock()
}

func (p *Provider) setup(req network.Request, name string) (_ *network.Attachment, err error) {
	var undo []func() error
	defer func() {
		if err == nil {
			return
		}
		for i := len(undo) - 1; i >= 0; i-- {
			if uerr := undo[i](); uerr != nil {
				err = errors.Join(err, fmt.Errorf("undo: %w", uerr))
			}
		}
	}()

	a, err := p.alloc.Allocate(req)
	if err != nil {
		return nil, err
	}
	undo = append(undo, func() error { return p.alloc.Release(req.TaskID) })
	att := &network.Attachment{TaskID: req.TaskID, Mode: req.Mode, Address: a.Address, PortBindings: a.Bindings}

	if req.Mode.HasNamespace() {
		if err := p.prepareHost(req.Mode); err != nil {
			return nil, err
		}
		// A crash can leave objects with this name behind; so can a
		// namespace whose teardown the kernel has not finished.
		if err := p.removeObjects(name, allTablesIfExist, true); err != nil {
			return nil, err
		}
		att.NetNSPath = filepath.Join(p.cfg.NetNSDir, name)
		undo = append(undo, func() error { return p.removeObjects(name, allTablesIfExist, true) })
		if req.Mode.HasInterface() {
			att.HostInterface = name
			att.Gateway = p.alloc.IPAM().Gateway()
			mac := macFor(a.Address.Addr())
			att.MAC = mac.String()
			// The guard goes in before the veth exists: the task never
			// sends a frame that it has not filtered.
			err := p.withNFT(func(conn *nftables.Conn) error {
				applyPortGuard(conn, name, mac, a.Address.Addr())
				return conn.Flush()
			})
			if err != nil {
				return nil, fmt.Errorf("netlinux: task %q: guard its bridge port: %w", req.TaskID, err)
			}
		}
		if err := p.createNamespace(req, att); err != nil {
			if req.Mode.HasInterface() {
				p.invalidateHost() // the bridge may have gone away: check it again next time
			}
			return nil, fmt.Errorf("netlinux: task %q: %w", req.TaskID, err)
		}
		if req.Mode == network.ModeBridge && len(att.PortBindings) > 0 {
			err := p.withNFT(func(conn *nftables.Conn) error {
				applyPortForwards(conn, name, att.Address.Addr(), att.PortBindings)
				return conn.Flush()
			})
			if err != nil {
				return nil, fmt.Errorf("netlinux: task %q: publish ports: %w", req.TaskID, err)
			}
			p.forgetUDPFlows(att.PortBindings)
		}
	}

	dir := p.taskDir(name)
	undo = append(undo, func() error { return os.RemoveAll(dir) })
	if err := p.writeFiles(dir, req, att); err != nil {
		return nil, err
	}
	return att, nil
}

// forgetUDPFlows deletes the host's conntrack entries of UDP flows to the
// host ports of bindings. A client that keeps sending from the same
// address and port keeps its entry alive, and with it the DNAT to the
// previous task that published the port; without this the new task would
// never see that client's datagrams. Failures (no conntrack support) are
// logged: the ports are published all the same.
func (p *Provider) forgetUDPFlows(bindings []network.PortBinding) {
	var filters []netlink.CustomConntrackFilter
	for _, b := range bindings {
		if b.Protocol != network.ProtocolUDP {
			continue
		}
		f := &netlink.ConntrackFilter{}
		if err := f.AddProtocol(unix.IPPROTO_UDP); err != nil {
			continue
		}
		if err := f.AddPort(netlink.ConntrackOrigDstPort, b.HostPort); err != nil {
			continue
		}
		filters = append(filters, f)
	}
	if len(filters) == 0 {
		return
	}
	if _, err := p.nl.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, filters...); err != nil {
		p.log.Debug("cannot delete stale UDP conntrack entries", "err", err)
	}
}

// createNamespace creates the task's namespace and, in awsvpc and bridge
// mode, its veth pair, address, route and security-group rules. The work inside
// the namespace runs on a thread that is discarded afterwards.
func (p *Provider) createNamespace(req network.Request, att *network.Attachment) error {
	p.hostMu.Lock()
	bridgeIndex := p.bridgeIndex
	p.hostMu.Unlock()
	return onFreshThread(func() error {
		if err := enterNewNetNS(att.NetNSPath); err != nil {
			return err
		}
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE) // bound to the new namespace
		if err != nil {
			return fmt.Errorf("open netlink in namespace: %w", err)
		}
		defer h.Close()
		lo := &netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: 1, Name: "lo"}}
		if err := h.LinkSetAlias(lo, label(req.TaskID)); err != nil {
			return fmt.Errorf("label loopback: %w", err)
		}
		if err := h.LinkSetUp(lo); err != nil {
			return fmt.Errorf("bring up loopback: %w", err)
		}
		if !req.Mode.HasInterface() {
			return nil
		}

		nsfd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open namespace: %w", err)
		}
		defer unix.Close(nsfd)
		la := netlink.NewLinkAttrs()
		la.Name = att.HostInterface
		la.Alias = label(req.TaskID)
		la.MTU = p.cfg.MTU
		la.Flags = net.FlagUp
		la.MasterIndex = bridgeIndex
		mac := macFor(att.Address.Addr())
		veth := &netlink.Veth{LinkAttrs: la, PeerName: "eth0", PeerNamespace: netlink.NsFd(nsfd), PeerHardwareAddr: mac}
		if err := p.nl.LinkAdd(veth); err != nil { // host socket: the host end stays in the host
			return fmt.Errorf("create veth %s: %w", la.Name, err)
		}
		// The kernel ignores an alias given at creation; set it now.
		if err := p.nl.LinkSetAlias(veth, la.Alias); err != nil {
			return fmt.Errorf("label veth %s: %w", la.Name, err)
		}

		eth0, err := h.LinkByName("eth0")
		if err != nil {
			return fmt.Errorf("find eth0: %w", err)
		}
		ipnet := &net.IPNet{IP: att.Address.Addr().AsSlice(), Mask: net.CIDRMask(att.Address.Bits(), 32)}
		if err := h.AddrAdd(eth0, &netlink.Addr{IPNet: ipnet}); err != nil {
			return fmt.Errorf("add address %s to eth0: %w", att.Address, err)
		}
		if err := h.LinkSetUp(eth0); err != nil {
			return fmt.Errorf("bring up eth0: %w", err)
		}
		route := &netlink.Route{LinkIndex: eth0.Attrs().Index, Gw: att.Gateway.AsSlice()}
		if err := h.RouteAdd(route); err != nil {
			return fmt.Errorf("add default route via %s: %w", att.Gateway, err)
		}
		if req.Ingress != nil {
			conn, err := policyConn() // dials from this thread, in the task's namespace
			if err != nil {
				return err
			}
			if err := applyIngress(conn, req.Ingress); err != nil {
				return fmt.Errorf("install security-group rules: %w", err)
			}
			if err := conn.Flush(); err != nil {
				return fmt.Errorf("install security-group rules: %w", err)
			}
		}
		// The bridge starts forwarding through the port only once the
		// kernel's link watcher has seen the carrier come up, a moment after
		// eth0 is up; until then the task's first packets are dropped and
		// its first connection waits a second for a SYN retransmission.
		// Waiting last overlaps that moment with the work above; with
		// DeferReady the caller's work overlaps it too (see Ready).
		if req.DeferReady {
			return nil
		}
		if err := waitForwarding(att.HostInterface, forwardingWait); err != nil {
			p.log.Warn("bridge port is not forwarding yet", "task", req.TaskID, "interface", att.HostInterface, "err", err)
		}
		return nil
	})
}

// macFor derives eth0's MAC from the task's address (locally administered,
// like Docker's 02:42:a.b.c.d), so the MAC is known before the link exists.
func macFor(addr netip.Addr) net.HardwareAddr {
	b := addr.As4()
	return net.HardwareAddr{0x02, 0x42, b[0], b[1], b[2], b[3]}
}

// prepareHost makes sure what mode needs in the host exists: the netns
// directory, and for awsvpc and bridge the bridge, its sysctls and the host
// table.
func (p *Provider) prepareHost(mode network.Mode) error {
	p.hostMu.Lock()
	defer p.hostMu.Unlock()
	if !p.nsDirReady {
		if err := ensureNetNSDir(p.cfg.NetNSDir); err != nil {
			return fmt.Errorf("netlinux: %w", err)
		}
		p.nsDirReady = true
	}
	if !mode.HasInterface() {
		return nil
	}
	if p.hostReady {
		// One cheap lookup notices a bridge deleted behind our back.
		link, err := p.nl.LinkByIndex(p.bridgeIndex)
		if err == nil && link.Attrs().Name == p.cfg.BridgeName {
			return p.enableLocalnet(mode)
		}
		p.log.Warn("bridge vanished; creating it again")
		p.hostReady, p.localnet = false, false
	}
	idx, err := p.ensureBridge()
	if err != nil {
		return fmt.Errorf("netlinux: bridge %s: %w", p.cfg.BridgeName, err)
	}
	if err := p.enableLocalnet(mode); err != nil {
		return err
	}
	// IPv4 checks the forwarding flag of the interface a packet arrives on:
	// setting it on the bridge alone lets tasks' packets be routed (to
	// another task's published port through the host, or out of the host)
	// without making the host a router for its other interfaces.
	if err := writeSysctl(p.procSys, "net/ipv4/conf/"+p.cfg.BridgeName+"/forwarding", "1"); err != nil {
		return fmt.Errorf("netlinux: %w", err)
	}
	if p.cfg.EnableIPForward {
		if err := writeSysctl(p.procSys, "net/ipv4/ip_forward", "1"); err != nil {
			return fmt.Errorf("netlinux: %w", err)
		}
	}
	err = p.withNFT(func(conn *nftables.Conn) error {
		applyHostNAT(conn, p.cfg.NamePrefix, p.cfg.BridgeName, p.cfg.Subnet)
		return conn.Flush()
	})
	if err != nil {
		return fmt.Errorf("netlinux: install host table %s: %w", hostTableName(p.cfg.NamePrefix), err)
	}
	p.bridgeIndex = idx
	p.hostReady = true
	p.log.Info("host network ready", "subnet", p.cfg.Subnet, "gateway", p.alloc.IPAM().Gateway())
	return nil
}

// enableLocalnet turns route_localnet on for the bridge the first time a
// bridge-mode task needs it; p.hostMu is held. Connections from the host to
// 127.0.0.1:<published port> are DNATed to a task and leave through the
// bridge with a loopback source; the kernel drops those unless
// route_localnet is set (the host table then masquerades them to the
// bridge address). Only bridge mode publishes ports, so only it turns
// route_localnet on; what it would otherwise let in from tasks, packets
// for 127.0.0.0/8, the host table's guard chain and every task's port
// guard drop.
func (p *Provider) enableLocalnet(mode network.Mode) error {
	if mode != network.ModeBridge || p.localnet {
		return nil
	}
	if err := writeSysctl(p.procSys, "net/ipv4/conf/"+p.cfg.BridgeName+"/route_localnet", "1"); err != nil {
		return fmt.Errorf("netlinux: %w", err)
	}
	p.localnet = true
	return nil
}

func (p *Provider) invalidateHost() {
	p.hostMu.Lock()
	p.hostReady = false
	p.hostMu.Unlock()
}

// ensureBridge creates the bridge when missing, gives it the gateway
// address and brings it up; it returns the bridge's index.
func (p *Provider) ensureBridge() (int, error) {
	link, err := p.nl.LinkByName(p.cfg.BridgeName)
	var notFound netlink.LinkNotFoundError
	if errors.As(err, &notFound) {
		la := netlink.NewLinkAttrs()
		la.Name = p.cfg.BridgeName
		la.MTU = p.cfg.MTU
		if err := p.nl.LinkAdd(&netlink.Bridge{LinkAttrs: la}); err != nil && !errors.Is(err, unix.EEXIST) {
			return 0, fmt.Errorf("create: %w", err)
		}
		p.log.Info("bridge created")
		link, err = p.nl.LinkByName(p.cfg.BridgeName)
	}
	if err != nil {
		return 0, fmt.Errorf("look up: %w", err)
	}
	if link.Type() != "bridge" {
		return 0, fmt.Errorf("%w: %s is a %s, not a bridge", network.ErrConflict, p.cfg.BridgeName, link.Type())
	}
	gw := netip.PrefixFrom(p.alloc.IPAM().Gateway(), p.cfg.Subnet.Bits())
	addrs, err := nldump.Retry(func() ([]netlink.Addr, error) { return p.nl.AddrList(link, unix.AF_INET) })
	if err != nil {
		return 0, fmt.Errorf("list addresses: %w", err)
	}
	if !slices.ContainsFunc(addrs, func(a netlink.Addr) bool { return prefixOf(a.IPNet) == gw }) {
		ipnet := &net.IPNet{IP: gw.Addr().AsSlice(), Mask: net.CIDRMask(gw.Bits(), 32)}
		if err := p.nl.AddrAdd(link, &netlink.Addr{IPNet: ipnet}); err != nil && !errors.Is(err, unix.EEXIST) {
			return 0, fmt.Errorf("add address %s: %w", gw, err)
		}
	}
	// A bridge without an address of its own takes the lowest MAC of its
	// ports and changes it when that port goes away: tasks then hold a
	// stale gateway MAC and their connections stall. Pin it, derived from
	// the gateway address (locally administered), as Docker and CNI do.
	gwb := gw.Addr().As4()
	mac := net.HardwareAddr{0x02, 0x53, gwb[0], gwb[1], gwb[2], gwb[3]}
	if !bytes.Equal(link.Attrs().HardwareAddr, mac) {
		if err := p.nl.LinkSetHardwareAddr(link, mac); err != nil {
			return 0, fmt.Errorf("set MAC %s: %w", mac, err)
		}
	}
	if err := p.nl.LinkSetUp(link); err != nil {
		return 0, fmt.Errorf("bring up: %w", err)
	}
	return link.Attrs().Index, nil
}

// tableRemoval says what removeObjects does with a port-forward table.
type tableRemoval int

const (
	tableKeep     tableRemoval = iota // the task has none
	tableIfExists                     // look first: deleting costs a commit
	tableDelete                       // the task has one
)

// taskTables says which of a task's nftables tables, both named after the
// task, removeObjects removes: its published ports (family ip) and its
// bridge port's guard (family bridge).
type taskTables struct{ ports, guard tableRemoval }

// allTablesIfExist removes whichever of a task's tables exist.
var allTablesIfExist = taskTables{ports: tableIfExists, guard: tableIfExists}

// removeObjects removes the kernel objects named name: the task's nftables
// tables, the namespace and, with veth, the veth's host end (which the
// kernel otherwise removes on its own, shortly after the namespace goes).
// The tables go in one commit.
func (p *Provider) removeObjects(name string, tables taskTables, veth bool) error {
	var errs []error
	if tables.ports != tableKeep || tables.guard != tableKeep {
		errs = append(errs, p.withNFT(func(conn *nftables.Conn) error {
			queued := false
			for _, tb := range []struct {
				family nftables.TableFamily
				how    tableRemoval
			}{{nftables.TableFamilyIPv4, tables.ports}, {nftables.TableFamilyBridge, tables.guard}} {
				if tb.how == tableKeep {
					continue
				}
				if tb.how == tableIfExists {
					_, err := conn.ListTableOfFamily(name, tb.family)
					if errors.Is(err, unix.ENOENT) {
						continue
					}
				}
				t := &nftables.Table{Family: tb.family, Name: name}
				conn.AddTable(t)
				conn.DelTable(t)
				queued = true
			}
			if !queued {
				return nil
			}
			if err := conn.Flush(); err != nil {
				return fmt.Errorf("delete nftables tables %s: %w", name, err)
			}
			return nil
		}))
	}
	errs = append(errs, deleteNetNS(filepath.Join(p.cfg.NetNSDir, name)))
	if veth {
		link, err := p.nl.LinkByName(name)
		var notFound netlink.LinkNotFoundError
		switch {
		case errors.As(err, &notFound):
		case err != nil:
			errs = append(errs, fmt.Errorf("look up veth %s: %w", name, err))
		default:
			if err := p.nl.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
				errs = append(errs, fmt.Errorf("delete veth %s: %w", name, err))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("netlinux: remove %s: %w", name, err)
	}
	return nil
}

// Teardown removes the task's network; see network.Provider. The host's end
// of the veth is deleted (its pair with it), and the namespace is unmounted:
// the kernel deletes it once the task's processes are gone; call Teardown
// after the containers stopped.
func (p *Provider) Teardown(ctx context.Context, taskID string) error {
	if err := network.ValidateTaskID(taskID); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	p.opMu.RLock()
	defer p.opMu.RUnlock()
	return p.teardown(taskID)
}

func (p *Provider) teardown(taskID string) error {
	p.forgetForwarding(taskID, nil)
	name := objectName(p.cfg.NamePrefix, taskID)
	defer p.names.lock(name)()
	p.mu.Lock()
	rec := p.records[taskID]
	owner, taken := p.byName[name]
	p.mu.Unlock()

	if !taken || owner == taskID {
		// Without a record (a crash during Setup) the objects may exist all
		// the same: remove by name.
		switch {
		case rec == nil:
			if err := p.removeObjects(name, allTablesIfExist, true); err != nil {
				return err
			}
		case rec.Mode.HasNamespace():
			var tables taskTables
			if rec.Mode == network.ModeBridge && len(rec.PortBindings) > 0 {
				tables.ports = tableDelete
			}
			if rec.Mode.HasInterface() {
				tables.guard = tableDelete
			}
			// The host's end of the veth is deleted too, not left to the
			// kernel's destruction of the namespace: that waits for
			// whatever still holds the namespace, and on a busy host it
			// outlived the task by more than a minute.
			if err := p.removeObjects(name, tables, rec.Mode.HasInterface()); err != nil {
				return err
			}
		}
		if err := os.RemoveAll(p.taskDir(name)); err != nil {
			return fmt.Errorf("netlinux: remove files of task %q: %w", taskID, err)
		}
	}
	if err := p.alloc.Release(taskID); err != nil {
		return fmt.Errorf("netlinux: %w", err)
	}
	p.mu.Lock()
	delete(p.records, taskID)
	if owner == taskID {
		delete(p.byName, name)
	}
	p.mu.Unlock()
	if rec != nil {
		p.log.Debug("network torn down", "task", taskID, "name", name)
	}
	return nil
}

// Attachment returns a task's attachment; see network.Provider.
func (p *Provider) Attachment(_ context.Context, taskID string) (*network.Attachment, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	att, ok := p.records[taskID]
	if !ok {
		return nil, fmt.Errorf("netlinux: task %q: %w", taskID, network.ErrNotFound)
	}
	return att.Clone(), nil
}

// TaskIDs returns the tasks that have an attachment, sorted.
func (p *Provider) TaskIDs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Sorted(maps.Keys(p.records))
}

func (p *Provider) taskDir(name string) string {
	return filepath.Join(p.cfg.StateDir, "tasks", name)
}

const recordFile = "attachment.json"

// writeFiles writes the task's hosts and resolv.conf and, last, its
// attachment record. Plain writes suffice: the directory is new, and a
// record torn by a crash is skipped when loaded (Reconcile then goes by the
// namespace's label).
func (p *Provider) writeFiles(dir string, req network.Request, att *network.Attachment) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("netlinux: create %s: %w", dir, err)
	}
	hostResolv, err := os.ReadFile(p.cfg.HostResolvConf)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		p.log.Warn("cannot read the host's resolver configuration", "path", p.cfg.HostResolvConf, "err", err)
	}
	att.HostsPath = filepath.Join(dir, "hosts")
	att.ResolvConfPath = filepath.Join(dir, "resolv.conf")
	record, err := json.MarshalIndent(att, "", "  ")
	if err != nil {
		return fmt.Errorf("netlinux: encode attachment: %w", err)
	}
	for _, f := range []struct {
		path string
		data []byte
	}{
		{att.HostsPath, network.RenderHosts(req.Hostname, att.Address.Addr(), req.ExtraHosts)},
		{att.ResolvConfPath, network.RenderResolvConf(req.DNS, hostResolv, req.Mode.HasNamespace())},
		{filepath.Join(dir, recordFile), append(record, '\n')},
	} {
		if err := os.WriteFile(f.path, f.data, 0o644); err != nil {
			return fmt.Errorf("netlinux: task %q: %w", att.TaskID, err)
		}
	}
	return nil
}

// loadRecords reads the attachment records an earlier process wrote and
// reserves their host ports again. A record that cannot be read or
// restored is logged and skipped; Reconcile then treats its objects as
// leftovers.
func (p *Provider) loadRecords() {
	dirs, err := os.ReadDir(filepath.Join(p.cfg.StateDir, "tasks"))
	if err != nil {
		p.log.Warn("cannot list attachment records", "err", err)
		return
	}
	for _, d := range dirs {
		path := filepath.Join(p.cfg.StateDir, "tasks", d.Name(), recordFile)
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		var att network.Attachment
		if err == nil {
			err = json.Unmarshal(b, &att)
		}
		if err == nil && objectName(p.cfg.NamePrefix, att.TaskID) != d.Name() {
			err = fmt.Errorf("record of task %q is in the directory of another name", att.TaskID)
		}
		if err == nil {
			err = p.alloc.Restore(&att)
		}
		if err != nil {
			p.log.Warn("skipping attachment record", "path", path, "err", err)
			continue
		}
		p.records[att.TaskID] = &att
		p.byName[d.Name()] = att.TaskID
	}
}

// portBusy reports whether something on the host is bound to a port, by
// trying to bind it.
func portBusy(proto network.Protocol, port uint16) bool {
	addr := ":" + strconv.Itoa(int(port))
	if proto == network.ProtocolUDP {
		c, err := net.ListenPacket("udp", addr)
		if err != nil {
			return true
		}
		c.Close()
		return false
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return true
	}
	l.Close()
	return false
}

// keyedMutex is a set of mutexes by name, created on demand.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*keyedEntry
}

type keyedEntry struct {
	mu   sync.Mutex
	refs int
}

// lock locks name and returns the unlock function.
func (k *keyedMutex) lock(name string) func() {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyedEntry{}
	}
	e := k.m[name]
	if e == nil {
		e = &keyedEntry{}
		k.m[name] = e
	}
	e.refs++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		e.refs--
		if e.refs == 0 {
			delete(k.m, name)
		}
		k.mu.Unlock()
	}
}
