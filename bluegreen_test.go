package stevedore_test

import (
	"context"
	"errors"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/lb"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/task"
)

// weightsAt is a change of a listener rule's weights and when it happened.
type weightsAt struct {
	at      time.Time
	weights map[string]int
}

// fakeRule is a listener rule that records every change of its weights.
type fakeRule struct {
	name     string
	mu       sync.Mutex
	history  []weightsAt
	failures int // SetWeights calls still to fail
}

func (r *fakeRule) failNext(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = n
}

func (r *fakeRule) Name() string { return r.name }

func (r *fakeRule) SetWeights(w map[string]int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failures > 0 {
		r.failures--
		return errors.New("fake rule: unavailable")
	}
	if n := len(r.history); n > 0 && maps.Equal(r.history[n-1].weights, w) {
		return nil
	}
	r.history = append(r.history, weightsAt{time.Now(), maps.Clone(w)})
	return nil
}

func (r *fakeRule) changes() []weightsAt {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]weightsAt(nil), r.history...)
}

func (r *fakeRule) current() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.history) == 0 {
		return nil
	}
	return r.history[len(r.history)-1].weights
}

// blueGreenEnv is an env with two target groups, a production and a test
// listener rule, and an alarm the test fires at will.
type blueGreenEnv struct {
	*env
	groupA, groupB *recordingGroup
	prod, test     *fakeRule
	fire           atomic.Bool
}

func newBlueGreenEnv(t *testing.T, opts ...fake.Option) *blueGreenEnv {
	e := &blueGreenEnv{
		groupA: &recordingGroup{name: "tg-a", targets: map[string]string{}},
		groupB: &recordingGroup{name: "tg-b", targets: map[string]string{}},
		prod:   &fakeRule{name: "prod"},
		test:   &fakeRule{name: "test"},
	}
	o, err := stevedore.New(stevedore.WithSeed(1), stevedore.WithTaskRetention(3*time.Hour),
		stevedore.WithTargetGroups(e.groupA, e.groupB),
		stevedore.WithListenerRules(e.prod, e.test),
		stevedore.WithAlarms(stevedore.Alarm{
			Name:      "errors",
			Predicate: func(context.Context) (bool, error) { return e.fire.Load(), nil },
			Period:    time.Minute, EvaluationPeriods: 2, DatapointsToAlarm: 2,
		}))
	require.NoError(t, err)
	e.env = envFor(t, o, 3, opts...)
	return e
}

var blueGreenLB = []service.LoadBalancer{{TargetGroup: "tg-a", ContainerName: "app", ContainerPort: 8080,
	AdvancedConfiguration: &service.AdvancedConfiguration{AlternateTargetGroup: "tg-b", ProductionListenerRule: "prod", TestListenerRule: "test"}}}

func (e *blueGreenEnv) create(t *testing.T, c service.DeploymentConfiguration) {
	t.Helper()
	e.register("v1")
	_, err := e.o.CreateService(e.ctx, &stevedore.CreateServiceInput{
		Cluster: "test", ServiceName: "web", TaskDefinition: "web", DesiredCount: 3,
		DeploymentConfiguration: c, LoadBalancers: blueGreenLB,
	})
	require.NoError(t, err)
	e.waitSteady("web", 10*time.Minute)
	synctest.Wait()
}

// tasksOf returns the service's tasks of a task definition, by ID.
func (e *blueGreenEnv) tasksOf(def string) map[string]*task.Task {
	out := map[string]*task.Task{}
	for _, desired := range []task.Status{task.Running, task.Stopped} {
		for _, tk := range e.tasks(stevedore.ListTasksInput{ServiceName: "web", DesiredStatus: desired}) {
			if tk.TaskDefinitionRef() == def {
				out[tk.ID()] = tk
			}
		}
	}
	return out
}

// waitStage advances fake time until the primary deployment reaches stage.
func (e *blueGreenEnv) waitStage(t *testing.T, stage service.LifecycleStage, limit time.Duration) service.Service {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		synctest.Wait()
		if s := e.service("web"); s.Deployments[0].LifecycleStage == stage {
			return s
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("stage %s not reached after %v: %+v", stage, limit, e.service("web").Deployments)
	return service.Service{}
}

func TestLinearDeploymentShiftsTrafficInBakedSteps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBlueGreenEnv(t)
		c := service.DeploymentConfiguration{
			Strategy: service.StrategyLinear, BakeTime: 5 * time.Minute,
			LinearConfiguration: &service.LinearConfiguration{StepPercent: 25, StepBakeTime: 2 * time.Minute},
			Alarms:              &service.DeploymentAlarms{AlarmNames: []string{"errors"}, Enable: true, Rollback: true},
		}
		e.create(t, c)
		v1 := e.tasksOf(e.service("web").TaskDefinition)
		require.Len(t, v1, 3)
		assert.Equal(t, map[string]int{"tg-a": 1000, "tg-b": 0}, e.prod.current(), "the first deployment serves from tg-a")
		assert.Equal(t, map[string]int{"tg-a": 1000, "tg-b": 0}, e.test.current())
		for id := range v1 {
			assert.Contains(t, e.groupA.snapshot(), id, "blue task %s in tg-a", id)
		}
		prodBefore, testBefore := len(e.prod.changes()), len(e.test.changes())

		v2 := e.register("v2")
		updated := time.Now()
		_, err := e.o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", TaskDefinition: &v2})
		require.NoError(t, err)

		s := e.waitStage(t, service.StageProductionTrafficShift, 10*time.Minute)
		green := s.Deployments[0]
		assert.Equal(t, service.RolloutInProgress, green.RolloutState)
		assert.True(t, green.Alternate)
		require.Len(t, s.Deployments, 2, "blue still there")
		for id := range e.tasksOf(v2) {
			assert.Contains(t, e.groupB.snapshot(), id, "green task %s in tg-b", id)
		}
		assert.Len(t, e.groupA.snapshot(), 3, "blue still serving")

		s = e.waitSteady("web", time.Hour)
		require.Len(t, s.Deployments, 1)
		assert.Equal(t, v2, s.TaskDefinition)
		assert.Equal(t, service.RolloutCompleted, s.Deployments[0].RolloutState)
		assert.Equal(t, service.StageCleanUp, s.Deployments[0].LifecycleStage)

		// Test traffic moved once, before any production traffic.
		test := e.test.changes()[testBefore:]
		require.Len(t, test, 1)
		assert.Equal(t, map[string]int{"tg-a": 0, "tg-b": 1000}, test[0].weights)
		prod := e.prod.changes()[prodBefore:]
		var shares []int
		for _, c := range prod {
			shares = append(shares, c.weights["tg-b"])
			assert.Equal(t, 1000, c.weights["tg-a"]+c.weights["tg-b"])
		}
		assert.Equal(t, []int{250, 500, 750, 1000}, shares)
		assert.False(t, prod[0].at.Before(test[0].at), "test traffic on green before production")
		for i := 1; i < len(prod); i++ {
			assert.GreaterOrEqual(t, prod[i].at.Sub(prod[i-1].at), 2*time.Minute, "step %d baked", i)
		}
		// Blue stops only after the bake time, once production is all on green.
		allOnGreen := prod[len(prod)-1].at
		for id, tk := range e.tasksOf(e.service("web").Deployments[0].TaskDefinition) {
			assert.Equal(t, task.Running, tk.LastStatus, "green task %s", id)
		}
		for id := range v1 {
			tk := e.tasksOf(v1[id].TaskDefinitionRef())[id]
			assert.Equal(t, task.Stopped, tk.DesiredStatus)
			assert.GreaterOrEqual(t, tk.StoppingAt.Sub(allOnGreen), 5*time.Minute, "blue task %s stopped after the bake", id)
			assert.NotContains(t, e.groupA.snapshot(), id)
		}
		assert.Less(t, allOnGreen.Sub(updated), 20*time.Minute)

		var msgs []string
		for _, ev := range s.Events {
			msgs = append(msgs, ev.Message)
		}
		assert.Contains(t, msgs, "(service web) (deployment "+green.ID+") entered lifecycle stage BAKE_TIME.")
		assert.Contains(t, msgs, "(service web) (deployment "+green.ID+") shifting 25% of production traffic.")

		// The next deployment swaps the roles of the groups: it goes to tg-a.
		v3 := e.register("v3")
		_, err = e.o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", TaskDefinition: &v3})
		require.NoError(t, err)
		s = e.waitSteady("web", time.Hour)
		assert.Equal(t, v3, s.TaskDefinition)
		assert.False(t, s.Deployments[0].Alternate)
		assert.Equal(t, map[string]int{"tg-a": 1000, "tg-b": 0}, e.prod.current())
		assert.Equal(t, map[string]int{"tg-a": 1000, "tg-b": 0}, e.test.current())
		for id := range e.tasksOf(v3) {
			assert.Contains(t, e.groupA.snapshot(), id)
		}
		assert.Empty(t, e.groupB.snapshot())
	})
}

func TestCanaryDeploymentRollsBackWhenAnAlarmFires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBlueGreenEnv(t)
		c := service.DeploymentConfiguration{
			Strategy: service.StrategyCanary, BakeTime: 5 * time.Minute,
			CanaryConfiguration: &service.CanaryConfiguration{CanaryPercent: 10, CanaryBakeTime: 30 * time.Minute},
			Alarms:              &service.DeploymentAlarms{AlarmNames: []string{"errors"}, Enable: true, Rollback: true},
		}
		e.create(t, c)
		v1 := e.service("web").TaskDefinition
		blue := e.tasksOf(v1)

		v2 := e.register("v2")
		_, err := e.o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", TaskDefinition: &v2})
		require.NoError(t, err)
		s := e.waitStage(t, service.StageProductionTrafficShift, 10*time.Minute)
		synctest.Wait()
		assert.Equal(t, map[string]int{"tg-a": 900, "tg-b": 100}, e.prod.current(), "the canary")
		greenID := s.Deployments[0].ID

		// The alarm fires after two breaching datapoints, a minute apart.
		e.fire.Store(true)
		s = e.waitSteady("web", 10*time.Minute)
		assert.Equal(t, v1, s.TaskDefinition, "back on blue")
		assert.Equal(t, service.RolloutCompleted, s.Deployments[0].RolloutState)
		assert.Equal(t, map[string]int{"tg-a": 1000, "tg-b": 0}, e.prod.current())
		assert.Equal(t, map[string]int{"tg-a": 1000, "tg-b": 0}, e.test.current())
		for id, tk := range e.tasksOf(v2) {
			assert.Equal(t, task.Stopped, tk.DesiredStatus, "green task %s stopped", id)
		}
		for id, tk := range e.tasksOf(v1) {
			assert.True(t, blue[id] != nil && tk.DesiredStatus == task.Running, "blue task %s untouched", id)
		}
		assert.Empty(t, e.groupB.snapshot())
		var msgs []string
		for _, ev := range s.Events {
			msgs = append(msgs, ev.Message)
		}
		assert.Contains(t, msgs, "(service web) (deployment "+greenID+") deployment failed: alarm errors: 2 of the last 2 datapoints breaching.")
		assert.Contains(t, msgs, "(service web) (deployment "+greenID+") rolling back to deployment "+s.Deployments[0].ID+".")
		assert.Contains(t, msgs, "(service web) (deployment "+greenID+") rollback completed: traffic is back on deployment "+s.Deployments[0].ID+".")
	})
}

func TestBlueGreenRollsBackWhenGreenFailsHealthChecks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		unhealthy := fake.Behavior{Exec: func(fake.ExecCall) fake.ExecReply { return fake.ExecReply{ExitCode: 1} }}
		e := newBlueGreenEnv(t, fake.WithImage("web:v2", unhealthy))
		e.create(t, service.DeploymentConfiguration{Strategy: service.StrategyBlueGreen, BakeTime: time.Hour})
		v1 := e.service("web").TaskDefinition
		testBefore := len(e.test.changes())

		v2 := e.register("v2")
		_, err := e.o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", TaskDefinition: &v2})
		require.NoError(t, err)
		s := e.waitSteady("web", 10*time.Minute)
		assert.Equal(t, v1, s.TaskDefinition, "rolled back")
		require.Len(t, s.Deployments, 2)
		assert.Equal(t, service.RolloutCompleted, s.Deployments[0].RolloutState)
		assert.Equal(t, service.StageRollbackSuccessful, s.Deployments[1].LifecycleStage)
		assert.Equal(t, service.RolloutFailed, s.Deployments[1].RolloutState)
		assert.Len(t, e.test.changes(), testBefore, "green never got test traffic")
		assert.Equal(t, map[string]int{"tg-a": 1000, "tg-b": 0}, e.prod.current())
		for id, tk := range e.tasksOf(v2) {
			assert.Equal(t, task.Stopped, tk.DesiredStatus, "green task %s", id)
		}
		assert.Len(t, e.tasksOf(v1), 3)
		var failed bool
		for _, ev := range s.Events {
			failed = failed || strings.Contains(ev.Message, "failed its health checks")
		}
		assert.True(t, failed, "an event says why")
	})
}

func TestBlueGreenWaitsForListenerRulesThatFail(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBlueGreenEnv(t)
		e.create(t, service.DeploymentConfiguration{Strategy: service.StrategyBlueGreen})
		v2 := e.register("v2")
		e.prod.failNext(5)
		_, err := e.o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", TaskDefinition: &v2})
		require.NoError(t, err)
		// The rules are set together: while the production rule fails,
		// the test shift is not applied and the deployment waits.
		s := e.waitStage(t, service.StageTestTrafficShift, 10*time.Minute)
		require.Equal(t, service.Routing{AlternatePercent: 0, TestOnAlternate: false}, s.Routing.Routing, "not applied yet")
		time.Sleep(2 * time.Second)
		synctest.Wait()
		assert.Equal(t, service.StageTestTrafficShift, e.service("web").Deployments[0].LifecycleStage, "still waiting")
		s = e.waitSteady("web", 10*time.Minute)
		assert.Equal(t, v2, s.TaskDefinition)
		assert.Equal(t, map[string]int{"tg-a": 0, "tg-b": 1000}, e.prod.current(), "applied once the rule works again")
	})
}

func TestBlueGreenRollsBackWhenGreenFailsTargetHealth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBlueGreenEnv(t)
		e.create(t, service.DeploymentConfiguration{Strategy: service.StrategyCanary,
			CanaryConfiguration: &service.CanaryConfiguration{CanaryPercent: 20, CanaryBakeTime: time.Hour}})
		v1 := e.service("web").TaskDefinition
		v2 := e.register("v2")
		e.groupB.failNew(lb.ReasonResponseCodeMismatch) // green's group fails its checks
		_, err := e.o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", TaskDefinition: &v2})
		require.NoError(t, err)
		s := e.waitSteady("web", 10*time.Minute)
		assert.Equal(t, v1, s.TaskDefinition, "rolled back")
		require.Len(t, s.Deployments, 2)
		assert.Contains(t, s.Deployments[1].RolloutStateReason, "failed its health checks")
		assert.Equal(t, map[string]int{"tg-a": 1000, "tg-b": 0}, e.prod.current())
		for id, tk := range e.tasksOf(v2) {
			assert.Equal(t, task.Stopped, tk.DesiredStatus, "green task %s", id)
		}
	})
}

func TestBlueGreenRequestsAreChecked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBlueGreenEnv(t)
		e.register("v1")
		create := func(c service.DeploymentConfiguration, lbs []service.LoadBalancer) error {
			_, err := e.o.CreateService(e.ctx, &stevedore.CreateServiceInput{
				Cluster: "test", ServiceName: "web", TaskDefinition: "web", DesiredCount: 1,
				DeploymentConfiguration: c, LoadBalancers: lbs,
			})
			return err
		}
		bg := service.DeploymentConfiguration{Strategy: service.StrategyBlueGreen}
		withAC := func(ac service.AdvancedConfiguration) []service.LoadBalancer {
			return []service.LoadBalancer{{TargetGroup: "tg-a", ContainerName: "app", ContainerPort: 8080, AdvancedConfiguration: &ac}}
		}
		tests := []struct {
			name  string
			c     service.DeploymentConfiguration
			lbs   []service.LoadBalancer
			field string
		}{
			{"no advanced configuration", bg, []service.LoadBalancer{{TargetGroup: "tg-a", ContainerName: "app", ContainerPort: 8080}}, "loadBalancers[0].advancedConfiguration"},
			{"unknown alternate group", bg, withAC(service.AdvancedConfiguration{AlternateTargetGroup: "nope", ProductionListenerRule: "prod"}), "loadBalancers[0].advancedConfiguration.alternateTargetGroupArn"},
			{"unknown production rule", bg, withAC(service.AdvancedConfiguration{AlternateTargetGroup: "tg-b", ProductionListenerRule: "nope"}), "loadBalancers[0].advancedConfiguration.productionListenerRule"},
			{"unknown test rule", bg, withAC(service.AdvancedConfiguration{AlternateTargetGroup: "tg-b", ProductionListenerRule: "prod", TestListenerRule: "nope"}), "loadBalancers[0].advancedConfiguration.testListenerRule"},
			{"unknown alarm", service.DeploymentConfiguration{Strategy: service.StrategyBlueGreen, Alarms: &service.DeploymentAlarms{AlarmNames: []string{"nope"}, Enable: true}},
				blueGreenLB, "deploymentConfiguration.alarms.alarmNames[0]"},
		}
		for _, tt := range tests {
			err := create(tt.c, tt.lbs)
			require.Error(t, err, tt.name)
			assert.True(t, errors.Is(err, stevedore.ErrInvalid) || errors.Is(err, service.ErrInvalid), "%s: %v", tt.name, err)
			assert.Contains(t, err.Error(), tt.field, tt.name)
		}

		// A rejected UpdateService changes nothing.
		e.create(t, bg)
		before := e.service("web")
		bad := service.DeploymentConfiguration{Strategy: service.StrategyLinear}
		_, err := e.o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", DeploymentConfiguration: &bad})
		require.ErrorIs(t, err, service.ErrInvalid)
		assert.Contains(t, err.Error(), "deploymentConfiguration.linearConfiguration")
		bad = service.DeploymentConfiguration{Strategy: service.StrategyBlueGreen, Alarms: &service.DeploymentAlarms{AlarmNames: []string{"nope"}, Enable: true}}
		_, err = e.o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", DeploymentConfiguration: &bad})
		require.ErrorIs(t, err, stevedore.ErrInvalid)
		assert.Equal(t, before.DeploymentConfiguration, e.service("web").DeploymentConfiguration)

		// Once production is on the alternate target groups, ROLLING
		// (which uses TargetGroup only) must wait for the next
		// blue/green deployment.
		v2 := e.register("v2")
		_, err = e.o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", TaskDefinition: &v2})
		require.NoError(t, err)
		s := e.waitSteady("web", time.Hour)
		require.True(t, s.Deployments[0].Alternate)
		rolling := service.DeploymentConfiguration{}
		_, err = e.o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", DeploymentConfiguration: &rolling})
		require.ErrorIs(t, err, stevedore.ErrInvalid)
		assert.Contains(t, err.Error(), "deploymentConfiguration.strategy")
	})

	_, err := stevedore.New(stevedore.WithAlarms(stevedore.Alarm{Name: "a"}))
	require.ErrorIs(t, err, stevedore.ErrInvalid, "neither predicate nor metric")
	_, err = stevedore.New(stevedore.WithAlarms(stevedore.Alarm{Name: "a", Metric: func(context.Context) (float64, error) { return 0, nil }}))
	require.ErrorIs(t, err, stevedore.ErrInvalid, "no comparison")
	_, err = stevedore.New(stevedore.WithAlarms(stevedore.Alarm{Name: "a", Predicate: func(context.Context) (bool, error) { return false, nil },
		EvaluationPeriods: 2, DatapointsToAlarm: 3}))
	require.ErrorIs(t, err, stevedore.ErrInvalid, "more datapoints than periods")
	_, err = stevedore.New(stevedore.WithListenerRules(&fakeRule{name: "r"}, &fakeRule{name: "r"}))
	require.ErrorIs(t, err, stevedore.ErrInvalid, "two rules of one name")
}
