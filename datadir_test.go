package stevedore_test

import (
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/stevedoretest"
	"github.com/stevedore-io/stevedore/task"
)

// TestDataDirKeepsStateAcrossARestart: an Orchestrator on a data directory
// finds what an earlier one stored there; a second one on the same
// directory is refused while the first runs.
func TestDataDirKeepsStateAcrossARestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	synctest.Test(t, func(t *testing.T) {
		o, err := stevedore.New(stevedore.WithDataDir(dir))
		require.NoError(t, err)
		_, err = stevedore.New(stevedore.WithDataDir(dir))
		require.Error(t, err, "the file is locked")

		e := envFor(t, o, 1)
		ref := e.register("v1")
		_, err = o.CreateService(e.ctx, &stevedore.CreateServiceInput{Cluster: "test", ServiceName: "web", TaskDefinition: ref, DesiredCount: 1})
		require.NoError(t, err)
		e.waitSteady("web", 5*time.Minute)
		require.NoError(t, o.Close())

		o2, err := stevedore.New(stevedore.WithDataDir(dir))
		require.NoError(t, err)
		defer o2.Close()
		svcs, err := stevedoretest.ServicesOf(o2.DescribeServices(e.ctx, &stevedore.DescribeServicesInput{Cluster: "test", Services: []string{"web"}}))
		require.NoError(t, err)
		assert.Equal(t, ref, svcs[0].TaskDefinition)
		assert.Equal(t, 1, svcs[0].DesiredCount)
		ids, err := o2.AllTaskArns(e.ctx, &stevedore.ListTasksInput{Cluster: "test", ServiceName: "web", DesiredStatus: task.Running})
		require.NoError(t, err)
		assert.Len(t, ids, 1)
	})
	st, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), st.Mode().Perm())
}
