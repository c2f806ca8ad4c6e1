package netlinux

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/stevedore-io/stevedore/network"
)

// ingressTableName is the table inside a task's namespace that holds its
// security-group policy (both directions).
const ingressTableName = "stevedore"

// applyIngress installs policy in the namespace of the calling thread (conn
// must have been created there): an inet table whose input chain drops what
// no inbound rule accepts and, when the policy restricts egress, whose
// output chain drops what no outbound rule accepts. The table replaces any
// earlier one in the same batch, so that a new policy takes over
// atomically, in both directions at once.
//
//	table inet stevedore {
//	  chain input {
//	    type filter hook input priority filter; policy drop;
//	    iifname "lo" accept
//	    ct state established,related accept
//	    meta nfproto ipv4 [meta l4proto P] [th dport A-B] [ip saddr S] accept   # one per rule and source
//	  }
//	  chain output {   # only when policy.Egress is not nil
//	    type filter hook output priority filter; policy drop;
//	    oifname "lo" accept
//	    ct state established,related accept
//	    meta nfproto ipv4 [meta l4proto P] [th dport A-B] [ip daddr D] accept   # one per rule and destination
//	  }
//	}
//
// Nothing else is allowed implicitly: with egress restricted, DNS queries
// to the task's resolver need a rule.
// Replies to connections a chain accepted pass the other chain as
// established. IPv6 matches no rule and meets the drop policy.
//
// A rule with several peers matches them with one lookup in an anonymous
// interval set ("ip saddr { 10.0.0.0/8, 10.88.0.7 }"), so that a rule
// naming a group of many members stays one rule.
func applyIngress(conn *nftables.Conn, policy *network.IngressPolicy) error {
	t := &nftables.Table{Family: nftables.TableFamilyINet, Name: ingressTableName}
	replaceTable(conn, t)
	if err := addFilterChain(conn, t, "input", nftables.ChainHookInput, expr.MetaKeyIIFNAME, 12, policyRules(policy.Rules)); err != nil {
		return err
	}
	if policy.Egress != nil {
		return addFilterChain(conn, t, "output", nftables.ChainHookOutput, expr.MetaKeyOIFNAME, 16, policyEgressRules(policy.Egress.Rules))
	}
	return nil
}

// policyConn opens an nftables connection from the calling thread (so in
// its network namespace) whose socket can send a whole policy in one
// transaction and take the kernel's answers to it. A transaction is one
// sendmsg, and the default socket send buffer (net.core.wmem_default, 208
// KiB) holds about 200 rules; a task in five groups of sixty permissions
// needs 300, with both directions more. The kernel answers every rule
// (the library asks for an echo), which overflows the default receive
// buffer as much. SO_SNDBUFFORCE and SO_RCVBUFFORCE (CAP_NET_ADMIN) pass
// net.core.wmem_max and rmem_max by, as nft itself does for large
// batches.
func policyConn() (*nftables.Conn, error) {
	conn, err := nftables.New(nftables.WithSockOptions(func(c *netlink.Conn) error {
		raw, err := c.SyscallConn()
		if err != nil {
			return err
		}
		var serr error
		if err := raw.Control(func(fd uintptr) {
			serr = errors.Join(
				unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, policySocketBuffer),
				unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, policySocketBuffer))
		}); err != nil {
			return err
		}
		return serr
	}))
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	return conn, nil
}

// policySocketBuffer is the size of policyConn's send and receive
// buffers: room for a few thousand rules (about 1 KiB each) and many more
// set elements.
const policySocketBuffer = 4 << 20

// filterRule is a rule of either direction as the chains need it.
type filterRule struct {
	proto    network.Protocol
	from, to uint16
	peers    []netip.Prefix
}

func policyRules(rs []network.IngressRule) []filterRule {
	out := make([]filterRule, len(rs))
	for i, r := range rs {
		from, to := r.PortRange()
		out[i] = filterRule{r.Protocol, from, to, r.Sources}
	}
	return out
}

func policyEgressRules(rs []network.EgressRule) []filterRule {
	out := make([]filterRule, len(rs))
	for i, r := range rs {
		from, to := r.PortRange()
		out[i] = filterRule{r.Protocol, from, to, r.Destinations}
	}
	return out
}

// addFilterChain adds a base chain with policy drop on hook that accepts
// loopback traffic (ifKey names the interface: the input or the output
// one), packets of known connections, and what rules allow, matching each
// rule's peers at peerOffset of the IPv4 header (12: source, 16:
// destination).
func addFilterChain(conn *nftables.Conn, t *nftables.Table, name string, hook *nftables.ChainHook, ifKey expr.MetaKey, peerOffset uint32, rules []filterRule) error {
	drop := nftables.ChainPolicyDrop
	c := conn.AddChain(&nftables.Chain{
		Name: name, Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: hook, Priority: nftables.ChainPriorityFilter, Policy: &drop,
	})
	add := func(exprs ...expr.Any) {
		conn.AddRule(&nftables.Rule{Table: t, Chain: c, Exprs: append(exprs, accept())})
	}
	add(matchIfname(ifKey, "lo", expr.CmpOpEq)...)
	add(matchCtState(expr.CtStateBitESTABLISHED | expr.CtStateBitRELATED)...)
	for _, r := range rules {
		base := []expr.Any{
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
		}
		switch r.proto {
		case network.ProtocolTCP, network.ProtocolUDP:
			base = append(base, matchL4Proto(r.proto)...)
			base = append(base,
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
				&expr.Range{Op: expr.CmpOpEq, Register: 1, FromData: binaryutil.BigEndian.PutUint16(r.from), ToData: binaryutil.BigEndian.PutUint16(r.to)},
			)
		case network.ProtocolICMP:
			base = append(base, matchL4Proto(r.proto)...)
		}
		if len(r.peers) == 0 {
			continue // matches no one
		}
		peers, err := matchPeers(conn, t, peerOffset, r.peers)
		if err != nil {
			return err
		}
		add(append(base, peers...)...)
	}
	return nil
}

// matchPeers matches the IPv4 address at offset of the network header
// (12: source, 16: destination) against peers: nothing when one of them is
// /0, a prefix match for a single peer, and a lookup in an anonymous
// interval set of the merged peers otherwise.
func matchPeers(conn *nftables.Conn, t *nftables.Table, offset uint32, peers []netip.Prefix) ([]expr.Any, error) {
	if len(peers) == 1 {
		return matchPrefix(offset, peers[0]), nil
	}
	ranges := mergeRanges(peers)
	if len(ranges) == 1 && ranges[0] == (addrRange{0, math.MaxUint32}) {
		return nil, nil
	}
	// The ID and name are set here: the library would take the ID from a
	// package counter that it increments without a lock (a data race
	// between providers, or tasks, applying policies at once). The ID
	// only has to be unique in the transaction; the kernel names the set.
	set := &nftables.Set{
		Table: t, ID: setIDs.Add(1), Name: "__set%d",
		Anonymous: true, Constant: true, Interval: true, KeyType: nftables.TypeIPAddr,
	}
	if err := conn.AddSet(set, intervalElements(ranges)); err != nil {
		return nil, fmt.Errorf("nftables set: %w", err)
	}
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Lookup{SourceRegister: 1, SetName: set.Name, SetID: set.ID},
	}, nil
}

// setIDs numbers the anonymous sets of policies.
var setIDs atomic.Uint32

// addrRange is an inclusive range of IPv4 addresses.
type addrRange struct{ lo, hi uint32 }

// mergeRanges returns the addresses of prefixes as sorted ranges that
// neither overlap nor touch (the kernel refuses overlapping intervals).
func mergeRanges(prefixes []netip.Prefix) []addrRange {
	rs := make([]addrRange, 0, len(prefixes))
	for _, p := range prefixes {
		p = p.Masked()
		lo := binary.BigEndian.Uint32(p.Addr().AsSlice())
		rs = append(rs, addrRange{lo, lo | uint32(uint64(1)<<(32-p.Bits())-1)})
	}
	slices.SortFunc(rs, func(a, b addrRange) int { return cmp.Compare(a.lo, b.lo) })
	out := rs[:0]
	for _, r := range rs {
		if n := len(out); n > 0 && (r.lo <= out[n-1].hi || out[n-1].hi != math.MaxUint32 && r.lo == out[n-1].hi+1) {
			out[n-1].hi = max(out[n-1].hi, r.hi)
			continue
		}
		out = append(out, r)
	}
	return out
}

// intervalElements encodes ranges as an interval set's elements, as nft
// does: each range's first address, and the address after its last
// flagged as an interval end (none after 255.255.255.255), preceded by an
// interval end at 0.0.0.0 when the first range starts above it.
func intervalElements(ranges []addrRange) []nftables.SetElement {
	var els []nftables.SetElement
	if len(ranges) > 0 && ranges[0].lo != 0 {
		els = append(els, nftables.SetElement{Key: binaryutil.BigEndian.PutUint32(0), IntervalEnd: true})
	}
	for _, r := range ranges {
		els = append(els, nftables.SetElement{Key: binaryutil.BigEndian.PutUint32(r.lo)})
		if r.hi != math.MaxUint32 {
			els = append(els, nftables.SetElement{Key: binaryutil.BigEndian.PutUint32(r.hi + 1), IntervalEnd: true})
		}
	}
	return els
}

// applyHostNAT (re)creates the provider's host table:
//
//	table ip <prefix>host {
//	  chain guard {
//	    type filter hook prerouting priority filter;
//	    iifname BRIDGE ip saddr != SUBNET drop                                   # forged sources
//	    iifname BRIDGE ip daddr 127.0.0.0/8 ct state != established,related drop # CVE-2020-8558
//	  }
//	  chain postrouting {
//	    type nat hook postrouting priority srcnat;
//	    oifname BRIDGE ip saddr 127.0.0.0/8 masquerade             # host -> 127.0.0.1:published port
//	    oifname BRIDGE ip saddr SUBNET ct status dnat masquerade   # task -> host:published port (hairpin)
//	    oifname != BRIDGE ip saddr SUBNET masquerade               # egress (needs ip_forward)
//	  }
//	}
//
// The guard chain backs up each task's port guard (applyPortGuard) at the
// routing layer. route_localnet on the bridge makes the kernel accept
// packets addressed to 127.0.0.0/8 that arrive on it; the only ones that
// may are replies to the host's own connections to 127.0.0.1:<published
// port>, which conntrack has seen leave (their destination was the
// masqueraded loopback source, restored before this chain runs).
func applyHostNAT(conn *nftables.Conn, prefix, bridge string, subnet netip.Prefix) {
	t := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: hostTableName(prefix)}
	replaceTable(conn, t)
	guard := conn.AddChain(&nftables.Chain{
		Name: "guard", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityFilter,
	})
	fromBridge := matchIfname(expr.MetaKeyIIFNAME, bridge, expr.CmpOpEq)
	if subnet.Bits() > 0 {
		conn.AddRule(&nftables.Rule{Table: t, Chain: guard, Exprs: concat(fromBridge, notPrefix(12, subnet), drop())})
	}
	conn.AddRule(&nftables.Rule{Table: t, Chain: guard, Exprs: concat(fromBridge,
		matchPrefix(16, netip.MustParsePrefix("127.0.0.0/8")),
		[]expr.Any{
			&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
				Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitESTABLISHED | expr.CtStateBitRELATED), Xor: make([]byte, 4)},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: make([]byte, 4)},
		},
		drop())})
	c := conn.AddChain(&nftables.Chain{
		Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource,
	})
	add := func(exprs ...expr.Any) {
		conn.AddRule(&nftables.Rule{Table: t, Chain: c, Exprs: append(exprs, &expr.Masq{})})
	}
	loopback := netip.MustParsePrefix("127.0.0.0/8")
	add(append(matchIfname(expr.MetaKeyOIFNAME, bridge, expr.CmpOpEq), matchPrefix(12, loopback)...)...)
	add(append(append(matchIfname(expr.MetaKeyOIFNAME, bridge, expr.CmpOpEq), matchPrefix(12, subnet)...),
		&expr.Ct{Register: 1, Key: expr.CtKeySTATUS},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(ipsDstNAT), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
	)...)
	add(append(matchIfname(expr.MetaKeyOIFNAME, bridge, expr.CmpOpNeq), matchPrefix(12, subnet)...)...)
}

// applyPortGuard creates a task's table in the bridge family, which
// filters what the task sends into the bridge through its veth (NAME, the
// host end): only its own MAC, only IPv4 and ARP, only its own address as
// the source, and nothing for the host's loopback.
//
//	table bridge NAME {
//	  chain prerouting {
//	    type filter hook prerouting priority -200; policy accept;
//	    iifname NAME jump port
//	  }
//	  chain port {
//	    ether saddr != MAC drop
//	    ether type arp arp saddr ether != MAC drop
//	    ether type arp arp saddr ip != ADDR drop
//	    ether type arp accept
//	    ether type != ip drop                # IPv6, VLAN tags and the rest
//	    ip saddr != ADDR drop
//	    ip daddr 127.0.0.0/8 drop
//	  }
//	}
//
// The rules name the veth, not a device index, so the table is in place
// before the veth exists: no frame leaves the task unfiltered.
func applyPortGuard(conn *nftables.Conn, name string, mac net.HardwareAddr, addr netip.Addr) {
	t := &nftables.Table{Family: nftables.TableFamilyBridge, Name: name}
	replaceTable(conn, t)
	port := conn.AddChain(&nftables.Chain{Name: "port", Table: t})
	base := conn.AddChain(&nftables.Chain{
		Name: "prerouting", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityRef(bridgeFilterPriority),
	})
	conn.AddRule(&nftables.Rule{Table: t, Chain: base, Exprs: concat(
		matchIfname(expr.MetaKeyIIFNAME, name, expr.CmpOpEq),
		[]expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: port.Name}})})
	ip := addr.As4()
	etherType := func(op expr.CmpOp, typ uint16) []expr.Any {
		return []expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseLLHeader, Offset: 12, Len: 2},
			&expr.Cmp{Op: op, Register: 1, Data: binaryutil.BigEndian.PutUint16(typ)},
		}
	}
	field := func(base expr.PayloadBase, offset uint32, want []byte) []expr.Any {
		return []expr.Any{
			&expr.Payload{DestRegister: 1, Base: base, Offset: offset, Len: uint32(len(want))},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: want},
		}
	}
	for _, exprs := range [][]expr.Any{
		concat(field(expr.PayloadBaseLLHeader, 6, mac), drop()),
		concat(etherType(expr.CmpOpEq, unix.ETH_P_ARP), field(expr.PayloadBaseNetworkHeader, 8, mac), drop()),
		concat(etherType(expr.CmpOpEq, unix.ETH_P_ARP), field(expr.PayloadBaseNetworkHeader, 14, ip[:]), drop()),
		concat(etherType(expr.CmpOpEq, unix.ETH_P_ARP), []expr.Any{accept()}),
		concat(etherType(expr.CmpOpNeq, unix.ETH_P_IP), drop()),
		concat(field(expr.PayloadBaseNetworkHeader, 12, ip[:]), drop()),
		concat(matchPrefix(16, netip.MustParsePrefix("127.0.0.0/8")), drop()),
	} {
		conn.AddRule(&nftables.Rule{Table: t, Chain: port, Exprs: exprs})
	}
}

// bridgeFilterPriority is the bridge family's "filter" priority
// (NF_BR_PRI_FILTER_BRIDGED).
const bridgeFilterPriority = -200

// ipsDstNAT is conntrack's IPS_DST_NAT status bit.
const ipsDstNAT = 1 << 5

// applyPortForwards creates a task's table of published ports in the host
// namespace:
//
//	table ip NAME {
//	  chain prerouting { type nat hook prerouting priority dstnat; RULES }
//	  chain output     { type nat hook output priority dstnat; RULES }
//	}
//
// with one rule per binding: fib daddr type local PROTO dport HOST dnat to ADDR:CONTAINER.
// The output chain catches connections made from the host itself.
func applyPortForwards(conn *nftables.Conn, name string, addr netip.Addr, bindings []network.PortBinding) {
	t := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: name}
	replaceTable(conn, t)
	for _, hook := range []struct {
		name string
		hook *nftables.ChainHook
	}{{"prerouting", nftables.ChainHookPrerouting}, {"output", nftables.ChainHookOutput}} {
		c := conn.AddChain(&nftables.Chain{
			Name: hook.name, Table: t, Type: nftables.ChainTypeNAT,
			Hooknum: hook.hook, Priority: nftables.ChainPriorityNATDest,
		})
		ip := addr.As4()
		for _, b := range bindings {
			exprs := []expr.Any{
				&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
			}
			exprs = append(exprs, matchL4Proto(b.Protocol)...)
			exprs = append(exprs,
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(b.HostPort)},
				&expr.Immediate{Register: 1, Data: ip[:]},
				&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(b.ContainerPort)},
				&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
			)
			conn.AddRule(&nftables.Rule{Table: t, Chain: c, Exprs: exprs})
		}
	}
}

// replaceTable queues commands that leave t empty whether or not it existed
// ("add table; delete table; add table" in one batch), so that a table left
// by a crash is replaced atomically.
func replaceTable(conn *nftables.Conn, t *nftables.Table) {
	conn.AddTable(t)
	conn.DelTable(t)
	conn.AddTable(t)
}

// deleteTable deletes a table if it exists.
func deleteTable(conn *nftables.Conn, family nftables.TableFamily, name string) error {
	t := &nftables.Table{Family: family, Name: name}
	conn.AddTable(t)
	conn.DelTable(t)
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("delete nftables table %s: %w", name, err)
	}
	return nil
}

// listTables returns the tables of family whose name starts with prefix.
func listTables(conn *nftables.Conn, family nftables.TableFamily, prefix string) ([]string, error) {
	tables, err := conn.ListTablesOfFamily(family)
	if err != nil {
		return nil, fmt.Errorf("list nftables tables: %w", err)
	}
	var names []string
	for _, t := range tables {
		if strings.HasPrefix(t.Name, prefix) {
			names = append(names, t.Name)
		}
	}
	return names, nil
}

func accept() expr.Any { return &expr.Verdict{Kind: expr.VerdictAccept} }

func drop() []expr.Any { return []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}} }

// concat joins lists of expressions into one rule's.
func concat(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// notPrefix matches an IPv4 address at offset of the network header that
// is outside p, which must not be /0.
func notPrefix(offset uint32, p netip.Prefix) []expr.Any {
	m := matchPrefix(offset, p)
	m[len(m)-1].(*expr.Cmp).Op = expr.CmpOpNeq
	return m
}

func matchIfname(key expr.MetaKey, name string, op expr.CmpOp) []expr.Any {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: op, Register: 1, Data: b},
	}
}

func matchCtState(bits uint32) []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(bits), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
	}
}

func matchL4Proto(p network.Protocol) []expr.Any {
	var num byte
	switch p {
	case network.ProtocolTCP:
		num = unix.IPPROTO_TCP
	case network.ProtocolUDP:
		num = unix.IPPROTO_UDP
	case network.ProtocolICMP:
		num = unix.IPPROTO_ICMP
	default:
		return nil
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{num}},
	}
}

// matchPrefix matches the IPv4 address at offset of the network header
// (12: source, 16: destination) against p; a /0 prefix matches everything
// and adds nothing.
func matchPrefix(offset uint32, p netip.Prefix) []expr.Any {
	p = p.Masked()
	if p.Bits() == 0 {
		return nil
	}
	addr := p.Addr().As4()
	m := prefixMask(p.Bits())
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: m[:], Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: addr[:]},
	}
}

func prefixMask(bits int) [4]byte {
	v := ^uint32(0) << (32 - bits)
	return [4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
}
