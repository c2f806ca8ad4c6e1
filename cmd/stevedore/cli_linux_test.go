package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/agent"
	"github.com/stevedore-io/stevedore/internal/leakcheck"
	"github.com/stevedore-io/stevedore/internal/ocitest"
	"github.com/stevedore-io/stevedore/internal/testutil"
	"github.com/stevedore-io/stevedore/network/netlinux"
	"github.com/stevedore-io/stevedore/runtime/containerd"
)

// cliImage is the busybox image the CLI test's tasks run.
const cliImage = "stevedore.local/busybox:cmdtest"

// needRealHost skips the test without root, containerd (run it under
// ./scripts/with-containerd.sh) or the aws CLI, and fails it instead when
// CI=true: there the environment must provide them.
func needRealHost(t *testing.T) string {
	t.Helper()
	address := os.Getenv("STEVEDORE_CONTAINERD_ADDRESS")
	reason := ""
	switch {
	case os.Geteuid() != 0:
		reason = "needs root: the server creates containers, network namespaces, a bridge and nftables tables"
	case address == "":
		reason = "STEVEDORE_CONTAINERD_ADDRESS is not set: run under ./scripts/with-containerd.sh"
	}
	if _, err := exec.LookPath("aws"); reason == "" && err != nil {
		reason = "the aws CLI is not installed (./scripts/with-containerd.sh installs it)"
	}
	if reason == "" {
		return address
	}
	if os.Getenv("CI") == "true" {
		t.Fatal(reason)
	}
	t.Skip(reason)
	return ""
}

// cliNet is a task network of the test's own: bridge, object prefix and
// subnet that nothing on the host uses.
type cliNet struct {
	bridge, prefix string
	subnet         netip.Prefix
}

func pickCLINet(t *testing.T) cliNet {
	t.Helper()
	ifaces, err := net.Interfaces()
	require.NoError(t, err)
	for range 100 {
		n := 1 + rand.IntN(250)
		c := cliNet{bridge: fmt.Sprintf("stvz%02xbr", n), prefix: fmt.Sprintf("stvz%02x-", n), subnet: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 215, byte(n), 0}), 24)}
		free := true
		for _, ifc := range ifaces {
			addrs, _ := ifc.Addrs()
			for _, a := range addrs {
				if ipn, ok := a.(*net.IPNet); ok {
					if ip, ok := netip.AddrFromSlice(ipn.IP); ok && c.subnet.Contains(ip.Unmap()) {
						free = false
					}
				}
			}
			free = free && ifc.Name != c.bridge && !strings.HasPrefix(ifc.Name, c.prefix)
		}
		if free {
			return c
		}
	}
	t.Fatal("no free 10.215.<n>.0/24 and stvz<nn> names on this host")
	return cliNet{}
}

// TestAWSCLIOnRealContainers drives cmd/stevedore, built and started as a
// process on loopback with this host registered on containerd and
// netlinux, with the aws CLI: the steps an ECS user takes, checking the
// JSON the CLI prints. Everything it creates is removed at the end, and
// checked to be gone.
func TestAWSCLIOnRealContainers(t *testing.T) {
	address := needRealHost(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	dir := t.TempDir()
	stateDir := filepath.Join(dir, "state")
	suffix := fmt.Sprintf("%08x", rand.Uint32())
	namespace := "stevedore-cmdtest-" + suffix
	instance := "i-cmdtest" + suffix
	nw := pickCLINet(t)
	agentDir, err := agent.DefaultStateDir(instance)
	require.NoError(t, err)

	// Registered first, so they run last: everything is gone, and checked.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		rt, err := containerd.New(address, containerd.WithNamespace(namespace))
		if err != nil {
			t.Errorf("clean-up: connect to containerd: %v", err)
		} else {
			left, err := rt.List(ctx, nil)
			if err != nil {
				t.Errorf("clean-up: list containers: %v", err)
			}
			for _, c := range left {
				t.Errorf("clean-up: container %s (%s) left behind; removing it", c.ID, c.State)
				if err := rt.Delete(ctx, c.ID); err != nil {
					t.Errorf("clean-up: delete container %s: %v", c.ID, err)
				}
			}
			_ = rt.RemoveImage(ctx, cliImage)
			_ = rt.Close()
		}
		p, err := netlinux.New(netlinux.Config{BridgeName: nw.bridge, Subnet: nw.subnet, NamePrefix: nw.prefix, StateDir: filepath.Join(stateDir, "network")})
		if err != nil {
			t.Errorf("clean-up: task network: %v", err)
		} else {
			if err := p.Destroy(ctx); err != nil {
				t.Errorf("clean-up: destroy the task network: %v", err)
			}
			_ = p.Close()
		}
		tasks, _ := filepath.Glob(filepath.Join(agentDir, "tasks", "*"))
		if len(tasks) > 0 {
			t.Errorf("clean-up: task directories left behind: %s", strings.Join(tasks, ", "))
		}
		_ = os.RemoveAll(agentDir)
		leaks, err := leakcheck.Find(ctx, leakcheck.Config{
			ContainerdAddress: address, ContainerdNamespacePrefix: namespace, NamePrefixes: []string{nw.prefix, nw.bridge},
			NoLabels: true, FIFODirs: []string{filepath.Join(stateDir, "fifo")}, AgentStateDirs: []string{agentDir},
		})
		if err != nil || len(leaks) > 0 {
			t.Errorf("clean-up: left behind: %v %v", leaks, err)
		}
	})

	// The image, which the server imports from an OCI archive.
	var archive bytes.Buffer
	require.NoError(t, ocitest.BusyboxArchive(&archive, cliImage, nil))
	archivePath := filepath.Join(dir, "busybox.tar")
	require.NoError(t, os.WriteFile(archivePath, archive.Bytes(), 0o600))

	bin := filepath.Join(dir, "stevedore")
	goBin, err := exec.LookPath("go")
	require.NoError(t, err, "go is needed to build the server")
	build := exec.CommandContext(ctx, goBin, "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	endpoint := startServer(t, bin, "-listen", "127.0.0.1:0", "-runtime", "containerd", "-containerd", address,
		"-namespace", namespace, "-image-archive", archivePath, "-cluster", "cli", "-instance-id", instance, "-state-dir", stateDir,
		"-bridge", nw.bridge, "-subnet", nw.subnet.String(), "-name-prefix", nw.prefix,
		"-cpu", "2048", "-memory", "1024", "-network-slots", "8",
		"-region", "us-east-1", "-account", "123456789012", "-log-level", "debug")

	cli := testutil.NewAWSCLI(t, endpoint, "AKIDTEST", "s3cr3t-VALUE-42")
	arn := "arn:aws:ecs:us-east-1:123456789012:"

	// The host's cluster exists: create-cluster gives it back, as ECS does.
	c := cli.JSON("ecs", "create-cluster", "--cluster-name", "cli")
	assert.Equal(t, arn+"cluster/cli", testutil.At(c, "cluster", "clusterArn"))
	assert.Equal(t, "ACTIVE", testutil.At(c, "cluster", "status"))
	assert.EqualValues(t, 1, testutil.At(c, "cluster", "registeredContainerInstancesCount"))

	def := func(revision int) string {
		file := filepath.Join(dir, fmt.Sprintf("web-v%d.json", revision))
		js := fmt.Sprintf(`{
  "family": "web",
  "networkMode": "awsvpc",
  "containerDefinitions": [{
    "name": "app", "image": %q, "memory": 64, "essential": true,
    "command": ["sh", "-c", "trap 'exit 0' TERM; echo hello-from-v%d; while true; do sleep 1; done"]
  }]
}`, cliImage, revision)
		require.NoError(t, os.WriteFile(file, []byte(js), 0o600))
		return "file://" + file
	}
	for revision := 1; revision <= 2; revision++ {
		td := cli.JSON("ecs", "register-task-definition", "--cli-input-json", def(revision))
		assert.Equal(t, fmt.Sprintf("%stask-definition/web:%d", arn, revision), testutil.At(td, "taskDefinition", "taskDefinitionArn"))
		assert.EqualValues(t, revision, testutil.At(td, "taskDefinition", "revision"))
		assert.Equal(t, "ACTIVE", testutil.At(td, "taskDefinition", "status"))
	}

	svc := cli.JSON("ecs", "create-service", "--cluster", "cli", "--service-name", "web", "--task-definition", "web:1", "--desired-count", "2")
	assert.Equal(t, arn+"service/cli/web", testutil.At(svc, "service", "serviceArn"))
	assert.Equal(t, "ACTIVE", testutil.At(svc, "service", "status"))
	assert.EqualValues(t, 2, testutil.At(svc, "service", "desiredCount"))
	cli.JSON("ecs", "wait", "services-stable", "--cluster", "cli", "--services", "web")

	cli.JSON("ecs", "update-service", "--cluster", "cli", "--service", "web", "--task-definition", "web:2")
	cli.JSON("ecs", "wait", "services-stable", "--cluster", "cli", "--services", "web")
	described := cli.JSON("ecs", "describe-services", "--cluster", "cli", "--services", "web")
	assert.Equal(t, arn+"task-definition/web:2", testutil.At(described, "services", 0, "taskDefinition"))
	assert.EqualValues(t, 2, testutil.At(described, "services", 0, "runningCount"))
	assert.Len(t, testutil.At(described, "services", 0, "deployments"), 1, "the old deployment is gone")
	assert.Equal(t, "PRIMARY", testutil.At(described, "services", 0, "deployments", 0, "status"))
	assert.Equal(t, arn+"task-definition/web:2", testutil.At(described, "services", 0, "deployments", 0, "taskDefinition"))
	assert.EqualValues(t, 2, testutil.At(described, "services", 0, "deployments", 0, "runningCount"))
	assert.Empty(t, testutil.At(described, "failures"))

	listed := cli.JSON("ecs", "list-tasks", "--cluster", "cli", "--service-name", "web")
	taskArns, _ := testutil.At(listed, "taskArns").([]any)
	require.Len(t, taskArns, 2)
	args := []string{"ecs", "describe-tasks", "--cluster", "cli", "--tasks"}
	for _, a := range taskArns {
		args = append(args, a.(string))
	}
	tasks := cli.JSON(args...)
	for i := range 2 {
		assert.Equal(t, "RUNNING", testutil.At(tasks, "tasks", i, "lastStatus"))
		assert.Equal(t, arn+"task-definition/web:2", testutil.At(tasks, "tasks", i, "taskDefinitionArn"))
		assert.Equal(t, "EC2", testutil.At(tasks, "tasks", i, "launchType"))
		assert.Equal(t, arn+"container-instance/cli/"+instance, testutil.At(tasks, "tasks", i, "containerInstanceArn"))
		assert.Equal(t, "RUNNING", testutil.At(tasks, "tasks", i, "containers", 0, "lastStatus"))
	}

	// The containers' output is kept under the state directory.
	waitFor(t, ctx, "the containers' output in the log store", func() bool {
		found := false
		_ = filepath.WalkDir(filepath.Join(stateDir, "logs"), func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				data, _ := os.ReadFile(path)
				found = found || bytes.Contains(data, []byte("hello-from-v2"))
			}
			return nil
		})
		return found
	})

	// What Stevedore cannot do is refused by name.
	stderr := cli.Fail("ecs", "run-task", "--cluster", "cli", "--task-definition", "web:2", "--launch-type", "FARGATE")
	assert.Contains(t, stderr, "InvalidParameterException")
	assert.Contains(t, stderr, "launchType")

	first := taskArns[0].(string)
	stopped := cli.JSON("ecs", "stop-task", "--cluster", "cli", "--task", first, "--reason", "cli test")
	assert.Equal(t, "STOPPED", testutil.At(stopped, "task", "desiredStatus"))
	cli.JSON("ecs", "wait", "tasks-stopped", "--cluster", "cli", "--tasks", first)
	gone := cli.JSON("ecs", "describe-tasks", "--cluster", "cli", "--tasks", first)
	assert.Equal(t, "STOPPED", testutil.At(gone, "tasks", 0, "lastStatus"))
	assert.Equal(t, "cli test", testutil.At(gone, "tasks", 0, "stoppedReason"))

	deleted := cli.JSON("ecs", "delete-service", "--cluster", "cli", "--service", "web", "--force")
	assert.Contains(t, []any{"DRAINING", "INACTIVE"}, testutil.At(deleted, "service", "status"))
	cli.JSON("ecs", "wait", "services-inactive", "--cluster", "cli", "--services", "web")
	left := cli.JSON("ecs", "list-tasks", "--cluster", "cli")
	assert.Empty(t, testutil.At(left, "taskArns"), "every task stopped")

	stderr = cli.Fail("ecs", "delete-cluster", "--cluster", "cli")
	assert.Contains(t, stderr, "ClusterContainsContainerInstancesException")
	cli.JSON("ecs", "deregister-container-instance", "--cluster", "cli", "--container-instance", instance, "--force")
	dc := cli.JSON("ecs", "delete-cluster", "--cluster", "cli")
	assert.Equal(t, "INACTIVE", testutil.At(dc, "cluster", "status"))

	// Bad credentials are refused, and change nothing.
	assert.Contains(t, cli.With("AKIDTEST", "wrong-secret").Fail("ecs", "create-cluster", "--cluster-name", "intruder"), "InvalidSignatureException")
	assert.Contains(t, cli.With("AKIDUNKNOWN", "s3cr3t-VALUE-42").Fail("ecs", "create-cluster", "--cluster-name", "intruder"), "UnrecognizedClientException")
	clusters := cli.JSON("ecs", "list-clusters")
	assert.NotContains(t, fmt.Sprint(testutil.At(clusters, "clusterArns")), "intruder")
}

// startServer starts the server binary with args and returns its endpoint;
// the server is stopped (SIGTERM, then SIGKILL) when the test ends.
func startServer(t *testing.T, bin string, args ...string) string {
	t.Helper()
	logs := &testutil.SyncBuffer{}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "STEVEDORE_ACCESS_KEY_ID=AKIDTEST", "STEVEDORE_SECRET_ACCESS_KEY=s3cr3t-VALUE-42")
	cmd.Stdout, cmd.Stderr = logs, logs
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			assert.NoError(t, err, "the server's exit")
		case <-time.After(30 * time.Second):
			t.Error("the server did not stop on SIGTERM")
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("server log (last 20 KiB):\n%s", tail(logs.String(), 20<<10))
		}
		assert.NotContains(t, logs.String(), "s3cr3t-VALUE-42", "the secret key is never logged")
	})
	endpoint := regexp.MustCompile(`endpoint=(http://127\.0\.0\.1:\d+)`)
	deadline := time.NewTimer(time.Minute)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if m := endpoint.FindStringSubmatch(logs.String()); m != nil {
			return m[1]
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("the server ended: %v\n%s", err, logs.String())
		case <-deadline.C:
			t.Fatalf("the server did not start within a minute\n%s", logs.String())
		case <-tick.C:
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// waitFor waits, within a minute, until cond holds.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(time.Minute)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-deadline.C:
			t.Fatalf("no %s within a minute", what)
		case <-tick.C:
		}
	}
}
