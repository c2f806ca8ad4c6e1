package stevedore_test

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/lb"
	"github.com/stevedore-io/stevedore/service"
)

// recordingGroup is a target group that remembers its targets. Their
// health is what the test says (targetgroup_fake_test.go); by default they
// are healthy as soon as registered, and drained as soon as deregistered.
type recordingGroup struct {
	name    string // "web-tg" when empty
	mu      sync.Mutex
	targets map[string]string
	log     []string
	fakeHealth
}

func (g *recordingGroup) Name() string {
	if g.name == "" {
		return "web-tg"
	}
	return g.name
}

func (g *recordingGroup) Register(t lb.Target) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.targets[t.ID] = t.Addr
	g.log = append(g.log, "+"+t.ID)
	g.registeredLocked(t.ID)
	return nil
}

func (g *recordingGroup) Deregister(id string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.targets[id]; !ok {
		return lb.ErrNotFound
	}
	delete(g.targets, id)
	g.log = append(g.log, "-"+id)
	g.deregisteredLocked(&g.mu, id)
	return nil
}

func (g *recordingGroup) snapshot() map[string]string {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := map[string]string{}
	for k, v := range g.targets {
		out[k] = v
	}
	return out
}

func TestServiceTasksJoinAndLeaveTheirTargetGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &recordingGroup{targets: map[string]string{}}
		o, err := stevedore.New(stevedore.WithTargetGroups(g))
		require.NoError(t, err)
		e := envFor(t, o, 3)
		e.register("v1")
		_, err = o.CreateService(e.ctx, &stevedore.CreateServiceInput{
			Cluster: "test", ServiceName: "web", TaskDefinition: "web", DesiredCount: 3,
			LoadBalancers: []service.LoadBalancer{{TargetGroup: "web-tg", ContainerName: "app", ContainerPort: 8080}},
		})
		require.NoError(t, err)
		e.waitSteady("web", 5*time.Minute)
		synctest.Wait()

		running := e.tasks(stevedore.ListTasksInput{ServiceName: "web"})
		require.Len(t, running, 3)
		want := map[string]string{}
		for _, tk := range running {
			want[tk.ID()] = tk.PrivateIPv4Address() + ":8080"
		}
		assert.Equal(t, want, g.snapshot(), "every RUNNING and HEALTHY task, at its address and container port")

		// A rolling update: old tasks leave the group, new ones join.
		v2 := e.register("v2")
		_, err = o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", TaskDefinition: &v2})
		require.NoError(t, err)
		e.waitSteady("web", 10*time.Minute)
		synctest.Wait()
		now := g.snapshot()
		assert.Len(t, now, 3)
		for id := range want {
			assert.NotContains(t, now, id, "old task deregistered")
		}
		for _, tk := range e.tasks(stevedore.ListTasksInput{ServiceName: "web"}) {
			assert.Equal(t, v2, tk.TaskDefinitionRef())
			assert.Contains(t, now, tk.ID())
		}
	})
}

func TestTargetGroupsAreChecked(t *testing.T) {
	_, err := stevedore.New(stevedore.WithTargetGroups(&recordingGroup{}, &recordingGroup{}))
	require.ErrorIs(t, err, stevedore.ErrInvalid, "two groups of one name")

	synctest.Test(t, func(t *testing.T) {
		o, err := stevedore.New(stevedore.WithTargetGroups(&recordingGroup{targets: map[string]string{}}))
		require.NoError(t, err)
		e := envFor(t, o, 1)
		e.register("v1")
		_, err = o.CreateService(e.ctx, &stevedore.CreateServiceInput{
			Cluster: "test", ServiceName: "web", TaskDefinition: "web", DesiredCount: 1,
			LoadBalancers: []service.LoadBalancer{{TargetGroup: "nope", ContainerName: "app", ContainerPort: 8080}},
		})
		require.ErrorIs(t, err, stevedore.ErrInvalid)
		assert.Contains(t, err.Error(), "loadBalancers[0].targetGroupArn")
		_, err = o.CreateService(e.ctx, &stevedore.CreateServiceInput{
			Cluster: "test", ServiceName: "web", TaskDefinition: "web", DesiredCount: 1,
			LoadBalancers: []service.LoadBalancer{{TargetGroup: "web-tg", ContainerName: "app", ContainerPort: 9999}},
		})
		require.ErrorIs(t, err, stevedore.ErrInvalid)
		assert.Contains(t, err.Error(), "maps no port 9999")
	})
}
