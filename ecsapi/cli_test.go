package ecsapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/cluster"
	netfake "github.com/stevedore-io/stevedore/network/fake"
	"github.com/stevedore-io/stevedore/runtime/fake"
)

// awsCLI runs the aws CLI against an endpoint with its own empty
// configuration (no profile, no instance metadata, one attempt).
type awsCLI struct {
	t        *testing.T
	endpoint string
	env      []string
}

func newAWSCLI(t *testing.T, endpoint, key, secret string) *awsCLI {
	t.Helper()
	home := t.TempDir()
	return &awsCLI{t: t, endpoint: endpoint, env: []string{
		"HOME=" + home, "PATH=" + os.Getenv("PATH"),
		"AWS_ACCESS_KEY_ID=" + key, "AWS_SECRET_ACCESS_KEY=" + secret, "AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials"),
		"AWS_PAGER=", "AWS_EC2_METADATA_DISABLED=true", "AWS_MAX_ATTEMPTS=1", "AWS_RETRY_MODE=standard",
	}}
}

// run runs "aws --endpoint-url ... --output json <args>" and returns its
// exit error, standard output and standard error.
func (c *awsCLI) run(args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(c.t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "aws", append([]string{"--endpoint-url", c.endpoint, "--output", "json"}, args...)...)
	cmd.Env = c.env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// json runs the CLI, requires success, and decodes what it printed.
func (c *awsCLI) json(args ...string) map[string]any {
	c.t.Helper()
	stdout, stderr, err := c.run(args...)
	require.NoError(c.t, err, "aws %s\n%s", strings.Join(args, " "), stderr)
	out := map[string]any{}
	if strings.TrimSpace(stdout) != "" {
		require.NoError(c.t, json.Unmarshal([]byte(stdout), &out), stdout)
	}
	return out
}

// at is the value at a path of keys and indices in decoded JSON.
func at(v any, path ...any) any {
	for _, p := range path {
		switch p := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[p]
		case int:
			s, _ := v.([]any)
			if p >= len(s) {
				return nil
			}
			v = s[p]
		}
	}
	return v
}

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
	cli := newAWSCLI(t, e.srv.URL, accessKey, secretKey)
	ctx := t.Context()

	created := cli.json("ecs", "create-cluster", "--cluster-name", "cli")
	assert.Equal(t, "cli", at(created, "cluster", "clusterName"))
	assert.Equal(t, "ACTIVE", at(created, "cluster", "status"))
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
		reg := cli.json("ecs", "register-task-definition", "--cli-input-json", "file://"+path)
		assert.Equal(t, "web", at(reg, "taskDefinition", "family"))
		assert.EqualValues(t, rev, at(reg, "taskDefinition", "revision"))
	}

	svc := cli.json("ecs", "create-service", "--cluster", "cli", "--service-name", "web", "--task-definition", "web:1", "--desired-count", "2")
	assert.Equal(t, e.o.ServiceARN("cli", "web"), at(svc, "service", "serviceArn"))
	cli.json("ecs", "wait", "services-stable", "--cluster", "cli", "--services", "web")

	cli.json("ecs", "update-service", "--cluster", "cli", "--service", "web", "--task-definition", "web:2")
	cli.json("ecs", "wait", "services-stable", "--cluster", "cli", "--services", "web")
	described := cli.json("ecs", "describe-services", "--cluster", "cli", "--services", "web")
	assert.Equal(t, e.o.TaskDefinitionARN("web:2"), at(described, "services", 0, "taskDefinition"))
	assert.EqualValues(t, 2, at(described, "services", 0, "runningCount"))
	assert.Len(t, at(described, "services", 0, "deployments"), 1)

	listed := cli.json("ecs", "list-tasks", "--cluster", "cli", "--service-name", "web")
	arns, _ := at(listed, "taskArns").([]any)
	require.Len(t, arns, 2)
	tasks := cli.json("ecs", "describe-tasks", "--cluster", "cli", "--tasks", arns[0].(string), arns[1].(string))
	for i := range 2 {
		assert.Equal(t, "RUNNING", at(tasks, "tasks", i, "lastStatus"))
		assert.Equal(t, e.o.TaskDefinitionARN("web:2"), at(tasks, "tasks", i, "taskDefinitionArn"))
	}

	stopped := cli.json("ecs", "stop-task", "--cluster", "cli", "--task", arns[0].(string), "--reason", "from the CLI")
	assert.Equal(t, "STOPPED", at(stopped, "task", "desiredStatus"))

	deleted := cli.json("ecs", "delete-service", "--cluster", "cli", "--service", "web", "--force")
	assert.Equal(t, "DRAINING", at(deleted, "service", "status"))
	cli.json("ecs", "wait", "services-inactive", "--cluster", "cli", "--services", "web")
	_, err = e.o.DeregisterContainerInstance(ctx, &stevedore.DeregisterContainerInstanceInput{Cluster: "cli", ContainerInstance: "i-cli", Force: true})
	require.NoError(t, err)
	gone := cli.json("ecs", "delete-cluster", "--cluster", "cli")
	assert.Equal(t, "INACTIVE", at(gone, "cluster", "status"))

	bad := newAWSCLI(t, e.srv.URL, accessKey, "not-the-secret")
	_, stderr, err := bad.run("ecs", "create-cluster", "--cluster-name", "intruder")
	require.Error(t, err)
	assert.Contains(t, stderr, "InvalidSignatureException")
	out, err := e.o.DescribeClusters(ctx, &stevedore.DescribeClustersInput{Clusters: []string{"intruder"}})
	require.NoError(t, err)
	assert.Empty(t, out.Clusters, "the refused request created nothing")
}
