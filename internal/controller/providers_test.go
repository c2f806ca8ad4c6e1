package controller_test

import (
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/cluster"
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
		out, err := env.O.RunTask(t.Context(), &stevedore.RunTaskInput{Cluster: env.Cluster, TaskDefinition: "web",
			CapacityProviderStrategy: cluster.CapacityProviderStrategy{{CapacityProvider: "spot", Weight: 1}}})
		require.ErrorIs(t, err, stevedore.ErrInvalid)
		assert.Contains(t, err.Error(), `capacityProviderStrategy[0].capacityProvider: "spot" is not associated with cluster "test"`)
		assert.Nil(t, out)
		assert.Empty(t, env.Tasks("", task.Running))
	})
}

// TestCreateServiceRefusesUnassociatedCapacityProvider: as ECS,
// CreateService naming a capacity provider the cluster does not have is an
// invalid request, and no service is created.
func TestCreateServiceRefusesUnassociatedCapacityProvider(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := stevedoretest.New(t, stevedoretest.WithDefinitions(webDef))
		_, err := env.O.CreateService(t.Context(), &stevedore.CreateServiceInput{Cluster: env.Cluster, ServiceName: "web", TaskDefinition: "web", DesiredCount: 1,
			CapacityProviderStrategy: cluster.CapacityProviderStrategy{{CapacityProvider: "spot", Weight: 1}}})
		require.ErrorIs(t, err, stevedore.ErrInvalid)
		assert.Contains(t, err.Error(), `capacityProviderStrategy[0].capacityProvider: "spot" is not associated with cluster "test"`)
		_, err = stevedoretest.ServicesOf(env.O.DescribeServices(t.Context(), &stevedore.DescribeServicesInput{Cluster: env.Cluster, Services: []string{"web"}}))
		assert.ErrorIs(t, err, stevedore.ErrNotFound)
	})
}
