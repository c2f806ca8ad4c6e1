package bolt

import (
	"errors"
	"fmt"
)

// Errors of the file itself. Errors from Open and from a failed commit are
// *FileError values naming the file; test for these with errors.Is.
var (
	// ErrLocked means another process, or another Store in this one, has
	// the file open. Open waited WithLockTimeout for it.
	ErrLocked = errors.New("bolt: file in use by another store")
	// ErrCorrupt means the file or its log is damaged: truncated,
	// overwritten, or holding data this store never wrote. The store
	// refuses it and never changes it (but for cutting a torn commit off
	// the end of the log); restore the file and its log from a copy.
	ErrCorrupt = errors.New("bolt: file corrupt")
)

// FileError is an error about the store's file or a file of its log. Its
// message names the file.
type FileError struct {
	// Path is the file.
	Path string
	// Op is what the store was doing: "create", "open", "load" (reading
	// the file's or the log's contents), "migrate" (converting a file of
	// format 1), "commit" or "close".
	Op string
	// Err is the cause. It may wrap ErrLocked, ErrCorrupt, a
	// *store.SchemaError (a file written by a newer release) or an error
	// of the file system (a full disk, a read-only directory).
	Err error
}

// Error names the file, the operation and the cause.
func (e *FileError) Error() string { return fmt.Sprintf("bolt: %s %s: %v", e.Op, e.Path, e.Err) }

// Unwrap returns the cause.
func (e *FileError) Unwrap() error { return e.Err }
