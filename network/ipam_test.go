package network

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

func mustIPAM(t testing.TB, subnet string, store AllocationStore) *IPAM {
	t.Helper()
	a, err := NewIPAM(netip.MustParsePrefix(subnet), store)
	require.NoError(t, err)
	return a
}

func TestNewIPAMRejectsBadSubnets(t *testing.T) {
	t.Parallel()
	tests := map[string]netip.Prefix{
		"invalid":     {},
		"ipv6":        netip.MustParsePrefix("fd00::/64"),
		"too small":   netip.MustParsePrefix("10.0.0.0/31"),
		"too large":   netip.MustParsePrefix("10.0.0.0/7"),
		"host bits":   netip.MustParsePrefix("10.0.0.1/24"),
		"single host": netip.MustParsePrefix("10.0.0.1/32"),
	}
	for name, p := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := NewIPAM(p, nil)
			require.ErrorIs(t, err, ErrInvalid)
		})
	}
}

func TestIPAMAllocatesInOrderSkippingReservedAddresses(t *testing.T) {
	t.Parallel()
	a := mustIPAM(t, "10.213.0.0/29", nil) // .0 network, .1 gateway, .7 broadcast
	assert.Equal(t, netip.MustParseAddr("10.213.0.1"), a.Gateway())
	assert.Equal(t, 5, a.Free())
	var got []string
	for i := range 5 {
		addr, err := a.Allocate(fmt.Sprint("task", i))
		require.NoError(t, err)
		got = append(got, addr.String())
	}
	assert.Equal(t, []string{"10.213.0.2", "10.213.0.3", "10.213.0.4", "10.213.0.5", "10.213.0.6"}, got)
	_, err := a.Allocate("one-too-many")
	require.ErrorIs(t, err, ErrExhausted)
	assert.Equal(t, 0, a.Free())
}

func TestIPAMAllocateIsIdempotentPerTask(t *testing.T) {
	t.Parallel()
	a := mustIPAM(t, "10.213.0.0/24", nil)
	first, err := a.Allocate("t")
	require.NoError(t, err)
	again, err := a.Allocate("t")
	require.NoError(t, err)
	assert.Equal(t, first, again)
	assert.Equal(t, 252, a.Free())
	_, err = a.Allocate("")
	require.ErrorIs(t, err, ErrInvalid)
}

func TestIPAMNextFitReusesReleasedAddressesLate(t *testing.T) {
	t.Parallel()
	a := mustIPAM(t, "10.213.0.0/29", nil)
	for _, id := range []string{"a", "b", "c"} {
		_, err := a.Allocate(id)
		require.NoError(t, err)
	}
	require.NoError(t, a.Release("a")) // frees .2
	require.NoError(t, a.Release("a")) // idempotent
	d, err := a.Allocate("d")
	require.NoError(t, err)
	assert.Equal(t, "10.213.0.5", d.String(), "next-fit continues after the last address handed out")
	e, err := a.Allocate("e")
	require.NoError(t, err)
	assert.Equal(t, "10.213.0.6", e.String())
	f, err := a.Allocate("f")
	require.NoError(t, err)
	assert.Equal(t, "10.213.0.2", f.String(), "wraps around to the freed address")
	_, ok := a.Lookup("a")
	assert.False(t, ok)
	got, ok := a.Lookup("f")
	assert.True(t, ok)
	assert.Equal(t, f, got)
}

func TestIPAMLargeSubnetCrossesWords(t *testing.T) {
	t.Parallel()
	a := mustIPAM(t, "10.213.0.0/22", nil) // 1024 addresses, 16 bitmap words
	for i := range 1021 {
		_, err := a.Allocate(fmt.Sprint(i))
		require.NoError(t, err)
	}
	_, err := a.Allocate("x")
	require.ErrorIs(t, err, ErrExhausted)
	require.NoError(t, a.Release("700"))
	addr, err := a.Allocate("x")
	require.NoError(t, err)
	assert.Equal(t, netip.MustParseAddr("10.213.2.190"), addr) // offset 702 = 700 + 2
}

func TestIPAMPersistsThroughStore(t *testing.T) {
	t.Parallel()
	store := NewFileStore(filepath.Join(t.TempDir(), "sub", "ipam.json"))
	a := mustIPAM(t, "10.213.1.0/24", store)
	x, err := a.Allocate("x")
	require.NoError(t, err)
	y, err := a.Allocate("y")
	require.NoError(t, err)
	require.NoError(t, a.Release("x"))

	b := mustIPAM(t, "10.213.1.0/24", store)
	assert.Equal(t, map[string]netip.Addr{"y": y}, b.Allocations())
	z, err := b.Allocate("z")
	require.NoError(t, err)
	assert.NotEqual(t, x, z, "the cursor is persisted, so x's old address is not reused at once")
	assert.Equal(t, "10.213.1.4", z.String())

	_, err = NewIPAM(netip.MustParsePrefix("10.213.2.0/24"), store)
	require.ErrorIs(t, err, ErrConflict)
}

func TestIPAMRejectsInconsistentState(t *testing.T) {
	t.Parallel()
	subnet := netip.MustParsePrefix("10.213.0.0/24")
	tests := map[string]IPAMState{
		"outside subnet": {Subnet: subnet, Allocations: map[string]netip.Addr{"a": netip.MustParseAddr("10.9.0.2")}},
		"gateway":        {Subnet: subnet, Allocations: map[string]netip.Addr{"a": netip.MustParseAddr("10.213.0.1")}},
		"broadcast":      {Subnet: subnet, Allocations: map[string]netip.Addr{"a": netip.MustParseAddr("10.213.0.255")}},
		"twice": {Subnet: subnet, Allocations: map[string]netip.Addr{
			"a": netip.MustParseAddr("10.213.0.9"), "b": netip.MustParseAddr("10.213.0.9")}},
	}
	for name, st := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			store := &MemoryStore{}
			require.NoError(t, store.Save(st))
			_, err := NewIPAM(subnet, store)
			require.ErrorIs(t, err, ErrConflict)
		})
	}
}

func TestIPAMReserve(t *testing.T) {
	t.Parallel()
	a := mustIPAM(t, "10.213.0.0/29", nil)
	require.NoError(t, a.Reserve("x", netip.MustParseAddr("10.213.0.4")))
	require.NoError(t, a.Reserve("x", netip.MustParseAddr("10.213.0.4")), "idempotent")
	require.ErrorIs(t, a.Reserve("x", netip.MustParseAddr("10.213.0.5")), ErrConflict)
	require.ErrorIs(t, a.Reserve("y", netip.MustParseAddr("10.213.0.4")), ErrConflict)
	require.ErrorIs(t, a.Reserve("y", netip.MustParseAddr("10.213.0.1")), ErrInvalid, "the gateway")
	require.ErrorIs(t, a.Reserve("y", netip.MustParseAddr("10.9.0.4")), ErrInvalid)
	require.ErrorIs(t, a.Reserve("", netip.MustParseAddr("10.213.0.6")), ErrInvalid)
	assert.Equal(t, 4, a.Free())
	got, err := a.Allocate("z")
	require.NoError(t, err)
	assert.Equal(t, "10.213.0.2", got.String(), "Reserve does not move the cursor")
}

type failingStore struct {
	MemoryStore
	fail bool
}

func (s *failingStore) Save(st IPAMState) error {
	if s.fail {
		return errors.New("disk full")
	}
	return s.MemoryStore.Save(st)
}

func TestIPAMUndoesChangeWhenSaveFails(t *testing.T) {
	t.Parallel()
	store := &failingStore{}
	a := mustIPAM(t, "10.213.0.0/29", store)
	keep, err := a.Allocate("keep")
	require.NoError(t, err)

	store.fail = true
	_, err = a.Allocate("new")
	require.ErrorContains(t, err, "disk full")
	_, ok := a.Lookup("new")
	assert.False(t, ok)
	require.ErrorContains(t, a.Release("keep"), "disk full")
	got, ok := a.Lookup("keep")
	assert.True(t, ok)
	assert.Equal(t, keep, got)
	assert.Equal(t, 4, a.Free())

	store.fail = false
	next, err := a.Allocate("new")
	require.NoError(t, err)
	assert.Equal(t, "10.213.0.3", next.String(), "the failed allocation did not move the cursor")
}

func TestFileStoreLoadErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st, err := NewFileStore(filepath.Join(dir, "missing.json")).Load()
	require.NoError(t, err)
	assert.False(t, st.Subnet.IsValid())

	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte("{"), 0o644))
	_, err = NewFileStore(bad).Load()
	require.ErrorContains(t, err, "parse")
}

// TestIPAMProperties checks, over random sequences of allocations and
// releases, that addresses are unique, assignable, and that Free counts
// them, and that a reload from the store reproduces the state.
func TestIPAMProperties(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		bitsLen := rapid.IntRange(24, 30).Draw(t, "bits")
		subnet := netip.PrefixFrom(netip.MustParseAddr("10.213.0.0"), bitsLen)
		store := &MemoryStore{}
		a, err := NewIPAM(subnet, store)
		if err != nil {
			t.Fatal(err)
		}
		capacity := 1<<(32-bitsLen) - 3
		live := map[string]netip.Addr{}
		for i := range rapid.IntRange(0, 300).Draw(t, "steps") {
			task := fmt.Sprint("t", rapid.IntRange(0, 80).Draw(t, fmt.Sprint("task", i)))
			if rapid.Bool().Draw(t, fmt.Sprint("release", i)) {
				if err := a.Release(task); err != nil {
					t.Fatal(err)
				}
				delete(live, task)
				continue
			}
			addr, err := a.Allocate(task)
			if errors.Is(err, ErrExhausted) {
				if len(live) != capacity {
					t.Fatalf("exhausted with %d of %d allocated", len(live), capacity)
				}
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if prev, ok := live[task]; ok && prev != addr {
				t.Fatalf("task %s moved from %s to %s", task, prev, addr)
			}
			if !subnet.Contains(addr) || addr == a.Gateway() || addr == subnet.Addr() || addr == lastAddr(subnet) {
				t.Fatalf("address %s is not assignable in %s", addr, subnet)
			}
			live[task] = addr
		}
		seen := map[netip.Addr]string{}
		for task, addr := range live {
			if other, dup := seen[addr]; dup {
				t.Fatalf("%s given to %s and %s", addr, task, other)
			}
			seen[addr] = task
		}
		if a.Free() != capacity-len(live) {
			t.Fatalf("Free() = %d, want %d", a.Free(), capacity-len(live))
		}
		b, err := NewIPAM(subnet, store)
		if err != nil {
			t.Fatal(err)
		}
		if got := b.Allocations(); len(got) != len(live) {
			t.Fatalf("reloaded %d allocations, want %d", len(got), len(live))
		}
	})
}

func lastAddr(p netip.Prefix) netip.Addr {
	return u32ToAddr(addrToU32(p.Addr()) | (1<<(32-p.Bits()) - 1))
}

func BenchmarkIPAMAllocateRelease(b *testing.B) {
	a := mustIPAM(b, "10.0.0.0/16", nil)
	for i := range 60000 { // nearly full: next-fit still finds room fast
		if _, err := a.Allocate(fmt.Sprint("fill", i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := range b.N {
		id := fmt.Sprint("t", i%1000)
		if _, err := a.Allocate(id); err != nil {
			b.Fatal(err)
		}
		if err := a.Release(id); err != nil {
			b.Fatal(err)
		}
	}
}
