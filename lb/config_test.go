package lb_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/errdefs"
	"github.com/stevedore-io/stevedore/lb"
)

func TestDefaultHealthCheck(t *testing.T) {
	t.Parallel()
	assert.Equal(t, lb.HealthCheck{
		Protocol: lb.HTTP, Path: "/", Interval: 30 * time.Second, Timeout: 5 * time.Second,
		HealthyThreshold: 5, UnhealthyThreshold: 2, Matcher: "200",
	}, lb.DefaultHealthCheck(lb.HTTP))
	assert.Equal(t, lb.HealthCheck{
		Protocol: lb.TCP, Interval: 30 * time.Second, Timeout: 5 * time.Second,
		HealthyThreshold: 5, UnhealthyThreshold: 2,
	}, lb.DefaultHealthCheck(lb.TCP))
	g, err := lb.NewTargetGroup("web", lb.HTTP)
	require.NoError(t, err)
	t.Cleanup(func() { g.Close() })
	assert.Equal(t, lb.DefaultHealthCheck(lb.HTTP), g.HealthCheck())
	assert.Equal(t, 300*time.Second, g.DeregistrationDelay())
	assert.Equal(t, "web", g.Name())
	assert.Equal(t, lb.HTTP, g.Protocol())
}

func TestHealthCheckValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		hc    lb.HealthCheck
		field string // "" when valid
	}{
		{"zero is defaults", lb.HealthCheck{}, ""},
		{"full", lb.HealthCheck{Protocol: lb.HTTP, Path: "/healthz?deep=1", Port: 8081, Interval: 5 * time.Second, Timeout: 2 * time.Second, HealthyThreshold: 10, UnhealthyThreshold: 10, Matcher: "200-299,302"}, ""},
		{"tcp", lb.HealthCheck{Protocol: lb.TCP, Interval: 300 * time.Second, Timeout: 120 * time.Second}, ""},
		{"protocol", lb.HealthCheck{Protocol: "UDP"}, "healthCheck.protocol"},
		{"interval low", lb.HealthCheck{Interval: 4 * time.Second, Timeout: 2 * time.Second}, "healthCheck.interval"},
		{"interval high", lb.HealthCheck{Interval: 301 * time.Second}, "healthCheck.interval"},
		{"timeout low", lb.HealthCheck{Timeout: time.Second}, "healthCheck.timeout"},
		{"timeout high", lb.HealthCheck{Interval: 300 * time.Second, Timeout: 121 * time.Second}, "healthCheck.timeout"},
		{"timeout not below interval", lb.HealthCheck{Interval: 5 * time.Second, Timeout: 5 * time.Second}, "healthCheck.timeout"},
		{"healthy threshold", lb.HealthCheck{HealthyThreshold: 1}, "healthCheck.healthyThreshold"},
		{"unhealthy threshold", lb.HealthCheck{UnhealthyThreshold: 11}, "healthCheck.unhealthyThreshold"},
		{"port", lb.HealthCheck{Port: 70000}, "healthCheck.port"},
		{"path", lb.HealthCheck{Path: "healthz"}, "healthCheck.path"},
		{"matcher", lb.HealthCheck{Matcher: "600"}, "healthCheck.matcher"},
		{"tcp path", lb.HealthCheck{Protocol: lb.TCP, Path: "/"}, "healthCheck.path"},
		{"tcp matcher", lb.HealthCheck{Protocol: lb.TCP, Matcher: "200"}, "healthCheck.matcher"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.hc.Validate()
			if tt.field == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, lb.ErrInvalid)
			var fe *errdefs.FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tt.field, fe.Path)
		})
	}
}

func TestFastHealthChecks(t *testing.T) {
	t.Parallel()
	hc := lb.HealthCheck{Interval: time.Second, Timeout: 500 * time.Millisecond}
	require.ErrorIs(t, hc.Validate(), lb.ErrInvalid, "ALB's limits")
	g, err := lb.NewTargetGroup("fast", lb.HTTP, lb.WithFastHealthChecks(), lb.WithHealthCheck(hc))
	require.NoError(t, err)
	defer g.Close()
	assert.Equal(t, time.Second, g.HealthCheck().Interval)
	assert.Equal(t, 500*time.Millisecond, g.HealthCheck().Timeout)
}

func TestNewTargetGroupInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		group string
		proto lb.Protocol
		opts  []lb.GroupOption
		field string
	}{
		{"name", "", lb.HTTP, nil, "name"},
		{"protocol", "g", "UDP", nil, "protocol"},
		{"delay", "g", lb.HTTP, []lb.GroupOption{lb.WithDeregistrationDelay(3601 * time.Second)}, "deregistrationDelay"},
		{"negative delay", "g", lb.HTTP, []lb.GroupOption{lb.WithDeregistrationDelay(-time.Second)}, "deregistrationDelay"},
		{"algorithm", "g", lb.HTTP, []lb.GroupOption{lb.WithAlgorithm("random")}, "algorithm"},
		{"dialer", "g", lb.HTTP, []lb.GroupOption{lb.WithDialer(nil)}, "dialer"},
		{"logger", "g", lb.HTTP, []lb.GroupOption{lb.WithGroupLogger(nil)}, "logger"},
		{"callback", "g", lb.HTTP, []lb.GroupOption{lb.OnHealthChange(nil)}, "onHealthChange"},
		{"health check", "g", lb.TCP, []lb.GroupOption{lb.WithHealthCheck(lb.HealthCheck{Path: "/x"})}, "healthCheck.path"},
		{"interval below ALB's", "g", lb.HTTP, []lb.GroupOption{lb.WithHealthCheck(lb.HealthCheck{Interval: time.Second, Timeout: 500 * time.Millisecond})}, "healthCheck.interval"},
		{"fast interval too short", "g", lb.HTTP, []lb.GroupOption{lb.WithFastHealthChecks(),
			lb.WithHealthCheck(lb.HealthCheck{Interval: 999 * time.Millisecond, Timeout: 500 * time.Millisecond})}, "healthCheck.interval"},
		{"fast timeout too short", "g", lb.HTTP, []lb.GroupOption{lb.WithFastHealthChecks(),
			lb.WithHealthCheck(lb.HealthCheck{Interval: time.Second, Timeout: 499 * time.Millisecond})}, "healthCheck.timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := lb.NewTargetGroup(tt.group, tt.proto, tt.opts...)
			var fe *errdefs.FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tt.field, fe.Path)
			assert.ErrorIs(t, err, lb.ErrInvalid)
		})
	}
}

func TestRegisterErrors(t *testing.T) {
	t.Parallel()
	g, err := lb.NewTargetGroup("web", lb.TCP)
	require.NoError(t, err)
	t.Cleanup(func() { g.Close() })

	for _, bad := range []lb.Target{{Addr: "127.0.0.1:1"}, {ID: "a", Addr: "127.0.0.1"}, {ID: "a", Addr: "127.0.0.1:0"}, {ID: "a", Addr: ":80"}} {
		assert.ErrorIs(t, g.Register(bad), lb.ErrInvalid, "%+v", bad)
	}
	require.NoError(t, g.Register(lb.Target{ID: "a", Addr: "127.0.0.1:1"}))
	require.NoError(t, g.Register(lb.Target{ID: "a", Addr: "127.0.0.1:1"}), "registering again is a no-op")
	assert.ErrorIs(t, g.Register(lb.Target{ID: "a", Addr: "127.0.0.1:2"}), lb.ErrConflict)
	assert.ErrorIs(t, g.Deregister("b"), lb.ErrNotFound)
	assert.Equal(t, lb.TargetHealth{State: lb.StateUnused, Reason: lb.ReasonNotRegistered, Description: "Target is not registered to the target group"}, g.Health("b"))
	_, ok := g.Stats("b")
	assert.False(t, ok)

	require.NoError(t, g.Close())
	assert.ErrorIs(t, g.Register(lb.Target{ID: "c", Addr: "127.0.0.1:1"}), lb.ErrClosed)
	assert.ErrorIs(t, g.Deregister("a"), lb.ErrClosed)
	_, err = g.WaitState(t.Context(), "a", lb.StateHealthy)
	assert.ErrorIs(t, err, lb.ErrClosed)
	assert.Empty(t, g.Targets())
}

func TestListenerInvalid(t *testing.T) {
	t.Parallel()
	web, err := lb.NewTargetGroup("web", lb.HTTP)
	require.NoError(t, err)
	db, err := lb.NewTargetGroup("db", lb.TCP)
	require.NoError(t, err)
	t.Cleanup(func() { web.Close(); db.Close() })
	balancer, err := lb.New()
	require.NoError(t, err)
	t.Cleanup(func() { balancer.Close() })

	tests := []struct {
		name  string
		rules []lb.Rule
		def   *lb.TargetGroup
		field string
	}{
		{"no condition", []lb.Rule{{TargetGroup: web}}, nil, "rules[0]"},
		{"relative path", []lb.Rule{{PathPrefix: "api", TargetGroup: web}}, nil, "rules[0].pathPrefix"},
		{"no group", []lb.Rule{{Host: "a", TargetGroup: web}, {Host: "b"}}, nil, "rules[1].targetGroup"},
		{"tcp group", []lb.Rule{{Host: "a", TargetGroup: db}}, nil, "rules[0].targetGroup"},
		{"tcp default", nil, db, "defaultTargetGroup"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := balancer.AddHTTPListener("127.0.0.1:0", tt.rules, tt.def)
			var fe *errdefs.FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tt.field, fe.Path)
		})
	}
	_, err = balancer.AddTCPListener("127.0.0.1:0", web)
	assert.ErrorIs(t, err, lb.ErrInvalid)
	_, err = balancer.AddTCPListener("127.0.0.1:0", nil)
	assert.ErrorIs(t, err, lb.ErrInvalid)

	l, err := balancer.AddTCPListener("127.0.0.1:0", db)
	require.NoError(t, err)
	assert.Equal(t, lb.TCP, l.Protocol())
	assert.ErrorIs(t, l.SetRules(nil, web), lb.ErrInvalid)
	assert.Len(t, balancer.Listeners(), 1)
	require.NoError(t, balancer.Close())
	assert.Empty(t, balancer.Listeners())
	_, err = balancer.AddHTTPListener("127.0.0.1:0", nil, web)
	assert.True(t, errors.Is(err, lb.ErrClosed))
}

func TestLimits(t *testing.T) {
	t.Parallel()
	assert.Equal(t, lb.Limits{
		IdleTimeout:       60 * time.Second,
		ReadHeaderTimeout: 30 * time.Second,
		TargetTimeout:     60 * time.Second,
		MaxConns:          10000,
		MaxHeaderBytes:    64 << 10,
		MaxBodyBytes:      0,
		TCPIdleTimeout:    350 * time.Second,
		AllowH2CUpgrade:   false,
	}, lb.DefaultLimits())
	require.NoError(t, lb.DefaultLimits().Validate())
	require.NoError(t, lb.Limits{}.Validate(), "zero fields take the defaults")

	tests := []struct {
		lim   lb.Limits
		field string
	}{
		{lb.Limits{IdleTimeout: -1}, "limits.idleTimeout"},
		{lb.Limits{ReadHeaderTimeout: -1}, "limits.readHeaderTimeout"},
		{lb.Limits{TargetTimeout: -1}, "limits.targetTimeout"},
		{lb.Limits{MaxConns: -1}, "limits.maxConns"},
		{lb.Limits{MaxHeaderBytes: -1}, "limits.maxHeaderBytes"},
		{lb.Limits{MaxBodyBytes: -1}, "limits.maxBodyBytes"},
		{lb.Limits{TCPIdleTimeout: -1}, "limits.tcpIdleTimeout"},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			var fe *errdefs.FieldError
			require.ErrorAs(t, tt.lim.Validate(), &fe)
			assert.Equal(t, tt.field, fe.Path)
			_, err := lb.New(lb.WithLimits(tt.lim))
			assert.ErrorIs(t, err, lb.ErrInvalid)
			_, err = lb.NewHandler(nil, nil, lb.WithLimits(tt.lim))
			assert.ErrorIs(t, err, lb.ErrInvalid)
		})
	}
	_, err := lb.New(lb.WithListenFunc(nil))
	assert.ErrorIs(t, err, lb.ErrInvalid)
}
