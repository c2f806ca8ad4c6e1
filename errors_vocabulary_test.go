package stevedore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/autoscaling"
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/network"
	netfake "github.com/stevedore-io/stevedore/network/fake"
	"github.com/stevedore-io/stevedore/placement"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/task"
)

// vocabularyEnv is an Orchestrator with cluster "errs" of one fake
// instance, task definition "web:1" and service "web" (desired 0).
func vocabularyEnv(t *testing.T) *stevedore.Orchestrator {
	t.Helper()
	ctx := t.Context()
	o, err := stevedore.New(stevedore.WithSeed(1))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, o.Close()) })
	rt := fake.New()
	t.Cleanup(rt.Close)
	_, err = o.CreateCluster(ctx, &stevedore.CreateClusterInput{ClusterName: "errs"})
	require.NoError(t, err)
	_, err = o.RegisterContainerInstance(ctx, &stevedore.RegisterContainerInstanceInput{Cluster: "errs", InstanceID: "i-1", Resources: cluster.Resources{CPU: 1024, Memory: 2048, NetworkSlots: 4}, Runtime: rt, Network: netfake.New()})
	require.NoError(t, err)
	_, err = o.RegisterTaskDefinition(ctx, &stevedore.RegisterTaskDefinitionInput{TaskDefinition: *vocabularyDef(128)})
	require.NoError(t, err)
	_, err = o.CreateService(ctx, &stevedore.CreateServiceInput{Cluster: "errs", ServiceName: "web", TaskDefinition: "web:1"})
	require.NoError(t, err)
	return o
}

func vocabularyDef(memory int) *task.TaskDefinition {
	return &task.TaskDefinition{Family: "web", ContainerDefinitions: []task.ContainerDefinition{{Name: "app", Image: "web:1", Memory: memory}}}
}

// badMemberOf is a memberOf constraint whose expression does not parse.
var badMemberOf = []placement.Constraint{{Type: placement.ConstraintMemberOf, Expression: "attribute:ecs.os-type =="}}

// Every invalid input, through every entry point, matches ErrInvalid and
// names its field, whichever package found it: the same bad memberOf is
// the same error through RunTask, CreateService and UpdateService.
func TestInvalidInputIsErrInvalidNamingTheField(t *testing.T) {
	t.Parallel()
	o := vocabularyEnv(t)
	tests := []struct {
		name string
		call func(ctx context.Context) error
		path string
	}{
		{"RegisterTaskDefinition memory", func(ctx context.Context) error {
			_, err := o.RegisterTaskDefinition(ctx, &stevedore.RegisterTaskDefinitionInput{TaskDefinition: *vocabularyDef(2)})
			return err
		}, "containerDefinitions[0].memory"},
		{"RunTask memberOf", func(ctx context.Context) error {
			_, err := o.RunTask(ctx, &stevedore.RunTaskInput{Cluster: "errs", TaskDefinition: "web:1", PlacementConstraints: badMemberOf})
			return err
		}, "placementConstraints[0].expression"},
		{"RunTask placementStrategy", func(ctx context.Context) error {
			_, err := o.RunTask(ctx, &stevedore.RunTaskInput{Cluster: "errs", TaskDefinition: "web:1", PlacementStrategy: []placement.StrategySpec{placement.Binpack("gpu")}})
			return err
		}, "placementStrategy[0].field"},
		{"RunTask capacity provider", func(ctx context.Context) error {
			_, err := o.RunTask(ctx, &stevedore.RunTaskInput{Cluster: "errs", TaskDefinition: "web:1", CapacityProviderStrategy: cluster.CapacityProviderStrategy{{CapacityProvider: "spot", Weight: 1}}})
			return err
		}, "capacityProviderStrategy[0].capacityProvider"},
		{"RunTask overrides", func(ctx context.Context) error {
			_, err := o.RunTask(ctx, &stevedore.RunTaskInput{Cluster: "errs", TaskDefinition: "web:1", Overrides: &task.TaskOverride{Memory: "1"}})
			return err
		}, "overrides.memory"},
		{"RunTask task definition reference", func(ctx context.Context) error {
			_, err := o.RunTask(ctx, &stevedore.RunTaskInput{Cluster: "errs", TaskDefinition: "web:latest"})
			return err
		}, "taskDefinition"},
		{"StartTask overrides", func(ctx context.Context) error {
			_, err := o.StartTask(ctx, &stevedore.StartTaskInput{Cluster: "errs", TaskDefinition: "web:1", ContainerInstances: []string{"i-1"}, Overrides: &task.TaskOverride{Memory: "1"}})
			return err
		}, "overrides.memory"},
		{"StartTask network configuration of a bridge task", func(ctx context.Context) error {
			_, err := o.StartTask(ctx, &stevedore.StartTaskInput{Cluster: "errs", TaskDefinition: "web:1", ContainerInstances: []string{"i-1"}, NetworkConfiguration: &task.NetworkConfiguration{AwsvpcConfiguration: &task.AwsvpcConfiguration{SecurityGroups: []string{"sg-0000000000000000f"}}}})
			return err
		}, "networkConfiguration.awsvpcConfiguration"},
		{"CreateService memberOf", func(ctx context.Context) error {
			_, err := o.CreateService(ctx, &stevedore.CreateServiceInput{Cluster: "errs", ServiceName: "bad", TaskDefinition: "web:1", PlacementConstraints: badMemberOf})
			return err
		}, "placementConstraints[0].expression"},
		{"CreateService desiredCount", func(ctx context.Context) error {
			_, err := o.CreateService(ctx, &stevedore.CreateServiceInput{Cluster: "errs", ServiceName: "bad", TaskDefinition: "web:1", DesiredCount: -1})
			return err
		}, "desiredCount"},
		{"CreateService placementStrategy", func(ctx context.Context) error {
			_, err := o.CreateService(ctx, &stevedore.CreateServiceInput{Cluster: "errs", ServiceName: "bad", TaskDefinition: "web:1", PlacementStrategy: []placement.StrategySpec{placement.Binpack("gpu")}})
			return err
		}, "placementStrategy[0].field"},
		{"CreateService capacity provider", func(ctx context.Context) error {
			_, err := o.CreateService(ctx, &stevedore.CreateServiceInput{Cluster: "errs", ServiceName: "bad", TaskDefinition: "web:1", CapacityProviderStrategy: cluster.CapacityProviderStrategy{{CapacityProvider: "spot", Weight: 1}}})
			return err
		}, "capacityProviderStrategy[0].capacityProvider"},
		{"CreateService deploymentConfiguration", func(ctx context.Context) error {
			_, err := o.CreateService(ctx, &stevedore.CreateServiceInput{Cluster: "errs", ServiceName: "bad", TaskDefinition: "web:1", DeploymentConfiguration: service.DeploymentConfiguration{MaximumPercent: ptr(50)}})
			return err
		}, "deploymentConfiguration.maximumPercent"},
		{"UpdateService desiredCount", func(ctx context.Context) error {
			_, err := o.UpdateService(ctx, &stevedore.UpdateServiceInput{Cluster: "errs", Service: "web", DesiredCount: ptr(-1)})
			return err
		}, "desiredCount"},
		{"UpdateService memberOf", func(ctx context.Context) error {
			_, err := o.UpdateService(ctx, &stevedore.UpdateServiceInput{Cluster: "errs", Service: "web", PlacementConstraints: &badMemberOf})
			return err
		}, "placementConstraints[0].expression"},
		{"RegisterScalableTarget", func(ctx context.Context) error {
			_, err := o.RegisterScalableTarget(ctx, &stevedore.RegisterScalableTargetInput{Cluster: "errs", Service: "web", MinCapacity: 3, MaxCapacity: 2})
			return err
		}, "maxCapacity"},
		{"PutScalingPolicy", func(ctx context.Context) error {
			_, err := o.PutScalingPolicy(ctx, &stevedore.PutScalingPolicyInput{Cluster: "errs", Service: "web", Policy: autoscaling.TargetTrackingPolicy{Metric: autoscaling.ECSServiceAverageCPUUtilization, TargetValue: 50}})
			return err
		}, "policyName"},
		{"CreateSecurityGroup", func(ctx context.Context) error {
			_, err := o.CreateSecurityGroup(ctx, &stevedore.CreateSecurityGroupInput{GroupName: ""})
			return err
		}, "groupName"},
		{"CreateSecurityGroup rule", func(ctx context.Context) error {
			_, err := o.CreateSecurityGroup(ctx, &stevedore.CreateSecurityGroupInput{GroupName: "g", IngressRules: []network.IngressRule{{Protocol: "tcp", FromPort: 80, ToPort: 80}}})
			return err
		}, "ingressRules[0].sources"},
		{"RegisterContainerInstance", func(ctx context.Context) error {
			_, err := o.RegisterContainerInstance(ctx, &stevedore.RegisterContainerInstanceInput{Cluster: "errs", InstanceID: "../i-2", Runtime: fake.New(), Network: netfake.New()})
			return err
		}, "id"},
		{"CreateCluster", func(ctx context.Context) error {
			_, err := o.CreateCluster(ctx, &stevedore.CreateClusterInput{ClusterName: "a b"})
			return err
		}, "clusterName"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(t.Context())
			require.ErrorIs(t, err, stevedore.ErrInvalid)
			var paths []string
			for _, fe := range stevedore.FieldErrors(err) {
				paths = append(paths, fe.Path)
				assert.NotEmpty(t, fe.Reason, "the rule of %s", fe.Path)
			}
			assert.Contains(t, paths, tt.path, "%v", err)
			for _, other := range []error{stevedore.ErrNotFound, stevedore.ErrAlreadyExists, stevedore.ErrInUse, stevedore.ErrClosed, stevedore.ErrConflict} {
				assert.NotErrorIs(t, err, other)
			}
		})
	}
	services, err := o.ListServices(t.Context(), &stevedore.ListServicesInput{Cluster: "errs"})
	require.NoError(t, err)
	assert.Len(t, services.ServiceArns, 1, "no invalid service was created")
}

// The other kinds, through a few entry points each.
func TestErrorKindsThroughTheAPI(t *testing.T) {
	t.Parallel()
	o := vocabularyEnv(t)
	_, err := o.CreateSecurityGroup(t.Context(), &stevedore.CreateSecurityGroupInput{GroupName: "used"})
	require.NoError(t, err)
	tests := []struct {
		name string
		call func(ctx context.Context) error
		kind error
	}{
		{"RunTask in no cluster", func(ctx context.Context) error {
			_, err := o.RunTask(ctx, &stevedore.RunTaskInput{Cluster: "nope", TaskDefinition: "web:1"})
			return err
		}, stevedore.ErrNotFound},
		{"RunTask of no task definition", func(ctx context.Context) error {
			_, err := o.RunTask(ctx, &stevedore.RunTaskInput{Cluster: "errs", TaskDefinition: "nope:1"})
			return err
		}, stevedore.ErrNotFound},
		{"UpdateService of no service", func(ctx context.Context) error {
			_, err := o.UpdateService(ctx, &stevedore.UpdateServiceInput{Cluster: "errs", Service: "nope", DesiredCount: ptr(1)})
			return err
		}, stevedore.ErrNotFound},
		{"DeleteSecurityGroup of no group", func(ctx context.Context) error {
			_, err := o.DeleteSecurityGroup(ctx, &stevedore.DeleteSecurityGroupInput{GroupID: "nope"})
			return err
		}, stevedore.ErrNotFound},
		{"CreateService twice", func(ctx context.Context) error {
			_, err := o.CreateService(ctx, &stevedore.CreateServiceInput{Cluster: "errs", ServiceName: "web", TaskDefinition: "web:1"})
			return err
		}, stevedore.ErrAlreadyExists},
		{"CreateSecurityGroup twice", func(ctx context.Context) error {
			_, err := o.CreateSecurityGroup(ctx, &stevedore.CreateSecurityGroupInput{GroupName: "used"})
			return err
		}, stevedore.ErrAlreadyExists},
		{"DeleteCluster with a service", func(ctx context.Context) error {
			_, err := o.DeleteCluster(ctx, &stevedore.DeleteClusterInput{Cluster: "errs"})
			return err
		}, stevedore.ErrInUse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(t.Context())
			require.ErrorIs(t, err, tt.kind)
			for _, other := range []error{stevedore.ErrNotFound, stevedore.ErrAlreadyExists, stevedore.ErrInvalid, stevedore.ErrInUse, stevedore.ErrClosed} {
				if other != tt.kind {
					assert.NotErrorIs(t, err, other)
				}
			}
		})
	}

	var nf *stevedore.NotFoundError
	_, err = o.RunTask(t.Context(), &stevedore.RunTaskInput{Cluster: "nope", TaskDefinition: "web:1"})
	require.ErrorAs(t, err, &nf, "a NotFoundError names what is missing")
	assert.Equal(t, "cluster", nf.Kind)
}

// After Close every call fails with ErrClosed, and nothing else.
func TestClosedIsErrClosed(t *testing.T) {
	t.Parallel()
	o, err := stevedore.New(stevedore.WithSeed(1))
	require.NoError(t, err)
	require.NoError(t, o.Close())
	calls := map[string]func(ctx context.Context) error{
		"CreateCluster": func(ctx context.Context) error {
			_, err := o.CreateCluster(ctx, &stevedore.CreateClusterInput{ClusterName: "late"})
			return err
		},
		"RunTask": func(ctx context.Context) error {
			_, err := o.RunTask(ctx, &stevedore.RunTaskInput{Cluster: "late", TaskDefinition: "web:1"})
			return err
		},
		"RegisterTaskDefinition": func(ctx context.Context) error {
			_, err := o.RegisterTaskDefinition(ctx, &stevedore.RegisterTaskDefinitionInput{TaskDefinition: *vocabularyDef(128)})
			return err
		},
	}
	for name, call := range calls {
		err := call(t.Context())
		require.ErrorIs(t, err, stevedore.ErrClosed, name)
		assert.NotErrorIs(t, err, stevedore.ErrNotFound, name)
		assert.NotErrorIs(t, err, stevedore.ErrInvalid, name)
	}
}

// The kinds are errdefs' and match each other's sentinels: task's,
// service's and placement's ErrInvalid are the API's.
func TestPackageSentinelsAreTheAPIKinds(t *testing.T) {
	t.Parallel()
	for _, invalid := range []error{task.ErrInvalid, service.ErrInvalid, placement.ErrInvalid, cluster.ErrInvalid, autoscaling.ErrInvalid, network.ErrInvalid} {
		assert.Equal(t, stevedore.ErrInvalid, invalid)
	}
	assert.True(t, errors.Is(task.ErrNotFound, stevedore.ErrNotFound))
}
