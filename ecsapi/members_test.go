package ecsapi_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/ecsapi"
)

// An ECS member Stevedore cannot honour is refused with an
// InvalidParameterException naming it, and the request changes nothing;
// one that asks for what Stevedore does anyway (launchType EC2, subnets on
// one host, the defaults) is accepted.
func TestMembersStevedoreCannotHonourAreRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	def := e.register(t, "web:1")
	runTask := func(mod func(*ecs.RunTaskInput)) func() error {
		return func() error {
			in := &ecs.RunTaskInput{Cluster: aws.String("c"), TaskDefinition: def.TaskDefinitionArn, StartedBy: aws.String("refused")}
			mod(in)
			_, err := e.client.RunTask(ctx, in)
			return err
		}
	}
	createService := func(mod func(*ecs.CreateServiceInput)) func() error {
		return func() error {
			in := &ecs.CreateServiceInput{Cluster: aws.String("c"), ServiceName: aws.String("refused"), TaskDefinition: def.TaskDefinitionArn, DesiredCount: aws.Int32(1)}
			mod(in)
			_, err := e.client.CreateService(ctx, in)
			return err
		}
	}
	updateService := func(mod func(*ecs.UpdateServiceInput)) func() error {
		return func() error {
			in := &ecs.UpdateServiceInput{Cluster: aws.String("c"), Service: aws.String("kept"), DesiredCount: aws.Int32(2)}
			mod(in)
			_, err := e.client.UpdateService(ctx, in)
			return err
		}
	}
	_, err := e.client.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String("c"), ServiceName: aws.String("kept"), TaskDefinition: def.TaskDefinitionArn, DesiredCount: aws.Int32(0)})
	require.NoError(t, err)
	vpc := func(c types.AwsVpcConfiguration) *types.NetworkConfiguration {
		return &types.NetworkConfiguration{AwsvpcConfiguration: &c}
	}

	tests := []struct {
		name   string
		call   func() error
		member string
	}{
		{"RunTask FARGATE", runTask(func(in *ecs.RunTaskInput) { in.LaunchType = types.LaunchTypeFargate }), "launchType"},
		{"RunTask EXTERNAL", runTask(func(in *ecs.RunTaskInput) { in.LaunchType = types.LaunchTypeExternal }), "launchType"},
		{"RunTask launchType and strategy", runTask(func(in *ecs.RunTaskInput) {
			in.LaunchType = types.LaunchTypeEc2
			in.CapacityProviderStrategy = []types.CapacityProviderStrategyItem{{CapacityProvider: aws.String("cp"), Weight: 1}}
		}), "launchType"},
		{"RunTask ECS Exec", runTask(func(in *ecs.RunTaskInput) { in.EnableExecuteCommand = true }), "enableExecuteCommand"},
		{"RunTask platform version", runTask(func(in *ecs.RunTaskInput) { in.PlatformVersion = aws.String("1.4.0") }), "platformVersion"},
		{"RunTask public IP", runTask(func(in *ecs.RunTaskInput) {
			in.NetworkConfiguration = vpc(types.AwsVpcConfiguration{Subnets: []string{"subnet-1"}, AssignPublicIp: types.AssignPublicIpEnabled})
		}), "assignPublicIp"},
		{"RunTask environment files", runTask(func(in *ecs.RunTaskInput) {
			in.Overrides = &types.TaskOverride{ContainerOverrides: []types.ContainerOverride{
				{Name: aws.String("app"), Command: []string{"true"}},
				{Name: aws.String("app"), EnvironmentFiles: []types.EnvironmentFile{{Type: types.EnvironmentFileTypeS3, Value: aws.String("arn:aws:s3:::b/f.env")}}},
			}}
		}), "overrides.containerOverrides[1].environmentFiles"},
		{"CreateService lifecycle hooks", createService(func(in *ecs.CreateServiceInput) {
			in.DeploymentConfiguration = &types.DeploymentConfiguration{LifecycleHooks: []types.DeploymentLifecycleHook{{
				HookTargetArn: aws.String("arn:aws:lambda:us-east-1:1:function:f"), RoleArn: aws.String("arn:aws:iam::1:role/r"),
				LifecycleStages: []types.DeploymentLifecycleHookStage{types.DeploymentLifecycleHookStagePreScaleUp},
			}}}
		}), "deploymentConfiguration.lifecycleHooks"},
		{"CreateService FARGATE", createService(func(in *ecs.CreateServiceInput) { in.LaunchType = types.LaunchTypeFargate }), "launchType"},
		{"CreateService Cloud Map", createService(func(in *ecs.CreateServiceInput) {
			in.ServiceRegistries = []types.ServiceRegistry{{RegistryArn: aws.String("arn:aws:servicediscovery:us-east-1:1:service/srv-1")}}
		}), "serviceRegistries"},
		{"CreateService ECS Exec", createService(func(in *ecs.CreateServiceInput) { in.EnableExecuteCommand = true }), "enableExecuteCommand"},
		{"CreateService CODE_DEPLOY", createService(func(in *ecs.CreateServiceInput) {
			in.DeploymentController = &types.DeploymentController{Type: types.DeploymentControllerTypeCodeDeploy}
		}), "deploymentController"},
		{"UpdateService load balancers", updateService(func(in *ecs.UpdateServiceInput) {
			in.LoadBalancers = []types.LoadBalancer{{TargetGroupArn: aws.String("tg"), ContainerName: aws.String("app"), ContainerPort: aws.Int32(8080)}}
		}), "loadBalancers"},
		{"UpdateService capacity providers", updateService(func(in *ecs.UpdateServiceInput) {
			in.CapacityProviderStrategy = []types.CapacityProviderStrategyItem{{CapacityProvider: aws.String("cp"), Weight: 1}}
		}), "capacityProviderStrategy"},
		{"UpdateService ECS Exec", updateService(func(in *ecs.UpdateServiceInput) { in.EnableExecuteCommand = aws.Bool(true) }), "enableExecuteCommand"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			require.Error(t, err)
			assert.Equal(t, "InvalidParameterException", apiError(err), "%v", err)
			var ae smithy.APIError
			require.ErrorAs(t, err, &ae)
			assert.Contains(t, ae.ErrorMessage(), tt.member)
		})
	}

	tasks, err := e.client.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("c"), StartedBy: aws.String("refused")})
	require.NoError(t, err)
	assert.Empty(t, tasks.TaskArns, "no refused RunTask started a task")
	services, err := e.client.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("c"), Services: []string{"refused", "kept"}})
	require.NoError(t, err)
	require.Len(t, services.Services, 1, "no refused CreateService created a service")
	assert.Equal(t, int32(0), services.Services[0].DesiredCount, "no refused UpdateService changed the service")

	// What Stevedore does anyway is accepted.
	run, err := e.client.RunTask(ctx, &ecs.RunTaskInput{
		Cluster: aws.String("c"), TaskDefinition: def.TaskDefinitionArn, LaunchType: types.LaunchTypeEc2, StartedBy: aws.String("accepted"),
		NetworkConfiguration: vpc(types.AwsVpcConfiguration{Subnets: []string{"subnet-1"}, AssignPublicIp: types.AssignPublicIpDisabled}),
		PropagateTags:        types.PropagateTagsNone,
	})
	require.NoError(t, err)
	require.Len(t, run.Tasks, 1)
	assert.Equal(t, "EC2", string(run.Tasks[0].LaunchType))
	listed, err := e.client.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("c"), LaunchType: types.LaunchTypeFargate})
	require.NoError(t, err)
	assert.Empty(t, listed.TaskArns, "no task is a Fargate one")
	listed, err = e.client.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("c"), LaunchType: types.LaunchTypeEc2})
	require.NoError(t, err)
	assert.Len(t, listed.TaskArns, 1)
}

// A member that is not ECS's is refused as ECS's protocol refuses a
// request it cannot read: a SerializationException naming it.
func TestUnknownMembersAreRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	before := e.clusters(t)
	post := func(action, body string) (int, string) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.srv.URL, bytes.NewReader([]byte(body)))
		require.NoError(t, err)
		req.Header.Set("Content-Type", ecsapi.ContentType)
		req.Header.Set("X-Amz-Target", ecsapi.TargetPrefix+action)
		sum := sha256.Sum256([]byte(body))
		creds := aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey}
		require.NoError(t, v4.NewSigner().SignHTTP(t.Context(), creds, req, hex.EncodeToString(sum[:]), "ecs", "us-east-1", time.Now()))
		resp, err := e.srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	status, body := post("CreateCluster", `{"clusterName":"typo","tagz":[]}`)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body, `"__type":"SerializationException"`)
	assert.Contains(t, body, `tagz`)
	status, body = post("RunTask", `{"cluster":"c","taskDefinition":"web:1","overrides":{"containerOverrides":[{"name":"app","commnd":["x"]}]}}`)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body, `commnd`, "members are checked at any depth")
	status, body = post("RegisterTaskDefinition", `{"family":"typo","containerDefinitions":[{"name":"app","image":"web:1","memory":64,"essentail":false}]}`)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body, `"__type":"SerializationException"`)
	assert.Contains(t, body, `containerDefinitions[0].essentail`)
	status, body = post("RegisterTaskDefinition", `{"family":"kept","containerDefinitions":[{"name":"app","image":"web:1","memory":64}],"ephemeralStorage":{"sizeInGiB":30}}`)
	assert.Equal(t, http.StatusOK, status, "an ECS member Stevedore keeps without acting on it is accepted, as documented: %s", body)
	status, body = post("CreateCluster", `{"clusterName":"insights","settings":[{"name":"containerInsights","value":"enhanced"}]}`)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body, `"__type":"InvalidParameterException"`)
	assert.Contains(t, body, `settings`)
	status, body = post("CreateCluster", `{"clusterName":"fine","settings":[{"name": "containerInsights", "value": "disabled"}]}`)
	assert.Equal(t, http.StatusOK, status, "an empty member asks for nothing: %s", body)
	assert.Equal(t, append(before, e.o.ClusterARN("fine")), e.clusters(t), "only the accepted request created a cluster")
}

// A request that leaves out a member ECS requires is refused naming it,
// whichever action it is.
func TestRequiredMembers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	tests := []struct {
		name, member string
		call         func() error
	}{
		{"DeleteCluster", "cluster", func() error {
			_, err := e.client.DeleteCluster(ctx, &ecs.DeleteClusterInput{Cluster: aws.String("")})
			return err
		}},
		{"DeregisterTaskDefinition", "taskDefinition", func() error {
			_, err := e.client.DeregisterTaskDefinition(ctx, &ecs.DeregisterTaskDefinitionInput{TaskDefinition: aws.String("")})
			return err
		}},
		{"StopTask", "task", func() error { _, err := e.client.StopTask(ctx, &ecs.StopTaskInput{Task: aws.String("")}); return err }},
		{"DeleteCapacityProvider", "capacityProvider", func() error {
			_, err := e.client.DeleteCapacityProvider(ctx, &ecs.DeleteCapacityProviderInput{CapacityProvider: aws.String("")})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			assert.Equal(t, "InvalidParameterException", apiError(err), "%v", err)
			assert.ErrorContains(t, err, tt.member+" is required")
		})
	}
}
