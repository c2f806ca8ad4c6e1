//go:build unix

package logs_test

import (
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/logs"
)

// duringRead makes path a FIFO, runs read in the background until it has
// opened path and waits in its read, runs during meanwhile, and then lets
// the read end with contents. during fails the test if it gets stuck: the
// test decides when the read ends, so nothing depends on timing.
func duringRead(t *testing.T, path string, read func() error, contents string, during func() error) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o700))
	require.NoError(t, syscall.Mkfifo(path, 0o600))
	done := make(chan error, 1)
	go func() { done <- read() }()
	// Opening the FIFO for writing returns once the reader has opened it.
	w, err := os.OpenFile(path, os.O_WRONLY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { w.Close() })

	ran := make(chan error, 1)
	go func() { ran <- during() }()
	select {
	case err := <-ran:
		require.NoError(t, err)
	case <-time.After(10 * time.Second): // a deadlock detector, not a guess at timing
		w.Close()
		t.Fatal("a container's write waited for a reader")
	}
	_, err = io.WriteString(w, contents)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	require.NoError(t, <-done)
}

func write(s *logs.Store, taskID, line string) func() error {
	return func() error {
		out, _ := s.Writers(taskID, "web")
		_, err := io.WriteString(out, line+"\n")
		return err
	}
}

// A query in the middle of reading a file does not hold up the containers
// writing their logs.
func TestQueryDoesNotBlockWriters(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := logs.Open(dir)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	duringRead(t, filepath.Join(dir, "slow", "c.log"), func() error {
		_, err := s.Query(logs.Query{Task: "slow"})
		return err
	}, "", write(s, "busy", "still writing"))
	got, err := s.Query(logs.Query{Task: "busy"})
	require.NoError(t, err)
	assert.Len(t, got, 1)
}

// Listing the tasks' indexes does not hold up a container opening its log
// either.
func TestTasksDoesNotBlockWriters(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := logs.Open(dir)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	duringRead(t, filepath.Join(dir, "slow", "task.json"), func() error {
		_, err := s.Tasks()
		return err
	}, `{"task":"slow"}`, write(s, "busy", "first line of a new container"))
}
