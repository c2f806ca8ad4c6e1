package netlinux

import (
	"context"
	"math"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/network"
)

// TestLargePoliciesApplyInOneTransaction applies the largest policies the
// limits allow, and larger: a rule naming a group of a thousand members
// (resolved to a thousand /32s), and a task in network.MaxSecurityGroups-many
// groups of network.MaxSecurityGroupRules permissions each, in both
// directions. Each goes into the kernel in one transaction.
func TestLargePoliciesApplyInOneTransaction(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	p := newTestProvider(t, cfg)
	ctx := context.Background()

	member, err := p.Setup(ctx, awsvpc("member"))
	require.NoError(t, err)
	stranger, err := p.Setup(ctx, awsvpc("stranger"))
	require.NoError(t, err)

	// A thousand members, the one that connects among them; the stranger's
	// neighbours are members, so that the set's ranges border it.
	var members []netip.Prefix
	for i := range 1000 {
		members = append(members, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 214, byte(i / 250), byte(i%250 + 1)}), 32))
	}
	near := stranger.Address.Addr()
	members = append(members, netip.PrefixFrom(near.Prev(), 32), netip.PrefixFrom(near.Next(), 32),
		netip.PrefixFrom(member.Address.Addr(), 32), netip.MustParsePrefix("10.214.0.0/24")) // overlapping
	req := awsvpc("db")
	req.Ingress = &network.IngressPolicy{
		Rules:  []network.IngressRule{{Protocol: network.ProtocolTCP, FromPort: 5432, Sources: members}},
		Egress: &network.EgressPolicy{Rules: []network.EgressRule{{Protocol: network.ProtocolAll, Destinations: members}}},
	}
	db, err := p.Setup(ctx, req)
	require.NoError(t, err)
	serve(t, db.NetNSPath, 5432, "db")
	to := netip.AddrPortFrom(db.Address.Addr(), 5432)
	line, err := dial(t, member.NetNSPath, to, 5*time.Second)
	require.NoError(t, err, "a member connects")
	assert.Equal(t, "db\n", line)
	_, err = dial(t, stranger.NetNSPath, to, blocked)
	assert.True(t, isDropped(err), "a neighbour of members is no member: %v", err)

	// Five groups of sixty permissions each, every one a port of its own.
	wide := &network.IngressPolicy{Egress: &network.EgressPolicy{}}
	for i := range 5 * network.MaxSecurityGroupRules {
		src := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 215, byte(i), 1}), 32)
		port := uint16(10000 + i)
		wide.Rules = append(wide.Rules, network.IngressRule{Protocol: network.ProtocolTCP, FromPort: port, Sources: []netip.Prefix{src}})
		wide.Egress.Rules = append(wide.Egress.Rules, network.EgressRule{Protocol: network.ProtocolUDP, FromPort: port, Destinations: []netip.Prefix{src}})
	}
	wide.Rules = append(wide.Rules, allowFrom(network.ProtocolTCP, 5432, member.Address.Addr().String()+"/32"))
	require.NoError(t, p.UpdateIngress(ctx, "db", wide))
	line, err = dial(t, member.NetNSPath, to, 5*time.Second)
	require.NoError(t, err, "the last of 301 rules")
	assert.Equal(t, "db\n", line)
}

func TestMergeRangesAndIntervalElements(t *testing.T) {
	t.Parallel()
	pfx := func(ss ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, s := range ss {
			out = append(out, netip.MustParsePrefix(s))
		}
		return out
	}
	ip := func(s string) uint32 {
		b := netip.MustParseAddr(s).As4()
		return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	}
	tests := []struct {
		name     string
		in       []netip.Prefix
		want     []addrRange
		elements []string // key, "end" flagged
	}{
		{"disjoint, unsorted", pfx("10.0.0.9/32", "10.0.0.1/32"), []addrRange{{ip("10.0.0.1"), ip("10.0.0.1")}, {ip("10.0.0.9"), ip("10.0.0.9")}},
			[]string{"0.0.0.0 end", "10.0.0.1", "10.0.0.2 end", "10.0.0.9", "10.0.0.10 end"}},
		{"adjacent merge", pfx("10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/30"), []addrRange{{ip("10.0.0.1"), ip("10.0.0.7")}},
			[]string{"0.0.0.0 end", "10.0.0.1", "10.0.0.8 end"}},
		{"nested and host bits", pfx("10.1.2.3/8", "10.200.0.0/16"), []addrRange{{ip("10.0.0.0"), ip("10.255.255.255")}},
			[]string{"0.0.0.0 end", "10.0.0.0", "11.0.0.0 end"}},
		{"up to the last address", pfx("128.0.0.0/1", "0.0.0.0/8"), []addrRange{{0, ip("0.255.255.255")}, {ip("128.0.0.0"), math.MaxUint32}},
			[]string{"0.0.0.0", "1.0.0.0 end", "128.0.0.0"}},
		{"everything", pfx("0.0.0.0/0", "10.0.0.0/8"), []addrRange{{0, math.MaxUint32}}, []string{"0.0.0.0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mergeRanges(tt.in)
			assert.Equal(t, tt.want, got)
			var els []string
			for _, e := range intervalElements(got) {
				s := netip.AddrFrom4([4]byte(e.Key)).String()
				if e.IntervalEnd {
					s += " end"
				}
				els = append(els, s)
			}
			assert.Equal(t, tt.elements, els)
		})
	}
}

// A set whose last range runs to 255.255.255.255 has no end element; the
// kernel takes it, and matches below it.
func TestPeerSetToTheLastAddress(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	p := newTestProvider(t, cfg)
	ctx := context.Background()
	client, err := p.Setup(ctx, awsvpc("client"))
	require.NoError(t, err)
	req := awsvpc("server")
	req.Ingress = &network.IngressPolicy{Rules: []network.IngressRule{{Protocol: network.ProtocolTCP, FromPort: 80,
		Sources: []netip.Prefix{netip.MustParsePrefix("128.0.0.0/1"), cfg.Subnet}}}}
	server, err := p.Setup(ctx, req)
	require.NoError(t, err)
	serve(t, server.NetNSPath, 80, "web")
	line, err := dial(t, client.NetNSPath, netip.AddrPortFrom(server.Address.Addr(), 80), 5*time.Second)
	require.NoError(t, err)
	assert.Equal(t, "web\n", line)
	out, err := nft(t, server.NetNSPath, "list", "chain", "inet", "stevedore", "input")
	require.NoError(t, err, out)
	assert.Contains(t, out, "128.0.0.0/1", out)
}
