package network

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPortAllocatorDynamic(t *testing.T) {
	t.Parallel()
	p, err := NewPortAllocator(WithDynamicPorts(PortRange{First: 50000, Last: 50002}))
	require.NoError(t, err)
	got := []uint16{}
	for _, owner := range []string{"a", "b", "c"} {
		port, err := p.Allocate(owner, ProtocolTCP)
		require.NoError(t, err)
		got = append(got, port)
	}
	assert.Equal(t, []uint16{50000, 50001, 50002}, got)
	_, err = p.Allocate("d", ProtocolTCP)
	require.ErrorIs(t, err, ErrExhausted)

	udp, err := p.Allocate("d", ProtocolUDP)
	require.NoError(t, err)
	assert.Equal(t, uint16(50000), udp, "protocols are independent")

	p.Release("b")
	port, err := p.Allocate("d", "")
	require.NoError(t, err)
	assert.Equal(t, uint16(50001), port)
	owner, ok := p.Owner(ProtocolTCP, 50001)
	assert.True(t, ok)
	assert.Equal(t, "d", owner)
}

func TestPortAllocatorNextFit(t *testing.T) {
	t.Parallel()
	p, err := NewPortAllocator(WithDynamicPorts(PortRange{First: 60000, Last: 60009}))
	require.NoError(t, err)
	a, err := p.Allocate("a", ProtocolTCP)
	require.NoError(t, err)
	p.Release("a")
	b, err := p.Allocate("b", ProtocolTCP)
	require.NoError(t, err)
	assert.Equal(t, a+1, b, "a released port is not reused at once")
}

func TestPortAllocatorStaticReservations(t *testing.T) {
	t.Parallel()
	p, err := NewPortAllocator(WithDynamicPorts(PortRange{First: 50000, Last: 50001}))
	require.NoError(t, err)
	require.NoError(t, p.Reserve("a", ProtocolTCP, 50000))
	require.NoError(t, p.Reserve("a", ProtocolTCP, 50000), "idempotent for the same owner")
	require.ErrorIs(t, p.Reserve("b", ProtocolTCP, 50000), ErrPortInUse)
	require.NoError(t, p.Reserve("b", ProtocolUDP, 50000))
	require.NoError(t, p.Reserve("b", ProtocolTCP, 80))

	port, err := p.Allocate("c", ProtocolTCP)
	require.NoError(t, err)
	assert.Equal(t, uint16(50001), port, "dynamic allocation skips static reservations")

	require.ErrorIs(t, p.Reserve("a", ProtocolICMP, 1), ErrInvalid)
	require.ErrorIs(t, p.Reserve("", ProtocolTCP, 1), ErrInvalid)
	require.ErrorIs(t, p.Reserve("a", ProtocolTCP, 0), ErrInvalid)
}

func TestPortAllocatorProbe(t *testing.T) {
	t.Parallel()
	busy := map[uint16]bool{50000: true, 50001: true}
	p, err := NewPortAllocator(
		WithDynamicPorts(PortRange{First: 50000, Last: 50003}),
		WithPortProbe(func(_ Protocol, port uint16) bool { return busy[port] }))
	require.NoError(t, err)
	port, err := p.Allocate("a", ProtocolTCP)
	require.NoError(t, err)
	assert.Equal(t, uint16(50002), port)
}

func TestPortRangeValidate(t *testing.T) {
	t.Parallel()
	require.NoError(t, DefaultDynamicPorts.Validate())
	assert.True(t, DefaultDynamicPorts.Contains(49153))
	assert.False(t, DefaultDynamicPorts.Contains(49152))
	_, err := NewPortAllocator(WithDynamicPorts(PortRange{First: 10, Last: 5}))
	require.ErrorIs(t, err, ErrInvalid)
	_, err = NewPortAllocator(WithDynamicPorts(PortRange{First: 0, Last: 5}))
	require.ErrorIs(t, err, ErrInvalid)
}

func BenchmarkPortAllocatorAllocate(b *testing.B) {
	p, err := NewPortAllocator()
	require.NoError(b, err)
	for i := range b.N {
		owner := "t"
		if _, err := p.Allocate(owner, ProtocolTCP); err != nil {
			b.Fatal(err)
		}
		if i%1000 == 999 {
			p.Release(owner)
		}
	}
}
