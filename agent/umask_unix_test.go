//go:build unix

package agent

import (
	"os"
	"syscall"
)

// umask returns the process's umask without changing it for long.
func umask() os.FileMode {
	m := syscall.Umask(0)
	syscall.Umask(m)
	return os.FileMode(m)
}
