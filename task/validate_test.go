package task_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/errdefs"
	"github.com/stevedore-io/stevedore/task"
)

func ptr[T any](v T) *T { return &v }

// webDef returns a small valid definition for tests to change.
func webDef() *task.TaskDefinition {
	return &task.TaskDefinition{
		Family: "web",
		ContainerDefinitions: []task.ContainerDefinition{
			{
				Name:         "app",
				Image:        "nginx:1.27",
				Memory:       256,
				PortMappings: []task.PortMapping{{ContainerPort: 80}},
				HealthCheck:  &task.HealthCheck{Command: []string{"CMD", "true"}},
			},
			{
				Name:              "sidecar",
				Image:             "envoy:1",
				MemoryReservation: 64,
				Essential:         ptr(false),
			},
		},
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(td *task.TaskDefinition)
		// want lists "path: message" of every problem; empty means valid.
		want []string
	}{
		{name: "baseline", change: func(*task.TaskDefinition) {}},
		{
			name: "awsvpc host port equal to container port",
			change: func(td *task.TaskDefinition) {
				td.NetworkMode = task.NetworkAWSVPC
				td.ContainerDefinitions[0].PortMappings[0].HostPort = 80
			},
		},
		{
			name: "host mode port used twice",
			change: func(td *task.TaskDefinition) {
				td.NetworkMode = task.NetworkHost
				td.ContainerDefinitions[1].PortMappings = []task.PortMapping{{ContainerPort: 80, Protocol: task.ProtocolTCP}}
			},
			want: []string{"containerDefinitions[1].portMappings[0].containerPort: host port 80/tcp is already used by containerDefinitions[0].portMappings[0]"},
		},
		{
			name: "bridge dynamic ports may repeat",
			change: func(td *task.TaskDefinition) {
				td.ContainerDefinitions[1].PortMappings = []task.PortMapping{{ContainerPort: 80}, {ContainerPort: 80}}
			},
		},
		{
			name: "bridge static port used twice",
			change: func(td *task.TaskDefinition) {
				td.ContainerDefinitions[0].PortMappings = []task.PortMapping{{ContainerPort: 80, HostPort: 8080}, {ContainerPort: 81, HostPort: 8080}}
			},
			want: []string{"containerDefinitions[0].portMappings[1].hostPort: host port 8080/tcp is already used by containerDefinitions[0].portMappings[0]"},
		},
		{
			name: "health check defaults are valid",
			change: func(td *task.TaskDefinition) {
				td.ContainerDefinitions[0].HealthCheck = &task.HealthCheck{Command: []string{"CMD-SHELL", "exit 0"}}
			},
		},
		{
			name: "health check bounds are inclusive",
			change: func(td *task.TaskDefinition) {
				td.ContainerDefinitions[0].HealthCheck = &task.HealthCheck{Command: []string{"CMD", "true"}, IntervalSeconds: 300, TimeoutSeconds: 2, RetryCount: 10, StartPeriodSeconds: 300}
			},
		},
		{
			name: "health check interval too short",
			change: func(td *task.TaskDefinition) {
				td.ContainerDefinitions[0].HealthCheck.IntervalSeconds = 4
			},
			want: []string{"containerDefinitions[0].healthCheck.interval: must be between 5 and 300 seconds"},
		},
		{
			name: "dependsOn HEALTHY on a container with a health check",
			change: func(td *task.TaskDefinition) {
				td.ContainerDefinitions[1].DependsOn = []task.ContainerDependency{{ContainerName: "app", Condition: task.ConditionHealthy}}
			},
		},
		{
			name: "dependsOn SUCCESS on an essential container",
			change: func(td *task.TaskDefinition) {
				td.ContainerDefinitions[1].DependsOn = []task.ContainerDependency{{ContainerName: "app", Condition: task.ConditionSuccess}}
			},
			want: []string{`containerDefinitions[1].dependsOn[0].condition: SUCCESS cannot target essential container "app"`},
		},
		{
			name: "dependency cycle through links",
			change: func(td *task.TaskDefinition) {
				td.ContainerDefinitions[0].Links = []string{"sidecar:proxy"}
				td.ContainerDefinitions[1].DependsOn = []task.ContainerDependency{{ContainerName: "app", Condition: task.ConditionStart}}
			},
			want: []string{"containerDefinitions[0].links: dependency cycle: app -> sidecar -> app"},
		},
		{
			name:   "no essential container",
			change: func(td *task.TaskDefinition) { td.ContainerDefinitions[0].Essential = ptr(false) },
			want:   []string{"containerDefinitions: must have at least one essential container"},
		},
		{
			name:   "task memory makes container memory optional",
			change: func(td *task.TaskDefinition) { td.Memory = "1 GB"; td.ContainerDefinitions[0].Memory = 0 },
		},
		{
			name:   "container memory required without task memory",
			change: func(td *task.TaskDefinition) { td.ContainerDefinitions[0].Memory = 0 },
			want:   []string{"containerDefinitions[0].memory: is required, or memoryReservation, when the task sets no memory"},
		},
		{
			name: "task cpu covers the containers",
			change: func(td *task.TaskDefinition) {
				td.CPU = "0.25 vCPU"
				td.ContainerDefinitions[0].CPU = 200
				td.ContainerDefinitions[1].CPU = 56
			},
		},
		{
			name: "task cpu below the containers' sum",
			change: func(td *task.TaskDefinition) {
				td.CPU = "256"
				td.ContainerDefinitions[0].CPU = 200
				td.ContainerDefinitions[1].CPU = 57
			},
			want: []string{"cpu: must be at least the sum of the containers' cpu (257 units)"},
		},
		{
			name:   "task cpu upper bound",
			change: func(td *task.TaskDefinition) { td.CPU = "192 vCPU" },
		},
		{
			name:   "task cpu above the upper bound",
			change: func(td *task.TaskDefinition) { td.CPU = "196609" },
			want:   []string{"cpu: must be between 128 and 196608 cpu units (0.125 to 192 vCPU)"},
		},
		{
			name: "Fargate sizes",
			change: func(td *task.TaskDefinition) {
				td.RequiresCompatibilities = []string{"FARGATE"}
				td.NetworkMode = task.NetworkAWSVPC
				td.CPU, td.Memory = "256", "512"
			},
		},
		{
			name: "Fargate 8 vCPU needs 4 GB steps",
			change: func(td *task.TaskDefinition) {
				td.RequiresCompatibilities = []string{"FARGATE"}
				td.NetworkMode = task.NetworkAWSVPC
				td.CPU, td.Memory = "8 vCPU", "17 GB"
			},
			want: []string{"memory: must be 16384 to 61440 MiB in steps of 4096 on Fargate with cpu 8192"},
		},
		{
			name: "stevedore log driver",
			change: func(td *task.TaskDefinition) {
				td.ContainerDefinitions[0].LogConfiguration = &task.LogConfiguration{LogDriver: task.LogDriverStevedore}
			},
		},
		{
			name: "capabilities ALL",
			change: func(td *task.TaskDefinition) {
				td.ContainerDefinitions[0].LinuxParameters = &task.LinuxParameters{Capabilities: &task.KernelCapabilities{Drop: []string{"ALL"}, Add: []string{"NET_BIND_SERVICE"}}}
			},
		},
		{
			name: "stop timeout bounds",
			change: func(td *task.TaskDefinition) {
				td.ContainerDefinitions[0].StopTimeoutSeconds = ptr(0)
				td.ContainerDefinitions[1].StopTimeoutSeconds = ptr(120)
			},
		},
		{
			name:   "empty docker label key",
			change: func(td *task.TaskDefinition) { td.ContainerDefinitions[0].DockerLabels = map[string]string{"": "x"} },
			want:   []string{"containerDefinitions[0].dockerLabels: keys must not be empty"},
		},
		{
			name: "secret name must be an environment variable name",
			change: func(td *task.TaskDefinition) {
				td.ContainerDefinitions[0].Secrets = []task.Secret{{Name: "DB-PASSWORD", ValueFrom: "arn:x"}}
			},
			want: []string{"containerDefinitions[0].secrets[0].name: must be a valid environment variable name (letters, digits and underscores, not starting with a digit)"},
		},
		{
			name: "placement expression at the limit",
			change: func(td *task.TaskDefinition) {
				td.PlacementConstraints = []task.PlacementConstraint{{Type: "memberOf", Expression: strings.Repeat("x", 2000)}}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			td := webDef()
			tt.change(td)
			err := td.Validate()
			if len(tt.want) == 0 {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, task.ErrInvalid)
			var got []string
			for _, fe := range errdefs.FieldErrors(err) {
				got = append(got, fe.Path+": "+fe.Reason)
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestValidationErrorMatching(t *testing.T) {
	t.Parallel()
	td := webDef()
	td.ContainerDefinitions[0].HealthCheck.IntervalSeconds = 1
	err := td.Validate()
	require.ErrorIs(t, err, task.ErrInvalid)
	assert.EqualError(t, err, `invalid task definition "web": containerDefinitions[0].healthCheck.interval: must be between 5 and 300 seconds`)

	require.ErrorIs(t, err, errdefs.ErrInvalid)
	var fe *errdefs.FieldError
	require.True(t, errors.As(err, &fe), "errors.As finds the field error")
	assert.Equal(t, "containerDefinitions[0].healthCheck.interval", fe.Path)
	assert.Equal(t, "must be between 5 and 300 seconds", fe.Reason)

	td.ContainerDefinitions[1].Image = ""
	assert.EqualError(t, td.Validate(), `invalid task definition "web" (2 problems):
	containerDefinitions[0].healthCheck.interval: must be between 5 and 300 seconds
	containerDefinitions[1].image: is required`)
}
