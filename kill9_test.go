package stevedore_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/cluster"
	netfake "github.com/stevedore-io/stevedore/network/fake"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/stevedoretest"
	"github.com/stevedore-io/stevedore/task"
)

// kill9DirEnv names the data directory of TestKill9Child, which runs only
// as the child of TestKill9RestartsOnTheSameDataDirectory.
const kill9DirEnv = "STEVEDORE_KILL9_DIR"

// kill9Def has no health check, so that tasks run at once in real time.
const kill9Def = `{"family":"web","networkMode":"awsvpc","containerDefinitions":[
	{"name":"app","image":"web:1","memory":64,"cpu":64,"command":["sleep","infinity"],"portMappings":[{"containerPort":8080}]}]}`

// kill9Instance registers instance i-0 with a new fake runtime and network.
func kill9Instance(t *testing.T, o *stevedore.Orchestrator) {
	t.Helper()
	rt := fake.New()
	t.Cleanup(rt.Close)
	_, err := o.RegisterContainerInstance(t.Context(), &stevedore.RegisterContainerInstanceInput{Cluster: "test", InstanceID: "i-0",
		Resources: cluster.Resources{CPU: 2048, Memory: 2048, NetworkSlots: 8}, Runtime: rt, Network: netfake.New()})
	require.NoError(t, err)
}

// TestKill9Child is the process TestKill9RestartsOnTheSameDataDirectory
// kills: on the data directory it is given, a service of 2 tasks and a
// standalone task; it prints their IDs once they run, and waits for its
// SIGKILL.
func TestKill9Child(t *testing.T) {
	dir := os.Getenv(kill9DirEnv)
	if dir == "" {
		t.Skip("the child of TestKill9RestartsOnTheSameDataDirectory")
	}
	ctx := t.Context()
	o, err := stevedore.New(stevedore.WithDataDir(dir))
	require.NoError(t, err)
	_, err = o.CreateCluster(ctx, &stevedore.CreateClusterInput{ClusterName: "test"})
	require.NoError(t, err)
	kill9Instance(t, o)
	td, _, err := task.ParseDefinition([]byte(kill9Def))
	require.NoError(t, err)
	_, err = o.RegisterTaskDefinition(ctx, &stevedore.RegisterTaskDefinitionInput{TaskDefinition: *td})
	require.NoError(t, err)
	_, err = o.CreateService(ctx, &stevedore.CreateServiceInput{Cluster: "test", ServiceName: "web", TaskDefinition: "web", DesiredCount: 2})
	require.NoError(t, err)
	run, err := o.RunTask(ctx, &stevedore.RunTaskInput{Cluster: "test", TaskDefinition: "web"})
	require.NoError(t, err)
	for {
		ids, err := o.AllTaskArns(ctx, &stevedore.ListTasksInput{Cluster: "test"})
		require.NoError(t, err)
		tasks, err := stevedoretest.TasksOf(o.DescribeTasks(ctx, &stevedore.DescribeTasksInput{Cluster: "test", Tasks: ids}))
		require.NoError(t, err)
		running := 0
		for _, tk := range tasks {
			if tk.LastStatus == task.Running {
				running++
			}
		}
		if running == 3 {
			svc, err := o.AllTaskArns(ctx, &stevedore.ListTasksInput{Cluster: "test", ServiceName: "web"})
			require.NoError(t, err)
			fmt.Printf("ready %s %s\n", run.Tasks[0].ID(), strings.Join(svc, ","))
			select {} // until SIGKILL
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestKill9RestartsOnTheSameDataDirectory kills a process running an
// Orchestrator on a data directory with SIGKILL, then starts one here on
// the same directory: the file lock died with the process, and what it
// stored is there. The host came back without the containers (the fake
// runtime lived in the killed process, as containers die with a host that
// reboots): the service's tasks are replaced, the standalone task is
// STOPPED with a reason, and only the replacements hold resources.
func TestKill9RestartsOnTheSameDataDirectory(t *testing.T) {
	if os.Getenv(kill9DirEnv) != "" {
		t.Skip("in the child")
	}
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKill9Child$", "-test.count=1")
	cmd.Env = append(os.Environ(), kill9DirEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "ready ") {
				lines <- sc.Text()
				return
			}
		}
		close(lines)
	}()
	var ready string
	select {
	case l, ok := <-lines:
		require.True(t, ok, "the child ended before its tasks ran")
		ready = l
	case <-time.After(30 * time.Second):
		t.Fatal("the child's tasks did not run within 30s")
	}
	fields := strings.Fields(ready)
	standalone, oldService := fields[1], strings.Split(fields[2], ",")
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()

	ctx := t.Context()
	o, err := stevedore.New(stevedore.WithDataDir(dir))
	require.NoError(t, err, "the lock went with the process")
	t.Cleanup(func() { require.NoError(t, o.Close()) })
	kill9Instance(t, o)
	var replaced []*task.Task
	require.Eventually(t, func() bool {
		ids, err := o.AllTaskArns(ctx, &stevedore.ListTasksInput{Cluster: "test", ServiceName: "web"})
		if err != nil || len(ids) != 2 {
			return false
		}
		replaced, err = stevedoretest.TasksOf(o.DescribeTasks(ctx, &stevedore.DescribeTasksInput{Cluster: "test", Tasks: ids}))
		if err != nil {
			return false
		}
		for _, tk := range replaced {
			if tk.LastStatus != task.Running || slices.Contains(oldService, tk.ID()) {
				return false
			}
		}
		old, err := stevedoretest.TasksOf(o.DescribeTasks(ctx, &stevedore.DescribeTasksInput{Cluster: "test", Tasks: append([]string{standalone}, oldService...)}))
		if err != nil {
			return false
		}
		for _, tk := range old {
			if tk.LastStatus != task.Stopped {
				return false
			}
		}
		return true
	}, 20*time.Second, 20*time.Millisecond, "the service runs 2 new tasks, and the lost ones are STOPPED")
	old, err := stevedoretest.TasksOf(o.DescribeTasks(ctx, &stevedore.DescribeTasksInput{Cluster: "test", Tasks: append([]string{standalone}, oldService...)}))
	require.NoError(t, err)
	for _, tk := range old {
		assert.Contains(t, tk.StoppedReason, "vanished", "task %s", tk.ID())
	}
	insts, err := stevedoretest.InstancesOf(o.DescribeContainerInstances(ctx, &stevedore.DescribeContainerInstancesInput{Cluster: "test"}))
	require.NoError(t, err)
	assert.Equal(t, 2*64, insts[0].Registered.Memory-insts[0].Remaining.Memory, "only the replacements hold memory")
}
