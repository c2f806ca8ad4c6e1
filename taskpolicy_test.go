package stevedore_test

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/placement"
	"github.com/stevedore-io/stevedore/stevedoretest"
	"github.com/stevedore-io/stevedore/task"
	"github.com/stevedore-io/stevedore/task/policy"
)

// hostTakeover is the audit's definition: the host's root mounted, every
// capability, the host's network.
const hostTakeover = `{"family": "own", "networkMode": "host",
  "volumes": [{"name": "root", "host": {"sourcePath": "/"}}],
  "containerDefinitions": [{"name": "c", "image": "web:1", "memory": 64, "privileged": true,
    "command": ["sleep", "infinity"],
    "mountPoints": [{"sourceVolume": "root", "containerPath": "/host"}],
    "linuxParameters": {"capabilities": {"add": ["ALL"]}}}]}`

func registerJSON(t *testing.T, o *stevedore.Orchestrator, js string) string {
	t.Helper()
	td, _, err := task.ParseDefinition([]byte(js))
	require.NoError(t, err)
	reg, err := o.RegisterTaskDefinition(t.Context(), &stevedore.RegisterTaskDefinitionInput{TaskDefinition: *td})
	require.NoError(t, err)
	return reg.TaskDefinition.Ref()
}

func TestDefaultTaskPolicyRefusesHostTakeover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, 1)
		ref := registerJSON(t, e.o, hostTakeover)

		_, err := e.o.RunTask(e.ctx, &stevedore.RunTaskInput{Cluster: "test", TaskDefinition: ref})
		require.Error(t, err)
		assert.ErrorIs(t, err, stevedore.ErrInvalid)
		assert.ErrorIs(t, err, policy.ErrViolation)
		var ve *policy.ViolationError
		require.ErrorAs(t, err, &ve)
		assert.Equal(t, "default", ve.Policy)
		var paths []string
		for _, v := range ve.Violations {
			paths = append(paths, v.Path)
		}
		assert.Equal(t, []string{"networkMode", "volumes[0].host.sourcePath", "containerDefinitions[0].privileged",
			"containerDefinitions[0].linuxParameters.capabilities.add[0]"}, paths)

		_, err = e.o.CreateService(e.ctx, &stevedore.CreateServiceInput{Cluster: "test", ServiceName: "own", TaskDefinition: ref, DesiredCount: 1})
		assert.ErrorIs(t, err, policy.ErrViolation)
		ids, err := e.o.AllTaskArns(e.ctx, &stevedore.ListTasksInput{Cluster: "test"})
		require.NoError(t, err)
		assert.Empty(t, ids, "nothing was created")

		descs, err := e.o.DescribeClusters(e.ctx, &stevedore.DescribeClustersInput{Clusters: []string{"test"}})
		require.NoError(t, err)
		assert.Equal(t, stevedore.DefaultTaskPolicy, descs.Clusters[0].TaskPolicy)
	})
}

func TestPrivilegedClusterRunsWhatBaselineRefuses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o, err := stevedore.New(stevedore.WithTaskPolicy(policy.Policy{Level: policy.Privileged}))
		require.NoError(t, err)
		e := envFor(t, o, 1)
		out, err := o.RunTask(e.ctx, &stevedore.RunTaskInput{Cluster: "test", TaskDefinition: registerJSON(t, o, hostTakeover)})
		require.NoError(t, err)
		require.Len(t, out.Tasks, 1)

		_, err = o.CreateCluster(e.ctx, &stevedore.CreateClusterInput{ClusterName: "strict", TaskPolicy: &policy.Policy{Level: policy.Restricted}})
		require.NoError(t, err)
		descs, err := o.DescribeClusters(e.ctx, &stevedore.DescribeClustersInput{Clusters: []string{"strict"}})
		require.NoError(t, err)
		assert.Equal(t, policy.Restricted, descs.Clusters[0].TaskPolicy.Level)
		assert.Equal(t, "cluster strict", descs.Clusters[0].TaskPolicy.String())

		_, err = o.CreateCluster(e.ctx, &stevedore.CreateClusterInput{ClusterName: "bad", TaskPolicy: &policy.Policy{HostPaths: []string{"/"}}})
		assert.ErrorIs(t, err, stevedore.ErrInvalid)
	})
}

// TestTighterPolicyKeepsTheServiceButRefusesItsNextDeployment: a running
// service whose cluster's policy tightens keeps running; its next
// deployment is refused, with an event saying why, and nothing else
// changes.
func TestTighterPolicyKeepsTheServiceButRefusesItsNextDeployment(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, 2)
		v1 := e.register("v1")
		_, err := e.o.CreateService(e.ctx, &stevedore.CreateServiceInput{Cluster: "test", ServiceName: "web", TaskDefinition: v1, DesiredCount: 2})
		require.NoError(t, err)
		e.waitSteady("web", 5*time.Minute)

		require.NoError(t, errOf(e.o.PutClusterTaskPolicy(e.ctx, &stevedore.PutClusterTaskPolicyInput{Cluster: "test", TaskPolicy: &policy.Policy{Level: policy.Restricted}})))
		v2 := e.register("v2")
		before := e.service("web")
		_, err = e.o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", TaskDefinition: &v2})
		require.ErrorIs(t, err, policy.ErrViolation)
		assert.Contains(t, err.Error(), `containerDefinitions[0].user`)

		time.Sleep(time.Minute)
		synctest.Wait()
		after := e.service("web")
		assert.Equal(t, v1, after.TaskDefinition, "the service stays on its deployment")
		assert.Equal(t, len(before.Deployments), len(after.Deployments))
		assert.Equal(t, 2, after.RunningCount, "its tasks keep running")
		require.NotEmpty(t, after.Events)
		assert.Contains(t, after.Events[0].Message, `(service web) was unable to start a deployment of web:2: task policy "cluster test" (restricted) refuses it`)

		_, err = e.o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", ForceNewDeployment: true})
		assert.ErrorIs(t, err, policy.ErrViolation, "a forced deployment of the same definition is a new deployment too")
		desired := 3
		_, err = e.o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", DesiredCount: &desired})
		assert.NoError(t, err, "scaling is no new deployment")

		require.NoError(t, errOf(e.o.PutClusterTaskPolicy(e.ctx, &stevedore.PutClusterTaskPolicyInput{Cluster: "test", TaskPolicy: nil})))
		_, err = e.o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", TaskDefinition: &v2})
		assert.NoError(t, err, "back to the default policy")
	})
}

// TestInstancePolicyKeepsRefusedTasksOff: an instance's own policy keeps the
// definitions it refuses off it; with no other instance they fail to
// place, with reason TaskPolicy.
func TestInstancePolicyKeepsRefusedTasksOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, 0)
		restricted := &policy.Policy{Name: "instance i-strict", Level: policy.Restricted}
		e.addInstanceWith(stevedore.RegisterContainerInstanceInput{InstanceID: "i-strict", TaskPolicy: restricted})
		ref := e.register("v1") // no user: root in the container
		out, err := e.o.RunTask(e.ctx, &stevedore.RunTaskInput{Cluster: "test", TaskDefinition: ref})
		require.NoError(t, err)
		assert.Empty(t, out.Tasks)
		require.Len(t, out.Failures, 1)
		assert.Equal(t, string(placement.ReasonTaskPolicy), out.Failures[0].Reason)

		e.addInstance("i-open", "a")
		out, err = e.o.RunTask(e.ctx, &stevedore.RunTaskInput{Cluster: "test", TaskDefinition: ref, Count: 3})
		require.NoError(t, err)
		require.Len(t, out.Tasks, 3)
		for _, tk := range out.Tasks {
			assert.Equal(t, "i-open", tk.ContainerInstanceID())
		}
		insts, err := stevedoretest.InstancesOf(e.o.DescribeContainerInstances(e.ctx, &stevedore.DescribeContainerInstancesInput{Cluster: "test", ContainerInstances: []string{"i-strict"}}))
		require.NoError(t, err)
		assert.Equal(t, restricted, insts[0].TaskPolicy)
		assert.False(t, errors.Is(err, stevedore.ErrInvalid))
	})
}
