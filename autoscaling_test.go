package stevedore_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/autoscaling"
	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/runtime/fake"
)

// gauge is a custom metric a test sets.
type gauge struct {
	mu sync.Mutex
	v  float64
}

func (g *gauge) set(v float64) { g.mu.Lock(); g.v = v; g.mu.Unlock() }

func (g *gauge) read(context.Context, string, string) (float64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.v, nil
}

// scalingEnv is an env whose Orchestrator knows the custom metric "queue",
// running service web with desired tasks.
func scalingEnv(t *testing.T, queue *gauge, desired int, opts ...fake.Option) *env {
	t.Helper()
	o, err := stevedore.New(stevedore.WithSeed(1), stevedore.WithTaskRetention(3*time.Hour),
		stevedore.WithMetrics(map[string]stevedore.MetricFunc{"queue": queue.read}))
	require.NoError(t, err)
	e := envFor(t, o, 2, opts...)
	e.register("v1")
	_, err = e.o.CreateService(e.ctx, &stevedore.CreateServiceInput{
		Cluster: "test", ServiceName: "web", TaskDefinition: "web", DesiredCount: desired,
	})
	require.NoError(t, err)
	e.waitSteady("web", 10*time.Minute)
	return e
}

func (e *env) scalable(lo, hi int, p autoscaling.TargetTrackingPolicy) {
	e.t.Helper()
	require.NoError(e.t, errOf(e.o.RegisterScalableTarget(e.ctx, &stevedore.RegisterScalableTargetInput{
		Cluster: "test", Service: "web", MinCapacity: lo, MaxCapacity: hi})))
	_, err := e.o.PutScalingPolicy(e.ctx, &stevedore.PutScalingPolicyInput{Cluster: "test", Service: "web", Policy: p})
	require.NoError(e.t, err)
}

// waitDesired advances fake time until web's desired count is n, and
// returns when that happened.
func (e *env) waitDesired(n int, limit time.Duration) time.Time {
	e.t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		synctest.Wait()
		if e.service("web").DesiredCount == n {
			return time.Now()
		}
		time.Sleep(time.Second)
	}
	e.t.Fatalf("desired count of web is %d, not %d, after %v", e.service("web").DesiredCount, n, limit)
	return time.Time{}
}

// holdsDesired advances fake time by d, checking that web's desired count
// stays n.
func (e *env) holdsDesired(n int, d time.Duration) {
	e.t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); {
		time.Sleep(10 * time.Second)
		synctest.Wait()
		require.Equal(e.t, n, e.service("web").DesiredCount, "at %v", time.Now())
	}
}

// hasEvent reports whether an event of web contains text.
func (e *env) hasEvent(text string) bool {
	e.t.Helper()
	for _, ev := range e.service("web").Events {
		if strings.Contains(ev.Message, text) {
			return true
		}
	}
	e.t.Logf("no event of web contains %q", text)
	return false
}

func (e *env) history() autoscaling.History {
	e.t.Helper()
	d, err := e.o.DescribeScalingPolicies(e.ctx, &stevedore.DescribeScalingPoliciesInput{Cluster: "test", Service: "web"})
	require.NoError(e.t, err)
	return d.History
}

func TestAutoScalingCustomMetric(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		queue := &gauge{v: 10}
		e := scalingEnv(t, queue, 2)
		e.scalable(1, 6, autoscaling.TargetTrackingPolicy{Name: "queue-10", Metric: "queue", TargetValue: 10})
		e.holdsDesired(2, 3*time.Minute) // at target

		// Above target: 2 × 20/10 = 4 at the next evaluation.
		queue.set(20)
		out1 := e.waitDesired(4, 2*time.Minute)
		assert.Equal(t, out1.Truncate(time.Second), e.history().LastScaleOut.Truncate(time.Second))
		assert.True(t, e.hasEvent("Successfully set desired count to 4."))
		e.waitSteady("web", 5*time.Minute)

		// Still above: 4 × 20/10 = 8, clamped to 6, once the scale-out
		// cooldown (300 s) has passed.
		out2 := e.waitDesired(6, 7*time.Minute)
		assert.GreaterOrEqual(t, out2.Sub(out1), autoscaling.DefaultCooldown)
		assert.Less(t, out2.Sub(out1), autoscaling.DefaultCooldown+2*time.Minute)
		e.waitSteady("web", 5*time.Minute)
		assert.Len(t, e.tasks(stevedore.ListTasksInput{ServiceName: "web", DesiredStatus: "RUNNING"}), 6)

		// Below target, within the scale-in tolerance: no change.
		queue.set(9.5)
		e.holdsDesired(6, 10*time.Minute)

		// Well below: 6 × 1/10 → 1 (the minimum), 300 s after the last
		// scaling at the earliest.
		queue.set(1)
		in := e.waitDesired(1, 3*time.Minute)
		assert.GreaterOrEqual(t, in.Sub(out2), autoscaling.DefaultCooldown)
		assert.Equal(t, in.Truncate(time.Second), e.history().LastScaleIn.Truncate(time.Second))
		e.waitSteady("web", 5*time.Minute)
		assert.Len(t, e.tasks(stevedore.ListTasksInput{ServiceName: "web", DesiredStatus: "RUNNING"}), 1)
	})
}

func TestAutoScalingScaleInCooldownAfterScaleOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		queue := &gauge{v: 20}
		e := scalingEnv(t, queue, 2)
		e.scalable(1, 10, autoscaling.TargetTrackingPolicy{Name: "q", Metric: "queue", TargetValue: 10,
			ScaleOutCooldown: 10 * time.Minute, ScaleInCooldown: 3 * time.Minute})
		out := e.waitDesired(4, 2*time.Minute)
		queue.set(2)
		in := e.waitDesired(1, 5*time.Minute)
		assert.GreaterOrEqual(t, in.Sub(out), 3*time.Minute)
	})
}

func TestAutoScalingDisableScaleIn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		queue := &gauge{v: 0}
		e := scalingEnv(t, queue, 3)
		e.scalable(1, 6, autoscaling.TargetTrackingPolicy{Name: "q", Metric: "queue", TargetValue: 10, DisableScaleIn: true})
		e.holdsDesired(3, 15*time.Minute)
		queue.set(20)
		e.waitDesired(6, 2*time.Minute)
	})
}

func TestAutoScalingClampsToMinimum(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		queue := &gauge{v: 10}
		e := scalingEnv(t, queue, 1)
		// At target, but below the minimum: raised to it.
		e.scalable(3, 6, autoscaling.TargetTrackingPolicy{Name: "q", Metric: "queue", TargetValue: 10})
		e.waitDesired(3, 2*time.Minute)
		e.holdsDesired(3, 5*time.Minute)
	})
}

func TestAutoScalingRejectedPolicyChangesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		queue := &gauge{v: 100}
		e := scalingEnv(t, queue, 2)
		put := func(p autoscaling.TargetTrackingPolicy) error {
			_, err := e.o.PutScalingPolicy(e.ctx, &stevedore.PutScalingPolicyInput{Cluster: "test", Service: "web", Policy: p})
			return err
		}
		good := autoscaling.TargetTrackingPolicy{Name: "q", Metric: "queue", TargetValue: 10}
		// No scalable target yet.
		require.ErrorIs(t, put(good), stevedore.ErrNotFound)
		require.ErrorIs(t, errOf(e.o.RegisterScalableTarget(e.ctx, &stevedore.RegisterScalableTargetInput{
			Cluster: "test", Service: "web", MinCapacity: 5, MaxCapacity: 1})), stevedore.ErrInvalid)
		require.ErrorIs(t, errOf(e.o.RegisterScalableTarget(e.ctx, &stevedore.RegisterScalableTargetInput{
			Cluster: "test", Service: "nope", MinCapacity: 1, MaxCapacity: 2})), stevedore.ErrNotFound)
		require.NoError(t, errOf(e.o.RegisterScalableTarget(e.ctx, &stevedore.RegisterScalableTargetInput{
			Cluster: "test", Service: "web", MinCapacity: 1, MaxCapacity: 8})))

		bad := good
		bad.TargetValue = -1
		err := put(bad)
		require.ErrorIs(t, err, stevedore.ErrInvalid)
		assert.ErrorContains(t, err, "targetValue")
		unknown := good
		unknown.Metric = "latency"
		err = put(unknown)
		require.ErrorIs(t, err, stevedore.ErrInvalid)
		assert.ErrorContains(t, err, "latency")

		d, err := e.o.DescribeScalingPolicies(e.ctx, &stevedore.DescribeScalingPoliciesInput{Cluster: "test", Service: "web"})
		require.NoError(t, err)
		assert.Empty(t, d.Policies)
		e.holdsDesired(2, 5*time.Minute)

		_, err = stevedore.New(stevedore.WithMetrics(map[string]stevedore.MetricFunc{
			autoscaling.ECSServiceAverageCPUUtilization: queue.read}))
		require.ErrorIs(t, err, stevedore.ErrInvalid)
	})
}

func TestAutoScalingDeletePolicyStopsScaling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		queue := &gauge{v: 20}
		e := scalingEnv(t, queue, 1)
		e.scalable(1, 8, autoscaling.TargetTrackingPolicy{Name: "q", Metric: "queue", TargetValue: 10, ScaleOutCooldown: time.Minute})
		e.waitDesired(2, 2*time.Minute)
		require.NoError(t, errOf(e.o.DeleteScalingPolicy(e.ctx, &stevedore.DeleteScalingPolicyInput{Cluster: "test", Service: "web", PolicyName: "q"})))
		require.ErrorIs(t, errOf(e.o.DeleteScalingPolicy(e.ctx, &stevedore.DeleteScalingPolicyInput{Cluster: "test", Service: "web", PolicyName: "q"})), stevedore.ErrNotFound)
		d, err := e.o.DescribeScalingPolicies(e.ctx, &stevedore.DescribeScalingPoliciesInput{Cluster: "test", Service: "web"})
		require.NoError(t, err)
		assert.Empty(t, d.Policies)
		e.holdsDesired(2, 10*time.Minute)

		// Deregistering the target removes it.
		require.NoError(t, errOf(e.o.DeregisterScalableTarget(e.ctx, &stevedore.DeregisterScalableTargetInput{Cluster: "test", Service: "web"})))
		_, err = e.o.DescribeScalingPolicies(e.ctx, &stevedore.DescribeScalingPoliciesInput{Cluster: "test", Service: "web"})
		require.ErrorIs(t, err, stevedore.ErrNotFound)
	})
}

// TestAutoScalingGoesWithTheService: deleting a service deletes its auto
// scaling; a service created again under its name starts without.
func TestAutoScalingGoesWithTheService(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		queue := &gauge{v: 10}
		e := scalingEnv(t, queue, 1)
		e.scalable(1, 8, autoscaling.TargetTrackingPolicy{Name: "q", Metric: "queue", TargetValue: 10})
		_, err := e.o.DeleteService(e.ctx, &stevedore.DeleteServiceInput{Cluster: "test", Service: "web", Force: true})
		require.NoError(t, err)
		_, err = e.o.DescribeScalingPolicies(e.ctx, &stevedore.DescribeScalingPoliciesInput{Cluster: "test", Service: "web"})
		require.ErrorIs(t, err, stevedore.ErrNotFound)
	})
}

// busy scripts containers that use share of their task's 128 cpu units and
// 128 MiB of memory.
func busy(share float64) fake.Option {
	return fake.WithImage("web:v1", fake.Behavior{Stats: func(elapsed time.Duration) runtime.Stats {
		return runtime.Stats{
			CPUUsage:    time.Duration(float64(elapsed) * 128 / 1024 * share),
			MemoryUsage: 128 << 20,
		}
	}})
}

func TestAutoScalingOnCPU(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := scalingEnv(t, &gauge{}, 2, busy(0.9))
		e.scalable(1, 4, autoscaling.TargetTrackingPolicy{Name: "cpu", Metric: autoscaling.ECSServiceAverageCPUUtilization, TargetValue: 45})
		// The first evaluation only takes a reading; the second sees 90%
		// against 45%: 2 → 4.
		start := time.Now()
		at := e.waitDesired(4, 3*time.Minute)
		assert.Greater(t, at.Sub(start), time.Minute)
		assert.True(t, e.hasEvent(autoscaling.ECSServiceAverageCPUUtilization+" is 90, target 45: scaling out from 2 to 4"))
	})
}

func TestAutoScalingOnMemory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// 128 MiB used of 256 reserved: 50%, against a target of 25%.
		e := scalingEnv(t, &gauge{}, 2, busy(0))
		e.scalable(1, 5, autoscaling.TargetTrackingPolicy{Name: "mem", Metric: autoscaling.ECSServiceAverageMemoryUtilization, TargetValue: 25})
		e.waitDesired(4, 2*time.Minute)
		assert.True(t, e.hasEvent(autoscaling.ECSServiceAverageMemoryUtilization+" is 50, target 25"))
	})
}

func TestAutoScalingSeveralPolicies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// CPU at 50% of a 50% target; the queue decides.
		queue := &gauge{v: 1}
		e := scalingEnv(t, queue, 4, busy(0.5))
		e.scalable(1, 8, autoscaling.TargetTrackingPolicy{Name: "cpu", Metric: autoscaling.ECSServiceAverageCPUUtilization, TargetValue: 50,
			ScaleInCooldown: time.Minute})
		_, err := e.o.PutScalingPolicy(e.ctx, &stevedore.PutScalingPolicyInput{Cluster: "test", Service: "web",
			Policy: autoscaling.TargetTrackingPolicy{Name: "queue", Metric: "queue", TargetValue: 10, ScaleInCooldown: time.Minute}})
		require.NoError(t, err)
		d, err := e.o.DescribeScalingPolicies(e.ctx, &stevedore.DescribeScalingPoliciesInput{Cluster: "test", Service: "web"})
		require.NoError(t, err)
		require.Len(t, d.Policies, 2)
		assert.Equal(t, autoscaling.DefaultCooldown, d.Policies[1].ScaleOutCooldown, "defaults set")

		// The queue wants 1 task, CPU holds 4: no scale-in.
		e.holdsDesired(4, 10*time.Minute)
		// The queue wants more: out.
		queue.set(20)
		e.waitDesired(8, 2*time.Minute)
	})
}

func TestAutoScalingReadsStatsOfRegisteredInstancesOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := scalingEnv(t, &gauge{}, 2, busy(0.5))
		e.scalable(2, 2, autoscaling.TargetTrackingPolicy{Name: "cpu", Metric: autoscaling.ECSServiceAverageCPUUtilization, TargetValue: 50})
		time.Sleep(3 * time.Minute)
		synctest.Wait()
		for id, rt := range e.runtimes {
			assert.NotEmpty(t, rt.CallsTo(fake.MethodStats), "no Stats read from %s", id)
		}
		_, err := e.o.DeregisterContainerInstance(e.ctx, &stevedore.DeregisterContainerInstanceInput{Cluster: "test", ContainerInstance: "i-0", Force: true})
		require.NoError(t, err)
		e.waitSteady("web", 5*time.Minute)
		before := len(e.runtimes["i-0"].CallsTo(fake.MethodStats))
		after1 := len(e.runtimes["i-1"].CallsTo(fake.MethodStats))
		time.Sleep(3 * time.Minute)
		synctest.Wait()
		assert.Len(t, e.runtimes["i-0"].CallsTo(fake.MethodStats), before)
		assert.Greater(t, len(e.runtimes["i-1"].CallsTo(fake.MethodStats)), after1)
	})
}
