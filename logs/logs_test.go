package logs_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/logs"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

func open(t *testing.T, opts ...logs.Option) (*logs.Store, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s, err := logs.Open(t.TempDir(), append([]logs.Option{logs.WithClock(c.now)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s, c
}

func messages(es []logs.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Message
	}
	return out
}

func TestLinesStreamsAndQueries(t *testing.T) {
	t.Parallel()
	s, _ := open(t)
	out, errw := s.Writers("task1", "web")
	_, err := io.WriteString(out, "hello\nwor")
	require.NoError(t, err)
	_, err = io.WriteString(errw, "oops\r\n")
	require.NoError(t, err)
	_, err = io.WriteString(out, "ld\nGET /health 200\n")
	require.NoError(t, err)
	other, _ := s.Writers("task2", "db")
	_, err = io.WriteString(other, "ready\n")
	require.NoError(t, err)

	all, err := s.Query(logs.Query{})
	require.NoError(t, err)
	assert.Equal(t, []string{"hello", "oops", "world", "GET /health 200", "ready"}, messages(all))
	assert.Equal(t, logs.Stderr, all[1].Stream)
	assert.Equal(t, "task1", all[0].Task)

	tests := []struct {
		name string
		q    logs.Query
		want []string
	}{
		{"task", logs.Query{Task: "task1"}, []string{"hello", "oops", "world", "GET /health 200"}},
		{"stream", logs.Query{Task: "task1", Stream: logs.Stderr}, []string{"oops"}},
		{"contains", logs.Query{Contains: "health"}, []string{"GET /health 200"}},
		{"match", logs.Query{Match: regexp.MustCompile(`^w.r`)}, []string{"world"}},
		{"tail", logs.Query{Task: "task1", Tail: 2}, []string{"world", "GET /health 200"}},
		{"since", logs.Query{Since: all[3].Time}, []string{"GET /health 200", "ready"}},
		{"until", logs.Query{Until: all[1].Time}, []string{"hello"}},
		{"container", logs.Query{Container: "db"}, []string{"ready"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Query(tt.q)
			require.NoError(t, err)
			assert.Equal(t, tt.want, messages(got))
		})
	}
}

func TestRotationKeepsNewestFiles(t *testing.T) {
	t.Parallel()
	s, _ := open(t, logs.WithMaxFileBytes(1024), logs.WithMaxFiles(2))
	out, _ := s.Writers("t", "c")
	for i := range 100 {
		_, err := fmt.Fprintf(out, "line %03d %s\n", i, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")
		require.NoError(t, err)
	}
	got, err := s.Query(logs.Query{Task: "t"})
	require.NoError(t, err)
	require.NotEmpty(t, got)
	assert.Less(t, len(got), 100, "old lines were rotated away")
	assert.Contains(t, got[len(got)-1].Message, "line 099")
	for i := 1; i < len(got); i++ {
		assert.True(t, got[i].Time.After(got[i-1].Time))
	}
}

func TestLongLinesAreSplit(t *testing.T) {
	t.Parallel()
	s, _ := open(t)
	out, _ := s.Writers("t", "c")
	long := make([]byte, logs.MaxLineBytes+10)
	for i := range long {
		long[i] = 'a'
	}
	_, err := out.Write(append(long, '\n'))
	require.NoError(t, err)
	got, err := s.Query(logs.Query{Task: "t"})
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Len(t, got[0].Message, logs.MaxLineBytes)
	assert.Len(t, got[1].Message, 10)
}

func TestRemove(t *testing.T) {
	t.Parallel()
	s, _ := open(t)
	out, _ := s.Writers("t", "c")
	_, err := io.WriteString(out, "x\n")
	require.NoError(t, err)
	require.NoError(t, s.Remove("t"))
	got, err := s.Query(logs.Query{Task: "t"})
	require.NoError(t, err)
	assert.Empty(t, got)
}

func TestConcurrentWriters(t *testing.T) {
	t.Parallel()
	s, _ := open(t)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, _ := s.Writers("t", fmt.Sprintf("c%d", w%2))
			for i := range 50 {
				fmt.Fprintf(out, "w%d-%d\n", w, i)
			}
		}()
	}
	wg.Wait()
	got, err := s.Query(logs.Query{Task: "t"})
	require.NoError(t, err)
	assert.Len(t, got, 400)
}

func TestTaskIndexOutlivesTheWriters(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := logs.Open(dir)
	require.NoError(t, err)
	require.NoError(t, s.SetTaskLabels("arn:task/1", map[string]string{"cluster": "prod", "family": "web"}))
	web, _ := s.Writers("arn:task/1", "web")
	_, err = io.WriteString(web, "up\n")
	require.NoError(t, err)
	_, sidecar := s.Writers("arn:task/1", "log-router")
	_, err = io.WriteString(sidecar, "up\n")
	require.NoError(t, err)
	require.NoError(t, s.SetTaskLabels("arn:task/1", map[string]string{"family": "web2", "service": "front"}))
	other, _ := s.Writers("t2", "db")
	_, err = io.WriteString(other, "ready\n")
	require.NoError(t, err)
	require.NoError(t, s.Close())

	// A new Store on the same directory (the process restarted) reads
	// the index back, with the task IDs as given.
	s, err = logs.Open(dir)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	want1 := logs.TaskLog{Task: "arn:task/1", Containers: []string{"log-router", "web"},
		Labels: map[string]string{"cluster": "prod", "family": "web2", "service": "front"}}
	got, err := s.Task("arn:task/1")
	require.NoError(t, err)
	assert.Equal(t, want1, got)
	all, err := s.Tasks()
	require.NoError(t, err)
	assert.Equal(t, []logs.TaskLog{want1, {Task: "t2", Containers: []string{"db"}}}, all)

	require.NoError(t, s.Remove("t2"))
	_, err = s.Task("t2")
	require.ErrorIs(t, err, logs.ErrNotFound)
	all, err = s.Tasks()
	require.NoError(t, err)
	assert.Len(t, all, 1)
}

// setWritten dates every file of a task's logs at t.
func setWritten(t *testing.T, dir, taskID string, at time.Time) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, taskID, "*"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		require.NoError(t, os.Chtimes(f, at, at))
	}
}

func TestExpireRemovesTasksSilentSinceBefore(t *testing.T) {
	dir := t.TempDir()
	s, err := logs.Open(dir)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	for _, id := range []string{"old", "new"} {
		out, _ := s.Writers(id, "web")
		_, err := io.WriteString(out, "hello\n")
		require.NoError(t, err)
	}
	now := time.Now()
	setWritten(t, dir, "old", now.Add(-2*time.Hour))

	expired, err := s.Expire(now.Add(-time.Hour))
	require.NoError(t, err)
	assert.Equal(t, []string{"old"}, expired)
	_, err = s.Task("old")
	assert.ErrorIs(t, err, logs.ErrNotFound)
	got, err := s.Query(logs.Query{Task: "new", Container: "web"})
	require.NoError(t, err)
	assert.Equal(t, []string{"hello"}, messages(got), "the task written to since is kept")

	// A task that writes again after its logs expired starts new ones.
	out, _ := s.Writers("old", "web")
	_, err = io.WriteString(out, "again\n")
	require.NoError(t, err)
	got, err = s.Query(logs.Query{Task: "old", Container: "web"})
	require.NoError(t, err)
	assert.Equal(t, []string{"again"}, messages(got))
}

func TestRetentionSweeps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		s, err := logs.Open(dir, logs.WithRetention(time.Hour))
		require.NoError(t, err)
		defer s.Close()
		out, _ := s.Writers("t1", "web")
		_, err = io.WriteString(out, "hello\n")
		require.NoError(t, err)
		// The bubble's clock is not the file system's: date the file in it.
		setWritten(t, dir, "t1", time.Now())

		time.Sleep(50 * time.Minute)
		synctest.Wait()
		_, err = s.Task("t1")
		require.NoError(t, err, "kept within the retention period")

		time.Sleep(20 * time.Minute) // a sweep every 6 minutes
		synctest.Wait()
		_, err = s.Task("t1")
		assert.ErrorIs(t, err, logs.ErrNotFound, "removed after it")
	})
	_, err := logs.Open(t.TempDir(), logs.WithRetention(-time.Second))
	assert.Error(t, err)
}
