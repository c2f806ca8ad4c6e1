package logs_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/logs"
)

// joined reassembles the lines of got, split at write time, into the
// lines the container printed.
func joined(got []logs.Entry) []string {
	var out []string
	var cur strings.Builder
	for _, e := range got {
		cur.WriteString(e.Message)
		if !e.Partial {
			out = append(out, cur.String())
			cur.Reset()
		}
	}
	return out
}

// A line whose JSON escaping grows it six-fold (each '<' or control byte
// becomes \u003c or \u0001) is stored so that every query still reads it
// and the lines around it.
func TestEscapedLongLinesStayReadable(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]byte{"angle brackets": '<', "control characters": 0x01, "quotes": '"'} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, _ := open(t)
			out, _ := s.Writers("t", "c")
			long := strings.Repeat(string(c), 11<<10)
			_, err := io.WriteString(out, "before\n"+long+"\nafter\n")
			require.NoError(t, err)
			longer := strings.Repeat(string(c), logs.MaxLineBytes*3+5)
			_, err = io.WriteString(out, longer+"\n")
			require.NoError(t, err)

			got, err := s.Query(logs.Query{Task: "t", Container: "c"})
			require.NoError(t, err, "the task's query")
			assert.Equal(t, []string{"before", long, "after", longer}, joined(got))
			all, err := s.Query(logs.Query{})
			require.NoError(t, err, "the query over every task")
			assert.Equal(t, got, all)
			tail, err := s.Query(logs.Query{Task: "t", Tail: 5})
			require.NoError(t, err)
			assert.Equal(t, got[len(got)-5:], tail)
		})
	}
}

// Lines are split at a character boundary, so that no piece holds half a
// UTF-8 sequence (which JSON would turn into U+FFFD).
func TestSplitKeepsCharactersWhole(t *testing.T) {
	t.Parallel()
	s, _ := open(t)
	out, _ := s.Writers("t", "c")
	line := "x" + strings.Repeat("é€😀", logs.MaxLineBytes/4)
	// Written in small pieces too, so the cut happens in the buffer of an
	// unfinished line.
	for chunk := range slicesChunk([]byte(line+"\n"), 1000) {
		_, err := out.Write(chunk)
		require.NoError(t, err)
	}
	got, err := s.Query(logs.Query{Task: "t"})
	require.NoError(t, err)
	require.Greater(t, len(got), 1)
	for _, e := range got {
		assert.True(t, utf8.ValidString(e.Message))
		assert.LessOrEqual(t, len(e.Message), logs.MaxLineBytes)
	}
	assert.Equal(t, []string{line}, joined(got))
}

func slicesChunk(b []byte, n int) func(func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(b) > 0 {
			k := min(n, len(b))
			if !yield(b[:k]) {
				return
			}
			b = b[k:]
		}
	}
}

// writeRaw puts a log file in place as an older Store, or a crash, left it.
func writeRaw(t *testing.T, dir, taskID, name string, lines ...string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, taskID), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, taskID, name), []byte(strings.Join(lines, "")), 0o600))
}

func rawLine(at time.Time, taskID, msg string) string {
	return fmt.Sprintf(`{"time":%q,"task":%q,"container":"c","stream":"stdout","message":%q}`+"\n",
		at.Format(time.RFC3339Nano), taskID, msg)
}

// One bad line in a file (too long for any buffer, or not JSON) is
// skipped and counted: the query answers with the rest.
func TestQuerySkipsBadLines(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	writeRaw(t, dir, "t", "c.log",
		rawLine(t0, "t", "first"),
		`{"message":"`+strings.Repeat("\\u003c", 100<<10)+"\"}\n",
		"not json\n",
		rawLine(t0.Add(time.Second), "t", "second"),
		`{"message":"torn by a crash`) // no newline: never counted
	writeRaw(t, dir, "u", "c.log", rawLine(t0.Add(2*time.Second), "u", "other task"))
	s, err := logs.Open(dir)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })

	for _, q := range []logs.Query{{Task: "t"}, {}, {Task: "t", Tail: 1}, {Task: "t", Tail: 100}} {
		got, err := s.Query(q)
		require.NoError(t, err, "%+v", q)
		want := []string{"first", "second", "other task"}
		switch {
		case q.Tail == 1:
			want = []string{"second"}
		case q.Task != "":
			want = want[:2]
		}
		assert.Equal(t, want, messages(got), "%+v", q)
	}
	for _, tail := range []int{0, 5} {
		r, err := s.Search(logs.Query{Task: "t", Tail: tail})
		require.NoError(t, err)
		assert.Equal(t, []string{"first", "second"}, messages(r.Entries))
		assert.Equal(t, 2, r.Skipped, "Search counts the bad lines; tail %d", tail)
	}
}

// Writing after a crash that tore the last line starts a new line, so the
// torn one does not swallow the next.
func TestWriteAfterTornLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeRaw(t, dir, "t", "c.log", `{"message":"torn`)
	s, err := logs.Open(dir)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	out, _ := s.Writers("t", "c")
	_, err = io.WriteString(out, "next\n")
	require.NoError(t, err)
	got, err := s.Query(logs.Query{Task: "t"})
	require.NoError(t, err)
	assert.Equal(t, []string{"next"}, messages(got))
}

// bigLog writes a log file of about size bytes for task t, container c.
func bigLog(tb testing.TB, dir string, size int) {
	tb.Helper()
	require.NoError(tb, os.MkdirAll(filepath.Join(dir, "t"), 0o700))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	for i := 0; buf.Len() < size; i++ {
		buf.WriteString(rawLine(t0.Add(time.Duration(i)*time.Millisecond), "t",
			fmt.Sprintf("GET /api/items/%d 200 %s", i, strings.Repeat("x", 100))))
	}
	require.NoError(tb, os.WriteFile(filepath.Join(dir, "t", "c.log"), buf.Bytes(), 0o600))
}

// A query for the last lines reads the file from its end: its memory does
// not grow with the file. (Not parallel: it measures the process's
// allocations.)
func TestTailReadsFromTheEnd(t *testing.T) {
	dir := t.TempDir()
	const size = 16 << 20
	bigLog(t, dir, size)
	s, err := logs.Open(dir)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got, err := s.Query(logs.Query{Task: "t", Container: "c", Tail: 10})
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	require.Len(t, got, 10)
	assert.Contains(t, got[9].Message, "GET /api/items/")
	allocated := after.TotalAlloc - before.TotalAlloc
	assert.Less(t, allocated, uint64(1<<20), "a tail of 10 lines allocated %d bytes over a %d-byte file", allocated, size)
}

// BenchmarkTail measures a query for the last 10 lines of a 32 MiB file:
// its bytes per operation stay near the read buffer's size.
func BenchmarkTail(b *testing.B) {
	dir := b.TempDir()
	bigLog(b, dir, 32<<20)
	s, err := logs.Open(dir)
	require.NoError(b, err)
	b.Cleanup(func() { s.Close() })
	b.ReportAllocs()
	for b.Loop() {
		got, err := s.Query(logs.Query{Task: "t", Tail: 10})
		if err != nil || len(got) != 10 {
			b.Fatal(len(got), err)
		}
	}
}

// Tail and Head over rotated files and several containers give what a
// full read trimmed would.
func TestTailAndHeadAcrossRotation(t *testing.T) {
	t.Parallel()
	s, _ := open(t, logs.WithMaxFileBytes(1024), logs.WithMaxFiles(3))
	web, _ := s.Writers("t", "web")
	db, dbErr := s.Writers("t", "db")
	for i := range 60 {
		w := web
		switch i % 3 {
		case 1:
			w = db
		case 2:
			w = dbErr
		}
		_, err := fmt.Fprintf(w, "line %03d %s\n", i, strings.Repeat("x", 40))
		require.NoError(t, err)
	}
	all, err := s.Query(logs.Query{Task: "t"})
	require.NoError(t, err)
	require.Greater(t, len(all), 20)
	for _, n := range []int{1, 7, 20, len(all), len(all) + 5} {
		tail, err := s.Query(logs.Query{Task: "t", Tail: n})
		require.NoError(t, err)
		assert.Equal(t, all[max(0, len(all)-n):], tail, "tail %d", n)
		head, err := s.Query(logs.Query{Task: "t", Head: n})
		require.NoError(t, err)
		assert.Equal(t, all[:min(n, len(all))], head, "head %d", n)
	}
	stderr, err := s.Query(logs.Query{Task: "t", Stream: logs.Stderr, Tail: 3})
	require.NoError(t, err)
	require.Len(t, stderr, 3)
	assert.Contains(t, stderr[2].Message, "line 059")

	_, err = s.Query(logs.Query{Tail: 1, Head: 1})
	assert.Error(t, err, "head and tail together")
	_, err = s.Query(logs.Query{Tail: -1})
	assert.Error(t, err)
}
