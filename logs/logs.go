// Package logs captures containers' output and answers queries over it: the
// local counterpart of CloudWatch Logs.
//
// A Store implements the agent's LogSink: each container of each task gets a
// pair of writers (stdout, stderr). Output is cut into lines, each stamped
// with the time it arrived and its stream, and appended to a file per
// container under the store's directory, as JSON lines. A file that grows
// past MaxFileBytes is rotated (kept as one numbered backup per rotation, at
// most MaxFiles in all). A task's logs stay until Remove deletes them, or
// until the retention period given with WithRetention has passed since
// their last line: they do not go away with the task.
//
// Each task's directory also holds an index (task.json): the task's ID, its
// containers and labels given with SetTaskLabels (the Orchestrator records
// the cluster, family and service there). Tasks lists the index, so logs
// can be found by those labels after the task itself is forgotten.
//
//	logs, err := logs.Open(dir)
//	orc, err := stevedore.New(stevedore.WithLogSink(logs))
//	...
//	entries, err := logs.Query(logs.Query{Task: id, Container: "web", Tail: 20})
//
// The Orchestrator answers queries over such a store with GetLogEvents and
// FilterLogEvents, by cluster, service and family too.
//
// A Store is safe for concurrent use. Lines longer than MaxLineBytes are
// split at write time, as Docker splits them at 16 KiB: every piece but the
// last is marked Partial. A query never fails on one bad line (cut by a
// crash, or written by something else): it skips the line and counts it in
// Result.Skipped. A query with a Tail reads each file from its end and
// stops there, so the last lines of a large file cost little memory, and
// no query holds a lock that writers need while it reads. Secrets never
// reach the logs unless a container prints them itself.
package logs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/stevedore-io/stevedore/errdefs"
)

// Stream says which output a line came from.
type Stream string

// Streams.
const (
	Stdout Stream = "stdout"
	Stderr Stream = "stderr"
)

// Defaults of a Store.
const (
	DefaultMaxFileBytes = 8 << 20
	DefaultMaxFiles     = 3
	MaxLineBytes        = 16 << 10
)

// maxRecordBytes bounds one stored line, JSON and all. JSON escaping grows
// a message at most six-fold (a control byte becomes \u0001), so a full
// MaxLineBytes piece fits with room for the task and container names;
// writes split further when it would not, and reads skip longer lines.
const maxRecordBytes = 8 * MaxLineBytes

// Entry is one line of output.
type Entry struct {
	Time      time.Time `json:"time"`
	Task      string    `json:"task"`
	Container string    `json:"container"`
	Stream    Stream    `json:"stream"`
	Message   string    `json:"message"`
	// Partial marks a piece of a line longer than MaxLineBytes: the line
	// goes on in the container's next entry.
	Partial bool `json:"partial,omitempty"`
}

// Option configures a Store made by Open.
type Option func(*options) error

// options are what the options of Open set.
type options struct {
	maxBytes  int64
	maxFiles  int
	now       func() time.Time
	retention time.Duration
}

// WithMaxFileBytes rotates a container's log file when it passes n bytes.
func WithMaxFileBytes(n int64) Option {
	return func(s *options) error {
		if n < 1024 {
			return fmt.Errorf("logs: WithMaxFileBytes: must be at least 1024, got %d", n)
		}
		s.maxBytes = n
		return nil
	}
}

// WithMaxFiles keeps at most n files (the live one and n-1 rotated) per
// container.
func WithMaxFiles(n int) Option {
	return func(s *options) error {
		if n < 1 {
			return fmt.Errorf("logs: WithMaxFiles: must be at least 1, got %d", n)
		}
		s.maxFiles = n
		return nil
	}
}

// WithRetention removes the logs of a task once nothing was written to them
// for d, like a CloudWatch Logs retention period (but by task, not by
// event): the Store sweeps every d/10 (between a second and an hour) until
// Close. 0, the default, keeps logs until Remove.
func WithRetention(d time.Duration) Option {
	return func(s *options) error {
		if d < 0 {
			return fmt.Errorf("logs: retention must not be negative, got %v", d)
		}
		s.retention = d
		return nil
	}
}

// WithClock stamps lines with now() instead of time.Now (for tests).
func WithClock(now func() time.Time) Option {
	return func(s *options) error {
		s.now = now
		return nil
	}
}

// Store keeps containers' output in files under a directory.
type Store struct {
	dir string
	options

	stop  chan struct{} // closed by Close: ends the retention sweep
	swept chan struct{} // closed when the sweep has ended

	mu     sync.Mutex
	files  map[string]*file // by task/container
	closed bool

	// rotating is held for writing while a file rotates, and for reading
	// while a query opens a task's files: the query sees each file once.
	// Queries read the files they opened without it.
	rotating sync.RWMutex
}

type file struct {
	mu   sync.Mutex
	path string
	f    *os.File
	size int64
}

// Open returns a Store writing under dir (created if missing).
func Open(dir string, opts ...Option) (*Store, error) {
	s := &Store{dir: dir, options: options{maxBytes: DefaultMaxFileBytes, maxFiles: DefaultMaxFiles, now: time.Now}, files: map[string]*file{}}
	for _, opt := range opts {
		if err := opt(&s.options); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("logs: %w", err)
	}
	if s.retention > 0 {
		s.stop, s.swept = make(chan struct{}), make(chan struct{})
		go s.sweep()
	}
	return s, nil
}

// sweep expires logs past their retention until Close.
func (s *Store) sweep() {
	defer close(s.swept)
	tick := time.NewTicker(min(max(s.retention/10, time.Second), time.Hour))
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
			// An error leaves the rest for the next sweep.
			_, _ = s.Expire(time.Now().Add(-s.retention))
		}
	}
}

// Expire removes the logs of every task whose last line was written before
// before, and returns the IDs of those tasks. A task that writes again
// later starts new logs.
func (s *Store) Expire(before time.Time) ([]string, error) {
	dirs, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("logs: %w", err)
	}
	var expired []string
	var errs []error
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		idx, err := readIndex(filepath.Join(s.dir, d.Name()))
		if err != nil || idx.Task == "" {
			continue // not a task's logs
		}
		last, err := lastWrite(filepath.Join(s.dir, d.Name()))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !last.Before(before) {
			continue
		}
		if err := s.Remove(idx.Task); err != nil {
			errs = append(errs, err)
			continue
		}
		expired = append(expired, idx.Task)
	}
	return expired, errors.Join(errs...)
}

// lastWrite is the newest modification time of the log files in dir.
func lastWrite(dir string) (time.Time, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return time.Time{}, fmt.Errorf("logs: %w", err)
	}
	var last time.Time
	for _, e := range entries {
		if !strings.Contains(e.Name(), ".log") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		if info.ModTime().After(last) {
			last = info.ModTime()
		}
	}
	return last, nil
}

// Close closes every open file. Writers handed out earlier fail afterwards.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.stop != nil && !s.closed {
		close(s.stop)
	}
	s.closed = true
	s.mu.Unlock()
	if s.swept != nil {
		<-s.swept
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for key, f := range s.files {
		f.mu.Lock()
		if f.f != nil {
			errs = append(errs, f.f.Close())
			f.f = nil
		}
		f.mu.Unlock()
		delete(s.files, key)
	}
	return errors.Join(errs...)
}

var safeName = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

func (s *Store) path(taskID, container string) string {
	return filepath.Join(s.taskDir(taskID), safeName.ReplaceAllString(container, "_")+".log")
}

// Writers implements the agent's LogSink: stdout and stderr of one container.
func (s *Store) Writers(taskID, container string) (stdout, stderr io.Writer) {
	return s.writer(taskID, container, Stdout), s.writer(taskID, container, Stderr)
}

func (s *Store) writer(taskID, container string, stream Stream) io.Writer {
	return &lineWriter{s: s, task: taskID, container: container, stream: stream}
}

func (s *Store) file(taskID, container string) (*file, error) {
	key := taskID + "/" + container
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.files[key]; f != nil {
		return f, nil
	}
	p := s.path(taskID, container)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nil, err
	}
	fh, err := os.OpenFile(p, os.O_CREATE|os.O_APPEND|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	size, err := endLine(fh)
	if err != nil {
		fh.Close()
		return nil, err
	}
	f := &file{path: p, f: fh, size: size}
	s.files[key] = f
	if err := s.updateIndex(taskID, func(t *TaskLog) {
		if !slices.Contains(t.Containers, container) {
			t.Containers = append(t.Containers, container)
			slices.Sort(t.Containers)
		}
	}); err != nil {
		return nil, err
	}
	return f, nil
}

// endLine ends a file torn by a crash in the middle of a line with a
// newline, so that the next line written does not join the torn one, and
// returns the file's size.
func endLine(fh *os.File) (int64, error) {
	st, err := fh.Stat()
	if err != nil || st.Size() == 0 {
		return 0, err
	}
	last := make([]byte, 1)
	if _, err := fh.ReadAt(last, st.Size()-1); err != nil {
		return 0, err
	}
	if last[0] == '\n' {
		return st.Size(), nil
	}
	n, err := fh.Write([]byte{'\n'})
	return st.Size() + int64(n), err
}

// TaskLog is the index of one task's logs.
type TaskLog struct {
	// Task is the task's ID.
	Task string `json:"task"`
	// Containers are the containers that have a log.
	Containers []string `json:"containers,omitempty"`
	// Labels are those given with SetTaskLabels.
	Labels map[string]string `json:"labels,omitempty"`
}

// ErrNotFound means a task has no logs in the store. It matches
// errdefs.ErrNotFound.
var ErrNotFound = errdefs.New(errdefs.ErrNotFound, "logs: not found")

const indexName = "task.json"

func (s *Store) taskDir(taskID string) string {
	return filepath.Join(s.dir, safeName.ReplaceAllString(taskID, "_"))
}

// updateIndex changes a task's index; s.mu is held.
func (s *Store) updateIndex(taskID string, change func(*TaskLog)) error {
	dir := s.taskDir(taskID)
	t, err := readIndex(dir)
	if errors.Is(err, ErrNotFound) {
		t, err = TaskLog{Task: taskID}, nil
	}
	if err != nil {
		return err
	}
	change(&t)
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp := filepath.Join(dir, indexName+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, indexName))
}

// readIndex reads a task directory's index. A directory without one (logs
// written before the index existed) is described from its file names.
func readIndex(dir string) (TaskLog, error) {
	var t TaskLog
	b, err := os.ReadFile(filepath.Join(dir, indexName))
	if err == nil {
		if err := json.Unmarshal(b, &t); err != nil {
			return t, fmt.Errorf("logs: %s: %w", dir, err)
		}
		return t, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return t, fmt.Errorf("logs: %w", err)
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	if len(logs) == 0 {
		return t, fmt.Errorf("%w: %s", ErrNotFound, filepath.Base(dir))
	}
	t.Task = filepath.Base(dir)
	for _, l := range logs {
		t.Containers = append(t.Containers, strings.TrimSuffix(filepath.Base(l), ".log"))
	}
	return t, nil
}

// SetTaskLabels adds labels to a task's index (replacing those of the same
// names), whether or not the task has written anything yet.
func (s *Store) SetTaskLabels(taskID string, labels map[string]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.updateIndex(taskID, func(t *TaskLog) {
		if t.Labels == nil {
			t.Labels = map[string]string{}
		}
		maps.Copy(t.Labels, labels)
	})
}

// Task returns the index of one task's logs; an error wrapping ErrNotFound
// when the store has nothing of the task.
//
// Task and Tasks take no lock: an index is replaced whole (written aside,
// then renamed over the old one), so a reader sees the old or the new.
func (s *Store) Task(taskID string) (TaskLog, error) {
	return readIndex(s.taskDir(taskID))
}

// Tasks returns the index of every task with logs or labels, by task ID.
func (s *Store) Tasks() ([]TaskLog, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("logs: %w", err)
	}
	var out []TaskLog
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		t, err := readIndex(filepath.Join(s.dir, e.Name()))
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b TaskLog) int { return strings.Compare(a.Task, b.Task) })
	return out, nil
}

// append writes one entry, rotating first when the file is full. An entry
// whose JSON would pass maxRecordBytes is split in two first.
func (s *Store) append(e Entry) error {
	f, err := s.file(e.Task, e.Container)
	if err != nil {
		return err
	}
	line, err := encode(e)
	if err != nil {
		return err
	}
	if len(line) > maxRecordBytes {
		cut := runeCut(e.Message, len(e.Message)/2)
		if cut == 0 {
			return fmt.Errorf("logs: task %.64q container %.64q: names too long for a log line", e.Task, e.Container)
		}
		first, rest := e, e
		first.Message, first.Partial = e.Message[:cut], true
		rest.Message = e.Message[cut:]
		if err := s.append(first); err != nil {
			return err
		}
		return s.append(rest)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.f == nil {
		return errors.New("logs: store closed")
	}
	if f.size+int64(len(line)) > s.maxBytes && f.size > 0 {
		if err := s.rotate(f); err != nil {
			return err
		}
	}
	n, err := f.f.Write(line)
	f.size += int64(n)
	return err
}

// encode is e's JSON line. It leaves <, > and & alone: the files are not
// HTML, and escaping them would grow a line six-fold.
func encode(e Entry) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// rotate shifts name.log -> name.log.1 -> name.log.2 ..., dropping the oldest.
func (s *Store) rotate(f *file) error {
	s.rotating.Lock()
	defer s.rotating.Unlock()
	if err := f.f.Close(); err != nil {
		return err
	}
	for i := s.maxFiles - 1; i >= 1; i-- {
		from := f.path
		if i > 1 {
			from = fmt.Sprintf("%s.%d", f.path, i-1)
		}
		to := fmt.Sprintf("%s.%d", f.path, i)
		if err := os.Rename(from, to); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if s.maxFiles == 1 {
		if err := os.Remove(f.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	fh, err := os.OpenFile(f.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	f.f, f.size = fh, 0
	return nil
}

// lineWriter cuts a stream into lines.
type lineWriter struct {
	s               *Store
	task, container string
	stream          Stream
	mu              sync.Mutex
	partial         []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.partial = append(w.partial, p...)
			// Keep up to MaxLineBytes: a line of exactly that length
			// that ends in the next write is one entry.
			for len(w.partial) > MaxLineBytes {
				cut := runeCut(w.partial, MaxLineBytes)
				if err := w.emit(w.partial[:cut], true); err != nil {
					return 0, err
				}
				w.partial = w.partial[cut:]
			}
			break
		}
		line := append(w.partial, p[:i]...)
		w.partial = nil
		p = p[i+1:]
		for len(line) > MaxLineBytes {
			cut := runeCut(line, MaxLineBytes)
			if err := w.emit(line[:cut], true); err != nil {
				return 0, err
			}
			line = line[cut:]
		}
		if err := w.emit(bytes.TrimSuffix(line, []byte("\r")), false); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// runeCut returns where to cut s to keep at most n bytes before the cut
// without splitting a UTF-8 sequence (bytes that are not UTF-8 are cut
// at n).
func runeCut[T ~string | ~[]byte](s T, n int) int {
	if n >= len(s) {
		return len(s)
	}
	for i := n; i > n-utf8.UTFMax && i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return i
		}
	}
	return n
}

func (w *lineWriter) emit(line []byte, partial bool) error {
	return w.s.append(Entry{Time: w.s.now(), Task: w.task, Container: w.container, Stream: w.stream,
		Message: string(line), Partial: partial})
}

// Remove deletes a task's logs (for example once the task is forgotten).
func (s *Store) Remove(taskID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	prefix := taskID + "/"
	for key, f := range s.files {
		if strings.HasPrefix(key, prefix) {
			f.mu.Lock()
			if f.f != nil {
				f.f.Close()
				f.f = nil
			}
			f.mu.Unlock()
			delete(s.files, key)
		}
	}
	return os.RemoveAll(s.taskDir(taskID))
}
