package discovery

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

func TestResolverLookupHost(t *testing.T) {
	t.Parallel()
	r, err := NewResolver(testRegistry(t), "local")
	require.NoError(t, err)
	tests := []struct {
		name    string
		want    []netip.Addr
		wantErr error
	}{
		{"web", addrs("10.0.0.1", "10.0.1.1"), nil},
		{"web.local", addrs("10.0.0.1", "10.0.1.1"), nil},
		{"Web.Local.", addrs("10.0.0.1", "10.0.1.1"), nil},
		{"web.prod", addrs("10.0.1.1"), nil},
		{"web.prod.local.", addrs("10.0.1.1"), nil},
		{"a1.web", addrs("10.0.0.1"), nil},
		{"p1.web.prod.local", addrs("10.0.1.1"), nil},
		{"api", addrs("fd00::6"), nil},
		{"nope", nil, ErrNotFound},
		{"nope.local.", nil, ErrNotFound},
		{"local", nil, ErrNotFound},
		{"prod", nil, ErrNotFound},
		{"_web._tcp", nil, ErrNotFound},
		{"web.example.com", nil, ErrNotFound},
		{"db", nil, ErrNoHealthy},
		{"s1.web", nil, ErrNoHealthy},
		{"web.example.com.", nil, ErrOutsideZone},
		{"localhost.", nil, ErrOutsideZone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := r.LookupHost(t.Context(), tt.name)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				var dnsErr *net.DNSError
				require.ErrorAs(t, err, &dnsErr)
				assert.Equal(t, tt.name, dnsErr.Name)
				assert.Equal(t, tt.wantErr != ErrOutsideZone, dnsErr.IsNotFound)
				return
			}
			require.NoError(t, err)
			assert.ElementsMatch(t, tt.want, got)
		})
	}
}

func TestResolverLookupSRV(t *testing.T) {
	t.Parallel()
	r, err := NewResolver(testRegistry(t), "")
	require.NoError(t, err)
	a1 := SRV{Target: "a1.web.local.", Port: 8080, Priority: 1, Weight: 1, Addr: netip.MustParseAddr("10.0.0.1"), ID: "a1"}
	p1 := SRV{Target: "p1.web.local.", Port: 8080, Priority: 1, Weight: 1, Addr: netip.MustParseAddr("10.0.1.1"), ID: "p1"}
	p1Scoped := p1
	p1Scoped.Target = "p1.web.prod.local."
	tests := []struct {
		name    string
		want    []SRV
		wantErr error
	}{
		{"web", []SRV{a1, p1}, nil},
		{"_web._tcp", []SRV{a1, p1}, nil},
		{"_web._tcp.local.", []SRV{a1, p1}, nil},
		{"web.prod", []SRV{p1Scoped}, nil},
		{"_web._tcp.prod.local", []SRV{p1Scoped}, nil},
		{"a1.web", []SRV{a1}, nil},
		{"api", nil, ErrNoHealthy}, // no port
		{"db", nil, ErrNoHealthy},
		{"nope", nil, ErrNotFound},
		{"local", nil, ErrNotFound},
		{"_web._tcp.example.", nil, ErrOutsideZone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := r.LookupSRV(t.Context(), tt.name)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.ElementsMatch(t, tt.want, got)
		})
	}
}

func TestResolverRotatesAndFollows(t *testing.T) {
	t.Parallel()
	reg := NewRegistry()
	r, err := NewResolver(reg, "svc.example")
	require.NoError(t, err)
	for _, in := range []Instance{inst("web", "a", "10.0.0.1", 80), inst("web", "b", "10.0.0.2", 80)} {
		require.NoError(t, reg.Register(in))
	}
	first, err := r.LookupHost(t.Context(), "web.svc.example.")
	require.NoError(t, err)
	second, err := r.LookupHost(t.Context(), "web")
	require.NoError(t, err)
	assert.NotEqual(t, first[0], second[0], "rotated")
	assert.ElementsMatch(t, first, second)

	reg.Deregister("web", "a")
	got, err := r.LookupHost(t.Context(), "web")
	require.NoError(t, err)
	assert.Equal(t, addrs("10.0.0.2"), got)
}

func TestResolverErrors(t *testing.T) {
	t.Parallel()
	_, err := NewResolver(nil, "local")
	require.ErrorIs(t, err, ErrInvalid)
	_, err = NewResolver(NewRegistry(), "bad..zone")
	require.ErrorIs(t, err, ErrInvalid)

	r, err := NewResolver(testRegistry(t), "local")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = r.LookupHost(ctx, "web")
	require.ErrorIs(t, err, context.Canceled)
	_, err = r.LookupSRV(ctx, "web")
	require.ErrorIs(t, err, context.Canceled)
}

// The in-process resolver and the DNS server give the same answers.
func TestResolverMatchesServer(t *testing.T) {
	t.Parallel()
	reg := testRegistry(t)
	srv := startServer(t, reg, nil)
	local, err := NewResolver(reg, "local")
	require.NoError(t, err)
	for _, name := range []string{"web.local.", "web.prod.local.", "a1.web.local.", "api.local.", "db.local.", "nope.local."} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			want, wantErr := local.LookupHost(t.Context(), name)
			got, gotErr := srv.Resolver().LookupNetIP(t.Context(), "ip", name)
			if wantErr != nil {
				require.Error(t, gotErr)
				var dnsErr *net.DNSError
				require.ErrorAs(t, gotErr, &dnsErr)
				assert.True(t, dnsErr.IsNotFound, "%v", gotErr)
				return
			}
			require.NoError(t, gotErr)
			assert.ElementsMatch(t, want, got)
		})
	}
}
