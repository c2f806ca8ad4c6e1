package stevedore_test

import (
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/cluster"
)

// Capacity providers are declared, associated, described and removed
// through the ECS actions, as ECS Managed Instances' providers are: they
// belong to a cluster.
func TestCapacityProviderActions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, 0)
		o, ctx := e.o, e.ctx

		spot, err := o.CreateCapacityProvider(ctx, &stevedore.CreateCapacityProviderInput{Cluster: "test", Name: "spot", Kind: cluster.Spot})
		require.NoError(t, err)
		assert.Equal(t, o.CapacityProviderARN("spot"), spot.CapacityProvider.CapacityProviderArn)
		assert.Equal(t, cluster.CapacityProviderActive, spot.CapacityProvider.Status)
		_, err = o.CreateCapacityProvider(ctx, &stevedore.CreateCapacityProviderInput{Cluster: "test", Name: "spot"})
		assert.ErrorIs(t, err, stevedore.ErrAlreadyExists)
		_, err = o.CreateCapacityProvider(ctx, &stevedore.CreateCapacityProviderInput{Cluster: "test", Name: "FARGATE"})
		assert.ErrorIs(t, err, stevedore.ErrInvalid)

		// Put keeps spot's kind, adds od as ON_DEMAND, sets the default.
		put, err := o.PutClusterCapacityProviders(ctx, &stevedore.PutClusterCapacityProvidersInput{
			Cluster: "test", CapacityProviders: []string{"spot", "od"},
			DefaultCapacityProviderStrategy: cluster.CapacityProviderStrategy{{CapacityProvider: "od", Base: 1, Weight: 1}, {CapacityProvider: "spot", Weight: 3}},
		})
		require.NoError(t, err)
		assert.Equal(t, []string{"spot", "od"}, put.Cluster.CapacityProviders)
		assert.Len(t, put.Cluster.DefaultCapacityProviderStrategy, 2)
		_, err = o.PutClusterCapacityProviders(ctx, &stevedore.PutClusterCapacityProvidersInput{
			Cluster: "test", CapacityProviders: []string{"od"},
			DefaultCapacityProviderStrategy: cluster.CapacityProviderStrategy{{CapacityProvider: "spot", Weight: 1}},
		})
		assert.ErrorIs(t, err, stevedore.ErrInvalid, "the default strategy names only the cluster's providers")

		described, err := o.DescribeCapacityProviders(ctx, &stevedore.DescribeCapacityProvidersInput{Cluster: "test", CapacityProviders: []string{o.CapacityProviderARN("spot"), "od", "nope"}})
		require.NoError(t, err)
		require.Len(t, described.CapacityProviders, 2)
		assert.Equal(t, cluster.Spot, described.CapacityProviders[0].Kind)
		assert.Equal(t, cluster.OnDemand, described.CapacityProviders[1].Kind)
		require.Len(t, described.Failures, 1)
		assert.Equal(t, "MISSING", described.Failures[0].Reason)
		all, err := o.DescribeCapacityProviders(ctx, &stevedore.DescribeCapacityProvidersInput{MaxResults: 1})
		require.NoError(t, err)
		require.Len(t, all.CapacityProviders, 1)
		assert.Equal(t, "od", all.CapacityProviders[0].Name, "sorted by cluster and name")
		require.NotEmpty(t, all.NextToken)
		all, err = o.DescribeCapacityProviders(ctx, &stevedore.DescribeCapacityProvidersInput{MaxResults: 1, NextToken: all.NextToken})
		require.NoError(t, err)
		require.Len(t, all.CapacityProviders, 1)
		assert.Equal(t, "spot", all.CapacityProviders[0].Name)

		// An instance in spot keeps it; once gone, spot can go.
		e.addInstanceWith(stevedore.RegisterContainerInstanceInput{InstanceID: "i-spot", CapacityProvider: "spot"})
		_, err = o.PutClusterCapacityProviders(ctx, &stevedore.PutClusterCapacityProvidersInput{Cluster: "test", CapacityProviders: []string{"od"}})
		assert.ErrorIs(t, err, stevedore.ErrInUse)
		_, err = o.DeleteCapacityProvider(ctx, &stevedore.DeleteCapacityProviderInput{Cluster: "test", CapacityProvider: "spot"})
		assert.ErrorIs(t, err, stevedore.ErrInUse)
		_, err = o.DeregisterContainerInstance(ctx, &stevedore.DeregisterContainerInstanceInput{Cluster: "test", ContainerInstance: "i-spot", Force: true})
		require.NoError(t, err)
		_, err = o.DeleteCapacityProvider(ctx, &stevedore.DeleteCapacityProviderInput{Cluster: "test", CapacityProvider: "spot"})
		assert.ErrorIs(t, err, stevedore.ErrInUse, "the default strategy names it")
		_, err = o.PutClusterCapacityProviders(ctx, &stevedore.PutClusterCapacityProvidersInput{Cluster: "test", CapacityProviders: []string{"od", "spot"}})
		require.NoError(t, err, "the default strategy is emptied")
		gone, err := o.DeleteCapacityProvider(ctx, &stevedore.DeleteCapacityProviderInput{Cluster: "test", CapacityProvider: "spot"})
		require.NoError(t, err)
		assert.Equal(t, cluster.CapacityProviderInactive, gone.CapacityProvider.Status)
		c, err := o.DescribeClusters(ctx, &stevedore.DescribeClustersInput{Clusters: []string{"test"}})
		require.NoError(t, err)
		assert.Equal(t, []string{"od"}, c.Clusters[0].CapacityProviders)
		_, err = o.DeleteCapacityProvider(ctx, &stevedore.DeleteCapacityProviderInput{Cluster: "test", CapacityProvider: "spot"})
		assert.ErrorIs(t, err, stevedore.ErrNotFound)
	})
}
