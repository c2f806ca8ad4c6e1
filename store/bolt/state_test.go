package bolt_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/bolt"
	"github.com/stevedore-io/stevedore/task"
)

// TestStateKindsSurviveRestart stores Stevedore's own objects, including
// the two kinds whose decoding used to crash (task definitions and tasks,
// which embed pointers), and reads them back after a restart with their
// revisions.
func TestStateKindsSurviveRestart(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := bolt.Open(path, bolt.WithCodec(state.Codec()))
	require.NoError(t, err)

	td, _, err := task.ParseDefinition([]byte(`{"family":"web","containerDefinitions":[{"name":"app","image":"busybox","memory":64}]}`))
	require.NoError(t, err)
	td.Revision = 1
	tk, err := task.NewTask("arn:aws:ecs:local:0:task/prod/0123", td, nil, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	def := &state.TaskDefinition{TaskDefinition: td}
	run := &state.Task{Task: tk, ServiceName: "web"}
	svc := &state.Service{Service: service.Service{Name: "web", Cluster: "prod", DesiredCount: 2, TaskDefinition: td.Ref()}}
	rev := create(t, s, def, run, svc)
	require.NoError(t, s.Close())

	s, err = bolt.Open(path, bolt.WithCodec(state.Codec()))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	require.NoError(t, s.View(t.Context(), func(tx store.ReadTx) error {
		gotDef, err := store.Get[*state.TaskDefinition](tx, state.KindTaskDefinitions, "web:1")
		require.NoError(t, err)
		assert.Equal(t, store.Meta{CreateRevision: rev, ModRevision: rev}, gotDef.Meta)
		assert.Equal(t, "busybox", gotDef.ContainerDefinitions[0].Image)

		gotTask, err := store.Get[*state.Task](tx, state.KindTasks, "0123")
		require.NoError(t, err)
		assert.Equal(t, rev, gotTask.ModRevision)
		assert.Equal(t, "web", gotTask.ServiceName)
		assert.Equal(t, tk.LastStatus, gotTask.LastStatus)

		gotSvc, err := store.Get[*state.Service](tx, state.KindServices, state.ServiceKey("prod", "web"))
		require.NoError(t, err)
		assert.Equal(t, 2, gotSvc.DesiredCount)
		return nil
	}))
}
