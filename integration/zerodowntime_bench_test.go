package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/task"
)

// BenchmarkRollingUpdateBehindLB times rolling updates of a 4-task awsvpc
// service behind the load balancer (health checks every second, as the
// issue asks: below ALB's 5 s with lb.WithFastHealthChecks; deregistration
// delay 3 s) under a stream of requests from 4 clients, for three pairs of
// minimumHealthyPercent/maximumPercent, and compares them with the floor
// the deployment bounds and the checks allow.
//
// The bounds: at most M = floor(4 × max/100) tasks RUNNING or PENDING, at
// least H = ceil(4 × min/100) healthy. A wave replaces up to M − H tasks:
// it starts M − (tasks still occupying) new ones while it stops old ones
// down to H healthy, and the next wave waits until the new ones are
// healthy in the target group. waves = ceil(4 / (M − H)): 1 at 50/200
// (8 − 2) and 100/200 (8 − 4), 2 at 50/100 (4 − 2). Each wave costs one
// task start and its first health check (run on registration; a new
// target is healthy after one passed check, as in ALB, so the healthy
// threshold does not apply); the last old tasks then drain (their requests
// in flight, at most slowResponse) and stop. The floor takes the start and
// stop of one task measured in the same run (a standalone task of the same
// definition, from the task's own timestamps) and counts the first check
// as free: floor = waves × start + slowResponse + stop. A server that is
// not yet listening when its task becomes RUNNING (and is registered)
// fails that first check and passes the next, one interval later: the
// second floor adds waves × interval.
//
// One iteration is one update, alternating between two revisions. Per
// iteration, from the tasks' timestamps and the group's health changes:
// start (UpdateService to the last new task RUNNING), check (to the last
// new task healthy in the group), tail (to the last old task STOPPED:
// drain and stop), and rollout, the sum. Failed requests must be 0.
// rollingBenchInterval is the target group's health-check interval in
// BenchmarkRollingUpdateBehindLB.
const rollingBenchInterval = time.Second

func BenchmarkRollingUpdateBehindLB(b *testing.B) {
	for _, bounds := range []struct{ min, max, waves int }{{50, 200, 1}, {100, 200, 1}, {50, 100, 2}} {
		b.Run(fmt.Sprintf("min%d-max%d", bounds.min, bounds.max), func(b *testing.B) {
			rollingUpdateBehindLB(b, bounds.min, bounds.max, bounds.waves)
		})
	}
}

func rollingUpdateBehindLB(b *testing.B, minPct, maxPct, waves int) {
	w := newBalancedWorldEvery(b, rollingBenchInterval, withTimeout(15*time.Minute))
	refs := []string{w.registerVersion("v1"), w.registerVersion("v2")}
	w.createService(refs[0], 4, minPct, maxPct)

	// One task started and stopped on its own, three times: the floor's
	// start and stop.
	var soloStart, soloStop []time.Duration
	for range 3 {
		out, err := w.orc.RunTask(w.ctx, &stevedore.RunTaskInput{Cluster: w.cluster, TaskDefinition: refs[0]})
		require.NoError(b, err)
		require.Len(b, out.Tasks, 1)
		id := out.Tasks[0].ID()
		tk := w.waitRunning(id, time.Minute)
		soloStart = append(soloStart, tk.StartedAt.Sub(tk.CreatedAt))
		sleep(w.ctx, time.Second) // the shell's SIGTERM trap is set
		tk = w.stopTask(id)
		soloStop = append(soloStop, tk.StoppedAt.Sub(tk.StoppingAt))
	}
	start, stop := percentile(soloStart, 0.5), percentile(soloStop, 0.5)
	floor := time.Duration(waves)*start + slowResponse + stop
	floorInterval := floor + time.Duration(waves)*rollingBenchInterval

	var rollouts, starts, checks, tails []time.Duration
	failed := 0
	b.ResetTimer()
	for i := range b.N {
		ref := refs[(i+1)%2]
		old := w.serviceTaskIDs("web")
		tr := w.startTraffic(4, 5000, 10*time.Millisecond)
		t0 := time.Now()
		_, err := w.orc.UpdateService(w.ctx, &stevedore.UpdateServiceInput{Cluster: w.cluster, Service: "web", TaskDefinition: &ref})
		require.NoError(b, err)
		w.waitSettled(ref, 4, 3*time.Minute)
		results := tr.stop()
		failed += len(failures(results))

		var lastRunning, lastHealthy, lastStopped time.Time
		for _, id := range w.serviceTaskIDs("web") {
			tk := w.describe(id)
			lastRunning = latest(lastRunning, tk.StartedAt)
			lastHealthy = latest(lastHealthy, w.healthy(id))
		}
		for _, id := range old {
			tk := w.describe(id)
			require.Equal(b, task.Stopped, tk.LastStatus)
			lastStopped = latest(lastStopped, tk.StoppedAt)
		}
		end := latest(lastHealthy, lastStopped)
		rollouts = append(rollouts, end.Sub(t0))
		starts = append(starts, lastRunning.Sub(t0))
		checks = append(checks, max(0, lastHealthy.Sub(lastRunning)))
		tails = append(tails, max(0, end.Sub(lastHealthy)))
		b.Logf("update %d to %s: rollout %v = start %v + check %v + tail %v; %d requests, %d failed",
			i+1, ref, rollouts[i].Round(time.Millisecond), starts[i].Round(time.Millisecond),
			checks[i].Round(time.Millisecond), tails[i].Round(time.Millisecond), len(results), len(failures(results)))
	}
	b.StopTimer()
	b.Logf("floor %v = %d × start %v (one task, p50 of %v) + first check 0 + drain %v + stop %v (p50 of %v)",
		floor.Round(time.Millisecond), waves, start.Round(time.Millisecond), soloStart, slowResponse, stop.Round(time.Millisecond), soloStop)
	p50 := percentile(rollouts, 0.5)
	b.ReportMetric(ms(p50), "rollout-p50-ms")
	b.ReportMetric(ms(percentile(rollouts, 0.9)), "rollout-p90-ms")
	b.ReportMetric(ms(floor), "floor-ms")
	b.ReportMetric(float64(p50)/float64(floor), "rollout/floor")
	b.ReportMetric(ms(floorInterval), "floor+interval-ms")
	b.ReportMetric(float64(p50)/float64(floorInterval), "rollout/(floor+interval)")
	b.ReportMetric(ms(percentile(starts, 0.5)), "start-p50-ms")
	b.ReportMetric(ms(percentile(checks, 0.5)), "check-p50-ms")
	b.ReportMetric(ms(percentile(tails, 0.5)), "tail-p50-ms")
	b.ReportMetric(float64(failed), "failed-requests")
	if failed > 0 {
		b.Errorf("%d requests failed during the rolling updates", failed)
	}
}

// latest returns the later of a and b.
func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
