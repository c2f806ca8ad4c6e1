package ecsapi_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/cluster"
	netfake "github.com/stevedore-io/stevedore/network/fake"
	"github.com/stevedore-io/stevedore/runtime/fake"
)

// Capacity providers are declared over the wire: in CreateCluster, as a
// cluster's Managed Instances provider (ON_DEMAND or SPOT), and with
// PutClusterCapacityProviders; DescribeCapacityProviders shows them.
func TestCapacityProvidersOnTheWire(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	created, err := e.client.CreateCluster(ctx, &ecs.CreateClusterInput{
		ClusterName: aws.String("cp"), CapacityProviders: []string{"od"},
		DefaultCapacityProviderStrategy: []types.CapacityProviderStrategyItem{{CapacityProvider: aws.String("od"), Weight: 1}},
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"od"}, created.Cluster.CapacityProviders)
	require.Len(t, created.Cluster.DefaultCapacityProviderStrategy, 1)

	managed := func(option types.CapacityOptionType) *types.CreateManagedInstancesProviderConfiguration {
		return &types.CreateManagedInstancesProviderConfiguration{
			InfrastructureRoleArn: aws.String("arn:aws:iam::1:role/infra"),
			InstanceLaunchTemplate: &types.InstanceLaunchTemplate{
				Ec2InstanceProfileArn: aws.String("arn:aws:iam::1:instance-profile/p"), CapacityOptionType: option,
				NetworkConfiguration: &types.ManagedInstancesNetworkConfiguration{Subnets: []string{"subnet-1"}},
			},
		}
	}
	spot, err := e.client.CreateCapacityProvider(ctx, &ecs.CreateCapacityProviderInput{Name: aws.String("spot"), Cluster: aws.String("cp"), ManagedInstancesProvider: managed(types.CapacityOptionTypeSpot)})
	require.NoError(t, err)
	assert.Equal(t, e.o.CapacityProviderARN("spot"), aws.ToString(spot.CapacityProvider.CapacityProviderArn))
	assert.Equal(t, types.CapacityProviderStatusActive, spot.CapacityProvider.Status)
	assert.Equal(t, types.CapacityOptionTypeSpot, spot.CapacityProvider.ManagedInstancesProvider.InstanceLaunchTemplate.CapacityOptionType)
	_, err = e.client.CreateCapacityProvider(ctx, &ecs.CreateCapacityProviderInput{Name: aws.String("asg"), Cluster: aws.String("cp"),
		AutoScalingGroupProvider: &types.AutoScalingGroupProvider{AutoScalingGroupArn: aws.String("arn:aws:autoscaling:us-east-1:1:autoScalingGroup:x")}})
	assert.Equal(t, "InvalidParameterException", apiError(err))
	assert.ErrorContains(t, err, "autoScalingGroupProvider")
	_, err = e.client.CreateCapacityProvider(ctx, &ecs.CreateCapacityProviderInput{Name: aws.String("res"), Cluster: aws.String("cp"), ManagedInstancesProvider: managed(types.CapacityOptionTypeReserved)})
	assert.ErrorContains(t, err, "capacityOptionType")

	put, err := e.client.PutClusterCapacityProviders(ctx, &ecs.PutClusterCapacityProvidersInput{
		Cluster: aws.String("cp"), CapacityProviders: []string{"od", "spot"},
		DefaultCapacityProviderStrategy: []types.CapacityProviderStrategyItem{{CapacityProvider: aws.String("od"), Base: 1, Weight: 1}, {CapacityProvider: aws.String("spot"), Weight: 2}},
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"od", "spot"}, put.Cluster.CapacityProviders)
	assert.Len(t, put.Cluster.DefaultCapacityProviderStrategy, 2)

	described, err := e.client.DescribeCapacityProviders(ctx, &ecs.DescribeCapacityProvidersInput{Cluster: aws.String("cp"), CapacityProviders: []string{"spot", "od", "nope"}})
	require.NoError(t, err)
	require.Len(t, described.CapacityProviders, 2)
	assert.Equal(t, types.CapacityOptionTypeSpot, described.CapacityProviders[0].ManagedInstancesProvider.InstanceLaunchTemplate.CapacityOptionType)
	assert.Equal(t, types.CapacityOptionTypeOnDemand, described.CapacityProviders[1].ManagedInstancesProvider.InstanceLaunchTemplate.CapacityOptionType)
	assert.Equal(t, "cp", aws.ToString(described.CapacityProviders[1].Cluster))
	require.Len(t, described.Failures, 1)
	assert.Equal(t, "MISSING", aws.ToString(described.Failures[0].Reason))

	// launchType EC2 would set the default strategy aside in ECS, which
	// Stevedore cannot do: it is refused rather than ignored.
	_, err = e.client.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("cp"), TaskDefinition: aws.String("web:1"), LaunchType: types.LaunchTypeEc2})
	assert.Equal(t, "InvalidParameterException", apiError(err))
	assert.ErrorContains(t, err, "default capacity provider strategy")

	// A provider in use stays.
	rt := fake.New()
	t.Cleanup(rt.Close)
	_, err = e.o.RegisterContainerInstance(ctx, &stevedore.RegisterContainerInstanceInput{
		Cluster: "cp", InstanceID: "i-spot", CapacityProvider: "spot", Resources: cluster.Resources{CPU: 1024, Memory: 1024, NetworkSlots: 2},
		Runtime: rt, Network: netfake.New(),
	})
	require.NoError(t, err)
	_, err = e.client.PutClusterCapacityProviders(ctx, &ecs.PutClusterCapacityProvidersInput{
		Cluster: aws.String("cp"), CapacityProviders: []string{"od"}, DefaultCapacityProviderStrategy: []types.CapacityProviderStrategyItem{},
	})
	assert.Equal(t, "ResourceInUseException", apiError(err), "%v", err)
	_, err = e.client.DeleteCapacityProvider(ctx, &ecs.DeleteCapacityProviderInput{Cluster: aws.String("cp"), CapacityProvider: aws.String("spot")})
	assert.Equal(t, "ResourceInUseException", apiError(err), "%v", err)
	_, err = e.client.DeleteCapacityProvider(ctx, &ecs.DeleteCapacityProviderInput{Cluster: aws.String("cp"), CapacityProvider: aws.String("nope")})
	assert.Error(t, err)
}
