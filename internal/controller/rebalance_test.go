package controller_test

import (
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/stevedoretest"
	"github.com/stevedore-io/stevedore/task"
)

func ptr[T any](v T) *T { return &v }

// zoneOutage takes zone b's instance (its only one) out of service and
// back: DRAINING moves its tasks to the other zones; ACTIVE again, it is
// empty.
func zoneOutage(t *testing.T, env *stevedoretest.Env, name string) {
	t.Helper()
	b := slices.IndexFunc(env.Instances, func(in *stevedoretest.Instance) bool { return in.Zone == "b" })
	require.GreaterOrEqual(t, b, 0)
	env.DrainInstance(b)
	env.WaitFor("zone b empty", func() bool { return env.CountByZone(env.Tasks(name, task.Running))["b"] == 0 })
	env.WaitSteady(name)
	_, err := env.O.UpdateContainerInstancesState(t.Context(), &stevedore.UpdateContainerInstancesStateInput{Cluster: env.Cluster,
		Status: cluster.StatusActive, ContainerInstances: []string{env.Instances[b].ID}})
	require.NoError(t, err)
}

// bounds watches a service until done, failing when its tasks exceed
// maximumPercent or its running tasks fall below minimumHealthyPercent of
// the desired count.
func bounds(t *testing.T, env *stevedoretest.Env, name string, minHealthy, maxTotal int, done func() bool) {
	t.Helper()
	env.WaitFor(name+" rebalanced", func() bool {
		tasks := env.Tasks(name, task.Running)
		running := 0
		for _, tk := range tasks {
			if tk.LastStatus == task.Running {
				running++
			}
		}
		require.LessOrEqual(t, len(tasks), maxTotal, "maximumPercent")
		require.GreaterOrEqual(t, running, minHealthy, "minimumHealthyPercent")
		return done()
	})
}

func messages(svc service.Service) string {
	var out []string
	for i := len(svc.Events) - 1; i >= 0; i-- {
		out = append(out, svc.Events[i].Message)
	}
	return strings.Join(out, "\n")
}

// TestZoneRecoveryRebalances: a service of 6 over zones a, b and c loses
// zone b (its instance DRAINING), runs 3 and 3 in a and c, and once b is
// back, ECS's availability-zone rebalancing (ENABLED by default) starts
// tasks in b and stops tasks in a and c, one at a time within the
// deployment bounds, until the service is balanced again, and says so.
func TestZoneRecoveryRebalances(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := zonedEnv(t, 1, 1, 1)
		env.CreateService(stevedore.CreateServiceInput{ServiceName: "web", TaskDefinition: "web", DesiredCount: 6})
		assert.Equal(t, service.AZRebalancingEnabled, env.WaitSteady("web").AvailabilityZoneRebalancing, "ENABLED by default")
		zoneOutage(t, env, "web")
		assert.Equal(t, map[string]int{"a": 3, "c": 3}, env.CountByZone(env.Tasks("web", task.Running)))

		balanced := func() bool {
			return env.Service("web").Steady && !env.Service("web").Rebalancing &&
				env.CountByZone(env.Tasks("web", task.Running))["b"] == 2
		}
		bounds(t, env, "web", 6, 12, balanced)
		assert.Equal(t, map[string]int{"a": 2, "b": 2, "c": 2}, env.CountByZone(env.Tasks("web", task.Running)))
		events := messages(env.Service("web"))
		assert.Contains(t, events, "(service web) is not AZ balanced with 3 tasks in a, 0 in b, and 3 in c. AZ Rebalancing in progress.")
		assert.Contains(t, events, "(service web) has started 1 tasks in b to AZ Rebalance: (task ")
		assert.Contains(t, events, "due to AZ rebalancing: (task ")
		assert.Contains(t, events, "(service web) is AZ balanced with 2 tasks in a, 2 tasks in b, and 2 tasks in c.")
		var rebalanced []*task.Task
		for _, tk := range env.Tasks("web", task.Stopped) {
			if strings.HasPrefix(tk.StoppedReason, "AZ rebalancing") {
				rebalanced = append(rebalanced, tk)
			}
		}
		assert.Equal(t, map[string]int{"a": 1, "c": 1}, env.CountByZone(rebalanced), "stopped one from a and one from c")
	})
}

// TestZoneRebalancingStopsFirstWithoutRoom: with maximumPercent 100 there
// is no room for an extra task: the rebalance stops one first, within
// minimumHealthyPercent, and its replacement goes to the empty zone.
func TestZoneRebalancingStopsFirstWithoutRoom(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := zonedEnv(t, 1, 1, 1)
		env.CreateService(stevedore.CreateServiceInput{ServiceName: "web", TaskDefinition: "web", DesiredCount: 6,
			DeploymentConfiguration: service.DeploymentConfiguration{MinimumHealthyPercent: ptr(50), MaximumPercent: ptr(100)}})
		env.WaitSteady("web")
		zoneOutage(t, env, "web")
		bounds(t, env, "web", 3, 6, func() bool {
			svc := env.Service("web")
			return svc.Steady && !svc.Rebalancing && env.CountByZone(env.Tasks("web", task.Running))["b"] == 2
		})
		assert.Equal(t, map[string]int{"a": 2, "b": 2, "c": 2}, env.CountByZone(env.Tasks("web", task.Running)))
	})
}

// TestZoneRebalancingDisabled: with availabilityZoneRebalancing DISABLED
// the service stays as the outage left it.
func TestZoneRebalancingDisabled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := zonedEnv(t, 1, 1, 1)
		env.CreateService(stevedore.CreateServiceInput{ServiceName: "web", TaskDefinition: "web", DesiredCount: 6,
			AvailabilityZoneRebalancing: service.AZRebalancingDisabled})
		env.WaitSteady("web")
		zoneOutage(t, env, "web")
		time.Sleep(30 * time.Minute)
		svc := env.WaitSteady("web")
		assert.Equal(t, service.AZRebalancingDisabled, svc.AvailabilityZoneRebalancing)
		assert.Equal(t, map[string]int{"a": 3, "c": 3}, env.CountByZone(env.Tasks("web", task.Running)))
		assert.NotContains(t, messages(svc), "AZ")

		// Turned on, it rebalances.
		env.UpdateService(stevedore.UpdateServiceInput{Service: "web", AvailabilityZoneRebalancing: ptr(service.AZRebalancingEnabled)})
		env.WaitFor("rebalanced", func() bool { return env.CountByZone(env.Tasks("web", task.Running))["b"] == 2 })
	})
}

// TestZoneRebalancingIsReproducible: under one seed, a rebalance stops the
// same tasks and leaves the same placement on every run.
func TestZoneRebalancingIsReproducible(t *testing.T) {
	run := func() (string, string) {
		var placed, events string
		synctest.Test(t, func(t *testing.T) {
			env := zonedEnv(t, 2, 1, 2)
			env.CreateService(stevedore.CreateServiceInput{ServiceName: "web", TaskDefinition: "web", DesiredCount: 7})
			env.WaitSteady("web")
			zoneOutage(t, env, "web")
			env.WaitFor("rebalanced", func() bool {
				svc := env.Service("web")
				return svc.Steady && !svc.Rebalancing && env.CountByZone(env.Tasks("web", task.Running))["b"] >= 2
			})
			// The decisions: where the tasks are, which ones the
			// rebalance started and stopped (how passes batch the
			// agents' reports may differ).
			var rebalance []string
			for _, m := range strings.Split(messages(env.Service("web")), "\n") {
				if strings.Contains(m, "AZ") {
					rebalance = append(rebalance, m)
				}
			}
			placed, events = where(env.Tasks("web", task.Running)), strings.Join(rebalance, "\n")
		})
		return placed, events
	}
	placed, events := run()
	for range 3 {
		p, e := run()
		require.Equal(t, placed, p)
		require.Equal(t, events, e)
	}
}

// TestZoneRebalancingThatCannotPlaceSaysSo: zone b's only instance is too
// small for the service's tasks: the rebalance says, in ECS's words, that
// it cannot place a task in b, and the service stays steady meanwhile.
func TestZoneRebalancingThatCannotPlaceSaysSo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := stevedoretest.New(t, stevedoretest.WithInstances(0), stevedoretest.WithDefinitions(webDef))
		env.AddInstance("a", stevedoretest.DefaultResources)
		env.AddInstance("c", stevedoretest.DefaultResources)
		env.CreateService(stevedore.CreateServiceInput{ServiceName: "web", TaskDefinition: "web", DesiredCount: 4})
		env.WaitSteady("web")
		env.AddInstance("b", cluster.Resources{CPU: 1024, Memory: 64})
		env.WaitFor("the placement failure", func() bool {
			return strings.Contains(messages(env.Service("web")), "(service web) is unable to place a task in b because no container instance met all of its requirements.")
		})
		svc := env.Service("web")
		assert.True(t, svc.Steady, "a rebalance that cannot place keeps the service steady")
		assert.True(t, svc.Rebalancing)
		assert.Contains(t, messages(svc), "(service web) is not AZ balanced with 2 tasks in a, 0 in b, and 2 in c. AZ Rebalancing in progress.")
		assert.Equal(t, map[string]int{"a": 2, "c": 2}, env.CountByZone(env.Tasks("web", task.Running)))
	})
}
