package netlinux

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/network"
)

// blocked is how long a dial or a UDP exchange waits before a dropped
// packet counts as dropped. Allowed exchanges get 5 s.
const blocked = 300 * time.Millisecond

// udpEcho starts a UDP server in the namespace at path that sends every
// datagram back. It stops at the end of the test.
func udpEcho(t testing.TB, path string, port uint16) {
	t.Helper()
	var c net.PacketConn
	inNetNS(t, path, func() (err error) {
		c, err = net.ListenUDP("udp4", &net.UDPAddr{Port: int(port)})
		return err
	})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 512)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return // closed
			}
			c.WriteTo(buf[:n], from)
		}
	}()
	t.Cleanup(func() {
		c.Close()
		wg.Wait()
	})
}

// udpAsk sends msg from the namespace at path to addr and returns the
// answer.
func udpAsk(t testing.TB, path string, addr netip.AddrPort, msg string, timeout time.Duration) (string, error) {
	t.Helper()
	var c *net.UDPConn
	inNetNS(t, path, func() (err error) {
		c, err = net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(addr))
		return err
	})
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte(msg)); err != nil {
		return "", err
	}
	buf := make([]byte, 512)
	n, err := c.Read(buf)
	return string(buf[:n]), err
}

// isDropped tells whether err is what a packet dropped by the rules gives.
// A dropped packet makes the kernel report nothing to the sender, so the
// exchange times out (a refused one would be ECONNREFUSED instead), except
// for a UDP datagram dropped by the sender's own output chain: its send
// fails with EPERM at once.
func isDropped(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EPERM)
}

func egressTo(t *testing.T, specs ...string) *network.EgressPolicy {
	t.Helper()
	p := &network.EgressPolicy{Rules: []network.EgressRule{}}
	for _, s := range specs {
		r, err := network.ParseEgressRule(s)
		require.NoError(t, err, s)
		p.Rules = append(p.Rules, r)
	}
	return p
}

func TestEgressRulesAllowOnlyWhatTheyName(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	p := newTestProvider(t, cfg)
	ctx := context.Background()

	a, err := p.Setup(ctx, awsvpc("a"))
	require.NoError(t, err)
	b, err := p.Setup(ctx, awsvpc("b"))
	require.NoError(t, err)
	for _, s := range []*network.Attachment{a, b} {
		serve(t, s.NetNSPath, 8080, "8080")
		serve(t, s.NetNSPath, 9090, "9090")
		udpEcho(t, s.NetNSPath, 53) // a resolver, as far as the client knows
	}
	at := func(att *network.Attachment, port uint16) netip.AddrPort {
		return netip.AddrPortFrom(att.Address.Addr(), port)
	}

	req := awsvpc("client")
	req.Ingress = &network.IngressPolicy{
		Rules:  []network.IngressRule{allowFrom(network.ProtocolTCP, 7070, cfg.Subnet.String())},
		Egress: egressTo(t, "tcp:8080 to "+a.Address.Addr().String()),
	}
	req.DNS = network.DNSConfig{Servers: []netip.Addr{a.Address.Addr()}}
	client, err := p.Setup(ctx, req)
	require.NoError(t, err)

	line, err := dial(t, client.NetNSPath, at(a, 8080), 5*time.Second)
	require.NoError(t, err, "the rule allows a:8080")
	assert.Equal(t, "8080\n", line)
	_, err = dial(t, client.NetNSPath, at(a, 9090), blocked)
	assert.True(t, isDropped(err), "a:9090 has no rule: %v", err)
	_, err = dial(t, client.NetNSPath, at(b, 8080), blocked)
	assert.True(t, isDropped(err), "b has no rule: %v", err)
	_, err = udpAsk(t, client.NetNSPath, at(a, 53), "dns?", blocked)
	assert.True(t, isDropped(err), "no implicit allowance for the resolver: %v", err)

	// Loopback is never filtered, nor is the task's own address.
	serve(t, client.NetNSPath, 7070, "client")
	line, err = dial(t, client.NetNSPath, netip.MustParseAddrPort("127.0.0.1:7070"), 5*time.Second)
	require.NoError(t, err)
	assert.Equal(t, "client\n", line)
	line, err = dial(t, client.NetNSPath, at(client, 7070), 5*time.Second)
	require.NoError(t, err)
	assert.Equal(t, "client\n", line)
	// Replies to an allowed inbound connection leave, though no outbound
	// rule names b: the rules are stateful.
	line, err = dial(t, b.NetNSPath, at(client, 7070), 5*time.Second)
	require.NoError(t, err)
	assert.Equal(t, "client\n", line)

	out, err := nft(t, client.NetNSPath, "list", "chain", "inet", "stevedore", "output")
	require.NoError(t, err, out)
	assert.Contains(t, out, "policy drop")

	// In place: DNS and b are allowed, a:8080 no longer; the inbound rule stays.
	req.Ingress.Egress = egressTo(t, "udp:53 to "+a.Address.Addr().String(), "all to "+b.Address.Addr().String())
	require.NoError(t, p.UpdateIngress(ctx, "client", req.Ingress))
	answer, err := udpAsk(t, client.NetNSPath, at(a, 53), "dns?", 5*time.Second)
	require.NoError(t, err, "a rule lets the resolver answer")
	assert.Equal(t, "dns?", answer)
	line, err = dial(t, client.NetNSPath, at(b, 9090), 5*time.Second)
	require.NoError(t, err)
	assert.Equal(t, "9090\n", line)
	_, err = dial(t, client.NetNSPath, at(a, 8080), blocked)
	assert.True(t, isDropped(err), "a:8080 lost its rule: %v", err)
	line, err = dial(t, b.NetNSPath, at(client, 7070), 5*time.Second)
	require.NoError(t, err, "the inbound rule came through the update")
	assert.Equal(t, "client\n", line)

	// Without outbound rules nothing leaves; a nil Egress lifts the
	// restriction and removes the chain.
	req.Ingress.Egress = &network.EgressPolicy{}
	require.NoError(t, p.UpdateIngress(ctx, "client", req.Ingress))
	_, err = dial(t, client.NetNSPath, at(b, 9090), blocked)
	assert.True(t, isDropped(err), "%v", err)
	req.Ingress.Egress = nil
	require.NoError(t, p.UpdateIngress(ctx, "client", req.Ingress))
	line, err = dial(t, client.NetNSPath, at(a, 9090), 5*time.Second)
	require.NoError(t, err)
	assert.Equal(t, "9090\n", line)
	out, err = nft(t, client.NetNSPath, "list", "table", "inet", "stevedore")
	require.NoError(t, err, out)
	assert.NotContains(t, out, "chain output")

	err = p.UpdateIngress(ctx, "client", &network.IngressPolicy{Egress: &network.EgressPolicy{Rules: []network.EgressRule{{Protocol: network.ProtocolTCP, FromPort: 1, DestinationGroups: []string{"sg-1"}}}}})
	require.ErrorIs(t, err, network.ErrInvalid, "unresolved group references are refused")
}

// TestGroupRulesResolvedToMembersAllowExactlyTheMembers plays a web tier
// and a database tier: the database group accepts 5432 from the web
// group, and the web group may open connections only to the database
// group. The rules are resolved to the members' /32s, and resolved and
// applied again as the web group gains and loses members.
func TestGroupRulesResolvedToMembersAllowExactlyTheMembers(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	p := newTestProvider(t, cfg)
	ctx := context.Background()

	web := network.NewSecurityGroup("sg-a", "web", "")
	db := network.NewSecurityGroup("sg-b", "db", "")
	in, err := network.ParseIngressRule("tcp:5432 from sg-a")
	require.NoError(t, err)
	require.NoError(t, db.AuthorizeIngress([]network.IngressRule{in}))
	out, err := network.ParseEgressRule("tcp:5432 to sg-b")
	require.NoError(t, err)
	require.NoError(t, web.RevokeEgress([]network.EgressRule{network.DefaultEgressRule()}))
	require.NoError(t, web.AuthorizeEgress([]network.EgressRule{out}))

	members := map[string][]netip.Addr{}
	lookup := func(id string) []netip.Addr { return members[id] }
	setup := func(id string, groups ...*network.SecurityGroup) *network.Attachment {
		t.Helper()
		req := awsvpc(id)
		req.Ingress = network.ResolvePolicy(lookup, groups...)
		att, err := p.Setup(ctx, req)
		require.NoError(t, err)
		return att
	}
	dbAddr := func(att *network.Attachment) netip.AddrPort { return netip.AddrPortFrom(att.Address.Addr(), 5432) }

	// The database comes first: no web member yet, so nobody gets in.
	d1 := setup("d1", db)
	members["sg-b"] = []netip.Addr{d1.Address.Addr()}
	serve(t, d1.NetNSPath, 5432, "db")
	w1 := setup("w1", web)
	members["sg-a"] = []netip.Addr{w1.Address.Addr()}
	other := setup("other")
	serve(t, other.NetNSPath, 5432, "other")

	_, err = dial(t, w1.NetNSPath, dbAddr(d1), blocked)
	assert.True(t, isDropped(err), "d1's rules predate w1: %v", err)
	require.NoError(t, p.UpdateIngress(ctx, "d1", network.ResolvePolicy(lookup, db)))
	line, err := dial(t, w1.NetNSPath, dbAddr(d1), 5*time.Second)
	require.NoError(t, err, "w1 is a member of the source group now")
	assert.Equal(t, "db\n", line)
	_, err = dial(t, other.NetNSPath, dbAddr(d1), blocked)
	assert.True(t, isDropped(err), "other is in no group: %v", err)
	_, err = dial(t, w1.NetNSPath, dbAddr(other), blocked)
	assert.True(t, isDropped(err), "web may reach the db group only: %v", err)

	// w2 joins the web group; w1 leaves it (its task runs on, in no group).
	w2 := setup("w2", web)
	members["sg-a"] = []netip.Addr{w2.Address.Addr()}
	require.NoError(t, p.UpdateIngress(ctx, "d1", network.ResolvePolicy(lookup, db)))
	require.NoError(t, p.UpdateIngress(ctx, "w1", nil))
	line, err = dial(t, w2.NetNSPath, dbAddr(d1), 5*time.Second)
	require.NoError(t, err)
	assert.Equal(t, "db\n", line)
	_, err = dial(t, w1.NetNSPath, dbAddr(d1), blocked)
	assert.True(t, isDropped(err), "w1 left the group: %v", err)
	rules, err := nft(t, d1.NetNSPath, "list", "chain", "inet", "stevedore", "input")
	require.NoError(t, err, rules)
	assert.Contains(t, rules, w2.Address.Addr().String())
	assert.NotContains(t, rules, w1.Address.Addr().String()+" ", "exactly the members: /32s, no wider prefix")
}
