package network

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newTestAllocator(t *testing.T) *Allocator {
	t.Helper()
	ports, err := NewPortAllocator(WithDynamicPorts(PortRange{First: 50000, Last: 50001}))
	require.NoError(t, err)
	return NewAllocator(mustIPAM(t, "10.213.0.0/24", nil), ports)
}

func TestAllocatorByMode(t *testing.T) {
	t.Parallel()
	a := newTestAllocator(t)

	got, err := a.Allocate(Request{TaskID: "vpc", Mode: ModeAWSVPC, PortMappings: []PortMapping{{ContainerPort: 80}}})
	require.NoError(t, err)
	assert.Equal(t, netip.MustParsePrefix("10.213.0.2/24"), got.Address)
	assert.Equal(t, []PortBinding{{ContainerPort: 80, HostPort: 80, Protocol: ProtocolTCP}}, got.Bindings)
	_, held := a.Ports().Owner(ProtocolTCP, 80)
	assert.False(t, held, "awsvpc reserves no host port")

	got, err = a.Allocate(Request{TaskID: "br", Mode: ModeBridge, PortMappings: []PortMapping{
		{ContainerPort: 80}, {ContainerPort: 81, HostPort: 8081}, {ContainerPort: 53, Protocol: ProtocolUDP}}})
	require.NoError(t, err)
	assert.Equal(t, netip.MustParsePrefix("10.213.0.3/24"), got.Address)
	assert.Equal(t, []PortBinding{
		{ContainerPort: 80, HostPort: 50000, Protocol: ProtocolTCP},
		{ContainerPort: 81, HostPort: 8081, Protocol: ProtocolTCP},
		{ContainerPort: 53, HostPort: 50000, Protocol: ProtocolUDP},
	}, got.Bindings)

	got, err = a.Allocate(Request{TaskID: "host", Mode: ModeHost, PortMappings: []PortMapping{{ContainerPort: 8081, Protocol: ProtocolUDP}}})
	require.NoError(t, err)
	assert.False(t, got.Address.IsValid())
	owner, _ := a.Ports().Owner(ProtocolUDP, 8081)
	assert.Equal(t, "host", owner)

	got, err = a.Allocate(Request{TaskID: "none", Mode: ModeNone})
	require.NoError(t, err)
	assert.Equal(t, Allocation{}, got)
}

func TestAllocatorRollsBackOnConflict(t *testing.T) {
	t.Parallel()
	a := newTestAllocator(t)
	_, err := a.Allocate(Request{TaskID: "first", Mode: ModeHost, PortMappings: []PortMapping{{ContainerPort: 8080}}})
	require.NoError(t, err)
	_, err = a.Allocate(Request{TaskID: "second", Mode: ModeBridge, PortMappings: []PortMapping{{ContainerPort: 80}, {ContainerPort: 80, HostPort: 8080}}})
	require.ErrorIs(t, err, ErrPortInUse)
	assert.ErrorContains(t, err, "portMappings[1]")
	_, ok := a.IPAM().Lookup("second")
	assert.False(t, ok, "the address is released")
	_, held := a.Ports().Owner(ProtocolTCP, 50000)
	assert.False(t, held, "the dynamic port is released")
}

func TestAllocatorRestore(t *testing.T) {
	t.Parallel()
	a := newTestAllocator(t)
	got, err := a.Allocate(Request{TaskID: "br", Mode: ModeBridge, PortMappings: []PortMapping{{ContainerPort: 80}}})
	require.NoError(t, err)
	att := &Attachment{TaskID: "br", Mode: ModeBridge, Address: got.Address, PortBindings: got.Bindings}

	ports, err := NewPortAllocator(WithDynamicPorts(PortRange{First: 50000, Last: 50001}))
	require.NoError(t, err)
	b := NewAllocator(a.IPAM(), ports)
	require.NoError(t, b.Restore(att))
	owner, _ := ports.Owner(ProtocolTCP, 50000)
	assert.Equal(t, "br", owner)

	att.Address = netip.MustParsePrefix("10.213.0.99/24")
	require.ErrorIs(t, b.Restore(att), ErrConflict, "the IPAM has another address for the task")

	// An attachment whose address the IPAM lost gets it back.
	lost := &Attachment{TaskID: "lost", Mode: ModeAWSVPC, Address: netip.MustParsePrefix("10.213.0.77/24")}
	require.NoError(t, b.Restore(lost))
	addr, ok := b.IPAM().Lookup("lost")
	assert.True(t, ok)
	assert.Equal(t, "10.213.0.77", addr.String())
}
