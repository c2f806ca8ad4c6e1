//go:build !linux

package bolt

import "os"

// datasync flushes f; fdatasync is Linux's.
func datasync(f *os.File) error { return f.Sync() }
