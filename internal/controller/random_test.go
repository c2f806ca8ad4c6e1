package controller_test

import (
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/placement"
	"github.com/stevedore-io/stevedore/task"
)

// TestRandomPlacementReproducible: a service placed at random, scaled in
// at random (its strategy's balance), lands on the same instances in 30
// runs under the same seed.
func TestRandomPlacementReproducible(t *testing.T) {
	outcomes := map[string]int{}
	for range 30 {
		synctest.Test(t, func(t *testing.T) {
			env := zonedEnv(t, 2, 2, 2)
			env.CreateService(stevedore.CreateServiceInput{ServiceName: "web", TaskDefinition: "web", DesiredCount: 6,
				PlacementStrategy: []placement.StrategySpec{placement.Random()}})
			env.WaitSteady("web")
			six := where(env.Tasks("web", task.Running))
			three := where(scale(env, "web", 3))
			two := where(scale(env, "web", 2))
			outcomes[six+" | "+three+" | "+two]++
		})
	}
	assert.Len(t, outcomes, 1, "outcomes of 30 runs with the same seed: %v", outcomes)
}
