package network

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
)

// AllocationChange is one allocation or release, for stores that record
// changes one by one (see AllocationJournal).
type AllocationChange struct {
	TaskID string `json:"task"`
	// Address is the address allocated; the zero Addr means released.
	Address netip.Addr `json:"addr,omitzero"`
	// Next is the IPAM's cursor after the change.
	Next netip.Addr `json:"next,omitzero"`
}

// AllocationJournal is an AllocationStore that can also record a single
// change cheaply. An IPAM whose store implements it calls Append after each
// change and Save only now and then, to compact.
type AllocationJournal interface {
	AllocationStore
	Append(AllocationChange) error
}

// FileStore is an AllocationJournal kept in one file of JSON lines: a
// snapshot (IPAMState) on the first line, then one AllocationChange per
// line. Append adds a line with a single write in append mode; Save writes
// a new file holding only the snapshot and renames it over the old one, so
// a crash leaves either the old or the new file, never a torn one. A torn
// last line (a crash in the middle of Append) is ignored on Load.
//
// Replacing a file by rename makes ext4 flush it (about 5 ms on the
// developers' machines) while an append costs microseconds, which is why
// changes are appended and snapshots are rare. FileStore does not fsync:
// the state guards against process restarts, and after a host crash the
// namespaces it describes are gone as well (the next Reconcile releases
// their addresses).
//
// A FileStore is safe for concurrent use; the zero value is not usable,
// create one with NewFileStore.
type FileStore struct {
	path string

	mu sync.Mutex
	f  *os.File // open for appending; nil until the first Append after a Save
}

// NewFileStore returns a store for the file at path; the file and its
// directory are created by the first Save or Append.
func NewFileStore(path string) *FileStore { return &FileStore{path: path} }

// Path returns the file's path.
func (s *FileStore) Path() string { return s.path }

// Load reads the snapshot and replays the changes after it; a missing file
// is an empty state.
func (s *FileStore) Load() (IPAMState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return IPAMState{}, nil
	}
	if err != nil {
		return IPAMState{}, fmt.Errorf("network: read %s: %w", s.path, err)
	}
	var st IPAMState
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), len(b)+1)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Bytes()
		if line == 1 {
			if err := json.Unmarshal(text, &st); err != nil {
				return IPAMState{}, fmt.Errorf("network: parse %s: snapshot: %w", s.path, err)
			}
			if st.Allocations == nil {
				st.Allocations = map[string]netip.Addr{}
			}
			continue
		}
		var c AllocationChange
		if err := json.Unmarshal(text, &c); err != nil || c.TaskID == "" {
			if isLastLine(b, text) {
				break // torn append
			}
			return IPAMState{}, fmt.Errorf("network: parse %s: line %d: %v", s.path, line, err)
		}
		if c.Address.IsValid() {
			st.Allocations[c.TaskID] = c.Address
		} else {
			delete(st.Allocations, c.TaskID)
		}
		if c.Next.IsValid() {
			st.Next = c.Next
		}
	}
	if err := sc.Err(); err != nil {
		return IPAMState{}, fmt.Errorf("network: read %s: %w", s.path, err)
	}
	return st, nil
}

// isLastLine reports whether line is the last line of b (with or without a
// trailing newline).
func isLastLine(b, line []byte) bool {
	rest := bytes.TrimRight(b, "\n")
	return bytes.HasSuffix(rest, line)
}

// Save replaces the file with a snapshot of st.
func (s *FileStore) Save(st IPAMState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("network: encode IPAM state: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f != nil {
		s.f.Close() // it points at the file about to be replaced
		s.f = nil
	}
	return WriteFileAtomic(s.path, append(b, '\n'), 0o644)
}

// Append adds one change to the file.
func (s *FileStore) Append(c AllocationChange) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("network: encode IPAM change: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		if _, err := os.Stat(s.path); errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("network: append to %s: no snapshot saved yet", s.path)
		}
		f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return fmt.Errorf("network: open %s: %w", s.path, err)
		}
		s.f = f
	}
	if _, err := s.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("network: append to %s: %w", s.path, err)
	}
	return nil
}

// Close closes the file kept open for appending.
func (s *FileStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

// WriteFileAtomic writes data to a temporary file in path's directory
// (created when missing) and renames it to path.
func WriteFileAtomic(path string, data []byte, perm fs.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("network: create %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("network: write %s: %w", path, err)
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("network: write %s: %w", path, err)
	}
	if err := os.Chmod(tmp, perm); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("network: write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("network: write %s: %w", path, err)
	}
	return nil
}
