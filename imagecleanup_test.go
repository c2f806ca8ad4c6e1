package stevedore_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/task"
)

// TestInstanceImageCleanup: an instance's agent removes the images its
// stopped tasks left, as RegisterContainerInstance's ImageCleanup says, and
// never when it is disabled.
func TestInstanceImageCleanup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, 0)
		runtimes := map[string]*fake.Runtime{}
		for id, cleanup := range map[string]stevedore.ImageCleanup{
			"i-cleans": {Interval: time.Minute, MinimumAge: 2 * time.Minute},
			"i-keeps":  {Disabled: true},
		} {
			runtimes[id] = e.addInstanceWith(stevedore.RegisterContainerInstanceInput{InstanceID: id, ImageCleanup: cleanup})
		}
		ref := e.register("v1")
		for id := range runtimes {
			out, err := e.o.StartTask(e.ctx, &stevedore.StartTaskInput{Cluster: "test", TaskDefinition: ref, ContainerInstances: []string{id}})
			require.NoError(t, err)
			require.Len(t, out.Tasks, 1)
			synctest.Wait()
			_, err = e.o.StopTask(e.ctx, &stevedore.StopTaskInput{Cluster: "test", Task: out.Tasks[0].ID(), Reason: "done"})
			require.NoError(t, err)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		stopped := e.tasks(stevedore.ListTasksInput{DesiredStatus: task.Stopped})
		require.Len(t, stopped, 2)
		for _, tk := range stopped {
			require.Equal(t, task.Stopped, tk.LastStatus)
		}
		removed := runtimes["i-cleans"].CallsTo(fake.MethodRemoveImage)
		require.Len(t, removed, 1, "the stopped task's image, once")
		assert.Equal(t, "web:v1", removed[0].Ref)
		assert.Empty(t, runtimes["i-keeps"].CallsTo(fake.MethodRemoveImage), "cleanup disabled")
	})
}
