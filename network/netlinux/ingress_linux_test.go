package netlinux

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/network"
)

func TestUpdateIngressReplacesTheRulesInPlace(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	p := newTestProvider(t, cfg)
	ctx := context.Background()

	client, err := p.Setup(ctx, awsvpc("client"))
	require.NoError(t, err)
	req := awsvpc("server")
	req.Ingress = &network.IngressPolicy{Rules: []network.IngressRule{allowFrom(network.ProtocolTCP, 8080, cfg.Subnet.String())}}
	server, err := p.Setup(ctx, req)
	require.NoError(t, err)
	serve(t, server.NetNSPath, 8080, "8080")
	serve(t, server.NetNSPath, 9090, "9090")
	to := func(port uint16) netip.AddrPort { return netip.AddrPortFrom(server.Address.Addr(), port) }

	line, err := dial(t, client.NetNSPath, to(8080), 5*time.Second)
	require.NoError(t, err)
	assert.Equal(t, "8080\n", line)
	_, err = dial(t, client.NetNSPath, to(9090), 300*time.Millisecond)
	assert.True(t, isTimeout(err), "9090 is not allowed yet: %v", err)

	// Swap the ports.
	require.NoError(t, p.UpdateIngress(ctx, "server", &network.IngressPolicy{Rules: []network.IngressRule{allowFrom(network.ProtocolTCP, 9090, cfg.Subnet.String())}}))
	line, err = dial(t, client.NetNSPath, to(9090), 5*time.Second)
	require.NoError(t, err)
	assert.Equal(t, "9090\n", line)
	_, err = dial(t, client.NetNSPath, to(8080), 300*time.Millisecond)
	assert.True(t, isTimeout(err), "8080 is no longer allowed: %v", err)
	out, err := nft(t, server.NetNSPath, "list", "table", "inet", "stevedore")
	require.NoError(t, err, out)
	assert.NotContains(t, out, "8080", "one table, the new rules only")

	// An empty policy denies everything; nil removes the filtering.
	require.NoError(t, p.UpdateIngress(ctx, "server", &network.IngressPolicy{}))
	_, err = dial(t, client.NetNSPath, to(9090), 300*time.Millisecond)
	assert.True(t, isTimeout(err), "%v", err)
	require.NoError(t, p.UpdateIngress(ctx, "server", nil))
	_, err = nft(t, server.NetNSPath, "list", "table", "inet", "stevedore")
	assert.Error(t, err, "no table without a policy")
	line, err = dial(t, client.NetNSPath, to(8080), 5*time.Second)
	require.NoError(t, err)
	assert.Equal(t, "8080\n", line)

	// A filter can be added to a task set up without one.
	require.NoError(t, p.UpdateIngress(ctx, "client", &network.IngressPolicy{}))
	out, err = nft(t, client.NetNSPath, "list", "table", "inet", "stevedore")
	require.NoError(t, err, out)
	assert.Contains(t, out, "policy drop")

	err = p.UpdateIngress(ctx, "nobody", &network.IngressPolicy{})
	require.ErrorIs(t, err, network.ErrNotFound)
	err = p.UpdateIngress(ctx, "server", &network.IngressPolicy{Rules: []network.IngressRule{{Protocol: "gre"}}})
	require.ErrorIs(t, err, network.ErrInvalid)
	hostReq := network.Request{TaskID: "in-host", Mode: network.ModeHost}
	_, err = p.Setup(ctx, hostReq)
	require.NoError(t, err)
	err = p.UpdateIngress(ctx, "in-host", &network.IngressPolicy{})
	require.ErrorIs(t, err, network.ErrInvalid)
}

// BenchmarkUpdateIngress measures replacing a running task's ingress
// policy (a security group's rule change reaching one task): a fresh
// thread enters the namespace, and one nftables transaction replaces the
// table. The policies alternate between 2 and 20 rules.
func BenchmarkUpdateIngress(b *testing.B) {
	p := newTestProvider(b, testConfig(b))
	ctx := context.Background()
	_, err := p.Setup(ctx, awsvpc("bench"))
	require.NoError(b, err)
	small := &network.IngressPolicy{Rules: []network.IngressRule{
		allowFrom(network.ProtocolTCP, 80, "10.0.0.0/8"), allowFrom(network.ProtocolTCP, 443, "0.0.0.0/0"),
	}}
	large := &network.IngressPolicy{}
	for i := range 20 {
		large.Rules = append(large.Rules, allowFrom(network.ProtocolTCP, uint16(8000+i), "10.0.0.0/8"))
	}
	policies := []*network.IngressPolicy{small, large}
	for i := 0; b.Loop(); i++ {
		if err := p.UpdateIngress(ctx, "bench", policies[i%2]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUpdateIngressLargeGroup measures replacing the policy of a
// task whose inbound rule names a group of 1000 members (1000 /32s, one
// interval set) and whose outbound rules go to the same members.
func BenchmarkUpdateIngressLargeGroup(b *testing.B) {
	p := newTestProvider(b, testConfig(b))
	ctx := context.Background()
	_, err := p.Setup(ctx, awsvpc("bench"))
	require.NoError(b, err)
	var members []netip.Prefix
	for i := range 1000 {
		members = append(members, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 214, byte(i / 250), byte(i%250 + 1)}), 32))
	}
	policy := &network.IngressPolicy{
		Rules:  []network.IngressRule{{Protocol: network.ProtocolTCP, FromPort: 5432, Sources: members}},
		Egress: &network.EgressPolicy{Rules: []network.EgressRule{{Protocol: network.ProtocolTCP, FromPort: 443, Destinations: members}}},
	}
	for b.Loop() {
		if err := p.UpdateIngress(ctx, "bench", policy); err != nil {
			b.Fatal(err)
		}
	}
}
