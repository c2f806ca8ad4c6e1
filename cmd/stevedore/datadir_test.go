package main

import (
	"context"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/internal/testutil"
)

func TestParseDataDirImagesAndLoadBalancing(t *testing.T) {
	cfg, err := parse([]string{"-data-dir", "/tmp/sd", "-image-archive", "a.tar", "-image-archive", "b.tar",
		"-target-group", "web-a", "-target-group", "web-b", "-listener-rule", "web-prod=web-a,web-b", "-name-prefix", "sdx-"}, keys)
	require.NoError(t, err)
	assert.Equal(t, "/tmp/sd", cfg.DataDir)
	assert.Equal(t, []string{"a.tar", "b.tar"}, cfg.ImageArchives)
	assert.Equal(t, []string{"web-a", "web-b"}, cfg.TargetGroups)
	assert.Equal(t, []string{"web-prod=web-a,web-b"}, cfg.ListenerRules)
	assert.Equal(t, "sdx-", cfg.NamePrefix)

	err = run(t.Context(), []string{"-runtime", "none", "-listen", "127.0.0.1:0", "-data-dir", t.TempDir(), "-etcd", "http://127.0.0.1:1"}, io.Discard, keys, nil)
	assert.ErrorContains(t, err, "data-dir and etcd")
	err = run(t.Context(), []string{"-runtime", "none", "-listen", "127.0.0.1:0", "-target-group", "web-a", "-listener-rule", "web-prod=web-a,web-c"}, io.Discard, keys, nil)
	assert.ErrorContains(t, err, `no target-group "web-c"`)
	err = run(t.Context(), []string{"-runtime", "none", "-listen", "127.0.0.1:0", "-target-group", "web-a", "-listener-rule", "web-prod"}, io.Discard, keys, nil)
	assert.ErrorContains(t, err, "want name=group,group")
	err = run(t.Context(), []string{"-runtime", "none", "-listen", "127.0.0.1:0", "-target-group", "web-a", "-target-group", "web-a"}, io.Discard, keys, nil)
	assert.ErrorContains(t, err, "given twice")
}

// TestDataDirKeepsTheStateAcrossRestarts: a server on a data directory
// stopped and started again finds its service, and the service's target
// groups and listener rule are there for a blue/green deployment.
func TestDataDirKeepsTheStateAcrossRestarts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	args := []string{"-runtime", "fake", "-cluster", "local", "-instance-id", "i-chaos", "-data-dir", dir,
		"-target-group", "web-a", "-target-group", "web-b", "-listener-rule", "web-prod=web-a,web-b"}
	ctx := t.Context()

	first, stop := serveUntil(t, args...)
	_, err := first.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("web"), NetworkMode: types.NetworkModeAwsvpc,
		ContainerDefinitions: []types.ContainerDefinition{{
			Name: aws.String("web"), Image: aws.String("busybox"), Memory: aws.Int32(64), Command: []string{"sleep", "infinity"},
			PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(8080)}},
		}},
	})
	require.NoError(t, err)
	_, err = first.CreateService(ctx, &ecs.CreateServiceInput{
		Cluster: aws.String("local"), ServiceName: aws.String("web"), TaskDefinition: aws.String("web"), DesiredCount: aws.Int32(2),
		DeploymentConfiguration: &types.DeploymentConfiguration{Strategy: types.DeploymentStrategyBlueGreen},
		LoadBalancers: []types.LoadBalancer{{TargetGroupArn: aws.String("web-a"), ContainerName: aws.String("web"), ContainerPort: aws.Int32(8080),
			AdvancedConfiguration: &types.AdvancedConfiguration{AlternateTargetGroupArn: aws.String("web-b"), ProductionListenerRule: aws.String("web-prod")}}},
	})
	require.NoError(t, err)
	stop()

	second, _ := serveUntil(t, args...)
	out, err := second.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("local"), Services: []string{"web"}})
	require.NoError(t, err)
	require.Len(t, out.Services, 1, "the service is on disk")
	assert.Equal(t, int32(2), out.Services[0].DesiredCount)
	instances, err := second.ListContainerInstances(ctx, &ecs.ListContainerInstancesInput{Cluster: aws.String("local")})
	require.NoError(t, err)
	assert.Len(t, instances.ContainerInstanceArns, 1, "the same instance registered again")
}

// serveUntil runs the server with args, and returns an ECS client of it and
// a function that stops it (also called when the test ends).
func serveUntil(t *testing.T, args ...string) (*ecs.Client, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	logs := &testutil.SyncBuffer{}
	go func() { done <- run(ctx, append([]string{"-listen", "127.0.0.1:0"}, args...), logs, keys, ready) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Error("the server did not shut down")
		}
	}
	t.Cleanup(stop)
	select {
	case addr := <-ready:
		return ecsClient(addr), stop
	case err := <-done:
		t.Fatalf("run ended: %v\n%s", err, logs.String())
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not start")
	}
	return nil, nil
}

// ecsClient is an ECS client of the server at addr, signing with keys.
func ecsClient(addr string) *ecs.Client {
	return ecs.New(ecs.Options{
		Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "s3cr3t-VALUE-42", ""),
	})
}
