package service

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/stevedore-io/stevedore/errdefs"
	"github.com/stevedore-io/stevedore/health"
)

// routed is a routing and when the simulated load balancer applied it.
type routed struct {
	at time.Time
	r  Routing
}

// bgSim drives the planner like the service controller does, with tasks
// that start healthy at once and a load balancer that applies the desired
// routing as soon as the plan is written (unless lagging).
type bgSim struct {
	t       interface{ Helper() }
	in      Input
	seq     int
	history []routed
	events  []string
	// startHealth is the health new tasks report.
	startHealth health.Status
	// failStarts makes new tasks stop before reaching RUNNING.
	failStarts bool
	// lag leaves the routing unapplied.
	lag bool
}

// newBlueGreen is a service of desired blue tasks (deployment "blue",
// COMPLETED, on TargetGroup) just updated to deployment "green".
func newBlueGreen(t *testing.T, desired int, c DeploymentConfiguration) *bgSim {
	blue := Deployment{ID: "blue", Status: Active, TaskDefinition: "web:1", DesiredCount: desired, RolloutState: RolloutCompleted, CreatedAt: t0.Add(-time.Hour)}
	return &bgSim{t: t, startHealth: health.Healthy, in: Input{
		Service: "web", Strategy: Replica, DesiredCount: desired, Config: c,
		Deployments: []Deployment{
			{ID: "green", Status: Primary, TaskDefinition: "web:2", DesiredCount: desired, RolloutState: RolloutInProgress, CreatedAt: t0},
			blue,
		},
		LastCompleted: &blue,
		Tasks:         running("blue", desired),
		Routing:       &AppliedRouting{Routing: Routing{AlternatePercent: 0, TestOnAlternate: false}, AppliedAt: t0.Add(-time.Hour)},
		Now:           t0,
	}}
}

// step plans once and applies the plan; it reports whether anything changed.
func (s *bgSim) step() (Plan, bool) {
	before := slices.Clone(s.in.Deployments)
	plan := Compute(s.in)
	s.in.Deployments, s.in.LastCompleted, s.in.Steady = plan.Deployments, plan.LastCompleted, plan.Steady
	s.events = append(s.events, plan.Events...)
	for _, st := range plan.Stops {
		for i := range s.in.Tasks {
			if t := &s.in.Tasks[i]; t.ID == st.TaskID {
				t.DesiredStopped, t.Phase, t.StoppedAt, t.StoppedForHealth = true, PhaseStopped, s.in.Now, st.Health
			}
		}
	}
	for _, st := range plan.Starts {
		for range st.Count {
			s.seq++
			t := TaskState{ID: fmt.Sprintf("%s-t%d", st.DeploymentID, s.seq), DeploymentID: st.DeploymentID,
				InstanceID: fmt.Sprintf("i-%d", s.seq%3), Phase: PhaseRunning, ReachedRunning: true,
				Health: s.startHealth, HealthChecked: true, StartedAt: s.in.Now}
			if s.failStarts {
				t.Phase, t.ReachedRunning, t.StoppedAt = PhaseStopped, false, s.in.Now
			}
			s.in.Tasks = append(s.in.Tasks, t)
		}
	}
	changed := len(plan.Stops) > 0 || len(plan.Starts) > 0 || !slices.Equal(before, plan.Deployments)
	if want := DesiredRouting(plan.Deployments); !s.lag && (s.in.Routing == nil || s.in.Routing.Routing != want) {
		s.in.Routing = &AppliedRouting{Routing: want, AppliedAt: s.in.Now}
		s.history = append(s.history, routed{at: s.in.Now, r: want})
		changed = true
	}
	return plan, changed
}

// run plans until nothing changes, then moves the clock on by tick, until
// the limit or done.
func (s *bgSim) run(limit time.Duration, done func() bool) {
	s.t.Helper()
	end := s.in.Now.Add(limit)
	for s.in.Now.Before(end) {
		for range 50 {
			if _, changed := s.step(); !changed {
				break
			}
		}
		if done != nil && done() {
			return
		}
		s.in.Now = s.in.Now.Add(30 * time.Second)
	}
}

func (s *bgSim) completed() bool {
	return s.in.Deployments[0].ID == "green" && s.in.Deployments[0].RolloutState == RolloutCompleted && s.in.Steady
}

// productionShifts lists the green shares of production traffic applied,
// with their times, from the first one above zero.
func (s *bgSim) productionShifts() ([]float64, []time.Time) {
	var pcts []float64
	var times []time.Time
	last := 0.0
	for _, h := range s.history {
		if h.r.AlternatePercent != last {
			pcts, times = append(pcts, h.r.AlternatePercent), append(times, h.at)
			last = h.r.AlternatePercent
		}
	}
	return pcts, times
}

// stopTimes returns when each task of deployment d stopped.
func (s *bgSim) stopTimes(d string) []time.Time {
	var out []time.Time
	for _, t := range s.in.Tasks {
		if t.DeploymentID == d && t.Phase == PhaseStopped {
			out = append(out, t.StoppedAt)
		}
	}
	return out
}

func (s *bgSim) stages() []string {
	var out []string
	for _, e := range s.events {
		if _, after, ok := strings.Cut(e, "entered lifecycle stage "); ok {
			out = append(out, strings.TrimSuffix(after, "."))
		}
	}
	return out
}

var allStages = []string{"RECONCILE_SERVICE", "PRE_SCALE_UP", "SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT",
	"POST_TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME", "CLEAN_UP"}

func TestBlueGreenStrategies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		config DeploymentConfiguration
		// shifts are green's shares of production traffic, in order;
		// gaps the least time between them.
		shifts []float64
		gap    time.Duration
	}{
		{"all at once", DeploymentConfiguration{Strategy: StrategyBlueGreen, BakeTime: 10 * time.Minute}, []float64{100}, 0},
		{"linear", DeploymentConfiguration{Strategy: StrategyLinear, BakeTime: 10 * time.Minute,
			LinearConfiguration: &LinearConfiguration{StepPercent: 30, StepBakeTime: 5 * time.Minute}}, []float64{30, 60, 90, 100}, 5 * time.Minute},
		{"linear in uneven steps", DeploymentConfiguration{Strategy: StrategyLinear, BakeTime: time.Minute,
			LinearConfiguration: &LinearConfiguration{StepPercent: 33.3, StepBakeTime: time.Minute}}, []float64{33.3, 66.6, 99.9, 100}, time.Minute},
		{"canary", DeploymentConfiguration{Strategy: StrategyCanary, BakeTime: 10 * time.Minute,
			CanaryConfiguration: &CanaryConfiguration{CanaryPercent: 10, CanaryBakeTime: 15 * time.Minute}}, []float64{10, 100}, 15 * time.Minute},
		{"linear with ECS's default step", DeploymentConfiguration{Strategy: StrategyLinear, BakeTime: time.Minute,
			LinearConfiguration: &LinearConfiguration{StepBakeTime: time.Minute}}, []float64{10, 20, 30, 40, 50, 60, 70, 80, 90, 100}, time.Minute},
		{"canary with ECS's defaults", DeploymentConfiguration{Strategy: StrategyCanary, BakeTime: time.Minute,
			CanaryConfiguration: DefaultCanaryConfiguration()}, []float64{5, 100}, DefaultCanaryBakeTime},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.NoError(t, tt.config.Validate(Replica))
			s := newBlueGreen(t, 3, tt.config)
			s.run(3*time.Hour, s.completed)
			require.True(t, s.completed(), "deployment completes; events: %q", s.events)
			assert.Equal(t, allStages, s.stages())
			g := s.in.Deployments[0]
			assert.True(t, g.Alternate, "green serves from the alternate target groups")
			assert.Equal(t, "green", s.in.LastCompleted.ID)
			require.Len(t, s.in.Deployments, 1, "blue is gone")

			// Test traffic reaches green before any production traffic.
			require.NotEmpty(t, s.history)
			assert.Equal(t, Routing{AlternatePercent: 0, TestOnAlternate: true}, s.history[0].r)
			pcts, times := s.productionShifts()
			assert.Equal(t, tt.shifts, pcts)
			for i := 1; i < len(times); i++ {
				assert.GreaterOrEqual(t, times[i].Sub(times[i-1]), tt.gap, "step %d baked", i)
			}
			// Blue stops only after production traffic is all on
			// green and the bake time has passed.
			allOnGreen := times[len(times)-1]
			stops := s.stopTimes("blue")
			require.Len(t, stops, 3)
			for _, at := range stops {
				assert.GreaterOrEqual(t, at.Sub(allOnGreen), tt.config.BakeTime)
			}
			assert.Empty(t, s.stopTimes("green"))
		})
	}
}

func TestBlueGreenFirstDeploymentTakesAllTraffic(t *testing.T) {
	t.Parallel()
	c := DeploymentConfiguration{Strategy: StrategyBlueGreen, BakeTime: time.Hour}
	s := &bgSim{t: t, startHealth: health.Healthy, in: Input{
		Service: "web", Strategy: Replica, DesiredCount: 2, Config: c,
		Deployments: []Deployment{{ID: "green", Status: Primary, TaskDefinition: "web:1", RolloutState: RolloutInProgress, CreatedAt: t0}},
		Now:         t0,
	}}
	s.run(10*time.Minute, s.completed)
	require.True(t, s.completed(), "no blue: no bake time either; events %q", s.events)
	assert.False(t, s.in.Deployments[0].Alternate)
	assert.Equal(t, Routing{AlternatePercent: 0, TestOnAlternate: false}, s.in.Routing.Routing, "all on TargetGroup")
}

func TestBlueGreenWaitsForTheRouting(t *testing.T) {
	t.Parallel()
	s := newBlueGreen(t, 2, DeploymentConfiguration{Strategy: StrategyBlueGreen})
	s.lag = true
	s.run(time.Hour, nil)
	g := s.in.Deployments[0]
	assert.Equal(t, StageTestTrafficShift, g.LifecycleStage, "test traffic not on green yet: no production shift")
	assert.Equal(t, 0.0, g.ProductionPercent)
	assert.Empty(t, s.stopTimes("blue"))

	// Once the routing follows, the deployment completes; blue stops only
	// after all traffic is applied on green.
	s.lag = false
	s.run(time.Hour, s.completed)
	require.True(t, s.completed())
	last := s.history[len(s.history)-1]
	assert.Equal(t, Routing{AlternatePercent: 100, TestOnAlternate: true}, last.r)
	for _, at := range s.stopTimes("blue") {
		assert.False(t, at.Before(last.at))
	}
}

func TestBlueGreenNextDeploymentSwapsTargetGroups(t *testing.T) {
	t.Parallel()
	s := newBlueGreen(t, 2, DeploymentConfiguration{Strategy: StrategyBlueGreen})
	s.run(time.Hour, s.completed)
	require.True(t, s.completed())
	// Deployment "next" goes to the primary target groups again.
	g := s.in.Deployments[0]
	g.Status = Active
	s.in.Deployments = []Deployment{{ID: "next", Status: Primary, TaskDefinition: "web:3", RolloutState: RolloutInProgress, CreatedAt: s.in.Now}, g}
	s.history = nil
	s.run(time.Hour, func() bool { return s.in.Deployments[0].RolloutState == RolloutCompleted && s.in.Steady })
	require.Equal(t, "next", s.in.Deployments[0].ID)
	assert.False(t, s.in.Deployments[0].Alternate)
	assert.Equal(t, []routed{
		{s.history[0].at, Routing{AlternatePercent: 100, TestOnAlternate: false}},
		{s.history[1].at, Routing{AlternatePercent: 0, TestOnAlternate: false}},
	}, s.history)
}

func TestBlueGreenInterruptedByANewDeployment(t *testing.T) {
	t.Parallel()
	c := DeploymentConfiguration{Strategy: StrategyCanary, CanaryConfiguration: &CanaryConfiguration{CanaryPercent: 20, CanaryBakeTime: time.Hour}}
	s := newBlueGreen(t, 2, c)
	s.run(10*time.Minute, nil)
	require.Equal(t, StageProductionTrafficShift, s.in.Deployments[0].LifecycleStage)
	require.Equal(t, 20.0, s.in.Routing.AlternatePercent)
	// A new deployment while the canary bakes: the canary's traffic goes
	// back to blue, its tasks stop, and the new one starts beside blue.
	g := s.in.Deployments[0]
	g.Status = Active
	s.in.Deployments = append([]Deployment{{ID: "green2", Status: Primary, TaskDefinition: "web:3", RolloutState: RolloutInProgress, CreatedAt: s.in.Now}}, s.in.Deployments...)
	s.step()
	assert.Equal(t, Routing{AlternatePercent: 0, TestOnAlternate: false}, s.in.Routing.Routing)
	s.run(3*time.Hour, func() bool { return s.in.Deployments[0].RolloutState == RolloutCompleted && s.in.Steady })
	require.Equal(t, "green2", s.in.Deployments[0].ID)
	assert.True(t, s.in.Deployments[0].Alternate)
	assert.Len(t, s.stopTimes("green"), 2)
	assert.Len(t, s.stopTimes("blue"), 2)
}

func TestBlueGreenRollback(t *testing.T) {
	t.Parallel()
	alarms := &DeploymentAlarms{AlarmNames: []string{"errors"}, Enable: true, Rollback: true}
	linear := &LinearConfiguration{StepPercent: 50, StepBakeTime: time.Hour}
	tests := []struct {
		name   string
		config DeploymentConfiguration
		// fail breaks green once the test traffic is on it.
		fail   func(s *bgSim)
		reason string
	}{
		{"alarm", DeploymentConfiguration{Strategy: StrategyLinear, LinearConfiguration: linear, Alarms: alarms},
			func(s *bgSim) { s.in.Deployments[0].AlarmFired = "errors: 7 > 5" }, "alarm errors: 7 > 5"},
		{"green unhealthy", DeploymentConfiguration{Strategy: StrategyLinear, LinearConfiguration: linear},
			func(s *bgSim) {
				for i := range s.in.Tasks {
					if s.in.Tasks[i].DeploymentID == "green" {
						s.in.Tasks[i].Health = health.Unhealthy
						break
					}
				}
			}, "failed its health checks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newBlueGreen(t, 3, tt.config)
			s.run(10*time.Minute, nil)
			require.Equal(t, StageProductionTrafficShift, s.in.Deployments[0].LifecycleStage)
			require.Equal(t, Routing{AlternatePercent: 50, TestOnAlternate: true}, s.in.Routing.Routing)

			tt.fail(s)
			s.lag = true
			plan, _ := s.step()
			require.Len(t, plan.Deployments, 2)
			assert.Equal(t, "blue", plan.Deployments[0].ID, "blue is primary again")
			assert.Equal(t, Primary, plan.Deployments[0].Status)
			g := plan.Deployments[1]
			assert.Equal(t, RolloutFailed, g.RolloutState)
			assert.Contains(t, g.RolloutStateReason, tt.reason)
			assert.Equal(t, StageRollbackInProgress, g.LifecycleStage)
			assert.Empty(t, plan.Stops, "green keeps running until traffic is back on blue")
			assert.Equal(t, Routing{AlternatePercent: 0, TestOnAlternate: false}, DesiredRouting(plan.Deployments))

			s.lag = false
			s.step() // the routing is applied
			s.run(10*time.Minute, func() bool { return s.in.Steady })
			require.True(t, s.in.Steady)
			require.Len(t, s.in.Deployments, 2, "the rolled-back deployment shows how it ended")
			assert.Equal(t, "blue", s.in.Deployments[0].ID)
			g = s.in.Deployments[1]
			assert.Equal(t, StageRollbackSuccessful, g.LifecycleStage)
			assert.Equal(t, RolloutFailed, g.RolloutState)
			assert.Equal(t, Inactive, g.Status)
			assert.Len(t, s.stopTimes("green"), 3)
			assert.Empty(t, s.stopTimes("blue"))
			assert.Contains(t, strings.Join(s.events, "\n"), "(deployment green) rollback completed")

			// Until the next deployment completes.
			s.in.Deployments[0].Status = Active
			s.in.Deployments = append([]Deployment{{ID: "next", Status: Primary, TaskDefinition: "web:3", RolloutState: RolloutInProgress, CreatedAt: s.in.Now}}, s.in.Deployments...)
			s.run(3*time.Hour, func() bool { return s.in.Steady })
			require.Len(t, s.in.Deployments, 1)
			assert.Equal(t, "next", s.in.Deployments[0].ID)
		})
	}
}

func TestBlueGreenCircuitBreaker(t *testing.T) {
	t.Parallel()
	for _, rollback := range []bool{true, false} {
		t.Run(fmt.Sprintf("rollback=%v", rollback), func(t *testing.T) {
			t.Parallel()
			c := DeploymentConfiguration{Strategy: StrategyBlueGreen, CircuitBreaker: &CircuitBreaker{Enable: true, Rollback: rollback}}
			s := newBlueGreen(t, 2, c)
			s.failStarts = true
			s.run(time.Hour, func() bool {
				return s.in.Deployments[0].ID == "blue" || s.in.Deployments[0].RolloutState == RolloutFailed
			})
			if rollback {
				require.Equal(t, "blue", s.in.Deployments[0].ID)
				events := strings.Join(s.events, "\n")
				assert.Contains(t, events, "(deployment green) deployment failed: "+ReasonCircuitBreaker+"\n")
				assert.Contains(t, events, "(deployment green) rolling back to deployment blue.")
			} else {
				g := s.in.Deployments[0]
				assert.Equal(t, RolloutFailed, g.RolloutState)
				assert.Equal(t, StageScaleUp, g.LifecycleStage, "halted where it failed")
				// A halted deployment starts nothing more and keeps blue.
				plan, _ := s.step()
				assert.Empty(t, plan.Starts)
				assert.Empty(t, plan.Stops)
			}
			assert.GreaterOrEqual(t, s.seq, CircuitBreakerThreshold(2), "tasks started before the breaker tripped")
			assert.Empty(t, s.stopTimes("blue"))
		})
	}
}

func TestBlueGreenAlarmWithoutRollbackHalts(t *testing.T) {
	t.Parallel()
	c := DeploymentConfiguration{Strategy: StrategyCanary, CanaryConfiguration: &CanaryConfiguration{CanaryPercent: 10, CanaryBakeTime: time.Hour},
		Alarms: &DeploymentAlarms{AlarmNames: []string{"latency"}, Enable: true}}
	s := newBlueGreen(t, 2, c)
	s.run(10*time.Minute, nil)
	s.in.Deployments[0].AlarmFired = "latency"
	s.run(3*time.Hour, nil)
	g := s.in.Deployments[0]
	assert.Equal(t, "green", g.ID)
	assert.Equal(t, RolloutFailed, g.RolloutState)
	assert.Equal(t, 10.0, s.in.Routing.AlternatePercent, "traffic stays where it was")
	assert.Empty(t, s.stopTimes("blue"))
}

func TestBlueGreenAlarmsIgnoredWhenDisabledOrAfterBake(t *testing.T) {
	t.Parallel()
	c := DeploymentConfiguration{Strategy: StrategyBlueGreen, Alarms: &DeploymentAlarms{AlarmNames: []string{"x"}}}
	s := newBlueGreen(t, 1, c)
	s.run(2*time.Minute, nil)
	s.in.Deployments[0].AlarmFired = "x"
	s.run(time.Hour, s.completed)
	assert.True(t, s.completed(), "alarms not enabled")
}

func TestBlueGreenHealthGracePeriod(t *testing.T) {
	t.Parallel()
	s := newBlueGreen(t, 1, DeploymentConfiguration{Strategy: StrategyBlueGreen})
	s.in.HealthCheckGracePeriod = 10 * time.Minute
	s.startHealth = health.Unhealthy
	plan, _ := s.step()
	require.Len(t, plan.Starts, 1)
	plan, _ = s.step()
	assert.Equal(t, RolloutInProgress, plan.Deployments[0].RolloutState, "unhealthy within the grace period")
	assert.Equal(t, t0.Add(10*time.Minute), plan.RequeueAt)
	s.in.Now = t0.Add(10 * time.Minute)
	plan, _ = s.step()
	assert.Equal(t, "blue", plan.Deployments[0].ID, "rolled back after the grace period")
}

func TestBlueGreenSteadyReplacesTasks(t *testing.T) {
	t.Parallel()
	s := newBlueGreen(t, 2, DeploymentConfiguration{Strategy: StrategyBlueGreen})
	s.run(time.Hour, s.completed)
	require.True(t, s.completed())
	// A green task dies after completion: it is replaced, as in ROLLING.
	for i := range s.in.Tasks {
		if s.in.Tasks[i].DeploymentID == "green" {
			s.in.Tasks[i].Phase = PhaseStopped
			break
		}
	}
	plan, _ := s.step()
	assert.Equal(t, 1, started(plan))
}

func TestBlueGreenValidation(t *testing.T) {
	t.Parallel()
	ac := &AdvancedConfiguration{AlternateTargetGroup: "tg-b", ProductionListenerRule: "prod", TestListenerRule: "test"}
	valid := func() Service {
		return Service{Name: "web", TaskDefinition: "web:1", SchedulingStrategy: Replica, DesiredCount: 1,
			DeploymentConfiguration: DeploymentConfiguration{Strategy: StrategyBlueGreen, BakeTime: time.Minute},
			LoadBalancers:           []LoadBalancer{{TargetGroup: "tg-a", ContainerName: "app", ContainerPort: 80, AdvancedConfiguration: ac}}}
	}
	tests := []struct {
		name   string
		change func(*Service)
		field  string
	}{
		{"unknown strategy", func(s *Service) { s.DeploymentConfiguration.Strategy = "RED_BLACK" }, "deploymentConfiguration.strategy"},
		{"bake time too long", func(s *Service) { s.DeploymentConfiguration.BakeTime = 1441 * time.Minute }, "deploymentConfiguration.bakeTimeInMinutes"},
		{"negative bake time", func(s *Service) { s.DeploymentConfiguration.BakeTime = -time.Minute }, "deploymentConfiguration.bakeTimeInMinutes"},
		{"linear without configuration", func(s *Service) { s.DeploymentConfiguration.Strategy = StrategyLinear }, "deploymentConfiguration.linearConfiguration"},
		{"linear step too small", func(s *Service) {
			s.DeploymentConfiguration.Strategy = StrategyLinear
			s.DeploymentConfiguration.LinearConfiguration = &LinearConfiguration{StepPercent: 2}
		}, "deploymentConfiguration.linearConfiguration.stepPercent"},
		{"linear step bake too long", func(s *Service) {
			s.DeploymentConfiguration.Strategy = StrategyLinear
			s.DeploymentConfiguration.LinearConfiguration = &LinearConfiguration{StepPercent: 10, StepBakeTime: 2000 * time.Minute}
		}, "deploymentConfiguration.linearConfiguration.stepBakeTimeInMinutes"},
		{"linear configuration with canary", func(s *Service) {
			s.DeploymentConfiguration.Strategy = StrategyCanary
			s.DeploymentConfiguration.CanaryConfiguration = &CanaryConfiguration{CanaryPercent: 5}
			s.DeploymentConfiguration.LinearConfiguration = &LinearConfiguration{StepPercent: 10}
		}, "deploymentConfiguration.linearConfiguration"},
		{"canary without configuration", func(s *Service) { s.DeploymentConfiguration.Strategy = StrategyCanary }, "deploymentConfiguration.canaryConfiguration"},
		{"canary percent too small", func(s *Service) {
			s.DeploymentConfiguration.Strategy = StrategyCanary
			s.DeploymentConfiguration.CanaryConfiguration = &CanaryConfiguration{CanaryPercent: 0.05}
		}, "deploymentConfiguration.canaryConfiguration.canaryPercent"},
		{"canary percent too large", func(s *Service) {
			s.DeploymentConfiguration.Strategy = StrategyCanary
			s.DeploymentConfiguration.CanaryConfiguration = &CanaryConfiguration{CanaryPercent: 101}
		}, "deploymentConfiguration.canaryConfiguration.canaryPercent"},
		{"alarms without names", func(s *Service) { s.DeploymentConfiguration.Alarms = &DeploymentAlarms{Enable: true} }, "deploymentConfiguration.alarms.alarmNames"},
		{"alarm rollback without enable", func(s *Service) {
			s.DeploymentConfiguration.Alarms = &DeploymentAlarms{AlarmNames: []string{"a"}, Rollback: true}
		}, "deploymentConfiguration.alarms.rollback"},
		{"duplicate alarm", func(s *Service) {
			s.DeploymentConfiguration.Alarms = &DeploymentAlarms{AlarmNames: []string{"a", "a"}, Enable: true}
		}, "deploymentConfiguration.alarms.alarmNames[1]"},
		{"daemon", func(s *Service) { s.SchedulingStrategy = Daemon; s.DesiredCount = 0 }, "deploymentConfiguration.strategy"},
		{"no load balancer", func(s *Service) { s.LoadBalancers = nil }, "loadBalancers"},
		{"no advanced configuration", func(s *Service) { s.LoadBalancers[0].AdvancedConfiguration = nil }, "loadBalancers[0].advancedConfiguration"},
		{"same target groups", func(s *Service) {
			s.LoadBalancers[0].AdvancedConfiguration = &AdvancedConfiguration{AlternateTargetGroup: "tg-a", ProductionListenerRule: "prod"}
		}, "loadBalancers[0].advancedConfiguration.alternateTargetGroupArn"},
		{"no production rule", func(s *Service) {
			s.LoadBalancers[0].AdvancedConfiguration = &AdvancedConfiguration{AlternateTargetGroup: "tg-b"}
		}, "loadBalancers[0].advancedConfiguration.productionListenerRule"},
		{"test rule is the production rule", func(s *Service) {
			s.LoadBalancers[0].AdvancedConfiguration = &AdvancedConfiguration{AlternateTargetGroup: "tg-b", ProductionListenerRule: "p", TestListenerRule: "p"}
		}, "loadBalancers[0].advancedConfiguration.testListenerRule"},
	}
	s := valid()
	require.NoError(t, s.Validate())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := valid()
			tt.change(&s)
			err := s.Validate()
			require.ErrorIs(t, err, ErrInvalid)
			var fields []string
			for _, f := range errdefs.FieldErrors(err) {
				fields = append(fields, f.Path)
			}
			assert.Contains(t, fields, tt.field)
		})
	}
	// ROLLING ignores the advanced configuration and needs no load balancer.
	r := valid()
	r.DeploymentConfiguration = DeploymentConfiguration{}
	r.LoadBalancers = nil
	assert.NoError(t, r.Validate())
}

func TestDesiredRouting(t *testing.T) {
	t.Parallel()
	assert.Equal(t, Routing{}, DesiredRouting(nil))
	green := Deployment{ID: "g", Alternate: true, ProductionPercent: 25, TestTraffic: true, RolloutState: RolloutInProgress, LifecycleStage: StageProductionTrafficShift}
	assert.Equal(t, Routing{AlternatePercent: 25, TestOnAlternate: true}, DesiredRouting([]Deployment{green}))
	green.Alternate = false
	assert.Equal(t, Routing{AlternatePercent: 75, TestOnAlternate: false}, DesiredRouting([]Deployment{green}))
	done := Deployment{ID: "d", Alternate: true, RolloutState: RolloutCompleted}
	assert.Equal(t, Routing{AlternatePercent: 100, TestOnAlternate: true}, DesiredRouting([]Deployment{done}))
	// A deployment the planner has not seen yet leaves everything on the
	// last one that completed, even past an interrupted one.
	fresh := Deployment{ID: "f", RolloutState: RolloutInProgress}
	green.Alternate = true
	assert.Equal(t, Routing{AlternatePercent: 100, TestOnAlternate: true}, DesiredRouting([]Deployment{fresh, done}))
	done.Alternate = false
	assert.Equal(t, Routing{AlternatePercent: 0, TestOnAlternate: false}, DesiredRouting([]Deployment{fresh, green, done}))
	assert.Equal(t, Routing{AlternatePercent: 0, TestOnAlternate: false}, DesiredRouting([]Deployment{fresh}))
}

func TestBlueGreenScaleToZero(t *testing.T) {
	t.Parallel()
	s := newBlueGreen(t, 2, DeploymentConfiguration{Strategy: StrategyBlueGreen, BakeTime: time.Hour})
	s.run(5*time.Minute, nil)
	require.Equal(t, StageBakeTime, s.in.Deployments[0].LifecycleStage)
	// Deleting the service mid-deployment stops everything at once, bake
	// time or not.
	s.in.DesiredCount = 0
	s.run(time.Minute, func() bool { return s.in.Steady })
	require.True(t, s.in.Steady)
	for _, tk := range s.in.Tasks {
		assert.Equal(t, PhaseStopped, tk.Phase, tk.ID)
	}
}

// TestBlueGreenKeepsServingLiveTargetGroups checks the safety property of
// blue/green deployments under random failures, alarms, redeployments, time
// and a lagging load balancer: a plan never stops the last healthy task of
// a side (TargetGroup or the alternate one) that the applied routing sends
// production or test traffic to.
func TestBlueGreenKeepsServingLiveTargetGroups(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(rt *rapid.T) {
		minutes := func(label string) time.Duration {
			return time.Duration(rapid.IntRange(0, 30).Draw(rt, label)) * time.Minute
		}
		c := DeploymentConfiguration{
			Strategy:       rapid.SampledFrom([]DeploymentStrategy{StrategyBlueGreen, StrategyLinear, StrategyCanary}).Draw(rt, "strategy"),
			BakeTime:       minutes("bake"),
			CircuitBreaker: &CircuitBreaker{Enable: rapid.Bool().Draw(rt, "cb"), Rollback: rapid.Bool().Draw(rt, "cbRollback")},
			Alarms:         &DeploymentAlarms{AlarmNames: []string{"a"}, Enable: true, Rollback: rapid.Bool().Draw(rt, "alarmRollback")},
		}
		switch c.Strategy {
		case StrategyLinear:
			c.LinearConfiguration = &LinearConfiguration{StepPercent: float64(rapid.IntRange(3, 100).Draw(rt, "step")), StepBakeTime: minutes("stepBake")}
		case StrategyCanary:
			c.CanaryConfiguration = &CanaryConfiguration{CanaryPercent: float64(rapid.IntRange(1, 1000).Draw(rt, "canary")) / 10, CanaryBakeTime: minutes("canaryBake")}
		}
		s := newBlueGreen(nil, rapid.IntRange(1, 5).Draw(rt, "desired"), c)
		s.t = rt
		running := func() []int {
			var out []int
			for i, tk := range s.in.Tasks {
				if tk.Phase == PhaseRunning && !tk.DesiredStopped {
					out = append(out, i)
				}
			}
			return out
		}
		deploys := 0
		for range 80 {
			switch rapid.IntRange(0, 11).Draw(rt, "event") {
			case 0:
				if r := running(); len(r) > 0 {
					i := r[rapid.IntRange(0, len(r)-1).Draw(rt, "crash")]
					s.in.Tasks[i].Phase, s.in.Tasks[i].StoppedAt = PhaseStopped, s.in.Now
				}
			case 1:
				if r := running(); len(r) > 0 {
					s.in.Tasks[r[rapid.IntRange(0, len(r)-1).Draw(rt, "sick")]].Health = health.Unhealthy
				}
			case 2:
				s.in.Deployments[0].AlarmFired = "a"
			case 3:
				s.lag = !s.lag
			case 4:
				s.failStarts = !s.failStarts
			case 5:
				deploys++
				s.in.Deployments[0].Status = Active
				d := Deployment{ID: fmt.Sprintf("d%d", deploys), Status: Primary, TaskDefinition: "web:3", RolloutState: RolloutInProgress, CreatedAt: s.in.Now}
				s.in.Deployments = append([]Deployment{d}, s.in.Deployments...)
			default:
				s.in.Now = s.in.Now.Add(time.Duration(rapid.IntRange(0, 600).Draw(rt, "wait")) * time.Second)
			}
			applied := s.in.Routing.Routing
			side := map[string]bool{}
			for _, d := range s.in.Deployments {
				side[d.ID] = d.Alternate
			}
			tasks := slices.Clone(s.in.Tasks)
			plan, _ := s.step()
			for _, d := range plan.Deployments {
				side[d.ID] = d.Alternate
			}
			stopped := map[string]bool{}
			for _, st := range plan.Stops {
				stopped[st.TaskID] = true
			}
			for _, alt := range []bool{false, true} {
				share := 100 - applied.AlternatePercent
				if alt {
					share = applied.AlternatePercent
				}
				if share == 0 && applied.TestOnAlternate != alt {
					continue // no traffic goes there
				}
				before, after := 0, 0
				for _, tk := range tasks {
					if side[tk.DeploymentID] != alt || tk.Phase != PhaseRunning || tk.DesiredStopped || tk.Health != health.Healthy {
						continue
					}
					before++
					if !stopped[tk.ID] {
						after++
					}
				}
				if before > 0 && after == 0 {
					rt.Fatalf("the plan stops every healthy task of the side (alternate=%v) that gets traffic: routing %+v, stops %+v, deployments %+v",
						alt, applied, plan.Stops, plan.Deployments)
				}
			}
		}
	})
}

func TestBlueGreenReplacesBlueTasksWhileTheyServe(t *testing.T) {
	t.Parallel()
	s := newBlueGreen(t, 3, DeploymentConfiguration{Strategy: StrategyLinear,
		LinearConfiguration: &LinearConfiguration{StepPercent: 50, StepBakeTime: 10 * time.Minute}})
	s.run(time.Hour, func() bool { return s.in.Deployments[0].ProductionPercent == 50 })
	require.Equal(t, 50.0, s.in.Deployments[0].ProductionPercent, "half the production traffic on green")
	// A blue task dies while blue takes the other half: it is replaced.
	crash := func() {
		for i := range s.in.Tasks {
			if t := &s.in.Tasks[i]; t.DeploymentID == "blue" && t.Phase == PhaseRunning {
				t.Phase, t.StoppedAt = PhaseStopped, s.in.Now
				return
			}
		}
	}
	crash()
	plan, _ := s.step()
	require.Len(t, plan.Starts, 1)
	assert.Equal(t, Start{DeploymentID: "blue", TaskDefinition: "web:1", Count: 1}, plan.Starts[0])

	// Once production is all on green, blue is only the rollback target.
	s.run(time.Hour, func() bool { return s.in.Deployments[0].ProductionPercent == 100 })
	require.Equal(t, 100.0, s.in.Deployments[0].ProductionPercent)
	crash()
	plan, _ = s.step()
	for _, st := range plan.Starts {
		assert.NotEqual(t, "blue", st.DeploymentID, "blue is not replaced after the shift")
	}
}
