package controller_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/controller"
	"github.com/stevedore-io/stevedore/internal/launch"
	"github.com/stevedore-io/stevedore/stevedoretest"
	"github.com/stevedore-io/stevedore/task"
)

// TestRunTaskRefusesUnassociatedCapacityProvider: RunTask naming a capacity
// provider the cluster does not have fails as an invalid request, and
// creates nothing (it used to report a failure with reason
// CapacityProvider).
func TestRunTaskRefusesUnassociatedCapacityProvider(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := stevedoretest.New(t, stevedoretest.WithDefinitions(webDef))
		out, err := env.O.RunTask(t.Context(), stevedore.RunTaskInput{Cluster: env.Cluster, TaskDefinition: "web",
			CapacityProviderStrategy: cluster.CapacityProviderStrategy{{CapacityProvider: "spot", Weight: 1}}})
		require.ErrorIs(t, err, launch.ErrInvalid)
		assert.Contains(t, err.Error(), `capacityProviderStrategy[0].capacityProvider: "spot" is not associated with cluster "test"`)
		assert.Nil(t, out)
		assert.Empty(t, env.Tasks("", task.Running))
	})
}

// TestServiceWithUnassociatedCapacityProviderSaysWhy: a service whose
// capacity provider is not associated with the cluster places nothing, and
// says why in its events (once), rather than failing every write.
func TestServiceWithUnassociatedCapacityProviderSaysWhy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := stevedoretest.New(t, stevedoretest.WithDefinitions(webDef))
		env.CreateService(stevedore.CreateServiceInput{ServiceName: "web", TaskDefinition: "web", DesiredCount: 1,
			CapacityProviderStrategy: cluster.CapacityProviderStrategy{{CapacityProvider: "spot", Weight: 1}}})
		const want = `(service web) was unable to place a task. Reason: capacityProviderStrategy[0].capacityProvider: "spot" is not associated with cluster "test".`
		env.WaitFor("the event", func() bool { return countEvents(env.Service("web"), want) > 0 })
		time.Sleep(3 * controller.PlacementRetry) // three retries, on the bubble's clock
		assert.Equal(t, 1, countEvents(env.Service("web"), want), "said once")
		assert.Empty(t, env.Tasks("web", task.Running))
	})
}
