package controller_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/controller"
	"github.com/stevedore-io/stevedore/internal/launch"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/placement"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/memory"
	"github.com/stevedore-io/stevedore/task"
)

// newWorld is a store with one instance and task definition web:1, and a
// controller on it.
func newWorld(t *testing.T) (*memory.Store, *controller.Controller) {
	t.Helper()
	st, err := memory.New()
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	td, _, err := task.ParseDefinition([]byte(`{"family": "web", "containerDefinitions": [{"name": "app", "image": "web", "memory": 128}]}`))
	require.NoError(t, err)
	td.Revision = 1
	require.NoError(t, st.Update(t.Context(), func(tx store.Tx) error {
		inst, err := cluster.NewContainerInstance("i-1", cluster.Resources{CPU: 1024, Memory: 1024}, time.Now())
		if err != nil {
			return err
		}
		inst.Cluster = "test"
		if err := tx.Create(&state.Instance{ContainerInstance: inst}); err != nil {
			return err
		}
		return tx.Create(&state.TaskDefinition{TaskDefinition: td})
	}))
	sched, err := placement.New()
	require.NoError(t, err)
	ln, err := launch.New(launch.Config{Scheduler: sched, Seed: 1})
	require.NoError(t, err)
	c, err := controller.New(controller.Config{Store: st, Launcher: ln})
	require.NoError(t, err)
	return st, c
}

func createService(t *testing.T, st store.Store, desired int) {
	t.Helper()
	s := service.Service{Name: "web", Cluster: "test", DesiredCount: desired, SchedulingStrategy: service.Replica,
		Status: service.StatusActive}
	s.NewDeployment("web:1", time.Now())
	require.NoError(t, st.Update(t.Context(), func(tx store.Tx) error { return tx.Create(&state.Service{Service: s}) }))
}

func serviceTasks(t *testing.T, st store.Store) []*state.Task {
	t.Helper()
	var out []*state.Task
	require.NoError(t, st.View(t.Context(), func(tx store.ReadTx) error {
		all, err := store.List[*state.Task](tx, state.KindTasks)
		for _, tk := range all {
			if tk.ServiceName == "web" {
				out = append(out, tk)
			}
		}
		return err
	}))
	return out
}

func TestAPassByHandStartsTheTasksAServiceLacks(t *testing.T) {
	st, c := newWorld(t)
	createService(t, st, 2)
	require.NoError(t, st.View(t.Context(), c.Load))
	c.Pass(t.Context())
	tasks := serviceTasks(t, st)
	require.Len(t, tasks, 2)
	for _, tk := range tasks {
		assert.Equal(t, task.Running, tk.DesiredStatus)
		assert.Equal(t, "service:web", tk.Group)
	}
	// A second pass on what it wrote starts nothing more.
	c.Pass(t.Context())
	assert.Len(t, serviceTasks(t, st), 2)
}

func TestRunFollowsTheStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st, c := newWorld(t)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		synctest.Wait()
		createService(t, st, 3)
		synctest.Wait()
		assert.Len(t, serviceTasks(t, st), 3, "the controller saw the service created")
	})
}
