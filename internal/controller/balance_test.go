package controller_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/stevedoretest"
	"github.com/stevedore-io/stevedore/task"
)

const webDef = `{"family": "web", "containerDefinitions": [{"name": "app", "image": "web", "memory": 128}]}`

// zonedEnv is an Orchestrator (seed 1) with instances in zones: zone
// "a" gets counts[0] instances, "b" counts[1], and so on.
func zonedEnv(t *testing.T, counts ...int) *stevedoretest.Env {
	t.Helper()
	env := stevedoretest.New(t, stevedoretest.WithInstances(0), stevedoretest.WithDefinitions(webDef))
	for z, n := range counts {
		for range n {
			env.AddInstance(string(rune('a'+z)), stevedoretest.DefaultResources)
		}
	}
	return env
}

// scale sets the service's desired count, waits for it to be steady and
// returns its tasks desired RUNNING.
func scale(env *stevedoretest.Env, name string, desired int) []*task.Task {
	env.UpdateService(stevedore.UpdateServiceInput{Service: name, DesiredCount: &desired})
	env.WaitSteady(name)
	return env.Tasks(name, task.Running)
}

// where lists the instances of the tasks, sorted: the outcome of a run.
func where(tasks []*task.Task) string {
	ids := make([]string, len(tasks))
	for i, t := range tasks {
		ids[i] = t.ContainerInstanceID()
	}
	slices.Sort(ids)
	return strings.Join(ids, " ")
}

// TestScaleInKeepsZonesBalanced: zones of 3, 1 and 2 instances, a service
// spread over zones (ECS's default) with 2 tasks per zone, scaled to 3,
// keeps one task per zone: zone b's only instance, which held two, keeps
// one.
func TestScaleInKeepsZonesBalanced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := zonedEnv(t, 3, 1, 2)
		env.CreateService(stevedore.CreateServiceInput{ServiceName: "web", TaskDefinition: "web", DesiredCount: 6})
		env.WaitSteady("web")
		require.Equal(t, map[string]int{"a": 2, "b": 2, "c": 2}, env.CountByZone(env.Tasks("web", task.Running)))

		left := scale(env, "web", 3)
		assert.Equal(t, map[string]int{"a": 1, "b": 1, "c": 1}, env.CountByZone(left))
		assert.Contains(t, where(left), env.Instances[3].ID, "zone b's only instance keeps a task")
	})
}

// TestScaleInReproducible: with 2 instances per zone, 6 tasks scaled to 3
// keep one per zone and 3 to 2 keep two zones, and 30 runs under the same
// seed end with the tasks on the same instances.
func TestScaleInReproducible(t *testing.T) {
	outcomes := map[string]int{}
	for run := range 30 {
		synctest.Test(t, func(t *testing.T) {
			env := zonedEnv(t, 2, 2, 2)
			env.CreateService(stevedore.CreateServiceInput{ServiceName: "web", TaskDefinition: "web", DesiredCount: 6})
			env.WaitSteady("web")
			three := scale(env, "web", 3)
			assert.Equal(t, map[string]int{"a": 1, "b": 1, "c": 1}, env.CountByZone(three), "run %d", run)
			two := scale(env, "web", 2)
			zones := env.CountByZone(two)
			assert.Len(t, zones, 2, "run %d: %v", run, zones)
			outcomes[fmt.Sprintf("%s | %s", where(three), where(two))]++
		})
	}
	assert.Len(t, outcomes, 1, "outcomes of 30 runs with the same seed: %v", outcomes)
}

// TestDeploymentStopsOldTasksBalanced: a deployment at 50%/100% stops half
// the old tasks before it starts new ones; the old tasks that keep serving
// stay spread over the zones (one per zone), not packed into some.
func TestDeploymentStopsOldTasksBalanced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := zonedEnv(t, 3, 1, 2)
		half, full := 50, 100
		env.CreateService(stevedore.CreateServiceInput{ServiceName: "web", TaskDefinition: "web", DesiredCount: 6,
			DeploymentConfiguration: service.DeploymentConfiguration{MinimumHealthyPercent: &half, MaximumPercent: &full}})
		env.WaitSteady("web")
		v2 := env.Register(webDef)
		ref := v2.Ref()
		env.UpdateService(stevedore.UpdateServiceInput{Service: "web", TaskDefinition: &ref})
		var old []*task.Task
		env.WaitFor("3 old tasks stopping", func() bool {
			old = old[:0]
			for _, tk := range env.Tasks("web", task.Running) {
				if tk.TaskDefinitionRef() == "web:1" {
					old = append(old, tk)
				}
			}
			return len(old) == 3
		})
		assert.Equal(t, map[string]int{"a": 1, "b": 1, "c": 1}, env.CountByZone(old))
	})
}
