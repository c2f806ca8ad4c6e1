package ecsapi_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAvailabilityZoneRebalancingOnTheWire: CreateService defaults
// availabilityZoneRebalancing to ENABLED, takes DISABLED, UpdateService
// changes it, and every answer shows it.
func TestAvailabilityZoneRebalancingOnTheWire(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.register(t, "web:1")

	on, err := e.client.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String("c"), ServiceName: aws.String("on"),
		TaskDefinition: aws.String("web"), DesiredCount: aws.Int32(0)})
	require.NoError(t, err)
	assert.Equal(t, types.AvailabilityZoneRebalancingEnabled, on.Service.AvailabilityZoneRebalancing)

	off, err := e.client.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String("c"), ServiceName: aws.String("off"),
		TaskDefinition: aws.String("web"), DesiredCount: aws.Int32(0), AvailabilityZoneRebalancing: types.AvailabilityZoneRebalancingDisabled})
	require.NoError(t, err)
	assert.Equal(t, types.AvailabilityZoneRebalancingDisabled, off.Service.AvailabilityZoneRebalancing)

	updated, err := e.client.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("c"), Service: aws.String("off"),
		AvailabilityZoneRebalancing: types.AvailabilityZoneRebalancingEnabled})
	require.NoError(t, err)
	assert.Equal(t, types.AvailabilityZoneRebalancingEnabled, updated.Service.AvailabilityZoneRebalancing)

	described, err := e.client.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("c"), Services: []string{"on", "off"}})
	require.NoError(t, err)
	require.Len(t, described.Services, 2)
	for _, s := range described.Services {
		assert.Equal(t, types.AvailabilityZoneRebalancingEnabled, s.AvailabilityZoneRebalancing, aws.ToString(s.ServiceName))
	}

	_, err = e.client.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String("c"), ServiceName: aws.String("bad"),
		TaskDefinition: aws.String("web"), AvailabilityZoneRebalancing: "MAYBE"})
	assert.Equal(t, "InvalidParameterException", apiError(err))
}
