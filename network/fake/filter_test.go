package fake_test

import (
	"net/netip"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/network/fake"
)

// TestFakeEnforcesSecurityGroups plays the web and database tiers of
// network/netlinux's TestGroupRulesResolvedToMembersAllowExactlyTheMembers
// against the fake: the database group accepts 5432 from the web group,
// the web group may connect only to the database group and to the resolver
// on udp:53, and group references are resolved to the members.
func TestFakeEnforcesSecurityGroups(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	p := fake.New(fake.WithSubnet(netip.MustParsePrefix("10.88.0.0/24")))

	web := network.NewSecurityGroup("sg-a", "web", "")
	db := network.NewSecurityGroup("sg-b", "db", "")
	in, err := network.ParseIngressRule("tcp:5432 from sg-a")
	require.NoError(t, err)
	require.NoError(t, db.AuthorizeIngress([]network.IngressRule{in}))
	require.NoError(t, web.RevokeEgress([]network.EgressRule{network.DefaultEgressRule()}))
	out, err := network.ParseEgressRule("tcp:5432 to sg-b")
	require.NoError(t, err)
	dns, err := network.ParseEgressRule("udp:53 to 10.88.0.1")
	require.NoError(t, err)
	require.NoError(t, web.AuthorizeEgress([]network.EgressRule{out, dns}))

	members := map[string][]netip.Addr{}
	lookup := func(id string) []netip.Addr { return members[id] }
	setup := func(id string, groups ...*network.SecurityGroup) netip.Addr {
		t.Helper()
		att, err := p.Setup(ctx, network.Request{TaskID: id, Mode: network.ModeAWSVPC, Ingress: network.ResolvePolicy(lookup, groups...)})
		require.NoError(t, err)
		return att.Address.Addr()
	}
	d1 := setup("d1", db) // 10.88.0.2
	members["sg-b"] = []netip.Addr{d1}
	w1 := setup("w1", web) // 10.88.0.3
	members["sg-a"] = []netip.Addr{w1}
	other := setup("other") // 10.88.0.4
	pg := func(a netip.Addr) netip.AddrPort { return netip.AddrPortFrom(a, 5432) }

	require.ErrorIs(t, p.Check("w1", network.ProtocolTCP, pg(d1)), fake.ErrDropped, "d1's rules predate w1")
	require.NoError(t, p.UpdateIngress(ctx, "d1", network.ResolvePolicy(lookup, db)))
	require.NoError(t, p.Check("w1", network.ProtocolTCP, pg(d1)))
	err = p.Check("other", network.ProtocolTCP, pg(d1))
	require.ErrorIs(t, err, fake.ErrDropped)
	assert.ErrorContains(t, err, `inbound rules of task "d1"`)
	err = p.Check("w1", network.ProtocolTCP, pg(other))
	require.ErrorIs(t, err, fake.ErrDropped, "web may reach the db group only")
	assert.ErrorContains(t, err, "outbound rules")
	require.ErrorIs(t, p.Check("w1", network.ProtocolUDP, pg(d1)), fake.ErrDropped, "tcp only")
	require.NoError(t, p.Check("w1", network.ProtocolUDP, netip.MustParseAddrPort("10.88.0.1:53")), "the resolver, by rule")
	require.ErrorIs(t, p.Check("w1", network.ProtocolTCP, netip.MustParseAddrPort("10.88.0.1:53")), fake.ErrDropped)
	require.NoError(t, p.Check("w1", network.ProtocolTCP, netip.MustParseAddrPort("127.0.0.1:9")), "loopback is never filtered")
	require.NoError(t, p.Check("w1", network.ProtocolTCP, netip.AddrPortFrom(w1, 9)), "nor is the task's own address")
	require.NoError(t, p.Check("other", network.ProtocolTCP, netip.MustParseAddrPort("192.0.2.1:443")), "other is in no group")

	// Over DialTask, to listeners.
	l, err := p.Listen("d1", 5432)
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	c, err := p.DialTask(ctx, "w1", "tcp", pg(d1).String())
	require.NoError(t, err)
	c.Close()
	_, err = p.DialTask(ctx, "other", "tcp", pg(d1).String())
	require.ErrorIs(t, err, fake.ErrDropped)
	_, err = p.DialTask(ctx, "other", "tcp", netip.AddrPortFrom(d1, 80).String())
	require.ErrorIs(t, err, fake.ErrDropped, "dropped before it could be refused")
	_, err = p.DialTask(ctx, "d1", "tcp", netip.AddrPortFrom(other, 80).String())
	require.ErrorIs(t, err, syscall.ECONNREFUSED, "allowed, but nothing listens")
	_, err = p.DialTask(ctx, "other", "tcp", "192.0.2.1:443")
	require.ErrorIs(t, err, syscall.EHOSTUNREACH, "no task has that address")

	// Membership changes reach the policies that are applied again.
	w2 := setup("w2", web)
	members["sg-a"] = []netip.Addr{w2}
	require.NoError(t, p.UpdateIngress(ctx, "d1", network.ResolvePolicy(lookup, db)))
	require.NoError(t, p.UpdateIngress(ctx, "w1", nil))
	require.NoError(t, p.Check("w2", network.ProtocolTCP, pg(d1)))
	require.ErrorIs(t, p.Check("w1", network.ProtocolTCP, pg(d1)), fake.ErrDropped, "w1 left the group")
	require.NoError(t, p.Check("w1", network.ProtocolTCP, pg(other)), "and lost its outbound restriction")
	got, ok := p.Ingress("d1")
	require.True(t, ok)
	assert.Equal(t, "tcp:5432 from "+w2.String()+"/32", got.Rules[0].String())

	// Closed egress; unknown and none-mode senders.
	require.NoError(t, p.UpdateIngress(ctx, "other", &network.IngressPolicy{Egress: &network.EgressPolicy{}}))
	require.ErrorIs(t, p.Check("other", network.ProtocolICMP, netip.AddrPortFrom(d1, 0)), fake.ErrDropped)
	require.ErrorIs(t, p.Check("nobody", network.ProtocolTCP, pg(d1)), network.ErrNotFound)
	_, err = p.Setup(ctx, network.Request{TaskID: "none", Mode: network.ModeNone})
	require.NoError(t, err)
	require.ErrorIs(t, p.Check("none", network.ProtocolTCP, pg(d1)), network.ErrInvalid)
	require.NoError(t, p.Check("none", network.ProtocolTCP, netip.MustParseAddrPort("127.0.0.1:80")))
}

// A task in host mode reaches the subnet from the gateway's address, which
// the receiver's inbound rules must allow.
func TestFakeHostModeSenderIsTheGateway(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	p := fake.New(fake.WithSubnet(netip.MustParsePrefix("10.88.0.0/24")))
	rule, err := network.ParseIngressRule("tcp:80 from 10.88.0.1")
	require.NoError(t, err)
	att, err := p.Setup(ctx, network.Request{TaskID: "web", Mode: network.ModeAWSVPC, Ingress: &network.IngressPolicy{Rules: []network.IngressRule{rule}}})
	require.NoError(t, err)
	_, err = p.Setup(ctx, network.Request{TaskID: "h", Mode: network.ModeHost})
	require.NoError(t, err)
	require.NoError(t, p.Check("h", network.ProtocolTCP, netip.AddrPortFrom(att.Address.Addr(), 80)))
	require.ErrorIs(t, p.Check("h", network.ProtocolTCP, netip.AddrPortFrom(att.Address.Addr(), 81)), fake.ErrDropped)
}
