package stevedore_test

import (
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/agent"
	"github.com/stevedore-io/stevedore/cluster"
	netfake "github.com/stevedore-io/stevedore/network/fake"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/stevedoretest"
	"github.com/stevedore-io/stevedore/task"
)

// volumeDef has a task-scoped volume and a shared docker volume: both are
// directories of the agent.
const volumeDef = `{
  "family": "vol",
  "networkMode": "awsvpc",
  "volumes": [{"name": "scratch"},
              {"name": "cache", "dockerVolumeConfiguration": {"scope": "shared", "autoprovision": true}}],
  "containerDefinitions": [{"name": "app", "image": "app", "memory": 32,
    "mountPoints": [{"sourceVolume": "scratch", "containerPath": "/scratch"},
                    {"sourceVolume": "cache", "containerPath": "/cache"}]}]
}`

// runVolumeTask creates cluster "test" on o, registers instance id there
// with the fakes, and runs one task of volumeDef on it; it returns the
// task's ID once the task runs. Call it inside a synctest bubble.
func runVolumeTask(t *testing.T, o *stevedore.Orchestrator, id string) string {
	t.Helper()
	ctx := t.Context()
	_, err := o.CreateCluster(ctx, &stevedore.CreateClusterInput{ClusterName: "test"})
	require.NoError(t, err)
	rt := fake.New(fake.WithImage("app", fake.Behavior{RunFor: fake.Forever}))
	t.Cleanup(rt.Close)
	_, err = o.RegisterContainerInstance(ctx, &stevedore.RegisterContainerInstanceInput{
		Cluster: "test", InstanceID: id, Runtime: rt, Network: netfake.New(),
		Resources: cluster.Resources{CPU: 1024, Memory: 1024, NetworkSlots: 4},
	})
	require.NoError(t, err)
	td, _, err := task.ParseDefinition([]byte(volumeDef))
	require.NoError(t, err)
	_, err = o.RegisterTaskDefinition(ctx, &stevedore.RegisterTaskDefinitionInput{TaskDefinition: *td})
	require.NoError(t, err)
	out, err := o.RunTask(ctx, &stevedore.RunTaskInput{Cluster: "test", TaskDefinition: "vol"})
	require.NoError(t, err)
	require.Len(t, out.Tasks, 1)
	time.Sleep(time.Minute)
	synctest.Wait()
	got, err := stevedoretest.TasksOf(o.DescribeTasks(ctx, &stevedore.DescribeTasksInput{Cluster: "test", Tasks: []string{out.Tasks[0].ID()}}))
	require.NoError(t, err)
	require.Equal(t, task.Running, got[0].LastStatus)
	return out.Tasks[0].ID()
}

// TestUnitTestWithFakesLeavesNoFiles is a user's unit test: fake runtime
// and network, a task with a task-scoped and a shared volume, run and
// stopped. Nothing is left under TMPDIR, nor in the agent's default state
// directory.
func TestUnitTestWithFakesLeavesNoFiles(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	const id = "i-leaves-nothing"
	stateDir, err := agent.DefaultStateDir(id)
	require.NoError(t, err)
	require.NoDirExists(t, stateDir, "left by an earlier run")

	synctest.Test(t, func(t *testing.T) {
		o, err := stevedore.New(stevedore.WithSeed(1))
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, o.Close()) })
		taskID := runVolumeTask(t, o, id)
		assert.DirExists(t, stateDir, "the volumes are directories while the task runs")

		_, err = o.StopTask(t.Context(), &stevedore.StopTaskInput{Cluster: "test", Task: taskID, Reason: "done"})
		require.NoError(t, err)
		time.Sleep(time.Minute)
		synctest.Wait()
		got, err := stevedoretest.TasksOf(o.DescribeTasks(t.Context(), &stevedore.DescribeTasksInput{Cluster: "test", Tasks: []string{taskID}}))
		require.NoError(t, err)
		require.Equal(t, task.Stopped, got[0].LastStatus)
		require.NoError(t, o.Close())
	})

	entries, err := os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing left under TMPDIR")
	assert.NoDirExists(t, stateDir, "nothing left in the default state directory")
}

// TestWithDataDirHoldsTheAgentsStateDirs: with a data directory, the
// agents keep their tasks' volumes in it, beside the durable store.
func TestWithDataDirHoldsTheAgentsStateDirs(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		o, err := stevedore.New(stevedore.WithDataDir(dataDir))
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, o.Close()) })
		taskID := runVolumeTask(t, o, "i-1")
		assert.DirExists(t, filepath.Join(dataDir, "agents", "i-1", "tasks", taskID, "volumes", "scratch"))
		assert.DirExists(t, filepath.Join(dataDir, "agents", "i-1", "volumes", "cache"))
	})
}
