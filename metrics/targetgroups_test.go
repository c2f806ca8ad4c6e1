package metrics_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/lb"
	"github.com/stevedore-io/stevedore/metrics"
)

var _ metrics.TargetGroup = (*lb.TargetGroup)(nil)

// fixedGroup is a target group whose targets do not change.
type fixedGroup struct {
	name    string
	targets []lb.TargetDescription
}

func (g fixedGroup) Name() string                    { return g.name }
func (g fixedGroup) Targets() []lb.TargetDescription { return g.targets }

func TestCollectorReportsTargets(t *testing.T) {
	t.Parallel()
	o, err := stevedore.New()
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, o.Close()) })
	web := fixedGroup{name: "web", targets: []lb.TargetDescription{
		{Target: lb.Target{ID: "t1", Addr: "10.0.0.1:80"}, Health: lb.TargetHealth{State: lb.StateHealthy},
			Stats: lb.TargetStats{Requests: 10, Errors: 1, Active: 2}},
		{Target: lb.Target{ID: "t2", Addr: "10.0.0.2:80"}, Health: lb.TargetHealth{State: lb.StateDraining},
			Stats: lb.TargetStats{Requests: 5}},
	}}
	c, err := metrics.NewCollector(o, metrics.WithTargetGroups(web, fixedGroup{name: "api"}))
	require.NoError(t, err)
	prometheus.NewPedanticRegistry().MustRegister(c)

	const want = `
# HELP stevedore_target_active_requests HTTP requests in flight to a target, or TCP connections open to it.
# TYPE stevedore_target_active_requests gauge
stevedore_target_active_requests{target="t1",target_group="web"} 2
stevedore_target_active_requests{target="t2",target_group="web"} 0
# HELP stevedore_target_errors_total Requests a target answered with a 5xx status, and requests or connections that failed to reach it or broke off, since it registered.
# TYPE stevedore_target_errors_total counter
stevedore_target_errors_total{target="t1",target_group="web"} 1
stevedore_target_errors_total{target="t2",target_group="web"} 0
# HELP stevedore_target_requests_total HTTP requests sent to a target, or TCP connections forwarded to it, since it registered.
# TYPE stevedore_target_requests_total counter
stevedore_target_requests_total{target="t1",target_group="web"} 10
stevedore_target_requests_total{target="t2",target_group="web"} 5
# HELP stevedore_targets Registered targets of a load balancer target group by health state.
# TYPE stevedore_targets gauge
stevedore_targets{state="draining",target_group="api"} 0
stevedore_targets{state="draining",target_group="web"} 1
stevedore_targets{state="healthy",target_group="api"} 0
stevedore_targets{state="healthy",target_group="web"} 1
stevedore_targets{state="initial",target_group="api"} 0
stevedore_targets{state="initial",target_group="web"} 0
stevedore_targets{state="unhealthy",target_group="api"} 0
stevedore_targets{state="unhealthy",target_group="web"} 0
`
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want),
		"stevedore_target_active_requests", "stevedore_target_errors_total",
		"stevedore_target_requests_total", "stevedore_targets"))
	problems, err := testutil.CollectAndLint(c)
	require.NoError(t, err)
	require.Empty(t, problems)
}

func TestWithTargetGroupsRejectsNilAndDuplicates(t *testing.T) {
	t.Parallel()
	o, err := stevedore.New()
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, o.Close()) })
	for name, groups := range map[string][]metrics.TargetGroup{
		"nil":       {nil},
		"duplicate": {fixedGroup{name: "web"}, fixedGroup{name: "web"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := metrics.NewCollector(o, metrics.WithTargetGroups(groups...))
			require.ErrorIs(t, err, stevedore.ErrInvalid)
		})
	}
}
