package task_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/errdefs"
	"github.com/stevedore-io/stevedore/task"
)

func TestDefaults(t *testing.T) {
	t.Parallel()
	var c task.ContainerDefinition
	assert.True(t, c.IsEssential(), "essential defaults to true")
	c.Essential = ptr(false)
	assert.False(t, c.IsEssential())
	c.Essential = ptr(true)
	assert.True(t, c.IsEssential())

	assert.Equal(t, 30*time.Second, c.StopTimeout())
	c.StopTimeoutSeconds = ptr(0)
	assert.Equal(t, time.Duration(0), c.StopTimeout(), "an explicit 0 is kept")
	_, ok := c.StartTimeout()
	assert.False(t, ok)
	c.StartTimeoutSeconds = ptr(90)
	d, ok := c.StartTimeout()
	assert.True(t, ok)
	assert.Equal(t, 90*time.Second, d)

	var hc task.HealthCheck
	assert.Equal(t, 30*time.Second, hc.Interval())
	assert.Equal(t, 5*time.Second, hc.Timeout())
	assert.Equal(t, 3, hc.Retries())
	assert.Equal(t, time.Duration(0), hc.StartPeriod())
	hc = task.HealthCheck{IntervalSeconds: 10, TimeoutSeconds: 2, RetryCount: 7, StartPeriodSeconds: 60}
	assert.Equal(t, 10*time.Second, hc.Interval())
	assert.Equal(t, 2*time.Second, hc.Timeout())
	assert.Equal(t, 7, hc.Retries())
	assert.Equal(t, time.Minute, hc.StartPeriod())

	var td task.TaskDefinition
	assert.Equal(t, task.NetworkBridge, td.EffectiveNetworkMode())
	td.NetworkMode = task.NetworkAWSVPC
	assert.Equal(t, task.NetworkAWSVPC, td.EffectiveNetworkMode())

	var pm task.PortMapping
	assert.Equal(t, task.ProtocolTCP, pm.EffectiveProtocol())
	pm.Protocol = task.ProtocolUDP
	assert.Equal(t, task.ProtocolUDP, pm.EffectiveProtocol())
}

func TestRef(t *testing.T) {
	t.Parallel()
	td := task.TaskDefinition{Family: "web"}
	assert.Equal(t, "web", td.Ref())
	td.Revision = 12
	assert.Equal(t, "web:12", td.Ref())
}

func TestRequirements(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		td       task.TaskDefinition
		cpu, mem int
	}{
		{
			name: "sum of containers, reservation before memory",
			td: task.TaskDefinition{ContainerDefinitions: []task.ContainerDefinition{
				{CPU: 256, Memory: 512},
				{CPU: 128, Memory: 512, MemoryReservation: 128},
				{MemoryReservation: 64},
			}},
			cpu: 384, mem: 704,
		},
		{
			name: "task level wins",
			td: task.TaskDefinition{CPU: "1 vCPU", Memory: "2 GB", ContainerDefinitions: []task.ContainerDefinition{
				{CPU: 256, Memory: 512},
			}},
			cpu: 1024, mem: 2048,
		},
		{
			name: "only task memory",
			td: task.TaskDefinition{Memory: "512", ContainerDefinitions: []task.ContainerDefinition{
				{CPU: 100}, {CPU: 28},
			}},
			cpu: 128, mem: 512,
		},
		{
			name: "unparsable task level falls back to the containers",
			td:   task.TaskDefinition{CPU: "lots", ContainerDefinitions: []task.ContainerDefinition{{CPU: 10, Memory: 20}}},
			cpu:  10, mem: 20,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cpu, mem := tt.td.Requirements()
			assert.Equal(t, tt.cpu, cpu, "cpu")
			assert.Equal(t, tt.mem, mem, "memory")
		})
	}
}

func TestStartOrder(t *testing.T) {
	t.Parallel()
	td, _, err := task.ParseDefinition(readTestdata(t, "sidecar-dependson.json"))
	require.NoError(t, err)
	start, err := td.StartOrder()
	require.NoError(t, err)
	assert.Equal(t, [][]string{{"envoy", "migrate"}, {"app"}}, start)
	stop, err := td.StopOrder()
	require.NoError(t, err)
	assert.Equal(t, [][]string{{"app"}, {"envoy", "migrate"}}, stop)

	td, _, err = task.ParseDefinition(readTestdata(t, "bridge-dynamic-ports.json"))
	require.NoError(t, err)
	start, err = td.StartOrder()
	require.NoError(t, err)
	assert.Equal(t, [][]string{{"redis"}, {"api"}}, start, "links order containers too")

	chain := &task.TaskDefinition{ContainerDefinitions: []task.ContainerDefinition{
		{Name: "d", DependsOn: []task.ContainerDependency{{ContainerName: "c"}, {ContainerName: "a"}}},
		{Name: "c", VolumesFrom: []task.VolumeFrom{{SourceContainer: "b"}}},
		{Name: "b", DependsOn: []task.ContainerDependency{{ContainerName: "a"}, {ContainerName: "ghost"}}},
		{Name: "a"},
		{Name: "e"},
	}}
	start, err = chain.StartOrder()
	require.NoError(t, err)
	assert.Equal(t, [][]string{{"a", "e"}, {"b"}, {"c"}, {"d"}}, start)
}

func TestStartOrderCycle(t *testing.T) {
	t.Parallel()
	td := &task.TaskDefinition{Family: "loop", ContainerDefinitions: []task.ContainerDefinition{
		{Name: "a", DependsOn: []task.ContainerDependency{{ContainerName: "b"}}},
		{Name: "b", DependsOn: []task.ContainerDependency{{ContainerName: "c"}}},
		{Name: "c", DependsOn: []task.ContainerDependency{{ContainerName: "a"}}},
		{Name: "x", DependsOn: []task.ContainerDependency{{ContainerName: "a"}}},
	}}
	_, err := td.StartOrder()
	require.ErrorIs(t, err, task.ErrInvalid)
	assert.EqualError(t, err, `invalid task definition "loop": containerDefinitions[0].dependsOn: dependency cycle: a -> b -> c -> a`)
	require.Len(t, errdefs.FieldErrors(err), 1)
	_, err = td.StopOrder()
	require.ErrorIs(t, err, task.ErrInvalid)
}
