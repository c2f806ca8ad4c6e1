package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// FileStore is an AllocationStore that keeps the state in one JSON file.
// Save writes a temporary file next to it and renames it over the old one,
// so a reader (or a crash) sees either the old or the new state, never a
// torn one. It does not fsync: the state guards against process restarts,
// and after a host crash the namespaces it describes are gone as well (the
// next Reconcile releases their addresses).
type FileStore struct {
	// Path of the JSON file; its directory is created when missing.
	Path string
}

// Load reads the state; a missing file is an empty state.
func (s FileStore) Load() (IPAMState, error) {
	b, err := os.ReadFile(s.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return IPAMState{}, nil
	}
	if err != nil {
		return IPAMState{}, fmt.Errorf("network: read %s: %w", s.Path, err)
	}
	var st IPAMState
	if err := json.Unmarshal(b, &st); err != nil {
		return IPAMState{}, fmt.Errorf("network: parse %s: %w", s.Path, err)
	}
	return st, nil
}

// Save replaces the file with st.
func (s FileStore) Save(st IPAMState) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("network: encode IPAM state: %w", err)
	}
	return WriteFileAtomic(s.Path, append(b, '\n'), 0o644)
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
