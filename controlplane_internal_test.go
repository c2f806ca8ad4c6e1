package stevedore

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/controller"
	"github.com/stevedore-io/stevedore/internal/state"
	netfake "github.com/stevedore-io/stevedore/network/fake"
	"github.com/stevedore-io/stevedore/placement"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

// controlEnv is an Orchestrator with fake instances, for the controller
// tests below (inside a synctest bubble).
type controlEnv struct {
	t   *testing.T
	o   *Orchestrator
	ctx context.Context
}

func newControlEnv(t *testing.T, instances int, memoryMiB int) *controlEnv {
	t.Helper()
	o, err := New(WithSeed(1))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, o.Close()) })
	e := &controlEnv{t: t, o: o, ctx: t.Context()}
	_, err = o.CreateCluster(e.ctx, &CreateClusterInput{ClusterName: "test"})
	require.NoError(t, err)
	for i := range instances {
		rt := fake.New()
		t.Cleanup(rt.Close)
		_, err := o.RegisterContainerInstance(e.ctx, &RegisterContainerInstanceInput{
			Cluster: "test", InstanceID: fmt.Sprintf("i-%d", i),
			Resources:  cluster.Resources{CPU: 4096, Memory: memoryMiB, NetworkSlots: 10},
			Attributes: map[string]string{cluster.AttributeAvailabilityZone: "zone-a"},
			Runtime:    rt, Network: netfake.New(),
		})
		require.NoError(t, err)
	}
	return e
}

func (e *controlEnv) register(family string, memoryMiB int) {
	e.t.Helper()
	td, _, err := task.ParseDefinition(fmt.Appendf(nil,
		`{"family":%q,"containerDefinitions":[{"name":"app","image":"app:1","memory":%d,"stopTimeout":1,"command":["sleep","infinity"]}]}`, family, memoryMiB))
	require.NoError(e.t, err)
	_, err = e.o.RegisterTaskDefinition(e.ctx, &RegisterTaskDefinitionInput{TaskDefinition: *td})
	require.NoError(e.t, err)
}

func (e *controlEnv) running(family string) int {
	e.t.Helper()
	ids, err := e.o.AllTaskArns(e.ctx, &ListTasksInput{Cluster: "test", Family: family, DesiredStatus: task.Running})
	require.NoError(e.t, err)
	if len(ids) == 0 {
		return 0
	}
	out, err := e.o.DescribeTasks(e.ctx, &DescribeTasksInput{Cluster: "test", Tasks: ids})
	require.NoError(e.t, err)
	n := 0
	for _, tk := range out.Tasks {
		if tk.LastStatus == task.Running {
			n++
		}
	}
	return n
}

func TestServicePlacesAsSoonAsCapacityFrees(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newControlEnv(t, 1, 1024)
		e.register("big", 768)
		e.register("web", 512)
		out, err := e.o.RunTask(e.ctx, &RunTaskInput{Cluster: "test", TaskDefinition: "big", Count: 1})
		require.NoError(t, err)
		require.Len(t, out.Tasks, 1)
		_, err = e.o.CreateService(e.ctx, &CreateServiceInput{Cluster: "test", ServiceName: "web", TaskDefinition: "web", DesiredCount: 1})
		require.NoError(t, err)
		time.Sleep(time.Second)
		synctest.Wait()
		require.Equal(t, 0, e.running("web"), "no room yet")

		_, err = e.o.StopTask(e.ctx, &StopTaskInput{Cluster: "test", Task: out.Tasks[0].ID(), Reason: "make room"})
		require.NoError(t, err)
		// It stops within two seconds (SIGKILL after one), and the
		// freed instance wakes the service well before its placement
		// retry.
		time.Sleep(3 * time.Second)
		synctest.Wait()
		require.Greater(t, controller.PlacementRetry, 3*time.Second)
		assert.Equal(t, 1, e.running("web"))
	})
}

func TestServiceThatCannotBeWrittenHoldsNoOtherBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newControlEnv(t, 2, 8192)
		e.register("a", 128)
		e.register("b", 128)
		for _, name := range []string{"a", "b"} {
			_, err := e.o.CreateService(e.ctx, &CreateServiceInput{Cluster: "test", ServiceName: name, TaskDefinition: name})
			require.NoError(t, err)
		}
		synctest.Wait()
		// Service a's definition vanishes from under it: its writes
		// fail from now on.
		require.NoError(t, e.o.store.Update(e.ctx, func(tx store.Tx) error {
			return tx.Delete(state.KindTaskDefinitions, "a:1")
		}))
		for _, name := range []string{"a", "b"} {
			_, err := e.o.UpdateService(e.ctx, &UpdateServiceInput{Cluster: "test", Service: name, DesiredCount: ptr(2)})
			require.NoError(t, err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		assert.Equal(t, 0, e.running("a"))
		assert.Equal(t, 2, e.running("b"))
	})
}

func TestPlacementRoundFollowsInstanceChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newControlEnv(t, 2, 8192)
		e.register("web", 128)
		// Spread on instances: a round that still took i-0 for ACTIVE
		// would put every other new task there.
		_, err := e.o.CreateService(e.ctx, &CreateServiceInput{Cluster: "test", ServiceName: "web", TaskDefinition: "web", DesiredCount: 2,
			PlacementStrategy: []placement.StrategySpec{placement.Spread(placement.FieldInstanceID)}})
		require.NoError(t, err)
		time.Sleep(time.Second)
		synctest.Wait()
		first, err := e.o.AllTaskArns(e.ctx, &ListTasksInput{Cluster: "test", Family: "web"})
		require.NoError(t, err)
		require.Len(t, first, 2)

		// A draining instance takes no new task, though the round that
		// placed the first two knew it as ACTIVE.
		_, err = e.o.UpdateContainerInstancesState(e.ctx, &UpdateContainerInstancesStateInput{Cluster: "test", Status: cluster.StatusDraining, ContainerInstances: []string{"i-0"}})
		require.NoError(t, err)
		_, err = e.o.UpdateService(e.ctx, &UpdateServiceInput{Cluster: "test", Service: "web", DesiredCount: ptr(6)})
		require.NoError(t, err)
		synctest.Wait()
		var ids []string
		for _, desired := range []task.Status{task.Running, task.Stopped} {
			some, err := e.o.AllTaskArns(e.ctx, &ListTasksInput{Cluster: "test", Family: "web", DesiredStatus: desired})
			require.NoError(t, err)
			ids = append(ids, some...)
		}
		out, err := e.o.DescribeTasks(e.ctx, &DescribeTasksInput{Cluster: "test", Tasks: ids})
		require.NoError(t, err)
		placed := 0
		for _, tk := range out.Tasks {
			if slices.Contains(first, tk.TaskARN) {
				continue
			}
			placed++
			assert.Equal(t, "i-1", tk.ContainerInstanceID(), "task %s", tk.ID())
		}
		assert.Positive(t, placed)
	})
}

func ptr[T any](v T) *T { return &v }
