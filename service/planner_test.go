package service

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/stevedore-io/stevedore/errdefs"
	"github.com/stevedore-io/stevedore/health"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func pct(n int) *int { return &n }

func cfg(minPct, maxPct int) DeploymentConfiguration {
	return DeploymentConfiguration{MinimumHealthyPercent: pct(minPct), MaximumPercent: pct(maxPct)}
}

// running returns n healthy running tasks of deployment d.
func running(d string, n int) []TaskState {
	out := make([]TaskState, n)
	for i := range out {
		out[i] = TaskState{
			ID: fmt.Sprintf("%s-%d", d, i), DeploymentID: d, InstanceID: fmt.Sprintf("i-%d", i),
			Phase: PhaseRunning, ReachedRunning: true, Health: health.Healthy, HealthChecked: true,
			StartedAt: t0.Add(-time.Hour),
		}
	}
	return out
}

// rolling is a service mid-update: deployment "new" is primary, "old" holds tasks.
func rolling(desired int, c DeploymentConfiguration, tasks []TaskState) Input {
	return Input{
		Service: "web", Strategy: Replica, DesiredCount: desired, Config: c,
		Deployments: []Deployment{
			{ID: "new", Status: Primary, TaskDefinition: "web:2", RolloutState: RolloutInProgress, CreatedAt: t0},
			{ID: "old", Status: Active, TaskDefinition: "web:1", RolloutState: RolloutCompleted, CreatedAt: t0.Add(-time.Hour)},
		},
		LastCompleted: &Deployment{ID: "old", TaskDefinition: "web:1", RolloutState: RolloutCompleted},
		DeploymentSeq: 2,
		Tasks:         tasks,
		Now:           t0,
	}
}

func started(p Plan) int {
	n := 0
	for _, s := range p.Starts {
		n += s.Count
	}
	return n
}

func TestBounds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desired, minPct, maxPct int
		wantMin, wantMax        int
	}{
		{4, 50, 200, 2, 8},
		{2, 75, 100, 2, 2},
		{3, 50, 150, 2, 4},
		{1, 0, 100, 0, 1},
		{0, 100, 200, 0, 0},
		{10, 100, 200, 10, 20},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d@%d/%d", tt.desired, tt.minPct, tt.maxPct), func(t *testing.T) {
			lo, hi := cfg(tt.minPct, tt.maxPct).Bounds(Replica, tt.desired)
			assert.Equal(t, tt.wantMin, lo)
			assert.Equal(t, tt.wantMax, hi)
		})
	}
}

func TestValidateDeploymentConfiguration(t *testing.T) {
	t.Parallel()
	err := DeploymentConfiguration{MinimumHealthyPercent: pct(120), MaximumPercent: pct(50),
		CircuitBreaker: &CircuitBreaker{Rollback: true}}.Validate(Replica)
	require.ErrorIs(t, err, ErrInvalid)
	paths := []string{}
	for _, f := range errdefs.FieldErrors(err) {
		paths = append(paths, f.Path)
	}
	assert.Equal(t, []string{
		"deploymentConfiguration.minimumHealthyPercent",
		"deploymentConfiguration.maximumPercent",
		"deploymentConfiguration.deploymentCircuitBreaker.rollback",
	}, paths)
	assert.NoError(t, DeploymentConfiguration{}.Validate(Replica))
	assert.NoError(t, cfg(0, 100).Validate(Daemon))
}

func TestCircuitBreakerThreshold(t *testing.T) {
	t.Parallel()
	for desired, want := range map[int]int{0: 3, 1: 3, 4: 3, 6: 3, 7: 4, 25: 13, 400: 200, 1000: 200} {
		assert.Equal(t, want, CircuitBreakerThreshold(desired), "desired %d", desired)
	}
}

func TestThrottleDelay(t *testing.T) {
	t.Parallel()
	assert.Equal(t, time.Duration(0), ThrottleDelay(1))
	assert.Equal(t, 5*time.Second, ThrottleDelay(2))
	assert.Equal(t, 10*time.Second, ThrottleDelay(3))
	assert.Equal(t, MaxThrottleDelay, ThrottleDelay(30))
	for n := 2; n < 40; n++ {
		assert.GreaterOrEqual(t, ThrottleDelay(n), ThrottleDelay(n-1))
	}
}

// The ECS documentation's examples of rolling deployments.
func TestReplicaRollingExamples(t *testing.T) {
	t.Parallel()
	t.Run("desired 4 at 50%/100% stops 2 old before starting", func(t *testing.T) {
		p := Compute(rolling(4, cfg(50, 100), running("old", 4)))
		assert.Len(t, p.Stops, 2)
		assert.Equal(t, 0, started(p))
	})
	t.Run("desired 4 at 50%/200% stops 2 old and starts 4 new", func(t *testing.T) {
		p := Compute(rolling(4, cfg(50, 200), running("old", 4)))
		assert.Len(t, p.Stops, 2)
		assert.Equal(t, 4, started(p))
	})
	t.Run("desired 2 at 75%/100% can neither stop nor start", func(t *testing.T) {
		p := Compute(rolling(2, cfg(75, 100), running("old", 2)))
		assert.Empty(t, p.Stops)
		assert.Equal(t, 0, started(p))
	})
	t.Run("100%/200% starts first, stops after new are healthy", func(t *testing.T) {
		in := rolling(2, cfg(100, 200), running("old", 2))
		p := Compute(in)
		assert.Empty(t, p.Stops)
		assert.Equal(t, 2, started(p))

		in.Tasks = append(in.Tasks, running("new", 2)...)
		p = Compute(in)
		assert.Len(t, p.Stops, 2)
		for _, s := range p.Stops {
			assert.Contains(t, s.TaskID, "old")
			assert.Equal(t, "Scaling activity initiated by (deployment new)", s.Reason)
		}
		assert.Equal(t, 0, started(p))
	})
}

func TestReplicaCompletesAndReportsSteadyState(t *testing.T) {
	t.Parallel()
	in := rolling(2, cfg(100, 200), running("new", 2))
	p := Compute(in)
	require.Len(t, p.Deployments, 1)
	assert.Equal(t, RolloutCompleted, p.Deployments[0].RolloutState)
	assert.Equal(t, 2, p.Deployments[0].HealthyCount)
	assert.True(t, p.Steady)
	require.NotNil(t, p.LastCompleted)
	assert.Equal(t, "new", p.LastCompleted.ID)
	assert.Contains(t, p.Events, "(service web) (deployment new) deployment completed.")
	assert.Contains(t, p.Events, "(service web) has reached a steady state.")

	// Steady stays quiet.
	in.Deployments, in.LastCompleted, in.Steady = p.Deployments, p.LastCompleted, true
	p = Compute(in)
	assert.Empty(t, p.Events)
	assert.Empty(t, p.Stops)
	assert.Empty(t, p.Starts)
}

func TestUnhealthyReplacedStartFirst(t *testing.T) {
	t.Parallel()
	tasks := running("new", 2)
	tasks[1].Health = health.Unhealthy
	in := rolling(2, cfg(100, 200), tasks)
	in.Deployments = in.Deployments[:1]
	p := Compute(in)
	assert.Empty(t, p.Stops, "replacement first")
	assert.Equal(t, 1, started(p))

	// Replacement pending: keep the unhealthy one for now.
	in.Tasks = append(in.Tasks, TaskState{ID: "new-r", DeploymentID: "new", Phase: PhasePending, HealthChecked: true})
	p = Compute(in)
	assert.Empty(t, p.Stops)
	assert.Equal(t, 0, started(p))

	// Replacement healthy: the unhealthy task goes.
	in.Tasks[2] = running("new", 1)[0]
	in.Tasks[2].ID = "new-r"
	p = Compute(in)
	require.Len(t, p.Stops, 1)
	assert.Equal(t, "new-1", p.Stops[0].TaskID)
	assert.True(t, p.Stops[0].Health)
	assert.Equal(t, ReasonUnhealthy, p.Stops[0].Reason)
}

func TestUnhealthyStoppedWhenNoRoom(t *testing.T) {
	t.Parallel()
	tasks := running("new", 2)
	tasks[0].Health = health.Unhealthy
	in := rolling(2, cfg(50, 100), tasks)
	in.Deployments = in.Deployments[:1]
	p := Compute(in)
	require.Len(t, p.Stops, 1)
	assert.Equal(t, "new-0", p.Stops[0].TaskID)
	assert.Equal(t, 0, started(p), "no room until the unhealthy task is gone")
}

func TestUnhealthyIgnoredDuringGracePeriod(t *testing.T) {
	t.Parallel()
	tasks := running("new", 1)
	tasks[0].Health = health.Unhealthy
	tasks[0].StartedAt = t0.Add(-10 * time.Second)
	in := rolling(1, cfg(100, 200), tasks)
	in.Deployments = in.Deployments[:1]
	in.HealthCheckGracePeriod = time.Minute
	p := Compute(in)
	assert.Empty(t, p.Stops)
	assert.Equal(t, 0, started(p))
	assert.Equal(t, t0.Add(50*time.Second), p.RequeueAt)
}

func TestUncheckedTasksSettleBeforeCountingHealthy(t *testing.T) {
	t.Parallel()
	fresh := running("new", 2)
	for i := range fresh {
		fresh[i].HealthChecked = false
		fresh[i].Health = health.Unknown
		fresh[i].StartedAt = t0.Add(-10 * time.Second)
	}
	in := rolling(2, cfg(100, 200), append(running("old", 2), fresh...))
	p := Compute(in)
	assert.Empty(t, p.Stops, "new tasks have not run 40 s yet")
	assert.Equal(t, t0.Add(30*time.Second), p.RequeueAt)
	in.Now = t0.Add(30 * time.Second)
	p = Compute(in)
	assert.Len(t, p.Stops, 2)
}

func TestScaleIn(t *testing.T) {
	t.Parallel()
	in := rolling(1, cfg(100, 200), running("new", 3))
	in.Deployments = in.Deployments[:1]
	p := Compute(in)
	assert.Len(t, p.Stops, 2)
	in.DesiredCount = 0
	p = Compute(in)
	assert.Len(t, p.Stops, 3)
}

func TestDrainingInstanceTasksReplacedWithinBounds(t *testing.T) {
	t.Parallel()
	tasks := running("new", 2)
	tasks[0].OnDrainingInstance = true
	in := rolling(2, cfg(100, 200), tasks)
	in.Deployments = in.Deployments[:1]
	p := Compute(in)
	assert.Empty(t, p.Stops, "minimum 100%: replace first")
	assert.Equal(t, 1, started(p))
	in.Tasks = append(in.Tasks, running("x", 1)...)
	in.Tasks[2].DeploymentID = "new"
	p = Compute(in)
	require.Len(t, p.Stops, 1)
	assert.Equal(t, "new-0", p.Stops[0].TaskID)
	assert.Equal(t, ReasonDraining, p.Stops[0].Reason)
}

func failedToStart(id, dep string, at time.Time) TaskState {
	return TaskState{ID: id, DeploymentID: dep, Phase: PhaseStopped, StoppedAt: at}
}

func TestStartThrottling(t *testing.T) {
	t.Parallel()
	in := rolling(1, cfg(100, 200), nil)
	in.Deployments = in.Deployments[:1]
	in.Tasks = []TaskState{
		failedToStart("a", "new", t0.Add(1*time.Second)),
		failedToStart("b", "new", t0.Add(2*time.Second)),
		failedToStart("c", "new", t0.Add(3*time.Second)),
	}
	in.Now = t0.Add(4 * time.Second)
	p := Compute(in)
	assert.Equal(t, 0, started(p), "three failures: wait 10 s after the last")
	assert.Equal(t, t0.Add(13*time.Second), p.RequeueAt)
	in.Now = t0.Add(13 * time.Second)
	assert.Equal(t, 1, started(Compute(in)))

	// A new deployment resets the throttle.
	in.Now = t0.Add(4 * time.Second)
	in.Deployments = append([]Deployment{{ID: "newer", Status: Primary, TaskDefinition: "web:3",
		RolloutState: RolloutInProgress, CreatedAt: in.Now}}, in.Deployments...)
	assert.Equal(t, 1, started(Compute(in)))

	// Tasks that failed after RUNNING are not throttled.
	in = rolling(1, cfg(100, 200), nil)
	in.Deployments = in.Deployments[:1]
	for i := range 5 {
		st := failedToStart(fmt.Sprint(i), "new", t0.Add(time.Duration(i)*time.Second))
		st.ReachedRunning = true
		in.Tasks = append(in.Tasks, st)
	}
	in.Now = t0.Add(5 * time.Second)
	assert.Equal(t, 1, started(Compute(in)))
}

func TestCircuitBreakerRollsBack(t *testing.T) {
	t.Parallel()
	c := cfg(100, 200)
	c.CircuitBreaker = &CircuitBreaker{Enable: true, Rollback: true}
	in := rolling(2, c, running("old", 2))
	for i := range 3 {
		st := failedToStart(fmt.Sprintf("f%d", i), "new", t0.Add(time.Second))
		st.ReachedRunning, st.StoppedForHealth = true, true
		in.Tasks = append(in.Tasks, st)
	}
	in.Now = t0.Add(time.Minute)
	p := Compute(in)
	require.Len(t, p.Deployments, 3)
	assert.Equal(t, "ecs-svc/web/3", p.Deployments[0].ID, "the rollback takes the next number")
	assert.Equal(t, 3, p.DeploymentSeq)
	assert.Equal(t, 2, in.DeploymentSeq, "the input is left alone")
	assert.Equal(t, Primary, p.Deployments[0].Status)
	assert.Equal(t, "web:1", p.Deployments[0].TaskDefinition)
	assert.Equal(t, RolloutFailed, p.Deployments[1].RolloutState)
	assert.Equal(t, 3, p.Deployments[1].FailedTasks)
	assert.Contains(t, p.Events, "(service web) (deployment new) deployment failed: tasks failed to start.")
	assert.Equal(t, 2, started(p))
	assert.Equal(t, "web:1", p.Starts[0].TaskDefinition)
}

func TestCircuitBreakerWithoutRollbackStopsLaunching(t *testing.T) {
	t.Parallel()
	c := cfg(100, 200)
	c.CircuitBreaker = &CircuitBreaker{Enable: true}
	in := rolling(2, c, nil)
	for i := range 3 {
		in.Tasks = append(in.Tasks, failedToStart(fmt.Sprintf("f%d", i), "new", t0))
	}
	in.Now = t0.Add(time.Hour)
	p := Compute(in)
	assert.Equal(t, RolloutFailed, p.Deployments[0].RolloutState)
	assert.Equal(t, 0, started(p))
}

func TestRollingAlarmRollsBack(t *testing.T) {
	t.Parallel()
	c := cfg(100, 200)
	c.Alarms = &DeploymentAlarms{AlarmNames: []string{"errors"}, Enable: true, Rollback: true}
	in := rolling(2, c, running("old", 2))
	in.Tasks = append(in.Tasks, running("new", 2)...)
	in.Now = t0.Add(time.Minute)
	p := Compute(in)
	assert.Len(t, p.Deployments, 2, "no alarm: the deployment goes on")
	assert.Equal(t, 2, p.DeploymentSeq, "no deployment, no new number")

	in.Deployments[0].AlarmFired = "errors: 7 > 5"
	p = Compute(in)
	require.Len(t, p.Deployments, 3)
	assert.Equal(t, "ecs-svc/web/3", p.Deployments[0].ID)
	assert.Equal(t, 3, p.DeploymentSeq)
	assert.Equal(t, "web:1", p.Deployments[0].TaskDefinition)
	assert.Equal(t, "ECS deployment alarms: rolling back to deploymentId old.", p.Deployments[0].RolloutStateReason)
	assert.Equal(t, RolloutFailed, p.Deployments[1].RolloutState)
	assert.Equal(t, "ECS deployment alarms: alarm errors: 7 > 5.", p.Deployments[1].RolloutStateReason)
	assert.Contains(t, p.Events, "(service web) (deployment new) deployment failed: alarm errors: 7 > 5.")
	assert.Contains(t, p.Events, "(service web) (deployment ecs-svc/web/3) rolling back to deployment old.")
	assert.Equal(t, "new", p.Deployments[0].RollbackOf)

	// The rollback's own alarm verdict does not roll back again.
	in.Deployments, in.DeploymentSeq = p.Deployments, p.DeploymentSeq
	in.Deployments[0].AlarmFired = "errors: 7 > 5"
	in.Now = in.Now.Add(time.Minute)
	p = Compute(in)
	assert.Equal(t, "ecs-svc/web/3", p.Deployments[0].ID)
	assert.Equal(t, 3, p.DeploymentSeq)
	assert.Equal(t, RolloutInProgress, p.Deployments[0].RolloutState)
}

func TestRollingAlarmBakeTime(t *testing.T) {
	t.Parallel()
	c := cfg(100, 200)
	c.Alarms = &DeploymentAlarms{AlarmNames: []string{"errors"}, Enable: true, Rollback: true}
	in := rolling(2, c, nil)
	in.Deployments = in.Deployments[:1]
	in.Tasks = running("new", 2)
	in.AlarmBakeTime = 3 * time.Minute
	in.Now = t0.Add(time.Minute)
	p := Compute(in)
	require.Len(t, p.Deployments, 1)
	assert.Equal(t, RolloutInProgress, p.Deployments[0].RolloutState, "converged, baking")
	assert.Equal(t, StageBakeTime, p.Deployments[0].LifecycleStage)
	assert.False(t, p.Steady)
	assert.Equal(t, t0.Add(4*time.Minute), p.RequeueAt)

	in.Deployments = p.Deployments
	in.Now = t0.Add(4 * time.Minute)
	p = Compute(in)
	assert.Equal(t, RolloutCompleted, p.Deployments[0].RolloutState, "baked")
	assert.Empty(t, p.Deployments[0].LifecycleStage)
	assert.True(t, p.Steady)
}

// TestRollingAlarmBakeWaitsForAFullWatch: a watch of the alarms that began
// after the bake did (a restart during it: the datapoints died with the
// process) holds the bake until AlarmBakeTime after the watch began; an
// earlier watch changes nothing.
func TestRollingAlarmBakeWaitsForAFullWatch(t *testing.T) {
	t.Parallel()
	c := cfg(100, 200)
	c.Alarms = &DeploymentAlarms{AlarmNames: []string{"errors"}, Enable: true, Rollback: true}
	for _, tc := range []struct {
		name    string
		watched time.Time
		end     time.Time
	}{
		{"not recorded", time.Time{}, t0.Add(4 * time.Minute)},
		{"watched before the bake", t0, t0.Add(4 * time.Minute)},
		{"watched again during the bake", t0.Add(3 * time.Minute), t0.Add(6 * time.Minute)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := rolling(2, c, nil)
			in.Deployments = in.Deployments[:1]
			in.Deployments[0].LifecycleStage, in.Deployments[0].StageStartedAt = StageBakeTime, t0.Add(time.Minute)
			in.Deployments[0].AlarmsWatchedFrom = tc.watched
			in.Tasks = running("new", 2)
			in.AlarmBakeTime = 3 * time.Minute
			in.Now = tc.end.Add(-time.Second)
			p := Compute(in)
			assert.Equal(t, RolloutInProgress, p.Deployments[0].RolloutState, "baking")
			assert.Equal(t, tc.end, p.RequeueAt)
			in.Now = tc.end
			assert.Equal(t, RolloutCompleted, Compute(in).Deployments[0].RolloutState, "baked")
		})
	}
}

func TestRollingAlarmWithoutRollbackFails(t *testing.T) {
	t.Parallel()
	c := cfg(100, 200)
	c.Alarms = &DeploymentAlarms{AlarmNames: []string{"errors"}, Enable: true}
	in := rolling(2, c, running("old", 2))
	in.Deployments[0].AlarmFired = "errors: 7 > 5"
	in.Now = t0.Add(time.Minute)
	p := Compute(in)
	require.Len(t, p.Deployments, 2, "no rollback")
	assert.Equal(t, RolloutFailed, p.Deployments[0].RolloutState)
	assert.Equal(t, 0, started(p), "a failed deployment launches nothing")

	// An alarm that is not enabled is not acted on.
	c.Alarms.Enable = false
	in = rolling(2, c, running("old", 2))
	in.Deployments[0].AlarmFired = "errors: 7 > 5"
	assert.Equal(t, RolloutInProgress, Compute(in).Deployments[0].RolloutState)
}

// TestDaemonKeepsTasksWhileAgentsAreAway: the task on an instance whose
// agent is disconnected stays (ECS does not stop it for that) and counts;
// no task is started on such an instance.
func TestDaemonKeepsTasksWhileAgentsAreAway(t *testing.T) {
	t.Parallel()
	in := Input{
		Service: "agent", Strategy: Daemon,
		Deployments: []Deployment{{ID: "d1", Status: Primary, TaskDefinition: "agent:1", RolloutState: RolloutInProgress, CreatedAt: t0}},
		Instances: []InstanceState{
			{ID: "i-0", Eligible: true}, {ID: "i-1", Eligible: true, AgentDisconnected: true},
			{ID: "i-2", Eligible: true, AgentDisconnected: true},
		},
		Tasks: running("d1", 2), // on i-0 and i-1
		Now:   t0,
	}
	p := Compute(in)
	assert.Empty(t, p.Stops, "the task on i-1 stays")
	assert.Empty(t, p.Starts, "nothing starts on i-2 while its agent is away")
	assert.Equal(t, 2, p.Deployments[0].DesiredCount)
	assert.Equal(t, RolloutCompleted, p.Deployments[0].RolloutState)
}

func TestDaemon(t *testing.T) {
	t.Parallel()
	in := Input{
		Service: "agent", Strategy: Daemon,
		Deployments: []Deployment{{ID: "d1", Status: Primary, TaskDefinition: "agent:1", RolloutState: RolloutInProgress, CreatedAt: t0}},
		Instances: []InstanceState{
			{ID: "i-0", Eligible: true}, {ID: "i-1", Eligible: true}, {ID: "i-2", Eligible: false},
			{ID: "i-3", Eligible: true, Draining: true},
		},
		Now: t0,
	}
	p := Compute(in)
	require.Len(t, p.Starts, 2)
	assert.Equal(t, "i-0", p.Starts[0].InstanceID)
	assert.Equal(t, "i-1", p.Starts[1].InstanceID)
	assert.Equal(t, 2, p.Deployments[0].DesiredCount)

	// Running on i-0 and i-3 (draining): the draining one stops, i-1 gets one.
	in.Tasks = running("d1", 1)
	drain := running("d1", 1)[0]
	drain.ID, drain.InstanceID, drain.OnDrainingInstance = "t-3", "i-3", true
	in.Tasks = append(in.Tasks, drain)
	p = Compute(in)
	require.Len(t, p.Stops, 1)
	assert.Equal(t, "t-3", p.Stops[0].TaskID)
	assert.Empty(t, p.Starts, "maximum 100%% of 2: wait for the draining task to stop")
	in.Tasks[1].Phase, in.Tasks[1].DesiredStopped = PhaseStopped, true
	p = Compute(in)
	require.Len(t, p.Starts, 1)
	assert.Equal(t, "i-1", p.Starts[0].InstanceID)
}

func TestDaemonRollingUpdateStopsBeforeStarting(t *testing.T) {
	t.Parallel()
	old := running("d1", 2)
	in := Input{
		Service: "agent", Strategy: Daemon, Config: cfg(50, 100),
		Deployments: []Deployment{
			{ID: "d2", Status: Primary, TaskDefinition: "agent:2", RolloutState: RolloutInProgress, CreatedAt: t0},
			{ID: "d1", Status: Active, TaskDefinition: "agent:1", RolloutState: RolloutCompleted},
		},
		Instances: []InstanceState{{ID: "i-0", Eligible: true}, {ID: "i-1", Eligible: true}},
		Tasks:     old,
		Now:       t0,
	}
	p := Compute(in)
	require.Len(t, p.Stops, 1, "50%% of 2 lets one instance at a time update")
	assert.Empty(t, p.Starts, "maximum 100%%: start after the old one is gone")
}

// sim is a tiny model of a cluster that applies plans, for property tests.
type sim struct {
	in      Input
	seq     int
	maxSeen int
}

func (s *sim) apply(t *rapid.T, p Plan) {
	minHealthy, maxTotal := s.in.Config.Bounds(s.in.Strategy, s.in.DesiredCount)
	before := 0
	for i := range s.in.Tasks {
		if s.isHealthy(&s.in.Tasks[i]) {
			before++
		}
	}
	stops := map[string]bool{}
	for _, st := range p.Stops {
		stops[st.TaskID] = true
	}
	after := 0
	for i := range s.in.Tasks {
		tk := &s.in.Tasks[i]
		if stops[tk.ID] {
			tk.DesiredStopped = true
		}
		if s.isHealthy(tk) {
			after++
		}
	}
	if after < min(before, minHealthy) {
		t.Fatalf("plan stopped healthy tasks below the minimum: %d -> %d (min %d)", before, after, minHealthy)
	}
	for _, st := range p.Starts {
		for range st.Count {
			s.seq++
			s.in.Tasks = append(s.in.Tasks, TaskState{ID: fmt.Sprintf("t%d", s.seq), DeploymentID: st.DeploymentID,
				InstanceID: fmt.Sprintf("i-%d", s.seq%3), Phase: PhasePending, HealthChecked: true})
		}
	}
	occ := 0
	for i := range s.in.Tasks {
		if s.in.Tasks[i].occupying() {
			occ++
		}
	}
	if occ > maxTotal {
		t.Fatalf("%d tasks RUNNING or PENDING, above the maximum %d", occ, maxTotal)
	}
	ids := map[string]bool{}
	for _, d := range p.Deployments {
		if ids[d.ID] {
			t.Fatalf("two deployments named %s", d.ID)
		}
		ids[d.ID] = true
	}
	if p.DeploymentSeq < s.in.DeploymentSeq {
		t.Fatalf("deployment number went back from %d to %d", s.in.DeploymentSeq, p.DeploymentSeq)
	}
	s.in.Deployments, s.in.LastCompleted, s.in.Steady, s.in.DeploymentSeq = p.Deployments, p.LastCompleted, p.Steady, p.DeploymentSeq
}

func (s *sim) isHealthy(t *TaskState) bool {
	return t.Phase == PhaseRunning && !t.DesiredStopped && t.Health == health.Healthy
}

// TestPlannerInvariants drives random scenarios (start failures, health
// flaps, crashes, redeployments) and checks ECS's bounds after every plan.
func TestPlannerInvariants(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		desired := rapid.IntRange(0, 8).Draw(t, "desired")
		minPct := rapid.IntRange(0, 100).Draw(t, "min")
		maxPct := rapid.IntRange(100, 250).Draw(t, "max")
		c := cfg(minPct, maxPct)
		c.CircuitBreaker = &CircuitBreaker{Enable: rapid.Bool().Draw(t, "cb"), Rollback: true}
		s := &sim{in: Input{Service: "svc", Strategy: Replica, DesiredCount: desired, Config: c, Now: t0,
			Deployments: []Deployment{{ID: "d0", Status: Primary, TaskDefinition: "x:1", RolloutState: RolloutInProgress, CreatedAt: t0}},
		}}
		for step := range 60 {
			s.apply(t, Compute(s.in))
			s.in.Now = s.in.Now.Add(time.Minute)
			// The world moves: each live task may advance.
			for i := range s.in.Tasks {
				tk := &s.in.Tasks[i]
				switch tk.Phase {
				case PhasePending:
					switch rapid.IntRange(0, 5).Draw(t, "pending") {
					case 0:
						tk.Phase, tk.StoppedAt = PhaseStopped, s.in.Now
					case 1, 2, 3:
						tk.Phase, tk.ReachedRunning, tk.StartedAt, tk.Health = PhaseRunning, true, s.in.Now, health.Unknown
					}
				case PhaseRunning:
					if tk.DesiredStopped {
						tk.Phase = PhaseStopping
						continue
					}
					switch rapid.IntRange(0, 9).Draw(t, "running") {
					case 0:
						tk.Health = health.Unhealthy
					case 1:
						tk.Phase, tk.StoppedAt = PhaseStopped, s.in.Now // crash
					default:
						if tk.Health == health.Unknown {
							tk.Health = health.Healthy
						}
					}
				case PhaseStopping:
					tk.Phase, tk.StoppedAt = PhaseStopped, s.in.Now
				}
				if tk.Phase == PhaseStopped && tk.Health == health.Unhealthy && tk.DesiredStopped {
					tk.StoppedForHealth = true
				}
			}
			if step%20 == 10 && rapid.Bool().Draw(t, "redeploy") {
				s.in.Deployments = append([]Deployment{{ID: fmt.Sprintf("d%d", step), Status: Primary,
					TaskDefinition: fmt.Sprintf("x:%d", step), RolloutState: RolloutInProgress, CreatedAt: s.in.Now}}, s.in.Deployments...)
				s.in.Steady = false
			}
		}
	})
}

// A service whose tasks all stay healthy converges to its desired count.
func TestPlannerConverges(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		desired := rapid.IntRange(1, 10).Draw(t, "desired")
		minPct := rapid.IntRange(0, 100).Draw(t, "min")
		maxPct := rapid.IntRange(max(100, minPct+1), 200).Draw(t, "max")
		if desired*maxPct/100 <= (desired*minPct+99)/100 {
			t.Skip("bounds leave no room for a rolling update")
		}
		s := &sim{in: rolling(desired, cfg(minPct, maxPct), nil)}
		for i := range desired {
			s.in.Tasks = append(s.in.Tasks, TaskState{ID: fmt.Sprintf("old%d", i), DeploymentID: "old", InstanceID: "i-0",
				Phase: PhaseRunning, ReachedRunning: true, Health: health.Healthy, HealthChecked: true})
		}
		for range 50 {
			p := Compute(s.in)
			s.apply(t, p)
			if p.Steady {
				require.Len(t, s.in.Deployments, 1)
				require.Equal(t, "new", s.in.Deployments[0].ID)
				return
			}
			for i := range s.in.Tasks {
				tk := &s.in.Tasks[i]
				switch {
				case tk.Phase == PhasePending:
					tk.Phase, tk.ReachedRunning, tk.Health, tk.StartedAt = PhaseRunning, true, health.Healthy, s.in.Now
				case tk.Phase == PhaseRunning && tk.DesiredStopped:
					tk.Phase = PhaseStopping
				case tk.Phase == PhaseStopping:
					tk.Phase = PhaseStopped
				}
			}
			s.in.Now = s.in.Now.Add(time.Second)
		}
		t.Fatalf("no steady state after 50 passes: %+v", s.in.Deployments)
	})
}

func TestNoLaunchWhileAFailedTaskIsStillStopping(t *testing.T) {
	t.Parallel()
	in := rolling(1, cfg(100, 200), nil)
	in.Deployments = in.Deployments[:1]
	in.Tasks = []TaskState{
		failedToStart("a", "new", t0.Add(1*time.Second)),
		failedToStart("b", "new", t0.Add(2*time.Second)),
		{ID: "c", DeploymentID: "new", Phase: PhaseStopping},
	}
	in.Now = t0.Add(time.Hour)
	assert.Equal(t, 0, started(Compute(in)), "c may have failed to start: count it first")
	in.Tasks[2].Phase, in.Tasks[2].DesiredStopped = PhasePending, true
	assert.Equal(t, 0, started(Compute(in)), "c is being stopped before it ran")
	in.Tasks[2].Phase, in.Tasks[2].StoppedAt = PhaseStopped, in.Now
	p := Compute(in)
	assert.Equal(t, 0, started(p))
	assert.Equal(t, in.Now.Add(ThrottleDelay(3)), p.RequeueAt)
}

// TestThrottledServiceSaysSo: when the start throttle engages, the service
// says so in ECS's words, once per episode: not on the passes while it
// holds, nor on the next failure; again after a task reached RUNNING and
// the failures started over.
func TestThrottledServiceSaysSo(t *testing.T) {
	t.Parallel()
	const msg = "(service web) is unable to consistently start tasks successfully."
	in := rolling(1, cfg(100, 200), nil)
	in.Deployments = in.Deployments[:1]
	pass := func(now time.Time) Plan {
		in.Now = now
		p := Compute(in)
		in.Deployments = p.Deployments
		return p
	}
	in.Tasks = []TaskState{failedToStart("a", "new", t0.Add(time.Second))}
	p := pass(t0.Add(time.Second))
	assert.NotContains(t, p.Events, msg, "one failure: no delay, no throttle")
	assert.False(t, p.Deployments[0].Throttled)

	in.Tasks = append(in.Tasks, failedToStart("b", "new", t0.Add(2*time.Second)))
	p = pass(t0.Add(2 * time.Second))
	assert.Contains(t, p.Events, msg, "the throttle engages")
	assert.True(t, p.Deployments[0].Throttled)
	assert.NotContains(t, pass(t0.Add(3*time.Second)).Events, msg, "a pass while it holds")
	in.Tasks = append(in.Tasks, failedToStart("c", "new", t0.Add(8*time.Second)))
	assert.NotContains(t, pass(t0.Add(8*time.Second)).Events, msg, "the same episode")

	// A task reaches RUNNING: the episode ends, and the next one is told.
	ok := failedToStart("d", "new", t0.Add(20*time.Second))
	ok.ReachedRunning = true
	in.Tasks = append(in.Tasks, ok)
	p = pass(t0.Add(20 * time.Second))
	assert.NotContains(t, p.Events, msg)
	assert.False(t, p.Deployments[0].Throttled)
	in.Tasks = append(in.Tasks, failedToStart("e", "new", t0.Add(30*time.Second)), failedToStart("f", "new", t0.Add(31*time.Second)))
	assert.Contains(t, pass(t0.Add(31*time.Second)).Events, msg, "a new episode")
}
