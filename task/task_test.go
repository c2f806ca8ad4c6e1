package task_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/task"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func newWebTask(t *testing.T) *task.Task {
	t.Helper()
	td := webDef()
	td.Revision = 3
	tk, err := task.NewTask("arn:aws:ecs:eu-west-1:123456789012:task/prod/0123abcd", td, nil, t0)
	require.NoError(t, err)
	return tk
}

func TestNewTask(t *testing.T) {
	t.Parallel()
	tk := newWebTask(t)
	assert.Equal(t, "0123abcd", tk.ID())
	assert.Equal(t, "web:3", tk.TaskDefinitionARN)
	assert.Equal(t, "web:3", tk.TaskDefinitionRef())
	assert.Equal(t, task.Provisioning, tk.LastStatus)
	assert.Equal(t, task.Running, tk.DesiredStatus)
	assert.Equal(t, task.HealthUnknown, tk.HealthStatus)
	assert.Equal(t, int64(1), tk.Version)
	assert.Equal(t, t0, tk.CreatedAt)
	assert.Equal(t, task.CPU("0"), tk.CPU)
	assert.Equal(t, task.Memory("320"), tk.Memory)
	assert.Equal(t, []task.Container{
		{Name: "app", Image: "nginx:1.27", LastStatus: task.ContainerPending, HealthStatus: task.HealthUnknown, Essential: true, HasHealthCheck: true},
		{Name: "sidecar", Image: "envoy:1", LastStatus: task.ContainerPending, HealthStatus: task.HealthUnknown},
	}, tk.Containers)

	tk.ClusterARN = "arn:aws:ecs:eu-west-1:123456789012:cluster/prod"
	tk.ContainerInstanceARN = "arn:aws:ecs:eu-west-1:123456789012:container-instance/prod/i-1"
	assert.Equal(t, "prod", tk.ClusterName())
	assert.Equal(t, "i-1", tk.ContainerInstanceID())

	plain, err := task.NewTask("t-1", &task.TaskDefinition{Family: "f", TaskDefinitionARN: "arn:aws:ecs:x:1:task-definition/f:9"}, nil, t0)
	require.NoError(t, err)
	assert.Equal(t, "t-1", plain.ID(), "a plain identifier is its own ID")
	assert.Equal(t, "f:9", plain.TaskDefinitionRef())
}

func TestNewTaskWithOverrides(t *testing.T) {
	t.Parallel()
	td := webDef()
	td.ContainerDefinitions[0].Environment = []task.KeyValuePair{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}}
	o := &task.TaskOverride{
		Memory: "1 GB",
		ContainerOverrides: []task.ContainerOverride{{
			Name:        "app",
			Command:     []string{"nginx", "-g", "daemon off;"},
			Environment: []task.KeyValuePair{{Name: "B", Value: "two"}, {Name: "C", Value: "3"}},
			CPU:         ptr(512),
			Memory:      ptr(0),
		}},
	}
	applied, err := o.Apply(td)
	require.NoError(t, err)
	app := applied.Container("app")
	assert.Equal(t, []string{"nginx", "-g", "daemon off;"}, app.Command)
	assert.Equal(t, []task.KeyValuePair{{Name: "A", Value: "1"}, {Name: "B", Value: "two"}, {Name: "C", Value: "3"}}, app.Environment)
	assert.Equal(t, 512, app.CPU)
	assert.Equal(t, 0, app.Memory)
	assert.Equal(t, task.Memory("1 GB"), applied.Memory)
	assert.Nil(t, td.ContainerDefinitions[0].Command, "the definition is not changed")
	assert.Equal(t, 256, td.ContainerDefinitions[0].Memory)

	tk, err := task.NewTask("t", td, o, t0)
	require.NoError(t, err)
	assert.Equal(t, task.CPU("512"), tk.CPU)
	assert.Equal(t, task.Memory("1024"), tk.Memory)
	require.NotNil(t, tk.Overrides)
	o.ContainerOverrides[0].Name = "changed"
	assert.Equal(t, "app", tk.Overrides.ContainerOverrides[0].Name, "the task holds its own copy")

	_, err = task.NewTask("t", td, &task.TaskOverride{ContainerOverrides: []task.ContainerOverride{{Name: "ghost"}}}, t0)
	require.ErrorIs(t, err, task.ErrUnknownContainer)
}

func TestSetLastStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		path []task.Status
		ok   bool
	}{
		{"full lifecycle", []task.Status{task.Pending, task.Activating, task.Running, task.Deactivating, task.Stopping, task.Deprovisioning, task.Stopped}, true},
		{"without load balancer", []task.Status{task.Pending, task.Running, task.Stopping, task.Stopped}, true},
		{"failed to start", []task.Status{task.Pending, task.Stopped}, true},
		{"failed during provisioning", []task.Status{task.Deprovisioning, task.Stopped}, true},
		{"crashed while running", []task.Status{task.Pending, task.Running, task.Stopped}, true},
		{"stop while activating", []task.Status{task.Pending, task.Activating, task.Deactivating, task.Stopped}, true},
		{"repeat is a no-op", []task.Status{task.Pending, task.Pending, task.Running, task.Running}, true},
		{"backwards", []task.Status{task.Pending, task.Running, task.Pending}, false},
		{"after stopped", []task.Status{task.Stopped, task.Deprovisioning}, false},
		{"running before pending", []task.Status{task.Running}, false},
		{"activating before pending", []task.Status{task.Activating}, false},
		{"deactivating what never activated", []task.Status{task.Pending, task.Deactivating}, false},
		{"unknown status", []task.Status{"SLEEPING"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tk := newWebTask(t)
			var err error
			for _, s := range tt.path {
				before := *tk
				if err = tk.SetLastStatus(s, t0); err != nil {
					assert.Equal(t, before.LastStatus, tk.LastStatus, "a rejected move changes nothing")
					assert.Equal(t, before.Version, tk.Version)
					break
				}
			}
			if tt.ok {
				require.NoError(t, err)
				assert.Equal(t, tt.path[len(tt.path)-1], tk.LastStatus)
				return
			}
			require.ErrorIs(t, err, task.ErrIllegalTransition)
			var terr *task.TransitionError
			require.True(t, errors.As(err, &terr))
			assert.Equal(t, "task 0123abcd", terr.Object)
		})
	}
}

func TestLifecycleTimestampsAndVersion(t *testing.T) {
	t.Parallel()
	tk := newWebTask(t)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }

	require.NoError(t, tk.SetLastStatus(task.Pending, at(1)))
	tk.MarkPullStarted(at(2))
	tk.MarkPullStopped(at(3))
	require.NoError(t, tk.SetLastStatus(task.Running, at(4)))
	assert.True(t, tk.Stop(task.UserInitiated, "deploy", at(5)))
	assert.False(t, tk.Stop(task.SpotInterruption, "later", at(6)), "Stop is idempotent")
	require.NoError(t, tk.SetLastStatus(task.Stopping, at(7)))
	require.NoError(t, tk.SetLastStatus(task.Deprovisioning, at(8)))
	require.NoError(t, tk.SetLastStatus(task.Stopped, at(9)))

	assert.Equal(t, at(1), tk.ConnectivityAt)
	assert.Equal(t, at(2), tk.PullStartedAt)
	assert.Equal(t, at(3), tk.PullStoppedAt)
	assert.Equal(t, at(4), tk.StartedAt)
	assert.Equal(t, at(5), tk.StoppingAt, "stopping began with the stop request")
	assert.Equal(t, at(8), tk.ExecutionStoppedAt)
	assert.Equal(t, at(9), tk.StoppedAt)
	assert.Equal(t, task.UserInitiated, tk.StopCode)
	assert.Equal(t, "deploy", tk.StoppedReason)
	assert.Equal(t, task.Stopped, tk.DesiredStatus)
	assert.Equal(t, int64(1+8), tk.Version, "one increment per change")
}

func TestStoppedImpliesDesiredStopped(t *testing.T) {
	t.Parallel()
	tk := newWebTask(t)
	require.NoError(t, tk.SetLastStatus(task.Stopped, t0))
	assert.Equal(t, task.Stopped, tk.DesiredStatus)
	assert.Equal(t, t0, tk.StoppedAt)
	assert.Equal(t, t0, tk.ExecutionStoppedAt)
	assert.False(t, tk.Stop(task.UserInitiated, "too late", t0))
	assert.Empty(t, tk.StopCode)
}

func TestContainerLifecycle(t *testing.T) {
	t.Parallel()
	tk := newWebTask(t)
	require.NoError(t, tk.SetContainerRunning("sidecar"))
	require.NoError(t, tk.SetContainerRunning("sidecar"))
	v := tk.Version

	require.NoError(t, tk.SetContainerStopped("sidecar", ptr(0), "done", t0))
	assert.Equal(t, task.Running, tk.DesiredStatus, "a non-essential container's exit does not stop the task")
	assert.Equal(t, v+1, tk.Version)
	require.NoError(t, tk.SetContainerStopped("sidecar", ptr(9), "again", t0))
	sidecar := tk.Container("sidecar")
	assert.Equal(t, 0, *sidecar.ExitCode, "the first exit code stays")
	assert.Equal(t, "done", sidecar.Reason)
	err := tk.SetContainerRunning("sidecar")
	require.ErrorIs(t, err, task.ErrIllegalTransition)
	assert.EqualError(t, err, "container sidecar of task 0123abcd: illegal status transition STOPPED -> RUNNING")

	require.NoError(t, tk.SetContainerRunning("app"))
	require.NoError(t, tk.SetContainerStopped("app", ptr(137), "OOMKilled", t0.Add(time.Minute)))
	assert.Equal(t, task.Stopped, tk.DesiredStatus, "an essential container's exit stops the task")
	assert.Equal(t, task.EssentialContainerExited, tk.StopCode)
	assert.Equal(t, task.ReasonEssentialContainerExited, tk.StoppedReason)
	assert.Equal(t, t0.Add(time.Minute), tk.StoppingAt)
	assert.Equal(t, 137, *tk.Container("app").ExitCode)

	require.ErrorIs(t, tk.SetContainerRunning("ghost"), task.ErrUnknownContainer)
	require.ErrorIs(t, tk.SetContainerStopped("ghost", nil, "", t0), task.ErrUnknownContainer)
	require.ErrorIs(t, tk.SetContainerHealth("ghost", task.Healthy), task.ErrUnknownContainer)
}

func TestTaskHealth(t *testing.T) {
	t.Parallel()
	c := func(essential, checked bool, h task.HealthStatus) task.Container {
		return task.Container{Essential: essential, HasHealthCheck: checked, HealthStatus: h}
	}
	tests := []struct {
		name       string
		containers []task.Container
		want       task.HealthStatus
	}{
		{"no containers", nil, task.HealthUnknown},
		{"no health checks", []task.Container{c(true, false, task.HealthUnknown)}, task.HealthUnknown},
		{"only non-essential checks", []task.Container{c(true, false, ""), c(false, true, task.Healthy)}, task.HealthUnknown},
		{"all healthy", []task.Container{c(true, true, task.Healthy), c(true, true, task.Healthy)}, task.Healthy},
		{"one unknown", []task.Container{c(true, true, task.Healthy), c(true, true, task.HealthUnknown)}, task.HealthUnknown},
		{"unhealthy beats unknown", []task.Container{c(true, true, task.HealthUnknown), c(true, true, task.Unhealthy)}, task.Unhealthy},
		{"non-essential unhealthy ignored", []task.Container{c(true, true, task.Healthy), c(false, true, task.Unhealthy)}, task.Healthy},
		{"unchecked container ignored", []task.Container{c(true, true, task.Healthy), c(true, false, task.Unhealthy)}, task.Healthy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tk := &task.Task{Containers: tt.containers}
			assert.Equal(t, tt.want, tk.Health())
		})
	}

	tk := newWebTask(t)
	require.NoError(t, tk.SetContainerHealth("app", task.Healthy))
	assert.Equal(t, task.Healthy, tk.HealthStatus)
	require.NoError(t, tk.SetContainerHealth("sidecar", task.Unhealthy))
	assert.Equal(t, task.Healthy, tk.HealthStatus, "sidecar is not essential")
	require.NoError(t, tk.SetContainerHealth("app", task.Unhealthy))
	assert.Equal(t, task.Unhealthy, tk.HealthStatus)
	v := tk.Version
	require.NoError(t, tk.SetContainerHealth("app", task.Unhealthy))
	assert.Equal(t, v, tk.Version, "no change, no new version")
}

func TestTaskJSON(t *testing.T) {
	t.Parallel()
	tk := newWebTask(t)
	tk.ClusterARN = "arn:aws:ecs:eu-west-1:123456789012:cluster/prod"
	tk.Group = "service:web"
	require.NoError(t, tk.SetLastStatus(task.Pending, t0))
	require.NoError(t, tk.SetContainerRunning("app"))
	require.NoError(t, tk.SetContainerStopped("app", ptr(1), "Exited (1)", t0))
	tk.Containers[0].NetworkBindings = []task.NetworkBinding{{BindIP: "0.0.0.0", ContainerPort: 80, HostPort: 32768, Protocol: task.ProtocolTCP}}

	b, err := json.Marshal(tk)
	require.NoError(t, err)
	var generic map[string]any
	require.NoError(t, json.Unmarshal(b, &generic))
	for _, key := range []string{"taskArn", "clusterArn", "taskDefinitionArn", "group", "version", "lastStatus", "desiredStatus", "healthStatus", "stopCode", "stoppedReason", "containers", "createdAt", "connectivityAt", "stoppingAt"} {
		assert.Contains(t, generic, key)
	}
	assert.NotContains(t, generic, "stoppedAt", "unset timestamps are left out")
	container := generic["containers"].([]any)[0].(map[string]any)
	assert.Equal(t, 1.0, container["exitCode"])
	assert.Equal(t, "STOPPED", container["lastStatus"])

	var back task.Task
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, tk, &back)
}

func TestTaskClone(t *testing.T) {
	t.Parallel()
	tk := newWebTask(t)
	require.NoError(t, tk.SetContainerStopped("sidecar", ptr(3), "x", t0))
	tk.Overrides = &task.TaskOverride{ContainerOverrides: []task.ContainerOverride{{Name: "app", CPU: ptr(1)}}}
	c := tk.Clone()
	require.Equal(t, tk, c)
	*c.Containers[1].ExitCode = 99
	c.Containers[0].Name = "changed"
	*c.Overrides.ContainerOverrides[0].CPU = 2
	assert.Equal(t, 3, *tk.Containers[1].ExitCode)
	assert.Equal(t, "app", tk.Containers[0].Name)
	assert.Equal(t, 1, *tk.Overrides.ContainerOverrides[0].CPU)
}
