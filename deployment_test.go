package stevedore_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/task"
)

// boundsWatcher follows every task event of a service and records the
// largest number of tasks RUNNING or PENDING at any revision, and the
// smallest number of healthy tasks.
type boundsWatcher struct {
	mu         sync.Mutex
	tasks      map[string]*task.Task
	maxActive  int
	minHealthy int
	started    bool
	versions   map[string]bool
}

func watchBounds(t *testing.T, e *env, group string) *boundsWatcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := e.o.Subscribe(ctx)
	require.NoError(t, err)
	w := &boundsWatcher{tasks: map[string]*task.Task{}, minHealthy: 1 << 30, versions: map[string]bool{}}
	// Start from the tasks that exist: events only tell what changes.
	for _, desired := range []task.Status{task.Running, task.Stopped} {
		for _, tk := range e.tasks(stevedore.ListTasksInput{DesiredStatus: desired}) {
			if tk.Group == group {
				w.tasks[tk.ID()] = tk
			}
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range ch {
			if ev.Type != stevedore.EventTaskStateChange || ev.Task.Group != group {
				continue
			}
			w.mu.Lock()
			w.tasks[ev.Task.ID()] = ev.Task
			active, healthy := 0, 0
			for _, tk := range w.tasks {
				switch tk.LastStatus {
				case task.Provisioning, task.Pending, task.Activating, task.Running:
					active++
				}
				if tk.LastStatus == task.Running && tk.DesiredStatus == task.Running && tk.HealthStatus == task.Healthy {
					healthy++
				}
			}
			w.maxActive = max(w.maxActive, active)
			if w.started {
				w.minHealthy = min(w.minHealthy, healthy)
			}
			w.mu.Unlock()
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return w
}

func (w *boundsWatcher) arm() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.started, w.maxActive, w.minHealthy = true, 0, 1<<30
}

func (w *boundsWatcher) bounds() (maxActive, minHealthy int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.maxActive, w.minHealthy
}

// rollingUpdate runs a service of desired tasks at the given bounds, rolls
// it from v1 to v2 and checks ECS's bounds at every revision of the store.
func rollingUpdate(t *testing.T, desired, minPct, maxPct int) {
	e := newEnv(t, 4)
	e.register("v1")
	_, err := e.o.CreateService(e.ctx, &stevedore.CreateServiceInput{
		Cluster: "test", ServiceName: "web", TaskDefinition: "web", DesiredCount: desired,
		DeploymentConfiguration: service.DeploymentConfiguration{MinimumHealthyPercent: ptr(minPct), MaximumPercent: ptr(maxPct)},
	})
	require.NoError(t, err)
	e.waitSteady("web", 10*time.Minute)
	w := watchBounds(t, e, "service:web")
	synctest.Wait()
	w.arm()

	v2 := e.register("v2")
	_, err = e.o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", TaskDefinition: &v2})
	require.NoError(t, err)
	s := e.waitSteady("web", 20*time.Minute)
	require.Len(t, s.Deployments, 1)
	assert.Equal(t, v2, s.Deployments[0].TaskDefinition)
	assert.Equal(t, service.RolloutCompleted, s.Deployments[0].RolloutState)
	for _, tk := range e.tasks(stevedore.ListTasksInput{ServiceName: "web"}) {
		assert.Equal(t, v2, tk.TaskDefinitionRef())
	}
	lo, hi := service.DeploymentConfiguration{MinimumHealthyPercent: ptr(minPct), MaximumPercent: ptr(maxPct)}.Bounds(service.Replica, desired)
	maxActive, minHealthy := w.bounds()
	assert.LessOrEqual(t, maxActive, hi, "tasks RUNNING or PENDING above maximumPercent")
	assert.GreaterOrEqual(t, minHealthy, lo, "healthy tasks below minimumHealthyPercent")
}

// The deployment examples of the ECS documentation.
func TestRollingUpdate4At50And200(t *testing.T) {
	synctest.Test(t, func(t *testing.T) { rollingUpdate(t, 4, 50, 200) })
}

func TestRollingUpdate4At50And100(t *testing.T) {
	synctest.Test(t, func(t *testing.T) { rollingUpdate(t, 4, 50, 100) })
}

func TestRollingUpdate2At100And200StartsFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) { rollingUpdate(t, 2, 100, 200) })
}

func TestRollingUpdate2At75And100CannotProceed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, 2)
		e.register("v1")
		_, err := e.o.CreateService(e.ctx, &stevedore.CreateServiceInput{
			Cluster: "test", ServiceName: "web", TaskDefinition: "web", DesiredCount: 2,
			DeploymentConfiguration: service.DeploymentConfiguration{MinimumHealthyPercent: ptr(75), MaximumPercent: ptr(100)},
		})
		require.NoError(t, err)
		e.waitSteady("web", 10*time.Minute)
		v2 := e.register("v2")
		_, err = e.o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", TaskDefinition: &v2})
		require.NoError(t, err)
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		s := e.service("web")
		require.Len(t, s.Deployments, 2, "2 healthy needed and 2 at most: nothing can move")
		assert.Equal(t, 0, s.Deployments[0].RunningCount+s.Deployments[0].PendingCount)
		assert.Equal(t, 2, s.Deployments[1].RunningCount)
	})
}

func TestCircuitBreakerRollsBackFailingHealthChecks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, 3, fake.WithImage("web:v2", fake.Behavior{Exec: fake.ExecCodes(1)}))
		v1 := e.register("v1")
		_, err := e.o.CreateService(e.ctx, &stevedore.CreateServiceInput{
			Cluster: "test", ServiceName: "web", TaskDefinition: "web", DesiredCount: 2,
			DeploymentConfiguration: service.DeploymentConfiguration{
				CircuitBreaker: &service.CircuitBreaker{Enable: true, Rollback: true}},
		})
		require.NoError(t, err)
		e.waitSteady("web", 10*time.Minute)
		v2 := e.register("v2")
		_, err = e.o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", TaskDefinition: &v2})
		require.NoError(t, err)

		s := e.waitSteady("web", 30*time.Minute)
		assert.Equal(t, v1, s.TaskDefinition, "rolled back")
		assert.Equal(t, v1, s.Deployments[0].TaskDefinition)
		var msgs []string
		for _, ev := range s.Events {
			msgs = append(msgs, ev.Message)
		}
		all := strings.Join(msgs, "\n")
		assert.Contains(t, all, "deployment failed: tasks failed to start.")
		assert.Contains(t, all, "rolling back to deployment")
		assert.Contains(t, all, "failed container health checks.")
		for _, tk := range e.tasks(stevedore.ListTasksInput{ServiceName: "web"}) {
			assert.Equal(t, v1, tk.TaskDefinitionRef())
		}
	})
}

func TestTasksThatFailToStartAreThrottled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, 1, fake.WithImage("web:v1", fake.Behavior{StartError: fmt.Errorf("exec format error")}))
		e.register("v1")
		start := time.Now()
		_, err := e.o.CreateService(e.ctx, &stevedore.CreateServiceInput{
			Cluster: "test", ServiceName: "web", TaskDefinition: "web", DesiredCount: 1,
		})
		require.NoError(t, err)
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		stopped := e.tasks(stevedore.ListTasksInput{ServiceName: "web", DesiredStatus: task.Stopped})
		require.NotEmpty(t, stopped, "events: %v", e.service("web").Events)
		// Without throttling a task would be retried every few milliseconds.
		assert.Less(t, len(stopped), 15, "growing delays between launches")
		assert.Greater(t, len(stopped), 3)
		for _, tk := range stopped {
			assert.Equal(t, task.TaskFailedToStart, tk.StopCode)
		}
		// Gaps between launches grow.
		var created []time.Time
		for _, tk := range stopped {
			created = append(created, tk.CreatedAt)
		}
		slices.SortFunc(created, time.Time.Compare)
		first, last := created[1].Sub(created[0]), created[len(created)-1].Sub(created[len(created)-2])
		if !assert.Greater(t, last, first, "launch delays grow: %v", created) {
			for _, ev := range e.service("web").Events {
				t.Log(ev.CreatedAt.Format("15:04:05"), ev.Message)
			}
			for _, tk := range stopped {
				t.Log(tk.ID()[:6], tk.CreatedAt.Format("15:04:05"), tk.StoppedAt.Format("15:04:05"), tk.StopCode, tk.StoppedReason, tk.StartedBy)
			}
		}
		assert.GreaterOrEqual(t, time.Since(start), 10*time.Minute)
	})
}

func TestDaemonServiceFollowsInstances(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, 2)
		e.register("v1")
		_, err := e.o.CreateService(e.ctx, &stevedore.CreateServiceInput{
			Cluster: "test", ServiceName: "agent", TaskDefinition: "web", SchedulingStrategy: service.Daemon,
		})
		require.NoError(t, err)
		s := e.waitSteady("agent", 5*time.Minute)
		assert.Equal(t, 2, s.RunningCount)

		e.addInstance("i-new", "c")
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		perInstance := map[string]int{}
		for _, tk := range e.tasks(stevedore.ListTasksInput{ServiceName: "agent"}) {
			perInstance[tk.ContainerInstanceID()]++
		}
		assert.Equal(t, map[string]int{"i-0": 1, "i-1": 1, "i-new": 1}, perInstance)

		_, err = e.o.UpdateContainerInstancesState(e.ctx, &stevedore.UpdateContainerInstancesStateInput{Cluster: "test", Status: cluster.StatusDraining, ContainerInstances: []string{"i-0"}})

		require.NoError(t, err)
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		perInstance = map[string]int{}
		for _, tk := range e.tasks(stevedore.ListTasksInput{ServiceName: "agent"}) {
			perInstance[tk.ContainerInstanceID()]++
		}
		assert.Equal(t, map[string]int{"i-1": 1, "i-new": 1}, perInstance)
	})
}

func TestDrainingInstanceTasksMoveWithinBounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, 3)
		e.register("v1")
		_, err := e.o.CreateService(e.ctx, &stevedore.CreateServiceInput{
			Cluster: "test", ServiceName: "web", TaskDefinition: "web", DesiredCount: 3,
		})
		require.NoError(t, err)
		e.waitSteady("web", 10*time.Minute)
		w := watchBounds(t, e, "service:web")
		synctest.Wait()
		w.arm()
		_, err = e.o.UpdateContainerInstancesState(e.ctx, &stevedore.UpdateContainerInstancesStateInput{Cluster: "test", Status: cluster.StatusDraining, ContainerInstances: []string{"i-0"}})
		require.NoError(t, err)
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		for _, tk := range e.tasks(stevedore.ListTasksInput{ServiceName: "web"}) {
			assert.NotEqual(t, "i-0", tk.ContainerInstanceID())
		}
		maxActive, minHealthy := w.bounds()
		assert.LessOrEqual(t, maxActive, 6)
		assert.GreaterOrEqual(t, minHealthy, 3)
		assert.Equal(t, 3, e.service("web").RunningCount)
	})
}

func TestDeleteService(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, 1)
		e.register("v1")
		_, err := e.o.CreateService(e.ctx, &stevedore.CreateServiceInput{Cluster: "test", ServiceName: "web", TaskDefinition: "web", DesiredCount: 2})
		require.NoError(t, err)
		e.waitSteady("web", 5*time.Minute)
		_, err = e.o.DeleteService(e.ctx, &stevedore.DeleteServiceInput{Cluster: "test", Service: "web"})
		require.ErrorIs(t, err, stevedore.ErrInvalid)
		_, err = e.o.DeleteService(e.ctx, &stevedore.DeleteServiceInput{Cluster: "test", Service: "web", Force: true})
		require.NoError(t, err)
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		assert.Empty(t, e.tasks(stevedore.ListTasksInput{ServiceName: "web"}))
		s := e.service("web")
		assert.Equal(t, service.StatusInactive, s.Status)
	})
}

// TestRollingDeploymentRollsBackWhenAnAlarmFires: deployment alarms work
// for rolling deployments as in ECS: an alarm firing while the deployment
// is in progress fails it, and with rollback the service goes back to the
// last completed deployment.
func TestRollingDeploymentRollsBackWhenAnAlarmFires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var fire atomic.Bool
		o, err := stevedore.New(stevedore.WithSeed(1), stevedore.WithAlarms(stevedore.Alarm{
			Name:      "errors",
			Predicate: func(context.Context) (bool, error) { return fire.Load(), nil },
			Period:    time.Second,
		}))
		require.NoError(t, err)
		e := envFor(t, o, 3)
		v1 := e.register("v1")
		minHealthy, maxPercent := 100, 200
		cfg := service.DeploymentConfiguration{
			MinimumHealthyPercent: &minHealthy, MaximumPercent: &maxPercent,
			Alarms: &service.DeploymentAlarms{AlarmNames: []string{"errors"}, Enable: true, Rollback: true},
		}
		_, err = o.CreateService(e.ctx, &stevedore.CreateServiceInput{
			Cluster: "test", ServiceName: "web", TaskDefinition: v1, DesiredCount: 2, DeploymentConfiguration: cfg,
		})
		require.NoError(t, err)
		assert.Equal(t, v1, e.waitSteady("web", 5*time.Minute).TaskDefinition, "no alarm: the first deployment completes")

		// An unknown alarm is refused, and the refused update changes nothing.
		v2 := e.register("v2")
		bad := cfg
		bad.Alarms = &service.DeploymentAlarms{AlarmNames: []string{"nope"}, Enable: true}
		_, err = o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", TaskDefinition: &v2, DeploymentConfiguration: &bad})
		require.ErrorIs(t, err, stevedore.ErrInvalid)
		assert.Contains(t, err.Error(), "deploymentConfiguration.alarms.alarmNames[0]")
		assert.Equal(t, v1, e.service("web").TaskDefinition)

		fire.Store(true)
		_, err = o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", TaskDefinition: &v2})
		require.NoError(t, err)
		s := e.waitSteady("web", 10*time.Minute)
		assert.Equal(t, v1, s.TaskDefinition, "rolled back")
		require.GreaterOrEqual(t, len(s.Deployments), 1)
		assert.Equal(t, v1, s.Deployments[0].TaskDefinition)
		assert.NotEmpty(t, s.Deployments[0].RollbackOf, "the primary is the rollback")
		var msgs []string
		for _, ev := range s.Events {
			msgs = append(msgs, ev.Message)
		}
		assert.True(t, slices.ContainsFunc(msgs, func(m string) bool {
			return strings.Contains(m, "deployment failed: alarm errors")
		}), "events: %q", msgs)
		assert.Contains(t, msgs, "(service web) (deployment "+s.Deployments[0].ID+") rolling back to deployment ecs-svc/web/1.")
		for _, tk := range e.tasks(stevedore.ListTasksInput{ServiceName: "web"}) {
			assert.Equal(t, v1, tk.TaskDefinitionRef(), "task %s", tk.ID())
		}
	})
}
