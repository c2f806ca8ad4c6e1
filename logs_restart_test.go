package stevedore_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/logs"
	"github.com/stevedore-io/stevedore/task"
)

// TestLogsSurviveARestart: with a data directory and a logs.Store on disk
// (durable logs, as cmd/stevedore keeps them under its state directory),
// an Orchestrator started again on both answers GetLogEvents and
// FilterLogEvents (by family, from the index the first one wrote) over
// what the containers printed before the restart.
func TestLogsSurviveARestart(t *testing.T) {
	dataDir, logDir := filepath.Join(t.TempDir(), "data"), filepath.Join(t.TempDir(), "logs")
	synctest.Test(t, func(t *testing.T) {
		ls, err := logs.Open(logDir, logs.WithRetention(24*time.Hour))
		require.NoError(t, err)
		o, err := stevedore.New(stevedore.WithDataDir(dataDir), stevedore.WithLogSink(ls), stevedore.WithSeed(1))
		require.NoError(t, err)
		e := envFor(t, o, 1)
		td, _, err := task.ParseDefinition(fmt.Appendf(nil, chattyDef, "chatty"))
		require.NoError(t, err)
		_, err = o.RegisterTaskDefinition(e.ctx, &stevedore.RegisterTaskDefinitionInput{TaskDefinition: *td})
		require.NoError(t, err)
		id := e.runLogged("chatty")
		time.Sleep(10 * time.Second)
		synctest.Wait()
		require.NoError(t, o.Close())
		require.NoError(t, ls.Close())

		ls2, err := logs.Open(logDir, logs.WithRetention(24*time.Hour))
		require.NoError(t, err)
		defer ls2.Close()
		o2, err := stevedore.New(stevedore.WithDataDir(dataDir), stevedore.WithLogSink(ls2))
		require.NoError(t, err)
		defer o2.Close()
		out, err := o2.GetLogEvents(e.ctx, &stevedore.GetLogEventsInput{Cluster: "test", Task: id, Container: "talker", StartFromHead: true})
		require.NoError(t, err)
		assert.Equal(t, []string{"early 1", "early 2", "odd thing", "late 1", "ERROR late timeout"}, eventMessages(out.Events))
		filtered, err := o2.FilterLogEvents(e.ctx, &stevedore.FilterLogEventsInput{Cluster: "test", Family: "chatty", FilterPattern: "quiet"})
		require.NoError(t, err)
		assert.Equal(t, []string{"quiet here"}, eventMessages(filtered.Events))
	})
}
