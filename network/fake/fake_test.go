package fake_test

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/network/fake"
)

func TestFakeSetupTeardown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := fake.New(fake.WithSubnet(netip.MustParsePrefix("10.213.0.0/29")), fake.WithFilesDir(t.TempDir()))

	att, err := p.Setup(ctx, network.Request{TaskID: "a", Mode: network.ModeBridge, Hostname: "web", PortMappings: []network.PortMapping{{ContainerPort: 80}}})
	require.NoError(t, err)
	assert.Equal(t, "10.213.0.2/29", att.Address.String())
	assert.Equal(t, "10.213.0.1", att.Gateway.String())
	assert.Equal(t, "02:42:0a:d5:00:02", att.MAC)
	assert.Equal(t, uint16(49153), att.PortBindings[0].HostPort)
	assert.NotEmpty(t, att.NetNSPath)
	hosts, err := os.ReadFile(att.HostsPath)
	require.NoError(t, err)
	assert.Contains(t, string(hosts), "10.213.0.2\tweb\n")

	_, err = p.Setup(ctx, network.Request{TaskID: "a", Mode: network.ModeBridge})
	require.ErrorIs(t, err, network.ErrExists)
	_, err = p.Setup(ctx, network.Request{TaskID: "bad", Mode: "nat"})
	require.ErrorIs(t, err, network.ErrInvalid)

	host, err := p.Setup(ctx, network.Request{TaskID: "h", Mode: network.ModeHost})
	require.NoError(t, err)
	assert.Empty(t, host.NetNSPath)

	got, err := p.Attachment(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, att, got)

	require.NoError(t, p.Teardown(ctx, "a"))
	require.NoError(t, p.Teardown(ctx, "a"))
	_, err = p.Attachment(ctx, "a")
	require.ErrorIs(t, err, network.ErrNotFound)
	_, err = os.Stat(att.HostsPath)
	require.ErrorIs(t, err, os.ErrNotExist)

	var ops []fake.Op
	for _, c := range p.Calls() {
		ops = append(ops, c.Op)
	}
	assert.Equal(t, []fake.Op{fake.OpSetup, fake.OpSetup, fake.OpSetup, fake.OpSetup, fake.OpTeardown, fake.OpTeardown}, ops)
	assert.Equal(t, []string{"h"}, p.TaskIDs())
}

func TestFakeExhaustionAndFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := fake.New(fake.WithSubnet(netip.MustParsePrefix("10.213.0.0/30")))
	_, err := p.Setup(ctx, network.Request{TaskID: "a", Mode: network.ModeAWSVPC})
	require.NoError(t, err)
	_, err = p.Setup(ctx, network.Request{TaskID: "b", Mode: network.ModeAWSVPC})
	require.ErrorIs(t, err, network.ErrExhausted)

	boom := errors.New("boom")
	p.FailSetup(func(r network.Request) error {
		if r.TaskID == "c" {
			return boom
		}
		return nil
	})
	_, err = p.Setup(ctx, network.Request{TaskID: "c", Mode: network.ModeNone})
	require.ErrorIs(t, err, boom)
	p.FailTeardown(func(string) error { return boom })
	require.ErrorIs(t, p.Teardown(ctx, "a"), boom)
	p.FailTeardown(nil)
	require.NoError(t, p.Teardown(ctx, "a"))
	_, err = p.Setup(ctx, network.Request{TaskID: "b", Mode: network.ModeAWSVPC})
	require.NoError(t, err, "the address came back")
}

func TestFakeReconcile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := fake.New()
	for _, id := range []string{"keep", "drop1", "drop2"} {
		_, err := p.Setup(ctx, network.Request{TaskID: id, Mode: network.ModeAWSVPC})
		require.NoError(t, err)
	}
	require.NoError(t, p.Reconcile(ctx, func(id string) bool { return id == "keep" }))
	assert.Equal(t, []string{"keep"}, p.TaskIDs())
	assert.Len(t, p.Allocator().IPAM().Allocations(), 1)
}

func TestFakeUpdateIngress(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := fake.New()
	var _ network.IngressUpdater = p
	rule, err := network.ParseIngressRule("tcp:80 from 10.0.0.0/8")
	require.NoError(t, err)
	_, err = p.Setup(ctx, network.Request{TaskID: "a", Mode: network.ModeAWSVPC, Ingress: &network.IngressPolicy{}})
	require.NoError(t, err)
	got, ok := p.Ingress("a")
	require.True(t, ok)
	assert.Equal(t, &network.IngressPolicy{}, got)

	require.NoError(t, p.UpdateIngress(ctx, "a", &network.IngressPolicy{Rules: []network.IngressRule{rule}}))
	got, _ = p.Ingress("a")
	assert.Equal(t, []network.IngressRule{rule}, got.Rules)
	require.NoError(t, p.UpdateIngress(ctx, "a", nil))
	got, ok = p.Ingress("a")
	assert.True(t, ok)
	assert.Nil(t, got, "nil: unfiltered")

	require.ErrorIs(t, p.UpdateIngress(ctx, "nobody", nil), network.ErrNotFound)
	require.ErrorIs(t, p.UpdateIngress(ctx, "a", &network.IngressPolicy{Rules: []network.IngressRule{{Protocol: "gre"}}}), network.ErrInvalid)
	_, err = p.Setup(ctx, network.Request{TaskID: "h", Mode: network.ModeHost})
	require.NoError(t, err)
	require.ErrorIs(t, p.UpdateIngress(ctx, "h", &network.IngressPolicy{}), network.ErrInvalid)

	require.NoError(t, p.Teardown(ctx, "a"))
	_, ok = p.Ingress("a")
	assert.False(t, ok)
	var updates int
	for _, c := range p.Calls() {
		if c.Op == fake.OpUpdateIngress {
			updates++
		}
	}
	assert.Equal(t, 5, updates, "failed calls are recorded too")
}
