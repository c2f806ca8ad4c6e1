package ecsapi_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/testutil"
	netfake "github.com/stevedore-io/stevedore/network/fake"
	"github.com/stevedore-io/stevedore/runtime/fake"
)

const cliTaskDefinition = `{
  "family": "web",
  "networkMode": "awsvpc",
  "containerDefinitions": [{
    "name": "app", "image": "web:%d", "memory": 128, "cpu": 64,
    "command": ["sleep", "infinity"],
    "linuxParameters": {"initProcessEnabled": true},
    "portMappings": [{"containerPort": 8080}]
  }]
}`

// TestAWSCLI drives the Handler with the aws CLI, as a user of ECS would:
// the whole life of a service, and a request with bad credentials.
func TestAWSCLI(t *testing.T) {
	if _, err := exec.LookPath("aws"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("the aws CLI is not installed (Debian package awscli), and CI=true")
		}
		t.Skip("the aws CLI is not installed (Debian package awscli; make test installs it)")
	}
	e := newEnv(t)
	cli := testutil.NewAWSCLI(t, e.srv.URL, accessKey, secretKey)
	ctx := t.Context()

	created := cli.JSON("ecs", "create-cluster", "--cluster-name", "cli")
	assert.Equal(t, "cli", testutil.At(created, "cluster", "clusterName"))
	assert.Equal(t, "ACTIVE", testutil.At(created, "cluster", "status"))
	rt := fake.New()
	t.Cleanup(rt.Close)
	_, err := e.o.RegisterContainerInstance(ctx, &stevedore.RegisterContainerInstanceInput{
		Cluster: "cli", InstanceID: "i-cli", Resources: cluster.Resources{CPU: 2048, Memory: 4096, NetworkSlots: 8},
		Runtime: rt, Network: netfake.New(),
	})
	require.NoError(t, err)

	dir := t.TempDir()
	for rev := 1; rev <= 2; rev++ {
		path := filepath.Join(dir, fmt.Sprintf("web%d.json", rev))
		require.NoError(t, os.WriteFile(path, fmt.Appendf(nil, cliTaskDefinition, rev), 0o600))
		reg := cli.JSON("ecs", "register-task-definition", "--cli-input-json", "file://"+path)
		assert.Equal(t, "web", testutil.At(reg, "taskDefinition", "family"))
		assert.EqualValues(t, rev, testutil.At(reg, "taskDefinition", "revision"))
	}

	svc := cli.JSON("ecs", "create-service", "--cluster", "cli", "--service-name", "web", "--task-definition", "web:1", "--desired-count", "2")
	assert.Equal(t, e.o.ServiceARN("cli", "web"), testutil.At(svc, "service", "serviceArn"))
	cli.JSON("ecs", "wait", "services-stable", "--cluster", "cli", "--services", "web")

	cli.JSON("ecs", "update-service", "--cluster", "cli", "--service", "web", "--task-definition", "web:2")
	cli.JSON("ecs", "wait", "services-stable", "--cluster", "cli", "--services", "web")
	described := cli.JSON("ecs", "describe-services", "--cluster", "cli", "--services", "web")
	assert.Equal(t, e.o.TaskDefinitionARN("web:2"), testutil.At(described, "services", 0, "taskDefinition"))
	assert.EqualValues(t, 2, testutil.At(described, "services", 0, "runningCount"))
	assert.Len(t, testutil.At(described, "services", 0, "deployments"), 1)

	listed := cli.JSON("ecs", "list-tasks", "--cluster", "cli", "--service-name", "web")
	arns, _ := testutil.At(listed, "taskArns").([]any)
	require.Len(t, arns, 2)
	tasks := cli.JSON("ecs", "describe-tasks", "--cluster", "cli", "--tasks", arns[0].(string), arns[1].(string))
	for i := range 2 {
		assert.Equal(t, "RUNNING", testutil.At(tasks, "tasks", i, "lastStatus"))
		assert.Equal(t, e.o.TaskDefinitionARN("web:2"), testutil.At(tasks, "tasks", i, "taskDefinitionArn"))
	}

	stopped := cli.JSON("ecs", "stop-task", "--cluster", "cli", "--task", arns[0].(string), "--reason", "from the CLI")
	assert.Equal(t, "STOPPED", testutil.At(stopped, "task", "desiredStatus"))

	deleted := cli.JSON("ecs", "delete-service", "--cluster", "cli", "--service", "web", "--force")
	assert.Equal(t, "DRAINING", testutil.At(deleted, "service", "status"))
	cli.JSON("ecs", "wait", "services-inactive", "--cluster", "cli", "--services", "web")
	_, err = e.o.DeregisterContainerInstance(ctx, &stevedore.DeregisterContainerInstanceInput{Cluster: "cli", ContainerInstance: "i-cli", Force: true})
	require.NoError(t, err)
	gone := cli.JSON("ecs", "delete-cluster", "--cluster", "cli")
	assert.Equal(t, "INACTIVE", testutil.At(gone, "cluster", "status"))

	bad := cli.With(accessKey, "not-the-secret")
	_, stderr, err := bad.Run("ecs", "create-cluster", "--cluster-name", "intruder")
	require.Error(t, err)
	assert.Contains(t, stderr, "InvalidSignatureException")
	out, err := e.o.DescribeClusters(ctx, &stevedore.DescribeClustersInput{Clusters: []string{"intruder"}})
	require.NoError(t, err)
	assert.Empty(t, out.Clusters, "the refused request created nothing")
}
