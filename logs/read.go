package logs

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Query selects log lines. Empty fields match everything.
type Query struct {
	// Task and Container narrow the query; with no Task every task is read.
	Task      string
	Container string
	// Stream keeps one stream only.
	Stream Stream
	// Since and Until bound the lines' times (Since inclusive, Until
	// exclusive); zero means unbounded.
	Since, Until time.Time
	// Contains keeps lines containing the string; Match lines matching the
	// regular expression.
	Contains string
	Match    *regexp.Regexp
	// Tail keeps only the last Tail matching lines (0 = all). Each file is
	// read from its end until it has given Tail lines.
	Tail int
	// Head keeps only the first Head matching lines (0 = all); it excludes
	// Tail. Each file is read from its start until it has given Head lines.
	Head int
}

// Result is the answer to a query.
type Result struct {
	// Entries are the matching lines in time order.
	Entries []Entry
	// Skipped counts the lines read that could not be decoded: longer than
	// any line a Store writes, or not JSON (a line cut by a crash). A
	// line still being written when the query read the file is not read
	// and not counted.
	Skipped int
}

// Query returns the matching lines in time order. Lines that cannot be
// decoded are skipped; Search counts them.
func (s *Store) Query(q Query) ([]Entry, error) {
	r, err := s.Search(q)
	return r.Entries, err
}

// Search returns the matching lines in time order and counts the lines it
// skipped. It reads one task's files at a time, without holding any lock
// that writers need: it only keeps rotation from renaming a task's files
// while it opens them. Lines of one container are in the order they were
// written; lines of different containers are merged by time.
func (s *Store) Search(q Query) (Result, error) {
	if q.Head < 0 || q.Tail < 0 || (q.Head > 0 && q.Tail > 0) {
		return Result{}, fmt.Errorf("logs: query: Head (%d) and Tail (%d) must not be negative, and only one may be set", q.Head, q.Tail)
	}
	var taskDirs []string
	if q.Task != "" {
		taskDirs = append(taskDirs, s.taskDir(q.Task))
	} else {
		ents, err := os.ReadDir(s.dir)
		if err != nil {
			return Result{}, fmt.Errorf("logs: %w", err)
		}
		for _, e := range ents {
			if e.IsDir() {
				taskDirs = append(taskDirs, filepath.Join(s.dir, e.Name()))
			}
		}
	}
	var r Result
	for _, d := range taskDirs {
		if err := s.searchTask(d, q, &r); err != nil {
			return Result{}, err
		}
		if q.Head > 0 || q.Tail > 0 {
			r.Entries = keepEnds(r.Entries, q) // memory bounded by the ends kept
		}
	}
	r.Entries = keepEnds(r.Entries, q)
	return r, nil
}

// keepEnds sorts entries by time and keeps the first q.Head or last q.Tail.
func keepEnds(entries []Entry, q Query) []Entry {
	slices.SortStableFunc(entries, func(a, b Entry) int { return a.Time.Compare(b.Time) })
	switch {
	case q.Tail > 0 && len(entries) > q.Tail:
		return slices.Delete(entries, 0, len(entries)-q.Tail)
	case q.Head > 0 && len(entries) > q.Head:
		return entries[:q.Head]
	}
	return entries
}

// logFile is one open file of a container's log: name.log is generation
// 0, the rotated name.log.N generation N (older as N grows).
type logFile struct {
	f          *os.File
	container  string // the file name's container part
	generation int
}

// searchTask adds the matching lines of one task directory to r.
func (s *Store) searchTask(dir string, q Query, r *Result) error {
	files, err := s.openTask(dir, q.Container)
	defer func() {
		for _, lf := range files {
			lf.f.Close()
		}
	}()
	if err != nil {
		return err
	}
	// Newest file first for a tail, oldest first otherwise, so that each
	// container stops reading as soon as it has enough lines.
	slices.SortFunc(files, func(a, b logFile) int {
		if c := strings.Compare(a.container, b.container); c != 0 {
			return c
		}
		if q.Tail > 0 {
			return a.generation - b.generation
		}
		return b.generation - a.generation
	})
	var group []Entry // one container's lines: newest first for a tail
	for i, lf := range files {
		if i > 0 && files[i-1].container != lf.container {
			r.Entries = appendGroup(r.Entries, group, q)
			group = group[:0]
		}
		if q.Tail > 0 && len(group) >= q.Tail || q.Head > 0 && len(group) >= q.Head {
			continue
		}
		skipped, err := readFile(lf.f, q, &group)
		r.Skipped += skipped
		if err != nil {
			return fmt.Errorf("logs: %s: %w", lf.f.Name(), err)
		}
	}
	r.Entries = appendGroup(r.Entries, group, q)
	return nil
}

func appendGroup(entries, group []Entry, q Query) []Entry {
	if q.Tail > 0 {
		group = group[:min(len(group), q.Tail)]
		for i := len(group) - 1; i >= 0; i-- {
			entries = append(entries, group[i])
		}
		return entries
	}
	return append(entries, group...)
}

// openTask opens the log files of a task directory (of one container
// when container is set). Rotation waits while it does, so that no file
// is seen twice or missed; reading the open files needs no lock, as
// rotation renames files but never rewrites them.
func (s *Store) openTask(dir, container string) ([]logFile, error) {
	s.rotating.RLock()
	defer s.rotating.RUnlock()
	pattern := "*.log*"
	if container != "" {
		pattern = safeName.ReplaceAllString(container, "_") + ".log*"
	}
	paths, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil {
		return nil, err
	}
	var files []logFile
	for _, p := range paths {
		name, gen, ok := parseLogName(filepath.Base(p))
		if !ok {
			continue
		}
		f, err := os.Open(p)
		if errors.Is(err, os.ErrNotExist) {
			continue // removed meanwhile
		}
		if err != nil {
			return files, fmt.Errorf("logs: %w", err)
		}
		files = append(files, logFile{f: f, container: name, generation: gen})
	}
	return files, nil
}

// parseLogName splits "web.log" and "web.log.2" into container part and
// generation.
func parseLogName(base string) (string, int, bool) {
	name, suffix, ok := strings.Cut(base, ".log")
	switch {
	case !ok:
		return "", 0, false
	case suffix == "":
		return name, 0, true
	case suffix[0] != '.':
		return "", 0, false
	}
	gen, err := strconv.Atoi(suffix[1:])
	if err != nil || gen < 1 {
		return "", 0, false
	}
	return name, gen, true
}

// readFile adds f's matching lines to group: all of them in file order, or
// with q.Head the first ones, or with q.Tail the last ones newest first,
// until group holds q.Head or q.Tail lines. It returns the number of lines
// it could not decode.
func readFile(f *os.File, q Query, group *[]Entry) (int, error) {
	skipped := 0
	take := func(line []byte) bool {
		var e Entry
		if err := json.Unmarshal(line, &e); err != nil {
			skipped++
			return true
		}
		if q.matches(e) {
			*group = append(*group, e)
		}
		switch {
		case q.Tail > 0:
			return len(*group) < q.Tail
		case q.Head > 0:
			return len(*group) < q.Head
		}
		return true
	}
	lr := lineReader{chunk: readChunk, max: maxRecordBytes}
	var tooLong int
	var err error
	if q.Tail > 0 {
		var st os.FileInfo
		if st, err = f.Stat(); err != nil {
			return skipped, err
		}
		tooLong, err = lr.backward(f, st.Size(), take)
	} else {
		tooLong, err = lr.forward(f, take)
	}
	return skipped + tooLong, err
}

func (q Query) matches(e Entry) bool {
	switch {
	case q.Container != "" && e.Container != q.Container,
		q.Stream != "" && e.Stream != q.Stream,
		!q.Since.IsZero() && e.Time.Before(q.Since),
		!q.Until.IsZero() && !e.Time.Before(q.Until),
		q.Contains != "" && !strings.Contains(e.Message, q.Contains),
		q.Match != nil && !q.Match.MatchString(e.Message):
		return false
	}
	return true
}

// readChunk is how much a reader takes from a file at a time.
const readChunk = 64 << 10

// lineReader reads lines of at most max bytes, chunk bytes at a time.
type lineReader struct{ chunk, max int }

// forward calls fn with each complete line of r, in order, until fn
// returns false. Lines longer than lr.max are not passed but counted; an
// unterminated last line (still being written, or torn by a crash) is
// neither passed nor counted.
func (lr lineReader) forward(r io.Reader, fn func([]byte) bool) (tooLong int, err error) {
	br := bufio.NewReaderSize(r, lr.chunk)
	var long []byte // a line longer than the buffer, being assembled
	skipping := false
	for {
		chunk, err := br.ReadSlice('\n')
		switch {
		case err == nil:
			line := chunk[:len(chunk)-1]
			if len(long) > 0 {
				line = append(long, line...)
				long = long[:0]
			}
			switch {
			case skipping || len(line) > lr.max:
				tooLong++
				skipping = false
			case len(line) > 0 && !fn(line):
				return tooLong, nil
			}
		case errors.Is(err, bufio.ErrBufferFull):
			if !skipping && len(long)+len(chunk) <= lr.max {
				long = append(long, chunk...)
			} else {
				skipping, long = true, long[:0]
			}
		case errors.Is(err, io.EOF):
			return tooLong, nil
		default:
			return tooLong, err
		}
	}
}

// backward calls fn with each complete line of the size bytes of r, from
// the last to the first, until fn returns false. It reads r from its end
// in chunks, keeping at most one line (up to lr.max bytes) in memory.
// Lines longer than that are not passed but counted; an unterminated last
// line is neither passed nor counted.
func (lr lineReader) backward(r io.ReaderAt, size int64, fn func([]byte) bool) (tooLong int, err error) {
	off := size
	buf := make([]byte, lr.chunk)
	// pending holds the bytes after off not yet passed on: the end of a
	// line whose start is before off. Until the first newline is found
	// from the end, they are an unterminated last line.
	var pending []byte
	terminated := false
	skipping := false // the line being assembled is too long
	for off > 0 {
		n := int64(len(buf))
		if off < n {
			n = off
		}
		off -= n
		chunk := buf[:n]
		if _, err := r.ReadAt(chunk, off); err != nil {
			return tooLong, err
		}
		for len(chunk) > 0 {
			i := bytes.LastIndexByte(chunk, '\n')
			if i < 0 {
				if !skipping {
					// Copied: buf is read into again.
					pending = append(bytes.Clone(chunk), pending...)
					if len(pending) > lr.max {
						skipping, pending = true, pending[:0]
					}
				}
				break
			}
			if terminated {
				line := append(chunk[i+1:len(chunk):len(chunk)], pending...)
				switch {
				case skipping || len(line) > lr.max:
					tooLong++
				case len(line) > 0 && !fn(line):
					return tooLong, nil
				}
			}
			terminated, skipping, pending = true, false, pending[:0]
			chunk = chunk[:i]
		}
	}
	if terminated {
		switch {
		case skipping || len(pending) > lr.max:
			tooLong++
		case len(pending) > 0:
			fn(pending)
		}
	}
	return tooLong, nil
}
