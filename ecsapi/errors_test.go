package ecsapi_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every invalid input is an InvalidParameterException on the wire, whichever
// package found it (the task definition's rules, placement's query parser,
// the service's), with the field and the rule in the message; an object
// not found is its ECS exception.
func TestErrorKindsOnTheWire(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	def := e.register(t, "web:1")
	badMemberOf := []types.PlacementConstraint{{Type: types.PlacementConstraintTypeMemberOf, Expression: aws.String("attribute:ecs.os-type ==")}}
	tests := []struct {
		name     string
		call     func() error
		wantType string
		wantIn   string
	}{
		{"RegisterTaskDefinition memory", func() error {
			_, err := e.client.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{Family: aws.String("bad"), ContainerDefinitions: []types.ContainerDefinition{{Name: aws.String("app"), Image: aws.String("web:1"), Memory: aws.Int32(2)}}})
			return err
		}, "InvalidParameterException", "containerDefinitions[0].memory"},
		{"RunTask memberOf", func() error {
			_, err := e.client.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("c"), TaskDefinition: def.TaskDefinitionArn, PlacementConstraints: badMemberOf})
			return err
		}, "InvalidParameterException", "placementConstraints[0].expression"},
		{"CreateService memberOf", func() error {
			_, err := e.client.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String("c"), ServiceName: aws.String("bad"), TaskDefinition: def.TaskDefinitionArn, DesiredCount: aws.Int32(1), PlacementConstraints: badMemberOf})
			return err
		}, "InvalidParameterException", "placementConstraints[0].expression"},
		{"CreateService desiredCount", func() error {
			_, err := e.client.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String("c"), ServiceName: aws.String("bad"), TaskDefinition: def.TaskDefinitionArn, DesiredCount: aws.Int32(-1)})
			return err
		}, "InvalidParameterException", "desiredCount"},
		{"RunTask in a cluster that does not exist", func() error {
			_, err := e.client.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("nope"), TaskDefinition: def.TaskDefinitionArn})
			return err
		}, "ClusterNotFoundException", ""},
		{"UpdateService of a service that does not exist", func() error {
			_, err := e.client.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("c"), Service: aws.String("nope"), DesiredCount: aws.Int32(1)})
			return err
		}, "ServiceNotFoundException", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			require.Error(t, err)
			assert.Equal(t, tt.wantType, apiError(err), "%v", err)
			var ae smithy.APIError
			require.ErrorAs(t, err, &ae)
			assert.Contains(t, ae.ErrorMessage(), tt.wantIn)
		})
	}
	services, err := e.client.ListServices(ctx, &ecs.ListServicesInput{Cluster: aws.String("c")})
	require.NoError(t, err)
	assert.Empty(t, services.ServiceArns, "an invalid service is not created")
}
