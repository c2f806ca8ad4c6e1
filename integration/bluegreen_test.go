package integration

import (
	"context"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/lb"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/task"
)

// blueGreenBalancer is a real load balancer on loopback for blue/green
// tests: target groups tg-a and tg-b, a production listener and a test
// listener whose default forward actions ("prod", "test") weigh them.
type blueGreenBalancer struct {
	groupA, groupB *lb.TargetGroup
	prod, test     *lb.ForwardAction
	prodURL        string
	testURL        string
	// shifts logs, in order, the weights the Orchestrator set on the rules.
	shifts weightLog
}

// weightLog is the ordered log of the weights set on listener rules.
type weightLog struct {
	mu      sync.Mutex
	entries []weightEntry
}

type weightEntry struct {
	rule    string
	weights map[string]int
}

// first returns the position of the first entry of rule where group has
// weight, or -1.
func (l *weightLog) first(rule, group string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, e := range l.entries {
		if e.rule == rule && e.weights[group] > 0 {
			return i
		}
	}
	return -1
}

// loggedRule is a forward action whose weight changes go to a log.
type loggedRule struct {
	*lb.ForwardAction
	log *weightLog
}

func (r loggedRule) SetWeights(w map[string]int) error {
	if err := r.ForwardAction.SetWeights(w); err != nil {
		return err
	}
	r.log.mu.Lock()
	defer r.log.mu.Unlock()
	r.log.entries = append(r.log.entries, weightEntry{rule: r.Name(), weights: maps.Clone(w)})
	return nil
}

func newBlueGreenBalancer(t *testing.T) *blueGreenBalancer {
	t.Helper()
	hc := lb.HealthCheck{Path: "/", Interval: 5 * time.Second, Timeout: 2 * time.Second, HealthyThreshold: 2, UnhealthyThreshold: 2}
	b := &blueGreenBalancer{}
	var err error
	for _, g := range []struct {
		name string
		tg   **lb.TargetGroup
	}{{"tg-a", &b.groupA}, {"tg-b", &b.groupB}} {
		*g.tg, err = lb.NewTargetGroup(g.name, lb.HTTP, lb.WithHealthCheck(hc), lb.WithDeregistrationDelay(5*time.Second))
		require.NoError(t, err)
		tg := *g.tg
		t.Cleanup(func() { tg.Close() })
	}
	weighted := func(a, b *lb.TargetGroup) []lb.WeightedTargetGroup {
		return []lb.WeightedTargetGroup{{TargetGroup: a, Weight: 1000}, {TargetGroup: b, Weight: 0}}
	}
	b.prod, err = lb.NewForwardAction("prod", weighted(b.groupA, b.groupB)...)
	require.NoError(t, err)
	b.test, err = lb.NewForwardAction("test", weighted(b.groupA, b.groupB)...)
	require.NoError(t, err)
	balancer, err := lb.New()
	require.NoError(t, err)
	t.Cleanup(func() { balancer.Close() })
	for _, l := range []struct {
		f   *lb.ForwardAction
		url *string
	}{{b.prod, &b.prodURL}, {b.test, &b.testURL}} {
		ln, err := balancer.AddHTTPListener("127.0.0.1:0", nil, nil)
		require.NoError(t, err)
		require.NoError(t, ln.SetDefaultForward(l.f))
		*l.url = "http://" + ln.Addr().String() + "/"
	}
	return b
}

// options are the Orchestrator options that make the balancer's groups
// and rules available.
func (b *blueGreenBalancer) options(alarms ...stevedore.Alarm) envOption {
	opts := []stevedore.Option{stevedore.WithTargetGroups(b.groupA, b.groupB), stevedore.WithListenerRules(loggedRule{b.prod, &b.shifts}, loggedRule{b.test, &b.shifts})}
	if len(alarms) > 0 {
		opts = append(opts, stevedore.WithAlarms(alarms...))
	}
	return withOrchestratorOptions(opts...)
}

var blueGreenLoadBalancers = []service.LoadBalancer{{TargetGroup: "tg-a", ContainerName: "web", ContainerPort: 8080,
	AdvancedConfiguration: &service.AdvancedConfiguration{AlternateTargetGroup: "tg-b", ProductionListenerRule: "prod", TestListenerRule: "test"}}}

// registerVersion registers a web server answering its version.
func (e *env) registerVersion(version string) *task.TaskDefinition {
	e.t.Helper()
	script := strings.Replace(webScript, "hello from $(hostname)", version, 1)
	return e.registerDef(webTaskDef("bg", script))
}

// createBlueGreen creates service "bg" of desired v1 tasks behind b and
// waits until it is steady and v1 answers on the production listener.
func (e *env) createBlueGreen(b *blueGreenBalancer, desired int, c service.DeploymentConfiguration) {
	e.t.Helper()
	_, err := e.orc.CreateService(e.ctx, &stevedore.CreateServiceInput{
		Cluster: e.cluster, ServiceName: "bg", TaskDefinition: "bg", DesiredCount: desired,
		DeploymentConfiguration: c, LoadBalancers: blueGreenLoadBalancers,
	})
	require.NoError(e.t, err)
	e.waitService("bg", "steady", time.Minute, func(s service.Service) bool { return s.Steady })
	require.Equal(e.t, "v1", strings.TrimSpace(e.eventuallyGet(b.prodURL, 20*time.Second)))
}

// requestStream sends GETs to a URL one after another, at most max, until
// stopped, and records what came back.
type requestStream struct {
	mu       sync.Mutex
	seen     map[string]int       // by body
	first    map[string]time.Time // when each body was first seen
	failures []string
	stopped  atomic.Bool
	done     chan struct{}
}

func startStream(ctx context.Context, url string, max int, pause time.Duration) *requestStream {
	s := &requestStream{seen: map[string]int{}, first: map[string]time.Time{}, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for range max {
			if s.stopped.Load() || ctx.Err() != nil {
				return
			}
			body, err := httpGet(ctx, url) // a new connection each time
			body = strings.TrimSpace(body)
			s.mu.Lock()
			if err != nil {
				s.failures = append(s.failures, err.Error())
			} else {
				if _, ok := s.first[body]; !ok {
					s.first[body] = time.Now()
				}
				s.seen[body]++
			}
			s.mu.Unlock()
			sleep(ctx, pause)
		}
	}()
	return s
}

// stop ends the stream and returns what it saw.
func (s *requestStream) stop() (seen map[string]int, first map[string]time.Time, failures []string) {
	s.stopped.Store(true)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen, s.first, s.failures
}

// TestLinearDeploymentServesEveryRequest deploys v1 then v2 with the
// LINEAR strategy behind a real load balancer while a bounded stream of
// requests goes through the production listener: not one fails, the test
// listener forwards to v2 (and serves it) before the production listener
// does, and v1's tasks stop only at the end.
func TestLinearDeploymentServesEveryRequest(t *testing.T) {
	t.Parallel()
	b := newBlueGreenBalancer(t)
	e := newEnv(t, b.options())
	e.registerVersion("v1")
	c := service.DeploymentConfiguration{
		Strategy: service.StrategyLinear, BakeTime: 3 * time.Second,
		LinearConfiguration: &service.LinearConfiguration{StepPercent: 50, StepBakeTime: 3 * time.Second},
	}
	e.createBlueGreen(b, 2, c)

	prod := startStream(e.ctx, b.prodURL, 6000, 10*time.Millisecond)
	// The test stream polls fast: production shifts right after the test
	// listener is on green (POST_TEST_TRAFFIC_SHIFT has no wait).
	test := startStream(e.ctx, b.testURL, 20000, 2*time.Millisecond)
	v2 := e.registerVersion("v2").Ref()
	_, err := e.orc.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: e.cluster, Service: "bg", TaskDefinition: &v2})
	require.NoError(t, err)
	mid := e.waitService("bg", "shifting production traffic", time.Minute, func(s service.Service) bool {
		return s.Deployments[0].LifecycleStage == service.StageProductionTrafficShift
	})
	assert.Len(t, mid.Deployments, 2, "blue runs beside green")
	s := e.waitService("bg", "steady on v2", time.Minute, func(s service.Service) bool { return s.Steady && s.TaskDefinition == v2 })
	seen, first, failures := prod.stop()
	_, testFirst, testFailures := test.stop()

	assert.Empty(t, failures, "failed production requests (of %d)", seen["v1"]+seen["v2"])
	assert.Empty(t, testFailures, "failed test requests")
	assert.Positive(t, seen["v1"])
	assert.Positive(t, seen["v2"])
	require.False(t, testFirst["v2"].IsZero(), "v2 seen on the test listener")
	require.False(t, first["v2"].IsZero(), "v2 seen on the production listener")
	// Which came first is the Orchestrator's order of the weight changes;
	// the clients' first sightings race (production shifts right after
	// the test listener does).
	testShift, prodShift := b.shifts.first("test", "tg-b"), b.shifts.first("prod", "tg-b")
	require.NotEqual(t, -1, testShift, "the test rule forwarded to green")
	assert.Less(t, testShift, prodShift, "the test rule forwarded to green before the production rule did")
	t.Logf("production requests: %v; v2 first seen on test at %v, on production at %v", seen, testFirst["v2"].Format(time.StampMilli), first["v2"].Format(time.StampMilli))

	assert.Equal(t, service.RolloutCompleted, s.Deployments[0].RolloutState)
	assert.Equal(t, map[string]int{"tg-a": 0, "tg-b": 1000}, b.prod.Weights())
	assert.Equal(t, map[string]int{"tg-a": 0, "tg-b": 1000}, b.test.Weights())
	for range 5 {
		assert.Equal(t, "v2", strings.TrimSpace(e.eventuallyGet(b.prodURL, 5*time.Second)))
	}
}

// TestCanaryDeploymentRollsBackOnAlarm fires an alarm predicate while a
// CANARY deployment bakes its canary: production and test traffic return
// to v1, the v2 tasks stop, and no production request fails.
func TestCanaryDeploymentRollsBackOnAlarm(t *testing.T) {
	t.Parallel()
	b := newBlueGreenBalancer(t)
	var fire atomic.Bool
	e := newEnv(t, b.options(stevedore.Alarm{
		Name:      "canary-errors",
		Predicate: func(context.Context) (bool, error) { return fire.Load(), nil },
		Period:    500 * time.Millisecond,
	}))
	v1 := e.registerVersion("v1").Ref()
	c := service.DeploymentConfiguration{
		Strategy:            service.StrategyCanary,
		CanaryConfiguration: &service.CanaryConfiguration{CanaryPercent: 50, CanaryBakeTime: 10 * time.Minute},
		Alarms:              &service.DeploymentAlarms{AlarmNames: []string{"canary-errors"}, Enable: true, Rollback: true},
	}
	e.createBlueGreen(b, 1, c)

	prod := startStream(e.ctx, b.prodURL, 6000, 10*time.Millisecond)
	v2 := e.registerVersion("v2").Ref()
	_, err := e.orc.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: e.cluster, Service: "bg", TaskDefinition: &v2})
	require.NoError(t, err)
	s := e.waitService("bg", "baking the canary", time.Minute, func(s service.Service) bool {
		return s.Deployments[0].LifecycleStage == service.StageProductionTrafficShift && s.Routing != nil && s.Routing.AlternatePercent == 50
	})
	green := s.Deployments[0].ID
	// The canary takes production traffic before the alarm fires.
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		prod.mu.Lock()
		n := prod.seen["v2"]
		prod.mu.Unlock()
		if n > 0 {
			break
		}
		sleep(e.ctx, pollEvery)
	}
	fire.Store(true)
	s = e.waitService("bg", "rolled back", time.Minute, func(s service.Service) bool { return s.Steady && s.TaskDefinition == v1 })
	seen, _, failures := prod.stop()
	assert.Empty(t, failures, "failed production requests (of %d)", seen["v1"]+seen["v2"])
	assert.Positive(t, seen["v2"], "the canary served")
	t.Logf("production requests: %v", seen)

	assert.Equal(t, map[string]int{"tg-a": 1000, "tg-b": 0}, b.prod.Weights())
	assert.Equal(t, map[string]int{"tg-a": 1000, "tg-b": 0}, b.test.Weights())
	var msgs []string
	for _, ev := range s.Events {
		msgs = append(msgs, ev.Message)
	}
	assert.Contains(t, strings.Join(msgs, "\n"), "(deployment "+green+") deployment failed: alarm canary-errors")
	ids, err := e.orc.AllTaskArns(e.ctx, &stevedore.ListTasksInput{Cluster: e.cluster, ServiceName: "bg", DesiredStatus: task.Stopped})
	require.NoError(t, err)
	require.NotEmpty(t, ids)
	for _, id := range ids {
		tk := e.waitStopped(id, 30*time.Second)
		assert.Equal(t, v2, tk.TaskDefinitionRef(), "only green stopped")
	}
	for range 5 {
		assert.Equal(t, "v1", strings.TrimSpace(e.eventuallyGet(b.prodURL, 5*time.Second)))
		assert.Equal(t, "v1", strings.TrimSpace(e.eventuallyGet(b.testURL, 5*time.Second)))
	}
}
