package stevedore_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/agent"
	"github.com/stevedore-io/stevedore/lb"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/stevedoretest"
	"github.com/stevedore-io/stevedore/task"
)

// balanced creates service web of count tasks behind g and waits until it
// is steady.
func balanced(t *testing.T, g *recordingGroup, count int, grace time.Duration) *env {
	t.Helper()
	o, err := stevedore.New(stevedore.WithTargetGroups(g))
	require.NoError(t, err)
	e := envFor(t, o, 2)
	e.register("v1")
	_, err = o.CreateService(e.ctx, &stevedore.CreateServiceInput{
		Cluster: "test", ServiceName: "web", TaskDefinition: "web", DesiredCount: count,
		HealthCheckGracePeriod: grace,
		LoadBalancers:          []service.LoadBalancer{{TargetGroup: "web-tg", ContainerName: "app", ContainerPort: 8080}},
	})
	require.NoError(t, err)
	return e
}

// sigterm is when the app container of task id first got a signal (zero:
// never).
func (e *env) sigterm(id string) time.Time {
	cid := agent.ContainerID(id, "app")
	for _, rt := range e.runtimes {
		for _, c := range rt.CallsTo(fake.MethodSignal) {
			if c.ID == cid {
				return c.Time
			}
		}
	}
	return time.Time{}
}

func (e *env) task(id string) *task.Task {
	e.t.Helper()
	out, err := stevedoretest.TasksOf(e.o.DescribeTasks(e.ctx, &stevedore.DescribeTasksInput{Cluster: "test", Tasks: []string{id}}))
	require.NoError(e.t, err)
	require.Len(e.t, out, 1)
	return out[0]
}

func TestStoppingTaskDrainsBeforeSIGTERM(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &recordingGroup{targets: map[string]string{}, fakeHealth: fakeHealth{delay: 30 * time.Second}}
		e := balanced(t, g, 3, 0)
		e.waitSteady("web", 5*time.Minute)
		synctest.Wait()
		tasks := e.tasks(stevedore.ListTasksInput{ServiceName: "web"})
		require.Len(t, tasks, 3)
		for _, tk := range tasks {
			g.hold(tk.ID(), true) // requests in flight everywhere
		}

		// Scale in by one: the task leaves the group at once, and keeps
		// running DEACTIVATING while its requests finish.
		two := 2
		_, err := e.o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", DesiredCount: &two})
		require.NoError(t, err)
		synctest.Wait()
		var stopping *task.Task
		for _, tk := range tasks {
			if cur := e.task(tk.ID()); cur.DesiredStatus == task.Stopped {
				stopping = cur
			}
		}
		require.NotNil(t, stopping)
		id := stopping.ID()
		assert.Equal(t, task.Deactivating, stopping.LastStatus)
		assert.Equal(t, lb.StateDraining, g.state(id))
		time.Sleep(10 * time.Second)
		synctest.Wait()
		assert.Equal(t, task.Deactivating, e.task(id).LastStatus)
		assert.True(t, e.sigterm(id).IsZero(), "no SIGTERM while requests are in flight")

		// The last request ends: drained, SIGTERM, STOPPED.
		g.hold(id, false)
		synctest.Wait()
		released := time.Now()
		assert.Equal(t, released, e.sigterm(id), "SIGTERM as soon as drained")
		time.Sleep(time.Minute)
		synctest.Wait()
		assert.Equal(t, task.Stopped, e.task(id).LastStatus)

		// Scale in again: this time the requests outlast the
		// deregistration delay, and the task stops when it is over.
		one := 1
		asked := time.Now()
		_, err = e.o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", DesiredCount: &one})
		require.NoError(t, err)
		synctest.Wait()
		var second string
		for _, tk := range e.tasks(stevedore.ListTasksInput{ServiceName: "web", DesiredStatus: task.Stopped}) {
			if tk.ID() != id {
				second = tk.ID()
			}
		}
		require.NotEmpty(t, second)
		time.Sleep(time.Minute)
		synctest.Wait()
		assert.Equal(t, task.Stopped, e.task(second).LastStatus)
		at := e.sigterm(second)
		require.False(t, at.IsZero())
		assert.Equal(t, 30*time.Second, at.Sub(asked), "SIGTERM when the deregistration delay is over")
		assert.Len(t, g.snapshot(), 1)
	})
}

func TestDeploymentWaitsForTargetGroupHealth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &recordingGroup{targets: map[string]string{}, fakeHealth: fakeHealth{initial: lb.StateInitial}}
		e := balanced(t, g, 2, 0)
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		s := e.service("web")
		assert.False(t, s.Steady, "container-healthy tasks still initial in their target group")
		assert.Equal(t, service.RolloutInProgress, s.Deployments[0].RolloutState)
		v1 := e.tasks(stevedore.ListTasksInput{ServiceName: "web"})
		require.Len(t, v1, 2)
		for _, tk := range v1 {
			assert.Equal(t, task.Healthy, tk.HealthStatus, "container-healthy")
			g.setHealth(tk.ID(), lb.StateHealthy)
		}
		e.waitSteady("web", time.Minute)

		// A rolling update at 100/200: the v1 tasks stay until the v2
		// tasks are healthy in the target group.
		v2 := e.register("v2")
		_, err := e.o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", TaskDefinition: &v2,
			DeploymentConfiguration: &service.DeploymentConfiguration{MinimumHealthyPercent: ptr(100), MaximumPercent: ptr(200)}})
		require.NoError(t, err)
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		for _, tk := range v1 {
			assert.Equal(t, task.Running, e.task(tk.ID()).DesiredStatus, "v1 task %s kept", tk.ID())
		}
		var fresh []*task.Task
		for _, tk := range e.tasks(stevedore.ListTasksInput{ServiceName: "web"}) {
			if tk.TaskDefinitionRef() == v2 {
				fresh = append(fresh, tk)
				assert.Equal(t, task.Running, tk.LastStatus)
				assert.Equal(t, lb.StateInitial, g.state(tk.ID()))
			}
		}
		require.Len(t, fresh, 2)
		assert.False(t, e.service("web").Steady)

		g.setHealth(fresh[0].ID(), lb.StateHealthy)
		time.Sleep(time.Minute)
		synctest.Wait()
		stopped := 0
		for _, tk := range v1 {
			if e.task(tk.ID()).DesiredStatus == task.Stopped {
				stopped++
			}
		}
		assert.Equal(t, 1, stopped, "one healthy v2 task lets one v1 task go")

		g.setHealth(fresh[1].ID(), lb.StateHealthy)
		e.waitSteady("web", 5*time.Minute)
		for _, tk := range v1 {
			assert.Equal(t, task.Stopped, e.task(tk.ID()).LastStatus)
		}
	})
}

func TestTargetGroupUnhealthyTaskReplacedAfterGrace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &recordingGroup{targets: map[string]string{}}
		e := balanced(t, g, 1, 2*time.Minute)
		e.waitSteady("web", 5*time.Minute)
		synctest.Wait()
		tasks := e.tasks(stevedore.ListTasksInput{ServiceName: "web"})
		require.Len(t, tasks, 1)
		first := tasks[0]
		started := first.StartedAt

		// It fails its target group's checks while the grace period runs:
		// kept.
		g.setHealth(first.ID(), lb.StateUnhealthy)
		synctest.Wait()
		graceEnd := started.Add(2 * time.Minute)
		time.Sleep(time.Until(graceEnd) - time.Second)
		synctest.Wait()
		assert.Equal(t, task.Running, e.task(first.ID()).DesiredStatus, "within the grace period")
		assert.Len(t, e.tasks(stevedore.ListTasksInput{ServiceName: "web"}), 1, "no replacement within the grace period")

		// Past it: replaced, start-first, as a container-unhealthy task is.
		time.Sleep(2 * time.Second)
		synctest.Wait()
		assert.Len(t, e.tasks(stevedore.ListTasksInput{ServiceName: "web"}), 2, "a replacement starts after the grace period")
		e.waitSteady("web", 5*time.Minute)
		got := e.task(first.ID())
		assert.Equal(t, task.Stopped, got.LastStatus)
		assert.Equal(t, "Task failed ELB health checks", got.StoppedReason)
		running := e.tasks(stevedore.ListTasksInput{ServiceName: "web"})
		require.Len(t, running, 1)
		assert.NotEqual(t, first.ID(), running[0].ID())
	})
}
