package lb_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/lb"
)

// event is a health change seen at a time since the target's registration.
type event struct {
	At     time.Duration
	State  lb.TargetState
	Reason string
}

func TestHealthChecks(t *testing.T) {
	t.Parallel()
	const addr = "10.0.0.1:80"
	tests := []struct {
		name     string
		protocol lb.Protocol
		hc       lb.HealthCheck
		statuses []int // answer to the n-th check; the last one repeats
		want     []event
		desc     string // final description
	}{
		{
			name: "passes at once", protocol: lb.HTTP, statuses: []int{200},
			want: []event{{0, lb.StateInitial, lb.ReasonRegistrationInProgress}, {0, lb.StateHealthy, ""}},
		},
		{
			name: "wrong code", protocol: lb.HTTP, statuses: []int{500, 500},
			want: []event{
				{0, lb.StateInitial, lb.ReasonRegistrationInProgress},
				{0, lb.StateInitial, lb.ReasonInitialHealthChecking},
				{30 * time.Second, lb.StateUnhealthy, lb.ReasonResponseCodeMismatch},
			},
			desc: "Health checks failed with these codes: [500]",
		},
		{
			name: "timeout", protocol: lb.HTTP, hc: lb.HealthCheck{Interval: 10 * time.Second, Timeout: 2 * time.Second},
			statuses: []int{hang, hang},
			want: []event{
				{0, lb.StateInitial, lb.ReasonRegistrationInProgress},
				{2 * time.Second, lb.StateInitial, lb.ReasonInitialHealthChecking},
				{12 * time.Second, lb.StateUnhealthy, lb.ReasonTimeout},
			},
			desc: "Request timed out",
		},
		{
			name: "refused", protocol: lb.HTTP, statuses: []int{refuse, refuse},
			want: []event{
				{0, lb.StateInitial, lb.ReasonRegistrationInProgress},
				{0, lb.StateInitial, lb.ReasonInitialHealthChecking},
				{30 * time.Second, lb.StateUnhealthy, lb.ReasonFailedHealthChecks},
			},
		},
		{
			name: "thresholds", protocol: lb.HTTP,
			hc:       lb.HealthCheck{Interval: 5 * time.Second, HealthyThreshold: 3, UnhealthyThreshold: 3, Timeout: 2 * time.Second},
			statuses: []int{200, 500, 500, 500, 200, 200, 200},
			want: []event{
				{0, lb.StateInitial, lb.ReasonRegistrationInProgress},
				{0, lb.StateHealthy, ""},
				{15 * time.Second, lb.StateUnhealthy, lb.ReasonResponseCodeMismatch},
				{30 * time.Second, lb.StateHealthy, ""},
			},
		},
		{
			name: "one failure is tolerated", protocol: lb.HTTP, statuses: []int{200, 503, 200, 503, 200},
			want: []event{{0, lb.StateInitial, lb.ReasonRegistrationInProgress}, {0, lb.StateHealthy, ""}},
		},
		{
			name: "matcher ranges", protocol: lb.HTTP, hc: lb.HealthCheck{Matcher: "200-299,302"},
			statuses: []int{302, 204, 404, 404},
			want: []event{
				{0, lb.StateInitial, lb.ReasonRegistrationInProgress},
				{0, lb.StateHealthy, ""},
				{90 * time.Second, lb.StateUnhealthy, lb.ReasonResponseCodeMismatch},
			},
			desc: "Health checks failed with these codes: [404]",
		},
		{
			name: "tcp accepted", protocol: lb.TCP, statuses: []int{accept},
			want: []event{{0, lb.StateInitial, lb.ReasonRegistrationInProgress}, {0, lb.StateHealthy, ""}},
		},
		{
			name: "tcp refused", protocol: lb.TCP, statuses: []int{accept, refuse, refuse},
			want: []event{
				{0, lb.StateInitial, lb.ReasonRegistrationInProgress},
				{0, lb.StateHealthy, ""},
				{60 * time.Second, lb.StateUnhealthy, lb.ReasonFailedHealthChecks},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				fake := newFakeTargets()
				ft := fake.set(addr, tt.statuses[0])
				start := time.Now()
				var got []event
				g, err := lb.NewTargetGroup("web", tt.protocol, lb.WithDialer(fake.dial), lb.WithHealthCheck(tt.hc),
					lb.OnHealthChange(func(c lb.HealthChange) {
						assert.Equal(t, "web", c.TargetGroup)
						assert.Equal(t, "task-1", c.Target.ID)
						got = append(got, event{time.Since(start), c.Current.State, c.Current.Reason})
					}))
				require.NoError(t, err)
				defer g.Close()
				interval := g.HealthCheck().Interval

				require.NoError(t, g.Register(lb.Target{ID: "task-1", Addr: addr}))
				synctest.Wait()
				for _, s := range tt.statuses[1:] {
					fake.set(addr, s)
					time.Sleep(interval)
					synctest.Wait()
				}
				time.Sleep(interval - time.Nanosecond) // let a timed-out last check finish
				synctest.Wait()
				assert.Equal(t, tt.want, got)
				assert.Equal(t, int64(len(tt.statuses)), ft.checks.Load(), "one check per interval")
				h := g.Health("task-1")
				assert.Equal(t, tt.want[len(tt.want)-1].State, h.State)
				if tt.desc != "" {
					assert.Equal(t, tt.desc, h.Description)
				}
			})
		})
	}
}

func TestHealthCheckRequest(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		fake := newFakeTargets()
		ft := fake.set("10.0.0.1:8081", 200)
		g, err := lb.NewTargetGroup("web", lb.HTTP, lb.WithDialer(fake.dial),
			lb.WithHealthCheck(lb.HealthCheck{Path: "/healthz?deep=1", Port: 8081}))
		require.NoError(t, err)
		defer g.Close()
		require.NoError(t, g.Register(lb.Target{ID: "task-1", Addr: "10.0.0.1:80"}))
		h, err := g.WaitState(t.Context(), "task-1", lb.StateHealthy)
		require.NoError(t, err)
		assert.Equal(t, lb.TargetHealth{State: lb.StateHealthy}, h)
		assert.Equal(t, []string{"10.0.0.1:8081/healthz?deep=1"}, ft.requests())
	})
}

func TestDrainingStopsHealthChecks(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		fake := newFakeTargets()
		ft := fake.set("10.0.0.1:80", 200)
		g, err := lb.NewTargetGroup("web", lb.HTTP, lb.WithDialer(fake.dial))
		require.NoError(t, err)
		defer g.Close()
		target := lb.Target{ID: "task-1", Addr: "10.0.0.1:80"}
		require.NoError(t, g.Register(target))
		time.Sleep(time.Minute) // checks at 0, 30 s and 60 s
		synctest.Wait()
		assert.EqualValues(t, 3, ft.checks.Load())

		require.NoError(t, g.Deregister("task-1"))
		assert.Equal(t, lb.StateUnused, g.Health("task-1").State, "idle targets go at once")
		time.Sleep(time.Hour)
		assert.EqualValues(t, 3, ft.checks.Load(), "no checks once deregistered")

		require.NoError(t, g.Register(target))
		_, err = g.WaitState(t.Context(), "task-1", lb.StateHealthy)
		require.NoError(t, err)
		assert.EqualValues(t, 4, ft.checks.Load())
	})
}

func TestWaitStateContext(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		fake := newFakeTargets()
		fake.set("10.0.0.1:80", 500)
		g, err := lb.NewTargetGroup("web", lb.HTTP, lb.WithDialer(fake.dial))
		require.NoError(t, err)
		defer g.Close()
		require.NoError(t, g.Register(lb.Target{ID: "task-1", Addr: "10.0.0.1:80"}))
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
		defer cancel()
		h, err := g.WaitState(ctx, "task-1", lb.StateHealthy)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, lb.StateUnhealthy, h.State)
		h, err = g.WaitState(t.Context(), "task-1", lb.StateUnhealthy, lb.StateHealthy)
		require.NoError(t, err)
		assert.Equal(t, lb.ReasonResponseCodeMismatch, h.Reason)
	})
}

func TestOnHealthChangeMayCallTheGroup(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		fake := newFakeTargets()
		fake.set("10.0.0.1:80", 200)
		var g *lb.TargetGroup
		var got []lb.TargetState
		prev := lb.TargetHealth{State: lb.StateUnused, Reason: lb.ReasonNotRegistered, Description: "Target is not registered to the target group"}
		g, err := lb.NewTargetGroup("web", lb.HTTP, lb.WithDialer(fake.dial),
			lb.OnHealthChange(func(c lb.HealthChange) {
				got = append(got, c.Current.State)
				assert.Equal(t, prev, c.Previous, "changes come in order")
				prev = c.Current
				_ = g.Health(c.Target.ID) // no deadlock
				if c.Current.State == lb.StateHealthy {
					assert.NoError(t, g.Deregister(c.Target.ID))
				}
			}))
		require.NoError(t, err)
		defer g.Close()
		require.NoError(t, g.Register(lb.Target{ID: "task-1", Addr: "10.0.0.1:80"}))
		synctest.Wait()
		assert.Equal(t, []lb.TargetState{lb.StateInitial, lb.StateHealthy, lb.StateDraining, lb.StateUnused}, got)
	})
}
