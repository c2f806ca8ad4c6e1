//go:build unix

package agent_test

import (
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/agent"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/task"
)

// volumeDef has a task-scoped volume and a shared docker volume: both are
// directories the agent makes in its state directory.
const volumeDef = `{
  "family": "vol",
  "networkMode": "awsvpc",
  "volumes": [{"name": "scratch"},
              {"name": "cache", "dockerVolumeConfiguration": {"scope": "shared", "autoprovision": true}}],
  "containerDefinitions": [{"name": "app", "image": "app", "memory": 32,
    "mountPoints": [{"sourceVolume": "scratch", "containerPath": "/scratch"},
                    {"sourceVolume": "cache", "containerPath": "/cache"}]}]
}`

// runVolumeTask runs one task of volumeDef on an agent whose state directory
// is stateDir, and returns the task once the agent has acted on it.
func runVolumeTask(t *testing.T, e *env, stateDir string) *running {
	t.Helper()
	e.cfg.StateDir = stateDir
	e.runTask(e.register(volumeDef), "t1")
	r := e.start()
	advance(time.Second)
	return r
}

func TestStateDirRefusesASymlinkInATaskVolumePath(t *testing.T) {
	for _, planted := range []string{
		"tasks",                    // the directory of every task
		"tasks/t1",                 // the task's directory
		"tasks/t1/volumes",         // its volumes
		"tasks/t1/volumes/scratch", // the volume itself
		"volumes",                  // shared volumes
	} {
		t.Run(planted, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t, fake.WithImage("app", fake.Behavior{RunFor: fake.Forever}))
				stateDir := t.TempDir()
				target := t.TempDir() // where the link would lead the mount
				link := filepath.Join(stateDir, planted)
				require.NoError(t, os.MkdirAll(filepath.Dir(link), 0o700))
				require.NoError(t, os.Symlink(target, link))

				runVolumeTask(t, e, stateDir)
				tk := e.task("t1")
				require.Equal(t, task.Stopped, tk.LastStatus, "the task does not start")
				assert.Equal(t, task.TaskFailedToStart, tk.StopCode)
				assert.Contains(t, tk.StoppedReason, "task volume")
				assert.Contains(t, tk.StoppedReason, link+" is a symbolic link")
				_, created := e.rt.Container("t1-app")
				assert.False(t, created, "no container mounts through the link")
				entries, err := os.ReadDir(target)
				require.NoError(t, err)
				assert.Empty(t, entries, "nothing made where the link points")
			})
		})
	}
}

func TestStateDirRefusesADirectoryOfAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a directory to another user")
	}
	for _, dir := range []string{"", "tasks", "tasks/t1/volumes"} {
		t.Run("/"+dir, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t, fake.WithImage("app", fake.Behavior{RunFor: fake.Forever}))
				stateDir := t.TempDir()
				foreign := filepath.Join(stateDir, dir)
				require.NoError(t, os.MkdirAll(foreign, 0o700))
				require.NoError(t, os.Chown(foreign, 4242, 4242))

				runVolumeTask(t, e, stateDir)
				tk := e.task("t1")
				require.Equal(t, task.Stopped, tk.LastStatus)
				assert.Contains(t, tk.StoppedReason, filepath.Clean(foreign)+" is owned by uid 4242, not by the agent's uid 0")
			})
		})
	}
}

func TestStateDirIsCreated0700AndPrunedWhenTheAgentEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fake.WithImage("app", fake.Behavior{RunFor: fake.Forever}))
		stateDir := filepath.Join(t.TempDir(), "agent", "i-1") // neither exists yet
		r := runVolumeTask(t, e, stateDir)
		require.Equal(t, task.Running, e.task("t1").LastStatus)
		fi, err := os.Stat(stateDir)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), "created private")
		for _, dir := range []string{"tasks/t1/volumes/scratch", "volumes/cache"} {
			assert.DirExists(t, filepath.Join(stateDir, dir))
		}

		e.stopTask("t1", "bye")
		advance(time.Minute)
		require.Equal(t, task.Stopped, e.task("t1").LastStatus)
		assert.NoDirExists(t, filepath.Join(stateDir, "tasks", "t1"), "the task's directory goes with it")
		require.NoError(t, r.stop())
		assert.NoDirExists(t, filepath.Dir(stateDir), "what the agent made, left empty, is gone when Run ends")
	})
}

func TestStateDirIsLeftAloneWithoutVolumes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fake.WithImage("app", fake.Behavior{RunFor: fake.Forever}))
		e.cfg.StateDir = filepath.Join(t.TempDir(), "state")
		e.runTask(e.register(`{"family": "plain", "networkMode": "awsvpc",
		  "containerDefinitions": [{"name": "app", "image": "app", "memory": 32}]}`), "t1")
		r := e.start()
		advance(time.Second)
		require.Equal(t, task.Running, e.task("t1").LastStatus)
		assert.NoDirExists(t, e.cfg.StateDir, "no disk until a task needs a directory")
		require.NoError(t, r.stop())
	})
}

func TestStateDirKeepsTheDirectoryOfATaskLeftRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fake.WithImage("app", fake.Behavior{RunFor: fake.Forever}))
		stateDir := filepath.Join(t.TempDir(), "state")
		r := runVolumeTask(t, e, stateDir)
		require.NoError(t, r.stop())
		assert.DirExists(t, filepath.Join(stateDir, "tasks", "t1", "volumes", "scratch"), "for the agent that adopts the task")
	})
}

func TestNewRefusesARelativeStateDir(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.cfg.StateDir = "state"
	_, err := agent.New(e.cfg)
	require.ErrorIs(t, err, agent.ErrInvalidConfig)
	assert.Contains(t, err.Error(), "StateDir")
}

func TestDefaultStateDirIsPrivate(t *testing.T) {
	dir, err := agent.DefaultStateDir("i-1")
	require.NoError(t, err)
	if os.Geteuid() == 0 {
		assert.Equal(t, filepath.Join(agent.RootStateDir, "i-1"), dir)
	} else {
		cache, err := os.UserCacheDir()
		require.NoError(t, err)
		assert.Equal(t, filepath.Join(cache, "stevedore", "agent", "i-1"), dir)
	}
	_, err = agent.DefaultStateDir("../i-1")
	require.Error(t, err, "an instance ID is one path element")
	assert.NotContains(t, dir, os.TempDir(), "not in a world-writable directory")
}
