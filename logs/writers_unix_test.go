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

// A query that is in the middle of reading a file does not hold up the
// containers writing their logs. The file it reads is a FIFO, so the test
// decides when the read ends.
func TestQueryDoesNotBlockWriters(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "slow"), 0o700))
	fifo := filepath.Join(dir, "slow", "c.log")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	s, err := logs.Open(dir)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })

	queried := make(chan error, 1)
	go func() {
		_, err := s.Query(logs.Query{Task: "slow"})
		queried <- err
	}()
	// Opening the FIFO for writing returns once the query has opened it
	// for reading: from then on the query waits in its read.
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { w.Close() })

	wrote := make(chan error, 1)
	go func() {
		out, _ := s.Writers("busy", "web")
		_, err := io.WriteString(out, "still writing\n")
		wrote <- err
	}()
	select {
	case err := <-wrote:
		require.NoError(t, err)
	case <-time.After(10 * time.Second): // a deadlock detector, not a guess at timing
		w.Close()
		t.Fatal("a container's write waited for a query")
	}
	require.NoError(t, w.Close())
	require.NoError(t, <-queried)
	got, err := s.Query(logs.Query{Task: "busy"})
	require.NoError(t, err)
	assert.Len(t, got, 1)
}

// Listing the tasks' indexes does not hold up a container opening its log
// either. One index is a FIFO, so the test decides when the read ends.
func TestTasksDoesNotBlockWriters(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "slow"), 0o700))
	fifo := filepath.Join(dir, "slow", "task.json")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	s, err := logs.Open(dir)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })

	listed := make(chan error, 1)
	go func() {
		_, err := s.Tasks()
		listed <- err
	}()
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { w.Close() })

	wrote := make(chan error, 1)
	go func() {
		out, _ := s.Writers("busy", "web")
		_, err := io.WriteString(out, "first line of a new container\n")
		wrote <- err
	}()
	select {
	case err := <-wrote:
		require.NoError(t, err)
	case <-time.After(10 * time.Second): // a deadlock detector, not a guess at timing
		w.Close()
		t.Fatal("a container's first write waited for Tasks")
	}
	_, err = io.WriteString(w, `{"task":"slow"}`)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	require.NoError(t, <-listed)
}
