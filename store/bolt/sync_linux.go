package bolt

import (
	"os"

	"golang.org/x/sys/unix"
)

// datasync flushes f's data, and of its metadata only what reading the
// data back needs (its size).
func datasync(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }
