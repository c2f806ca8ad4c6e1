package ecsapi_test

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/ecsapi"
	netfake "github.com/stevedore-io/stevedore/network/fake"
	"github.com/stevedore-io/stevedore/runtime/fake"
)

const (
	accessKey = "AKIDSTEVEDORETEST"
	secretKey = "c2VjcmV0IGtleSBvZiB0aGUgdGVzdHM"
	// waitFor bounds every wait on real time (the fake runtime starts
	// containers at once; the services converge in well under a second).
	waitFor = 30 * time.Second
)

// env is an Orchestrator with cluster "c" of two fake instances, served
// by an ecsapi.Handler on loopback, and an SDK client of it.
type env struct {
	o      *stevedore.Orchestrator
	srv    *httptest.Server
	client *ecs.Client
}

func newEnv(t *testing.T, opts ...ecsapi.Option) *env {
	t.Helper()
	o, err := stevedore.New(stevedore.WithSeed(1))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, o.Close()) })
	ctx := t.Context()
	_, err = o.CreateCluster(ctx, &stevedore.CreateClusterInput{ClusterName: "c"})
	require.NoError(t, err)
	for _, id := range []string{"i-1", "i-2"} {
		rt := fake.New()
		t.Cleanup(rt.Close)
		_, err := o.RegisterContainerInstance(ctx, &stevedore.RegisterContainerInstanceInput{
			Cluster: "c", InstanceID: id, Resources: cluster.Resources{CPU: 2048, Memory: 4096, NetworkSlots: 8},
			Attributes: map[string]string{cluster.AttributeAvailabilityZone: "zone-" + id},
			Runtime:    rt, Network: netfake.New(),
		})
		require.NoError(t, err)
	}
	h, err := ecsapi.New(o, append([]ecsapi.Option{ecsapi.WithCredentials(ecsapi.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey})}, opts...)...)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{o: o, srv: srv, client: newClient(srv, accessKey, secretKey)}
}

func newClient(srv *httptest.Server, key, secret string) *ecs.Client {
	return ecs.New(ecs.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider(key, secret, ""),
		HTTPClient:       srv.Client(),
		RetryMaxAttempts: 1,
	})
}

// apiError is err's ECS error type ("" when it has none).
func apiError(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func (e *env) register(t *testing.T, image string) *types.TaskDefinition {
	t.Helper()
	out, err := e.client.RegisterTaskDefinition(t.Context(), &ecs.RegisterTaskDefinitionInput{
		Family:      aws.String("web"),
		NetworkMode: types.NetworkModeAwsvpc,
		ContainerDefinitions: []types.ContainerDefinition{{
			Name: aws.String("app"), Image: aws.String(image), Memory: aws.Int32(128), Cpu: 64,
			Command: []string{"sleep", "infinity"},
			// With an init process, SIGTERM stops sleep at once (the
			// tests wait on real time).
			LinuxParameters: &types.LinuxParameters{InitProcessEnabled: aws.Bool(true)},
			PortMappings:    []types.PortMapping{{ContainerPort: aws.Int32(8080)}},
		}},
	})
	require.NoError(t, err)
	return out.TaskDefinition
}

func TestClusters(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()

	created, err := e.client.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("blue")})
	require.NoError(t, err)
	assert.Equal(t, "blue", aws.ToString(created.Cluster.ClusterName))
	assert.Equal(t, "ACTIVE", aws.ToString(created.Cluster.Status))
	assert.Equal(t, e.o.ClusterARN("blue"), aws.ToString(created.Cluster.ClusterArn))

	described, err := e.client.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{"c", "nope"}})
	require.NoError(t, err)
	require.Len(t, described.Clusters, 1)
	assert.Equal(t, int32(2), described.Clusters[0].RegisteredContainerInstancesCount)
	require.Len(t, described.Failures, 1)
	assert.Equal(t, "MISSING", aws.ToString(described.Failures[0].Reason))
	assert.Equal(t, e.o.ClusterARN("nope"), aws.ToString(described.Failures[0].Arn))

	var arns []string
	pages := ecs.NewListClustersPaginator(e.client, &ecs.ListClustersInput{MaxResults: aws.Int32(1)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		require.NoError(t, err)
		arns = append(arns, page.ClusterArns...)
	}
	assert.Equal(t, []string{e.o.ClusterARN("blue"), e.o.ClusterARN("c")}, arns)

	deleted, err := e.client.DeleteCluster(ctx, &ecs.DeleteClusterInput{Cluster: aws.String(e.o.ClusterARN("blue"))})
	require.NoError(t, err)
	assert.Equal(t, "INACTIVE", aws.ToString(deleted.Cluster.Status))

	_, err = e.client.DeleteCluster(ctx, &ecs.DeleteClusterInput{Cluster: aws.String("c")})
	var busy *types.ClusterContainsContainerInstancesException
	assert.ErrorAs(t, err, &busy)
	_, err = e.client.DeleteCluster(ctx, &ecs.DeleteClusterInput{Cluster: aws.String("nope")})
	var nf *types.ClusterNotFoundException
	assert.ErrorAs(t, err, &nf)
}

func TestTaskDefinitions(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	before := time.Now().Add(-time.Second)

	td := e.register(t, "web:1")
	assert.Equal(t, "web", aws.ToString(td.Family))
	assert.Equal(t, int32(1), td.Revision)
	assert.Equal(t, types.TaskDefinitionStatusActive, td.Status)
	assert.Equal(t, e.o.TaskDefinitionARN("web:1"), aws.ToString(td.TaskDefinitionArn))
	require.NotNil(t, td.RegisteredAt)
	assert.WithinRange(t, *td.RegisteredAt, before, time.Now().Add(time.Second))
	e.register(t, "web:2")

	described, err := e.client.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("web")})
	require.NoError(t, err)
	assert.Equal(t, int32(2), described.TaskDefinition.Revision)
	require.Len(t, described.TaskDefinition.ContainerDefinitions, 1)
	assert.Equal(t, "web:2", aws.ToString(described.TaskDefinition.ContainerDefinitions[0].Image))
	assert.Equal(t, types.NetworkModeAwsvpc, described.TaskDefinition.NetworkMode)

	deregistered, err := e.client.DeregisterTaskDefinition(ctx, &ecs.DeregisterTaskDefinitionInput{TaskDefinition: aws.String("web:1")})
	require.NoError(t, err)
	assert.Equal(t, types.TaskDefinitionStatusInactive, deregistered.TaskDefinition.Status)
	assert.NotNil(t, deregistered.TaskDefinition.DeregisteredAt)

	active, err := e.client.ListTaskDefinitions(ctx, &ecs.ListTaskDefinitionsInput{FamilyPrefix: aws.String("web")})
	require.NoError(t, err)
	assert.Equal(t, []string{e.o.TaskDefinitionARN("web:2")}, active.TaskDefinitionArns)
	inactive, err := e.client.ListTaskDefinitions(ctx, &ecs.ListTaskDefinitionsInput{Status: types.TaskDefinitionStatusInactive})
	require.NoError(t, err)
	assert.Equal(t, []string{e.o.TaskDefinitionARN("web:1")}, inactive.TaskDefinitionArns)

	var desc []string
	pages := ecs.NewListTaskDefinitionsPaginator(e.client, &ecs.ListTaskDefinitionsInput{
		Sort: types.SortOrderDesc, Status: types.TaskDefinitionStatusInactive, MaxResults: aws.Int32(1),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		require.NoError(t, err)
		desc = append(desc, page.TaskDefinitionArns...)
	}
	assert.Equal(t, []string{e.o.TaskDefinitionARN("web:1")}, desc)
	families, err := e.client.ListTaskDefinitionFamilies(ctx, &ecs.ListTaskDefinitionFamiliesInput{FamilyPrefix: aws.String("w")})
	require.NoError(t, err)
	assert.Equal(t, []string{"web"}, families.Families)

	_, err = e.client.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("nope:3")})
	var ce *types.ClientException
	assert.ErrorAs(t, err, &ce)
	twice := types.ContainerDefinition{Name: aws.String("app"), Image: aws.String("web:1"), Memory: aws.Int32(64)}
	_, err = e.client.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("bad"), ContainerDefinitions: []types.ContainerDefinition{twice, twice},
	})
	var ip *types.InvalidParameterException
	assert.ErrorAs(t, err, &ip, "container names are unique")
}

func TestServicesAndTheStableWaiter(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.register(t, "web:1")

	created, err := e.client.CreateService(ctx, &ecs.CreateServiceInput{
		Cluster: aws.String("c"), ServiceName: aws.String("web"), TaskDefinition: aws.String("web"), DesiredCount: aws.Int32(2),
		HealthCheckGracePeriodSeconds: aws.Int32(90),
	})
	require.NoError(t, err)
	s := created.Service
	assert.Equal(t, e.o.ServiceARN("c", "web"), aws.ToString(s.ServiceArn))
	assert.Equal(t, e.o.ClusterARN("c"), aws.ToString(s.ClusterArn))
	assert.Equal(t, types.SchedulingStrategyReplica, s.SchedulingStrategy)
	assert.Equal(t, int32(90), aws.ToInt32(s.HealthCheckGracePeriodSeconds))
	require.NotNil(t, s.DeploymentConfiguration)
	assert.Equal(t, int32(100), aws.ToInt32(s.DeploymentConfiguration.MinimumHealthyPercent))
	assert.Equal(t, int32(200), aws.ToInt32(s.DeploymentConfiguration.MaximumPercent))
	require.Len(t, s.Deployments, 1)
	assert.Equal(t, types.DeploymentRolloutStateInProgress, s.Deployments[0].RolloutState)

	stable := ecs.NewServicesStableWaiter(e.client, func(o *ecs.ServicesStableWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 200*time.Millisecond
	})
	in := &ecs.DescribeServicesInput{Cluster: aws.String("c"), Services: []string{"web"}}
	require.NoError(t, stable.Wait(ctx, in, waitFor))

	e.register(t, "web:2")
	updated, err := e.client.UpdateService(ctx, &ecs.UpdateServiceInput{
		Cluster: aws.String("c"), Service: aws.String("web"), TaskDefinition: aws.String("web:2"),
	})
	require.NoError(t, err)
	assert.Equal(t, e.o.TaskDefinitionARN("web:2"), aws.ToString(updated.Service.TaskDefinition))
	require.NoError(t, stable.Wait(ctx, in, waitFor))

	described, err := e.client.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("c"), Services: []string{"web", "gone"}})
	require.NoError(t, err)
	require.Len(t, described.Services, 1)
	got := described.Services[0]
	assert.Equal(t, int32(2), got.RunningCount)
	require.Len(t, got.Deployments, 1)
	assert.Equal(t, int32(2), got.Deployments[0].RunningCount)
	assert.Equal(t, e.o.TaskDefinitionARN("web:2"), aws.ToString(got.Deployments[0].TaskDefinition))
	assert.NotEmpty(t, got.Events)
	require.Len(t, described.Failures, 1)
	assert.Equal(t, "MISSING", aws.ToString(described.Failures[0].Reason))

	listed, err := e.client.ListServices(ctx, &ecs.ListServicesInput{Cluster: aws.String("c")})
	require.NoError(t, err)
	assert.Equal(t, []string{e.o.ServiceARN("c", "web")}, listed.ServiceArns)

	_, err = e.client.DeleteService(ctx, &ecs.DeleteServiceInput{Cluster: aws.String("c"), Service: aws.String("web")})
	assert.Equal(t, "InvalidParameterException", apiError(err), "a service with tasks needs force")
	deleted, err := e.client.DeleteService(ctx, &ecs.DeleteServiceInput{Cluster: aws.String("c"), Service: aws.String("web"), Force: aws.Bool(true)})
	require.NoError(t, err)
	assert.Equal(t, "DRAINING", aws.ToString(deleted.Service.Status))
	_, err = e.client.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("c"), Service: aws.String("web"), DesiredCount: aws.Int32(1)})
	var notActive *types.ServiceNotActiveException
	assert.ErrorAs(t, err, &notActive)

	_, err = e.client.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("c"), Service: aws.String("nope"), DesiredCount: aws.Int32(1)})
	var snf *types.ServiceNotFoundException
	assert.ErrorAs(t, err, &snf)
	_, err = e.client.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String("nope"), ServiceName: aws.String("x"), TaskDefinition: aws.String("web")})
	var cnf *types.ClusterNotFoundException
	assert.ErrorAs(t, err, &cnf)
	_, err = e.client.CreateService(ctx, &ecs.CreateServiceInput{
		Cluster: aws.String("c"), ServiceName: aws.String("d"), TaskDefinition: aws.String("web"),
		SchedulingStrategy: types.SchedulingStrategyDaemon, DesiredCount: aws.Int32(3),
	})
	assert.Equal(t, "InvalidParameterException", apiError(err))
}

func TestTasksAndTheirWaiters(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.register(t, "web:1")

	run, err := e.client.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("c"), TaskDefinition: aws.String("web:1"), Count: aws.Int32(2), StartedBy: aws.String("sdk")})
	require.NoError(t, err)
	require.Len(t, run.Tasks, 2)
	assert.Empty(t, run.Failures)
	arns := []string{aws.ToString(run.Tasks[0].TaskArn), aws.ToString(run.Tasks[1].TaskArn)}
	assert.Equal(t, e.o.ClusterARN("c"), aws.ToString(run.Tasks[0].ClusterArn))
	assert.Equal(t, e.o.TaskDefinitionARN("web:1"), aws.ToString(run.Tasks[0].TaskDefinitionArn))
	assert.Equal(t, "RUNNING", aws.ToString(run.Tasks[0].DesiredStatus))
	require.NotNil(t, run.Tasks[0].CreatedAt)

	running := ecs.NewTasksRunningWaiter(e.client, func(o *ecs.TasksRunningWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 200*time.Millisecond
	})
	require.NoError(t, running.Wait(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("c"), Tasks: arns}, waitFor))

	described, err := e.client.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("c"), Tasks: append(arns, "0123456789abcdef")})
	require.NoError(t, err)
	require.Len(t, described.Tasks, 2)
	for _, tk := range described.Tasks {
		assert.Equal(t, "RUNNING", aws.ToString(tk.LastStatus))
		assert.NotNil(t, tk.StartedAt)
		assert.Contains(t, aws.ToString(tk.ContainerInstanceArn), ":container-instance/c/i-")
		assert.Equal(t, "64", aws.ToString(tk.Cpu))
	}
	require.Len(t, described.Failures, 1)
	assert.Equal(t, "MISSING", aws.ToString(described.Failures[0].Reason))

	listed, err := e.client.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("c"), StartedBy: aws.String("sdk")})
	require.NoError(t, err)
	assert.ElementsMatch(t, arns, listed.TaskArns)

	stopped, err := e.client.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String("c"), Task: aws.String(arns[0]), Reason: aws.String("done")})
	require.NoError(t, err)
	assert.Equal(t, "STOPPED", aws.ToString(stopped.Task.DesiredStatus))
	assert.Equal(t, "done", aws.ToString(stopped.Task.StoppedReason))
	waitStopped := ecs.NewTasksStoppedWaiter(e.client, func(o *ecs.TasksStoppedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 200*time.Millisecond
	})
	require.NoError(t, waitStopped.Wait(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("c"), Tasks: arns[:1]}, waitFor))
	listed, err = e.client.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("c"), DesiredStatus: types.DesiredStatusStopped})
	require.NoError(t, err)
	assert.Equal(t, arns[:1], listed.TaskArns)

	_, err = e.client.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("c"), TaskDefinition: aws.String("nope")})
	var ce *types.ClientException
	assert.ErrorAs(t, err, &ce)
	_, err = e.client.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String("c"), Task: aws.String("0123456789abcdef")})
	var ip *types.InvalidParameterException
	assert.ErrorAs(t, err, &ip)
	_, err = e.client.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("nope"), Tasks: arns})
	var cnf *types.ClusterNotFoundException
	assert.ErrorAs(t, err, &cnf)
}

// clusters is the names of the Orchestrator's clusters.
func (e *env) clusters(t *testing.T) []string {
	t.Helper()
	out, err := e.o.ListClusters(t.Context(), &stevedore.ListClustersInput{})
	require.NoError(t, err)
	return out.ClusterArns
}

func TestRefusedRequestsChangeNothing(t *testing.T) {
	var skew atomic.Int64 // how far ahead of real time the Handler's clock is
	e := newEnv(t, ecsapi.WithClock(func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }), ecsapi.WithMaxBodyBytes(4096))
	ctx := t.Context()
	before := e.clusters(t)
	create := &ecs.CreateClusterInput{ClusterName: aws.String("intruder")}

	_, err := newClient(e.srv, accessKey, "wrong-secret").CreateCluster(ctx, create)
	assert.Equal(t, "InvalidSignatureException", apiError(err))
	_, err = newClient(e.srv, "AKIDUNKNOWN", secretKey).CreateCluster(ctx, create)
	assert.Equal(t, "UnrecognizedClientException", apiError(err))

	// A request signed now, checked by a clock 20 minutes ahead.
	skew.Store(int64(20 * time.Minute))
	_, err = e.client.CreateCluster(ctx, create)
	assert.Equal(t, "InvalidSignatureException", apiError(err))
	skew.Store(int64(-20 * time.Minute))
	_, err = e.client.CreateCluster(ctx, create)
	assert.Equal(t, "InvalidSignatureException", apiError(err), "a request from the future")
	skew.Store(0)

	post := func(target, body string, header http.Header) (*http.Response, string) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.srv.URL, strings.NewReader(body))
		require.NoError(t, err)
		req.Header = header
		req.Header.Set("Content-Type", ecsapi.ContentType)
		req.Header.Set("X-Amz-Target", ecsapi.TargetPrefix+target)
		resp, err := e.srv.Client().Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { _ = resp.Body.Close() })
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp, b.String()
	}
	resp, body := post("CreateCluster", `{"clusterName":"intruder"}`, http.Header{})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Contains(t, body, `"__type":"MissingAuthenticationTokenException"`)

	// A body changed after it was signed: capture a signed request, then
	// replay its headers with another body.
	var captured http.Header
	capture := ecs.New(ecs.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(e.srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		HTTPClient: httpDoer(func(r *http.Request) (*http.Response, error) {
			captured = r.Header.Clone()
			return nil, errors.New("captured")
		}),
	})
	_, _ = capture.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("innocent")})
	require.NotNil(t, captured)
	captured.Del("Content-Length")
	resp, body = post("CreateCluster", `{"clusterName":"intruder"}`, captured)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Contains(t, body, "InvalidSignatureException")

	resp, body = post("CreateCluster", `{"clusterName":"`+strings.Repeat("x", 5000)+`"}`, http.Header{})
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, body)

	assert.Equal(t, before, e.clusters(t), "no refused request created a cluster")
}

func TestUnknownActionIsRefused(t *testing.T) {
	e := newEnv(t)
	// Signed by the SDK, for an action the Handler does not serve.
	_, err := e.client.CreateTaskSet(t.Context(), &ecs.CreateTaskSetInput{
		Cluster: aws.String("c"), Service: aws.String("s"), TaskDefinition: aws.String("web:1"),
	})
	assert.Equal(t, "UnknownOperationException", apiError(err))
	assert.Contains(t, ecsapi.Actions(), "RunTask")
}

type httpDoer func(*http.Request) (*http.Response, error)

func (f httpDoer) Do(r *http.Request) (*http.Response, error) { return f(r) }

func TestContainerInstances(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()

	listed, err := e.client.ListContainerInstances(ctx, &ecs.ListContainerInstancesInput{
		Cluster: aws.String("c"), Filter: aws.String("attribute:ecs.availability-zone == zone-i-2"),
	})
	require.NoError(t, err)
	assert.Equal(t, []string{e.o.ContainerInstanceARN("c", "i-2")}, listed.ContainerInstanceArns)

	described, err := e.client.DescribeContainerInstances(ctx, &ecs.DescribeContainerInstancesInput{
		Cluster: aws.String("c"), ContainerInstances: []string{"i-1", e.o.ContainerInstanceARN("c", "i-9")},
	})
	require.NoError(t, err)
	require.Len(t, described.ContainerInstances, 1)
	ci := described.ContainerInstances[0]
	assert.Equal(t, "i-1", aws.ToString(ci.Ec2InstanceId))
	assert.Equal(t, "ACTIVE", aws.ToString(ci.Status))
	assert.True(t, ci.AgentConnected)
	require.NotNil(t, ci.RegisteredAt)
	registered := map[string]int32{}
	for _, r := range ci.RegisteredResources {
		registered[aws.ToString(r.Name)] = r.IntegerValue
	}
	assert.Equal(t, map[string]int32{"CPU": 2048, "MEMORY": 4096, "PORTS": 0, "PORTS_UDP": 0}, registered)
	require.Len(t, described.Failures, 1)
	assert.Equal(t, "MISSING", aws.ToString(described.Failures[0].Reason))

	_, err = e.client.ListContainerInstances(ctx, &ecs.ListContainerInstancesInput{Cluster: aws.String("c"), Filter: aws.String("attribute:x ==")})
	assert.Equal(t, "InvalidParameterException", apiError(err))

	drained, err := e.client.UpdateContainerInstancesState(ctx, &ecs.UpdateContainerInstancesStateInput{
		Cluster: aws.String("c"), ContainerInstances: []string{"i-1"}, Status: types.ContainerInstanceStatusDraining,
	})
	require.NoError(t, err)
	require.Len(t, drained.ContainerInstances, 1)
	assert.Equal(t, "DRAINING", aws.ToString(drained.ContainerInstances[0].Status))
	draining, err := e.client.ListContainerInstances(ctx, &ecs.ListContainerInstancesInput{Cluster: aws.String("c"), Status: types.ContainerInstanceStatusDraining})
	require.NoError(t, err)
	assert.Equal(t, []string{e.o.ContainerInstanceARN("c", "i-1")}, draining.ContainerInstanceArns)

	gone, err := e.client.DeregisterContainerInstance(ctx, &ecs.DeregisterContainerInstanceInput{
		Cluster: aws.String("c"), ContainerInstance: aws.String(e.o.ContainerInstanceARN("c", "i-1")),
	})
	require.NoError(t, err)
	assert.Equal(t, "INACTIVE", aws.ToString(gone.ContainerInstance.Status))
}

func TestAttributes(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()

	put, err := e.client.PutAttributes(ctx, &ecs.PutAttributesInput{Cluster: aws.String("c"), Attributes: []types.Attribute{
		{Name: aws.String("stack"), Value: aws.String("prod"), TargetId: aws.String("i-1")},
		{Name: aws.String("stack"), Value: aws.String("test"), TargetId: aws.String(e.o.ContainerInstanceARN("c", "i-2"))},
	}})
	require.NoError(t, err)
	require.Len(t, put.Attributes, 2)
	assert.Equal(t, e.o.ContainerInstanceARN("c", "i-1"), aws.ToString(put.Attributes[0].TargetId))

	// The attribute decides placement.
	e.register(t, "web:1")
	run, err := e.client.RunTask(ctx, &ecs.RunTaskInput{
		Cluster: aws.String("c"), TaskDefinition: aws.String("web"), Count: aws.Int32(3),
		PlacementConstraints: []types.PlacementConstraint{{Type: types.PlacementConstraintTypeMemberOf, Expression: aws.String("attribute:stack == prod")}},
	})
	require.NoError(t, err)
	for _, tk := range run.Tasks {
		assert.Equal(t, e.o.ContainerInstanceARN("c", "i-1"), aws.ToString(tk.ContainerInstanceArn))
	}

	listed, err := e.client.ListAttributes(ctx, &ecs.ListAttributesInput{
		Cluster: aws.String("c"), TargetType: types.TargetTypeContainerInstance, AttributeName: aws.String("stack"), AttributeValue: aws.String("test"),
	})
	require.NoError(t, err)
	require.Len(t, listed.Attributes, 1)
	assert.Equal(t, e.o.ContainerInstanceARN("c", "i-2"), aws.ToString(listed.Attributes[0].TargetId))

	_, err = e.client.DeleteAttributes(ctx, &ecs.DeleteAttributesInput{Cluster: aws.String("c"), Attributes: []types.Attribute{
		{Name: aws.String("stack"), TargetId: aws.String("i-2")},
	}})
	require.NoError(t, err)
	listed, err = e.client.ListAttributes(ctx, &ecs.ListAttributesInput{Cluster: aws.String("c"), TargetType: types.TargetTypeContainerInstance, AttributeName: aws.String("stack")})
	require.NoError(t, err)
	require.Len(t, listed.Attributes, 1)

	_, err = e.client.PutAttributes(ctx, &ecs.PutAttributesInput{Cluster: aws.String("c"), Attributes: []types.Attribute{
		{Name: aws.String("bad name!"), Value: aws.String("x"), TargetId: aws.String("i-1")},
	}})
	assert.Equal(t, "InvalidParameterException", apiError(err))
	_, err = e.client.DeleteAttributes(ctx, &ecs.DeleteAttributesInput{Cluster: aws.String("c"), Attributes: []types.Attribute{
		{Name: aws.String("ecs.availability-zone"), TargetId: aws.String("i-1")},
	}})
	assert.Equal(t, "InvalidParameterException", apiError(err))
}

func TestStartTask(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.register(t, "web:1")
	out, err := e.client.StartTask(ctx, &ecs.StartTaskInput{
		Cluster: aws.String("c"), TaskDefinition: aws.String("web"),
		ContainerInstances: []string{e.o.ContainerInstanceARN("c", "i-2"), "i-1"},
	})
	require.NoError(t, err)
	require.Len(t, out.Tasks, 2)
	assert.Equal(t, e.o.ContainerInstanceARN("c", "i-2"), aws.ToString(out.Tasks[0].ContainerInstanceArn))
	assert.Equal(t, e.o.ContainerInstanceARN("c", "i-1"), aws.ToString(out.Tasks[1].ContainerInstanceArn))
}

func TestRequestsSignedForAnotherRegionAreRefused(t *testing.T) {
	e := newEnv(t, ecsapi.WithRegion("eu-west-1"))
	_, err := e.client.ListClusters(t.Context(), &ecs.ListClustersInput{}) // signed for us-east-1
	assert.Equal(t, "InvalidSignatureException", apiError(err))

	c := ecs.New(ecs.Options{
		Region: "eu-west-1", BaseEndpoint: aws.String(e.srv.URL), HTTPClient: e.srv.Client(), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
	})
	out, err := c.ListClusters(t.Context(), &ecs.ListClustersInput{})
	require.NoError(t, err)
	assert.Equal(t, []string{e.o.ClusterARN("c")}, out.ClusterArns)
}

func TestNewRefusesAHandlerWithoutCredentials(t *testing.T) {
	o, err := stevedore.New()
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, o.Close()) })
	_, err = ecsapi.New(o)
	assert.ErrorContains(t, err, "no credentials")
	_, err = ecsapi.New(o, ecsapi.WithCredentials(ecsapi.Credentials{AccessKeyID: "AKID"}))
	assert.ErrorContains(t, err, "SecretAccessKey")
}

func TestTags(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	td := e.register(t, "web:1")
	tag := func(k, v string) types.Tag { return types.Tag{Key: aws.String(k), Value: aws.String(v)} }
	tagsOf := func(arn string) map[string]string {
		t.Helper()
		out, err := e.client.ListTagsForResource(ctx, &ecs.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
		require.NoError(t, err)
		m := map[string]string{}
		for _, tg := range out.Tags {
			m[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
		}
		return m
	}

	_, err := e.client.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("tagged"), Tags: []types.Tag{tag("team", "a")}})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"team": "a"}, tagsOf(e.o.ClusterARN("tagged")))
	svc, err := e.client.CreateService(ctx, &ecs.CreateServiceInput{
		Cluster: aws.String("c"), ServiceName: aws.String("web"), TaskDefinition: aws.String("web"), Tags: []types.Tag{tag("tier", "front")},
	})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"tier": "front"}, tagsOf(aws.ToString(svc.Service.ServiceArn)))
	run, err := e.client.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("c"), TaskDefinition: aws.String("web"), Tags: []types.Tag{tag("job", "once")}})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"job": "once"}, tagsOf(aws.ToString(run.Tasks[0].TaskArn)))

	for _, arn := range []string{
		e.o.ClusterARN("c"), aws.ToString(td.TaskDefinitionArn), aws.ToString(run.Tasks[0].TaskArn),
		e.o.ContainerInstanceARN("c", "i-1"), aws.ToString(svc.Service.ServiceArn),
	} {
		_, err := e.client.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: aws.String(arn), Tags: []types.Tag{tag("env", "dev"), tag("tier", "x")}})
		require.NoError(t, err, arn)
		_, err = e.client.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: aws.String(arn), Tags: []types.Tag{tag("env", "prod")}})
		require.NoError(t, err, arn)
		_, err = e.client.UntagResource(ctx, &ecs.UntagResourceInput{ResourceArn: aws.String(arn), TagKeys: []string{"tier"}})
		require.NoError(t, err, arn)
		got := tagsOf(arn)
		delete(got, "job")
		assert.Equal(t, map[string]string{"env": "prod"}, got, arn)
	}

	clusters, err := e.client.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{"tagged"}, Include: []types.ClusterField{types.ClusterFieldTags}})
	require.NoError(t, err)
	require.Len(t, clusters.Clusters[0].Tags, 1)
	assert.Equal(t, "team", aws.ToString(clusters.Clusters[0].Tags[0].Key))
	services, err := e.client.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("c"), Services: []string{"web"}, Include: []types.ServiceField{types.ServiceFieldTags}})
	require.NoError(t, err)
	require.Len(t, services.Services[0].Tags, 1)
	assert.Equal(t, "env", aws.ToString(services.Services[0].Tags[0].Key))
	described, err := e.client.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("web:1"), Include: []types.TaskDefinitionField{types.TaskDefinitionFieldTags}})
	require.NoError(t, err)
	require.Len(t, described.Tags, 1)

	_, err = e.client.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: aws.String(e.o.ClusterARN("c")), Tags: []types.Tag{tag("aws:owner", "me")}})
	assert.Equal(t, "InvalidParameterException", apiError(err))
	_, err = e.client.ListTagsForResource(ctx, &ecs.ListTagsForResourceInput{ResourceArn: aws.String(e.o.ClusterARN("nope"))})
	var cnf *types.ClusterNotFoundException
	assert.ErrorAs(t, err, &cnf)
	_, err = e.client.ListTagsForResource(ctx, &ecs.ListTagsForResourceInput{ResourceArn: aws.String("arn:aws:s3:::bucket")})
	assert.Equal(t, "InvalidParameterException", apiError(err))
}
