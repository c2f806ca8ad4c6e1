package stevedore_test

import (
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/cluster"
	netfake "github.com/stevedore-io/stevedore/network/fake"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/stevedoretest"
	"github.com/stevedore-io/stevedore/task"
)

// TestCPUArchitecturePlacesOnMatchingInstances: instances register with
// their ecs.cpu-architecture (the host's unless given), and a definition
// with runtimePlatform.cpuArchitecture ARM64 runs only on an arm64
// instance; on a cluster without one, RunTask reports ECS's ATTRIBUTE
// failure, naming the attribute in its detail.
func TestCPUArchitecturePlacesOnMatchingInstances(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := stevedoretest.New(t, stevedoretest.WithInstances(0), stevedoretest.WithDefinitions(
			`{"family": "arm", "runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
			  "containerDefinitions": [{"name": "app", "image": "app", "memory": 64}]}`))
		register := func(id string, attrs map[string]string) cluster.ContainerInstance {
			rt := fake.New()
			t.Cleanup(rt.Close)
			out, err := env.O.RegisterContainerInstance(t.Context(), &stevedore.RegisterContainerInstanceInput{Cluster: env.Cluster,
				InstanceID: id, Resources: cluster.Resources{CPU: 1024, Memory: 1024}, Attributes: attrs,
				Runtime: rt, Network: netfake.New(), StateDir: t.TempDir()})
			require.NoError(t, err)
			return out.ContainerInstance
		}
		x86 := register("i-x86", map[string]string{cluster.AttributeCPUArchitecture: "x86_64"})
		v, ok := x86.Attribute(cluster.AttributeCPUArchitecture)
		assert.True(t, ok)
		assert.Equal(t, "x86_64", v)
		auto := register("i-auto", nil)
		v, ok = auto.Attribute(cluster.AttributeCPUArchitecture)
		assert.True(t, ok, "set at registration")
		assert.Contains(t, []string{"x86_64", "arm64"}, v, "the host's")
		if v == "arm64" {
			t.Skip("the host is arm64: the cluster has an arm64 instance already")
		}

		out, err := env.O.RunTask(t.Context(), &stevedore.RunTaskInput{Cluster: env.Cluster, TaskDefinition: "arm", Count: 1})
		require.NoError(t, err)
		assert.Empty(t, out.Tasks)
		require.Len(t, out.Failures, 1)
		assert.Equal(t, "ATTRIBUTE", out.Failures[0].Reason)
		assert.Contains(t, out.Failures[0].Detail, "ATTRIBUTE:ecs.cpu-architecture")

		register("i-arm", map[string]string{cluster.AttributeCPUArchitecture: "arm64"})
		out, err = env.O.RunTask(t.Context(), &stevedore.RunTaskInput{Cluster: env.Cluster, TaskDefinition: "arm", Count: 3})
		require.NoError(t, err)
		assert.Empty(t, out.Failures)
		require.Len(t, out.Tasks, 3)
		for _, tk := range out.Tasks {
			assert.Equal(t, "i-arm", tk.ContainerInstanceID())
			assert.Equal(t, task.Provisioning, tk.LastStatus)
		}
	})
}
