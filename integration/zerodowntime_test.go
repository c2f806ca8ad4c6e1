package integration

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
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
	"github.com/stevedore-io/stevedore/stevedoretest"
	"github.com/stevedore-io/stevedore/task"
)

// versionScript serves $VERSION on port 8080 with busybox httpd: at / at
// once (for the target group's health checks), at /cgi-bin/version after
// slowResponse, so that a stream of requests always has some in flight.
// On SIGTERM it kills httpd and exits: the container ends, and with it
// every request it was still serving.
const versionScript = `mkdir -p /www/cgi-bin && echo "$VERSION" > /www/index.html
cat > /www/cgi-bin/version <<END
#!/bin/sh
sleep 0.3
echo "Content-Type: text/plain"
echo
echo $VERSION
END
chmod +x /www/cgi-bin/version
httpd -f -p 8080 -h /www & pid=$!
trap 'kill $pid; exit 0' TERM
wait $pid`

// slowResponse is how long versionScript takes to answer /cgi-bin/version.
const slowResponse = 300 * time.Millisecond

// balancedWorld is an env whose Orchestrator has one HTTP target group
// behind a load balancer listening on loopback, and a service "web" of
// versionScript tasks registered in it.
type balancedWorld struct {
	*env
	group *lb.TargetGroup
	url   string
	lbLog *syncBuffer

	mu        sync.Mutex
	healthyAt map[string]time.Time // when each target last became healthy
}

// healthy returns when target id last became healthy (zero: never).
func (w *balancedWorld) healthy(id string) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.healthyAt[id]
}

// Settings of the target group: ALB's shortest health-check interval (the
// lb package, as ALB, takes 5-300 s), and a deregistration delay of a few
// seconds, which a stop waits for only when requests are in flight.
const (
	balancedInterval = 5 * time.Second
	balancedDelay    = 3 * time.Second
)

// newBalancedWorld builds the world. The load balancer and the group are
// closed after the env's clean-up has stopped every task.
func newBalancedWorld(tb testing.TB, opts ...envOption) *balancedWorld {
	tb.Helper()
	return newBalancedWorldEvery(tb, balancedInterval, opts...)
}

// newBalancedWorldEvery is newBalancedWorld with the target group's health
// checks every interval (below ALB's 5 s with lb.WithFastHealthChecks),
// each timing out after at most 2 s and less than interval.
func newBalancedWorldEvery(tb testing.TB, interval time.Duration, opts ...envOption) *balancedWorld {
	tb.Helper()
	needIntegrationTB(tb)
	w := &balancedWorld{lbLog: &syncBuffer{}, healthyAt: map[string]time.Time{}}
	logger := slog.New(slog.NewTextHandler(w.lbLog, &slog.HandlerOptions{Level: slog.LevelInfo}))
	g, err := lb.NewTargetGroup("web-tg", lb.HTTP,
		lb.WithFastHealthChecks(),
		lb.WithHealthCheck(lb.HealthCheck{Path: "/", Interval: interval, Timeout: min(2*time.Second, interval/2),
			HealthyThreshold: 2, UnhealthyThreshold: 2}),
		lb.WithDeregistrationDelay(balancedDelay),
		lb.WithGroupLogger(logger),
		lb.OnHealthChange(func(c lb.HealthChange) {
			if c.Current.State == lb.StateHealthy {
				w.mu.Lock()
				w.healthyAt[c.Target.ID] = time.Now()
				w.mu.Unlock()
			}
		}))
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = g.Close() })
	balancer, err := lb.New()
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = balancer.Close() })
	l, err := balancer.AddHTTPListener("127.0.0.1:0", nil, g)
	require.NoError(tb, err)
	w.group, w.url = g, "http://"+l.Addr().String()+"/cgi-bin/version"
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("log of the target group (last 10 KiB):\n%s", w.lbLog.Tail(10<<10))
		}
	})
	w.env = newEnv(tb, append([]envOption{withOrchestratorOptions(stevedore.WithTargetGroups(g))}, opts...)...)
	return w
}

// registerVersion registers revision version of family web.
func (w *balancedWorld) registerVersion(version string) string {
	w.t.Helper()
	return w.registerDef(fmt.Sprintf(`{
		"family": "web",
		"networkMode": "awsvpc",
		"containerDefinitions": [{
			"name": "web", "image": %q, "essential": true, "memory": 32,
			%s,
			"environment": [{"name": "VERSION", "value": %q}],
			"portMappings": [{"containerPort": 8080}],
			"stopTimeout": 2
		}]
	}`, imageRef, shellCommand(versionScript), version)).Ref()
}

// createService creates service web of ref, count tasks, minHealthy and
// maxPercent, behind the group, and waits until it is steady: every task
// healthy in the group.
func (w *balancedWorld) createService(ref string, count, minHealthy, maxPercent int) {
	w.t.Helper()
	_, err := w.orc.CreateService(w.ctx, &stevedore.CreateServiceInput{
		Cluster: w.cluster, ServiceName: "web", TaskDefinition: ref, DesiredCount: count,
		DeploymentConfiguration: service.DeploymentConfiguration{MinimumHealthyPercent: &minHealthy, MaximumPercent: &maxPercent},
		LoadBalancers:           []service.LoadBalancer{{TargetGroup: "web-tg", ContainerName: "web", ContainerPort: 8080}},
	})
	require.NoError(w.t, err)
	w.waitSettled(ref, count, time.Minute)
}

// waitSettled waits until service web is steady on ref with count tasks,
// every task of another definition STOPPED, and returns when that was
// seen.
func (w *balancedWorld) waitSettled(ref string, count int, timeout time.Duration) time.Time {
	w.t.Helper()
	w.waitService("web", fmt.Sprintf("steady on %s with %d tasks", ref, count), timeout, func(s service.Service) bool {
		if !s.Steady || len(s.Deployments) != 1 || s.Deployments[0].TaskDefinition != ref || s.RunningCount != count {
			return false
		}
		ids, err := w.orc.AllTaskArns(w.ctx, &stevedore.ListTasksInput{Cluster: w.cluster, ServiceName: "web"})
		if err != nil || len(ids) == 0 {
			return false
		}
		tasks, err := stevedoretest.TasksOf(w.orc.DescribeTasks(w.ctx, &stevedore.DescribeTasksInput{Cluster: w.cluster, Tasks: ids}))
		if err != nil {
			return false
		}
		alive := 0
		for _, tk := range tasks {
			if tk.LastStatus != task.Stopped {
				alive++
			}
		}
		return alive == count
	})
	return time.Now()
}

// traffic is a bounded stream of GET requests through the load balancer
// from a few clients.
type traffic struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	sent   atomic.Int64

	mu      sync.Mutex
	results []result
}

// result is one request's outcome.
type result struct {
	at   time.Time // when the response ended
	body string
	err  error
}

// startTraffic sends requests from clients goroutines, each pausing pace
// between its requests, at most limit in all, each with a 5 s timeout,
// until stop.
func (w *balancedWorld) startTraffic(clients, limit int, pace time.Duration) *traffic {
	ctx, cancel := context.WithCancel(w.ctx)
	tr := &traffic{cancel: cancel}
	client := &http.Client{
		Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: clients},
		Timeout:   5 * time.Second,
	}
	for range clients {
		tr.wg.Go(func() {
			for ctx.Err() == nil && tr.sent.Add(1) <= int64(limit) {
				body, err := get(ctx, client, w.url)
				body = strings.TrimSpace(body)
				if ctx.Err() != nil {
					return // cut by stop: not the service's failure
				}
				tr.mu.Lock()
				tr.results = append(tr.results, result{at: time.Now(), body: body, err: err})
				tr.mu.Unlock()
				sleep(ctx, pace)
			}
		})
	}
	return tr
}

// stop ends the stream and returns the outcomes in the order they ended.
func (tr *traffic) stop() []result {
	tr.cancel()
	tr.wg.Wait()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.results
}

// failures lists the failed requests, at most 10.
func failures(results []result) []string {
	var out []string
	for _, r := range results {
		if r.err != nil && len(out) < 10 {
			out = append(out, fmt.Sprintf("%s: %v", r.at.Format("15:04:05.000"), r.err))
		}
	}
	return out
}

// TestZeroDowntimeRollingUpdateAndScaleIn sends a steady stream of
// requests through the load balancer while a 4-task service rolls from v1
// to v2 (minimumHealthyPercent 50, maximumPercent 200) and then scales in
// to 2: not one request fails. New tasks take traffic only once healthy in
// the target group, and stopping tasks leave the group and drain before
// their containers get SIGTERM.
func TestZeroDowntimeRollingUpdateAndScaleIn(t *testing.T) {
	t.Parallel()
	w := newBalancedWorld(t, withTimeout(4*time.Minute))
	v1 := w.registerVersion("v1")
	w.createService(v1, 4, 50, 200)
	require.Equal(t, "v1", strings.TrimSpace(w.eventuallyGet(w.url, 10*time.Second)))

	// The rolling update.
	v2 := w.registerVersion("v2")
	tr := w.startTraffic(4, 3000, 10*time.Millisecond)
	_, err := w.orc.UpdateService(w.ctx, &stevedore.UpdateServiceInput{Cluster: w.cluster, Service: "web", TaskDefinition: &v2})
	require.NoError(t, err)
	settled := w.waitSettled(v2, 4, 2*time.Minute)
	sleep(w.ctx, time.Second) // some requests after the last v1 task stopped
	results := tr.stop()

	require.Empty(t, failures(results), "failed requests during the rolling update (of %d)", len(results))
	require.NotEmpty(t, results)
	counts := map[string]int{}
	lastV1 := -1
	for i, r := range results {
		counts[r.body]++
		if r.body == "v1" {
			lastV1 = i
		}
		if r.at.After(settled) {
			assert.Equal(t, "v2", r.body, "a response after the last v1 task stopped")
		}
	}
	t.Logf("rolling update: %d requests, %v", len(results), counts)
	assert.Equal(t, len(results), counts["v1"]+counts["v2"], "only v1 and v2 answer")
	assert.Positive(t, counts["v1"], "v1 answered at first")
	assert.Positive(t, counts["v2"], "v2 answers at the end")
	assert.Equal(t, "v1", results[0].body, "the stream starts on v1")
	for _, r := range results[lastV1+1:] {
		assert.Equal(t, "v2", r.body)
	}

	// Scale in.
	tr = w.startTraffic(4, 3000, 10*time.Millisecond)
	sleep(w.ctx, 500*time.Millisecond)
	two := 2
	_, err = w.orc.UpdateService(w.ctx, &stevedore.UpdateServiceInput{Cluster: w.cluster, Service: "web", DesiredCount: &two})
	require.NoError(t, err)
	w.waitSettled(v2, 2, time.Minute)
	sleep(w.ctx, time.Second)
	results = tr.stop()
	require.Empty(t, failures(results), "failed requests during the scale-in (of %d)", len(results))
	t.Logf("scale-in: %d requests", len(results))
	assert.Len(t, w.group.Targets(), 2)
}
