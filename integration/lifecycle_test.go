package integration

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/logs"
	"github.com/stevedore-io/stevedore/stevedoretest"
	"github.com/stevedore-io/stevedore/task"
)

// TestEssentialContainerExitStopsTask runs a task whose essential
// container exits with code 3 after a moment, next to a non-essential
// sidecar that would run forever: the task reaches RUNNING, then stops
// with EssentialContainerExited, the exit code of the essential container
// and the sidecar's own exit code (it was stopped with SIGTERM).
func TestEssentialContainerExitStopsTask(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	def := e.registerDef(fmt.Sprintf(`{
		"family": "short-lived",
		"networkMode": "awsvpc",
		"containerDefinitions": [
			{"name": "main", "image": %[1]q, "essential": true, "memory": 16,
			 %[2]s, "stopTimeout": 2},
			{"name": "sidecar", "image": %[1]q, "essential": false, "memory": 16,
			 %[3]s, "stopTimeout": 2}
		]
	}`, imageRef, shellCommand(`echo working; sleep 2; echo giving up >&2; exit 3`), shellCommand(idleScript)))
	events := e.subscribe()

	id := e.runTask(def).ID()
	stopped := e.waitStopped(id, 45*time.Second)
	assert.Equal(t, task.EssentialContainerExited, stopped.StopCode)
	assert.Equal(t, task.ReasonEssentialContainerExited, stopped.StoppedReason)
	assert.Equal(t, "Essential container in task exited", stopped.StoppedReason)
	assert.False(t, stopped.StartedAt.IsZero(), "the task ran before it stopped")
	assert.False(t, stopped.StoppedAt.Before(stopped.StartedAt))

	main := stopped.Container("main")
	require.NotNil(t, main)
	assert.Equal(t, task.ContainerStopped, main.LastStatus)
	require.NotNil(t, main.ExitCode, "exit code of the essential container")
	assert.Equal(t, 3, *main.ExitCode)
	sidecar := stopped.Container("sidecar")
	require.NotNil(t, sidecar)
	assert.Equal(t, task.ContainerStopped, sidecar.LastStatus)
	require.NotNil(t, sidecar.ExitCode, "the sidecar was stopped and its exit recorded")
	assert.Equal(t, 0, *sidecar.ExitCode, "the sidecar's script exits 0 on SIGTERM")

	statuses := taskStatuses(events.stop(), id)
	assert.Contains(t, statuses, "RUNNING")
	assert.Equal(t, "STOPPED", statuses[len(statuses)-1])

	// The output of a container that exited is complete in the logs.
	lines, err := e.logs.Query(logs.Query{Task: id, Container: "main"})
	require.NoError(t, err)
	var msgs []string
	for _, l := range lines {
		msgs = append(msgs, string(l.Stream)+": "+l.Message)
	}
	assert.Equal(t, []string{"stdout: working", "stderr: giving up"}, msgs)

	// Both containers are gone from the runtime.
	left, err := e.rt.List(e.ctx, map[string]string{"stevedore.task": id})
	require.NoError(t, err)
	assert.Empty(t, left)
}

// TestDependsOnHealthyOrder starts "app" only once "db" is HEALTHY
// (dependsOn condition HEALTHY). Evidence from two sources:
//
//   - the runtime's start times: app starts at least one health-check
//     interval after db (the first check runs an interval after the start);
//   - times the containers write to a task volume they share, read from
//     the host's uptime clock: db's first passing check writes its time,
//     app writes its start time, which must come later.
func TestDependsOnHealthyOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const interval = 5 * time.Second
	uptime := `cut -d" " -f1 /proc/uptime`
	def := e.registerDef(fmt.Sprintf(`{
		"family": "ordered",
		"networkMode": "awsvpc",
		"volumes": [{"name": "shared"}],
		"containerDefinitions": [
			{"name": "db", "image": %[1]q, "essential": true, "memory": 16,
			 %[2]s,
			 "mountPoints": [{"sourceVolume": "shared", "containerPath": "/shared"}],
			 "healthCheck": {"command": ["CMD-SHELL", %[3]q], "interval": 5, "timeout": 2, "retries": 1},
			 "stopTimeout": 2},
			{"name": "app", "image": %[1]q, "essential": true, "memory": 16,
			 %[4]s,
			 "mountPoints": [{"sourceVolume": "shared", "containerPath": "/shared"}],
			 "dependsOn": [{"containerName": "db", "condition": "HEALTHY"}],
			 "stopTimeout": 2}
		]
	}`, imageRef,
		shellCommand(uptime+` > /shared/db-started; `+idleScript),
		`test -e /shared/db-healthy || `+uptime+` > /shared/db-healthy`,
		shellCommand(uptime+` > /shared/app-started; test -e /shared/db-healthy && echo yes > /shared/app-saw-db-healthy; `+idleScript)))

	id := e.runTask(def).ID()
	// RUNNING needs both essential containers running: app started.
	tk := e.waitRunning(id, 45*time.Second)
	assert.Equal(t, task.Healthy, tk.Container("db").HealthStatus, "db is HEALTHY once app runs")

	db, err := e.rt.Inspect(e.ctx, runtimeID(t, tk, "db"))
	require.NoError(t, err)
	app, err := e.rt.Inspect(e.ctx, runtimeID(t, tk, "app"))
	require.NoError(t, err)
	gap := app.StartedAt.Sub(db.StartedAt)
	t.Logf("runtime start times: db %s, app %s (+%s)", db.StartedAt.Format(time.RFC3339Nano), app.StartedAt.Format(time.RFC3339Nano), gap)
	assert.GreaterOrEqual(t, gap, interval-500*time.Millisecond, "app started before db could have passed its first check")

	out := e.exec(runtimeID(t, tk, "app"), "sh", "-c", "cat /shared/db-started /shared/db-healthy /shared/app-started /shared/app-saw-db-healthy")
	require.Equal(t, 0, out.ExitCode, "files on the shared volume: %s", out.Output)
	lines := strings.Fields(string(out.Output))
	require.Len(t, lines, 4, "files on the shared volume: %q", out.Output)
	dbStarted, dbHealthy, appStarted := seconds(t, lines[0]), seconds(t, lines[1]), seconds(t, lines[2])
	t.Logf("uptime clock: db started %.2f, db healthy %.2f, app started %.2f", dbStarted, dbHealthy, appStarted)
	assert.LessOrEqual(t, dbStarted, dbHealthy)
	assert.LessOrEqual(t, dbHealthy, appStarted, "app started before db's first passing check")
	assert.Equal(t, "yes", lines[3], "app saw db's passing check when it started")

	e.stopTask(id)
}

// TestStopTimeoutEndsWithSIGKILL stops a task whose container ignores
// SIGTERM (a shell as PID 1 without a trap): after the container's
// stopTimeout it gets SIGKILL, and exits with 128+9.
func TestStopTimeoutEndsWithSIGKILL(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	def := e.registerDef(fmt.Sprintf(`{
		"family": "stubborn",
		"networkMode": "awsvpc",
		"containerDefinitions": [{"name": "stubborn", "image": %q, "essential": true, "memory": 16,
			%s, "stopTimeout": 2}]
	}`, imageRef, shellCommand(`while :; do sleep 1; done`)))
	id := e.waitRunning(e.runTask(def).ID(), 30*time.Second).ID()
	_, err := e.orc.StopTask(e.ctx, &stevedore.StopTaskInput{Cluster: e.cluster, Task: id})
	require.NoError(t, err)
	stopped := e.waitStopped(id, 30*time.Second)
	assert.Equal(t, "Task stopped by user", stopped.StoppedReason)
	c := stopped.Container("stubborn")
	require.NotNil(t, c.ExitCode)
	assert.Equal(t, 137, *c.ExitCode, "killed by SIGKILL")
	took := stopped.ExecutionStoppedAt.Sub(stopped.StoppingAt)
	assert.GreaterOrEqual(t, took, 2*time.Second, "SIGKILL came before the stopTimeout")
	assert.Less(t, took, 10*time.Second, "the stop took far longer than the stopTimeout")
}

// TestContainerThatCannotStartFailsTask gives a container an entry point
// that does not exist: the task stops with TaskFailedToStart and a
// CannotStartContainerError reason, without reaching RUNNING, and its
// containers and network are cleaned up.
func TestContainerThatCannotStartFailsTask(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	def := e.registerDef(fmt.Sprintf(`{
		"family": "broken",
		"networkMode": "awsvpc",
		"containerDefinitions": [{"name": "broken", "image": %q, "essential": true, "memory": 16,
			"entryPoint": ["/no/such/program"]}]
	}`, imageRef))
	id := e.runTask(def).ID()
	stopped := e.waitStopped(id, 30*time.Second)
	assert.Equal(t, task.TaskFailedToStart, stopped.StopCode)
	assert.True(t, strings.HasPrefix(stopped.StoppedReason, "CannotStartContainerError: "), "reason: %s", stopped.StoppedReason)
	assert.True(t, stopped.StartedAt.IsZero(), "the task never ran")
	c := stopped.Container("broken")
	assert.Equal(t, task.ContainerStopped, c.LastStatus)
	assert.Equal(t, stopped.StoppedReason, c.Reason, "the container at fault carries the reason")
	assert.Empty(t, e.taskContainers(id))
	_, err := e.nw.Attachment(e.ctx, id)
	assert.Error(t, err, "the task's network is torn down")
}

// TestStopTaskWhileStarting stops tasks at each step of their start: right
// after RunTask, and as soon as the task is seen PENDING (network set up,
// images and containers on the way), ACTIVATING and RUNNING. Each reaches
// STOPPED with the user's stop code, and nothing of it is left: no
// container, no network, no reservation.
func TestStopTaskWhileStarting(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	def := e.registerDef(idleTaskDef("fleeting"))
	events, err := e.orc.Subscribe(e.ctx)
	require.NoError(t, err)
	for _, at := range []task.Status{task.Provisioning, task.Pending, task.Activating, task.Running} {
		t.Run(string(at), func(t *testing.T) {
			id := e.runTask(def).ID()
			if at != task.Provisioning {
				waitEvent(t, events, 30*time.Second, func(ev stevedore.Event) bool {
					return ev.Task != nil && ev.Task.ID() == id && ev.Task.LastStatus == at
				})
			}
			_, err := e.orc.StopTask(e.ctx, &stevedore.StopTaskInput{Cluster: e.cluster, Task: id, Reason: "changed my mind"})
			require.NoError(t, err)
			stopped := e.waitStopped(id, 30*time.Second)
			assert.Equal(t, task.UserInitiated, stopped.StopCode)
			assert.Equal(t, "changed my mind", stopped.StoppedReason)
			for _, c := range stopped.Containers {
				assert.Equal(t, task.ContainerStopped, c.LastStatus, "container %s", c.Name)
			}
			assert.Empty(t, e.taskContainers(id))
			_, err = e.nw.Attachment(e.ctx, id)
			assert.Error(t, err, "the task still has a network")
		})
	}
	insts, err := stevedoretest.InstancesOf(e.orc.DescribeContainerInstances(e.ctx, &stevedore.DescribeContainerInstancesInput{Cluster: e.cluster, ContainerInstances: []string{e.instance}}))
	require.NoError(t, err)
	assert.Equal(t, insts[0].Registered, insts[0].Remaining, "every reservation went back to the instance")
	assert.Zero(t, insts[0].RunningTasksCount)
	assert.Zero(t, insts[0].PendingTasksCount)
}

// waitEvent reads events until one matches, for at most timeout.
func waitEvent(t *testing.T, events <-chan stevedore.Event, timeout time.Duration, match func(stevedore.Event) bool) stevedore.Event {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-events:
			require.True(t, ok, "the event stream ended")
			if match(ev) {
				return ev
			}
		case <-timer.C:
			t.Fatalf("no matching event within %s", timeout)
		}
	}
}

func seconds(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err)
	return f
}
