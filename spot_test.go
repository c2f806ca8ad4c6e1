package stevedore_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/stevedoretest"
	"github.com/stevedore-io/stevedore/task"
)

// TestSpotInterruption: the notice drains the Spot instance, the service's
// tasks move to on-demand capacity while it runs, and at its end what is
// left on the instance stops with SpotInterruption and the instance goes.
func TestSpotInterruption(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o, err := stevedore.New(stevedore.WithSeed(1), stevedore.WithTaskRetention(3*time.Hour))
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, o.Close()) })
		ctx := t.Context()
		_, err = o.CreateCluster(ctx, &stevedore.CreateClusterInput{ClusterName: "test", CapacityProviders: []cluster.CapacityProvider{
			{Name: "spot", Kind: cluster.Spot, Status: cluster.CapacityProviderActive},
			{Name: "ondemand", Kind: cluster.OnDemand, Status: cluster.CapacityProviderActive},
		}})
		require.NoError(t, err)
		e := &env{t: t, o: o, ctx: ctx, runtimes: map[string]*fake.Runtime{}}
		register := func(id, provider string) {
			e.addInstanceWith(stevedore.RegisterContainerInstanceInput{InstanceID: id, CapacityProvider: provider,
				Attributes: map[string]string{cluster.AttributeAvailabilityZone: "zone-a"}})
		}
		register("i-spot", "spot")
		ref := e.register("v1")
		_, err = o.CreateService(ctx, &stevedore.CreateServiceInput{Cluster: "test", ServiceName: "web", TaskDefinition: ref, DesiredCount: 2})
		require.NoError(t, err)
		e.waitSteady("web", 5*time.Minute)
		out, err := o.RunTask(ctx, &stevedore.RunTaskInput{Cluster: "test", TaskDefinition: ref})
		require.NoError(t, err)
		standalone := out.Tasks[0].ID()
		register("i-od", "ondemand")

		// Only Spot capacity can be interrupted, with a sane notice.
		require.ErrorIs(t, errOf(o.InterruptSpotInstance(ctx, &stevedore.InterruptSpotInstanceInput{Cluster: "test", ContainerInstance: "i-od", Notice: 0})), stevedore.ErrInvalid)
		require.ErrorIs(t, errOf(o.InterruptSpotInstance(ctx, &stevedore.InterruptSpotInstanceInput{Cluster: "test", ContainerInstance: "i-spot", Notice: -time.Second})), stevedore.ErrInvalid)
		require.ErrorIs(t, errOf(o.InterruptSpotInstance(ctx, &stevedore.InterruptSpotInstanceInput{Cluster: "test", ContainerInstance: "i-nope", Notice: 0})), stevedore.ErrNotFound)

		require.NoError(t, errOf(o.InterruptSpotInstance(ctx, &stevedore.InterruptSpotInstanceInput{Cluster: "test", ContainerInstance: "i-spot", Notice: 0})))
		insts, err := stevedoretest.InstancesOf(o.DescribeContainerInstances(ctx, &stevedore.DescribeContainerInstancesInput{Cluster: "test", ContainerInstances: []string{"i-spot"}}))
		require.NoError(t, err)
		assert.Equal(t, cluster.StatusDraining, insts[0].Status)
		assert.Contains(t, insts[0].StatusReason, "Spot interruption")

		// Within the two minutes' notice the service moves to on-demand.
		time.Sleep(90 * time.Second)
		synctest.Wait()
		moved := e.tasks(stevedore.ListTasksInput{ServiceName: "web"})
		require.Len(t, moved, 2)
		for _, tk := range moved {
			assert.Equal(t, "i-od", tk.ContainerInstanceID(), "task %s", tk.ID())
			assert.Equal(t, task.Running, tk.LastStatus)
		}
		assert.Equal(t, task.Running, e.task(standalone).LastStatus, "standalone tasks run until the capacity goes")

		time.Sleep(time.Minute)
		synctest.Wait()
		tk := e.task(standalone)
		assert.Equal(t, task.Stopped, tk.LastStatus)
		assert.Equal(t, task.SpotInterruption, tk.StopCode)
		assert.Equal(t, "Your Spot Task was interrupted.", tk.StoppedReason)
		insts, err = stevedoretest.InstancesOf(o.DescribeContainerInstances(ctx, &stevedore.DescribeContainerInstancesInput{Cluster: "test", ContainerInstances: []string{"i-spot"}}))
		require.NoError(t, err)
		assert.Equal(t, cluster.StatusInactive, insts[0].Status)
		assert.Equal(t, "Spot capacity reclaimed", insts[0].StatusReason)
	})
}
