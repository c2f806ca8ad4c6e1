package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

var keys = env("STEVEDORE_ACCESS_KEY_ID", "AKIDTEST", "STEVEDORE_SECRET_ACCESS_KEY", "s3cr3t-VALUE-42")

func TestParse(t *testing.T) {
	_, err := parse(nil, env())
	assert.ErrorContains(t, err, "no access key")

	cfg, err := parse([]string{"-runtime", "fake", "-cpu", "512"}, keys)
	require.NoError(t, err)
	assert.Equal(t, "fake", cfg.Runtime)
	assert.Equal(t, 512, cfg.CPU)
	assert.Equal(t, "127.0.0.1:8080", cfg.Listen)
	assert.Equal(t, "AKIDTEST", cfg.AccessKeyID)

	file := filepath.Join(t.TempDir(), "stevedore.json")
	require.NoError(t, os.WriteFile(file, []byte(`{"listen": "127.0.0.1:9000", "cpu": 2048, "cluster": "prod"}`), 0o600))
	cfg, err = parse([]string{"-config", file, "-cpu", "1024"}, keys)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:9000", cfg.Listen, "from the file")
	assert.Equal(t, "prod", cfg.Cluster, "from the file")
	assert.Equal(t, 1024, cfg.CPU, "the flag wins over the file")

	require.NoError(t, os.WriteFile(file, []byte(`{"account": "123456789012", "secrets-dir": "/srv/secrets"}`), 0o600))
	cfg, err = parse([]string{"-config", file, "-partition", "aws-cn"}, keys)
	require.NoError(t, err)
	assert.Equal(t, "123456789012", cfg.Account)
	assert.Equal(t, "aws-cn", cfg.Partition)
	assert.Equal(t, "/srv/secrets", cfg.SecretsDir)
	err = run(t.Context(), []string{"-runtime", "none", "-listen", "127.0.0.1:0", "-secrets-dir", filepath.Join(t.TempDir(), "missing")}, io.Discard, keys, nil)
	assert.ErrorContains(t, err, "secrets-dir")
	err = run(t.Context(), []string{"-runtime", "none", "-listen", "127.0.0.1:0", "-account", "has:colon"}, io.Discard, keys, nil)
	assert.ErrorContains(t, err, "account")

	require.NoError(t, os.WriteFile(file, []byte(`{"listn": "x"}`), 0o600))
	_, err = parse([]string{"-config", file}, keys)
	assert.ErrorContains(t, err, "unknown field")
	err = run(t.Context(), []string{"-runtime", "docker", "-listen", "127.0.0.1:0"}, io.Discard, keys, nil)
	assert.ErrorContains(t, err, "want containerd, fake or none")
}

// syncBuffer is a log output the test reads while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestServesTheECSAPIAndShutsDown(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	var logs syncBuffer
	secretsDir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(secretsDir, "db-password"), []byte("hunter2\n"), 0o600))
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-runtime", "fake", "-cluster", "local",
			"-region", "us-east-1", "-account", "123456789012", "-secrets-dir", secretsDir}, &logs, keys, ready)
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("run ended: %v\n%s", err, logs.String())
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not start")
	}

	client := ecs.New(ecs.Options{
		Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "s3cr3t-VALUE-42", ""),
	})
	_, err := client.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("hello"),
		ContainerDefinitions: []types.ContainerDefinition{{
			Name: aws.String("hello"), Image: aws.String("busybox"), Memory: aws.Int32(64), Command: []string{"sleep", "infinity"},
			Secrets: []types.Secret{{Name: aws.String("DB_PASSWORD"), ValueFrom: aws.String("db-password")}},
		}},
	})
	require.NoError(t, err)
	run, err := client.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("local"), TaskDefinition: aws.String("hello")})
	require.NoError(t, err)
	require.Len(t, run.Tasks, 1, "this host is registered in cluster local")
	assert.True(t, strings.HasPrefix(aws.ToString(run.Tasks[0].TaskArn), "arn:aws:ecs:us-east-1:123456789012:task/"),
		"ARNs follow -region and -account: %s", aws.ToString(run.Tasks[0].TaskArn))
	waiter := ecs.NewTasksRunningWaiter(client, func(o *ecs.TasksRunningWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 200*time.Millisecond
	})
	// The task's secret resolves from -secrets-dir: without it, it fails to start.
	require.NoError(t, waiter.Wait(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("local"), Tasks: []string{aws.ToString(run.Tasks[0].TaskArn)}}, 30*time.Second))

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not shut down")
	}
	out := logs.String()
	assert.Contains(t, out, "serving the ECS API")
	assert.Contains(t, out, "shutting down")
	assert.NotContains(t, out, "s3cr3t-VALUE-42", "the secret key is never logged")
	assert.True(t, strings.Contains(out, "registered this host"))
}
