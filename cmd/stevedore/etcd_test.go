package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/internal/etcdtest"
	"github.com/stevedore-io/stevedore/internal/testutil"
)

// serve runs the server with args until the test ends, and returns an ECS
// client of it and its log.
func serve(t *testing.T, args ...string) (*ecs.Client, *testutil.SyncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	logs := &testutil.SyncBuffer{}
	go func() { done <- run(ctx, append([]string{"-listen", "127.0.0.1:0"}, args...), logs, keys, ready) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Error("the server did not shut down")
		}
	})
	select {
	case addr := <-ready:
		return ecs.New(ecs.Options{
			Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr), RetryMaxAttempts: 1,
			Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "s3cr3t-VALUE-42", ""),
		}), logs
	case err := <-done:
		t.Fatalf("run ended: %v\n%s", err, logs.String())
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not start")
	}
	return nil, nil
}

// TestReplicasShareOneEtcd: two servers on one etcd are replicas of one
// control plane: a definition registered through one runs through the
// other, and exactly one of them leads.
func TestReplicasShareOneEtcd(t *testing.T) {
	srv := etcdtest.Start(t)
	common := []string{"-runtime", "fake", "-cluster", "local", "-etcd", srv.Endpoints[0], "-etcd-prefix", "/cmd-test", "-lease-ttl", "2"}
	one, logOne := serve(t, append(common, "-replica-name", "one", "-instance-id", "i-one")...)
	two, logTwo := serve(t, append(common, "-replica-name", "two", "-instance-id", "i-two")...)
	ctx := t.Context()

	_, err := one.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("hello"),
		ContainerDefinitions: []types.ContainerDefinition{{
			Name: aws.String("hello"), Image: aws.String("busybox"), Memory: aws.Int32(64), Command: []string{"sleep", "infinity"},
		}},
	})
	require.NoError(t, err)
	out, err := two.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("local"), TaskDefinition: aws.String("hello"), Count: aws.Int32(2)})
	require.NoError(t, err)
	require.Len(t, out.Tasks, 2)
	arns := []string{aws.ToString(out.Tasks[0].TaskArn), aws.ToString(out.Tasks[1].TaskArn)}
	waiter := ecs.NewTasksRunningWaiter(one, func(o *ecs.TasksRunningWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 200*time.Millisecond
	})
	require.NoError(t, waiter.Wait(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("local"), Tasks: arns}, 30*time.Second))
	instances, err := one.ListContainerInstances(ctx, &ecs.ListContainerInstancesInput{Cluster: aws.String("local")})
	require.NoError(t, err)
	assert.Len(t, instances.ContainerInstanceArns, 2, "each server registered its host")

	const leads = "leader election: this replica leads"
	require.Eventually(t, func() bool {
		return strings.Contains(logOne.String(), leads) != strings.Contains(logTwo.String(), leads)
	}, 30*time.Second, 20*time.Millisecond, "exactly one server leads")
}

func TestParseEtcdFlags(t *testing.T) {
	cfg, err := parse([]string{"-etcd", "http://10.0.0.1:2379,http://10.0.0.2:2379", "-etcd-prefix", "/prod", "-replica-name", "cp-1", "-lease-ttl", "5"}, keys)
	require.NoError(t, err)
	assert.Equal(t, "http://10.0.0.1:2379,http://10.0.0.2:2379", cfg.Etcd)
	assert.Equal(t, "/prod", cfg.EtcdPrefix)
	assert.Equal(t, "cp-1", cfg.ReplicaName)
	assert.Equal(t, 5, cfg.LeaseTTL)

	err = run(t.Context(), []string{"-runtime", "none", "-listen", "127.0.0.1:0", "-etcd", "http://127.0.0.1:1", "-lease-ttl", "1"}, io.Discard, keys, nil)
	assert.ErrorContains(t, err, "LeaseTTL", "a lease below the minimum is refused")
}
