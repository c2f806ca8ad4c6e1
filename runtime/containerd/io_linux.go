//go:build linux

package containerd

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/containerd/containerd/v2/pkg/cio"
)

// maxExecOutput bounds the output Exec keeps, as Docker does for health
// checks.
const maxExecOutput = 4096

// outputCreator returns a cio.Creator for a process whose stdout and
// stderr go to the writers (nil discards): FIFOs in a new directory under
// fifoRoot, copied by containerd's cio and removed when the IO is closed.
// Cancelling the IO instead stops the copy but keeps the FIFOs, so that a
// later Runtime can attach to a container that outlives this one.
//
// Writes to the writers are serialised, and a writer's error does not stop
// the copy: the output is then dropped, since a stalled copy would block the
// container once the pipe fills.
func outputCreator(fifoRoot string, stdout, stderr io.Writer) cio.Creator {
	if stdout == nil && stderr == nil {
		return cio.NullIO
	}
	var mu sync.Mutex
	wrap := func(w io.Writer) io.Writer {
		if w == nil {
			w = io.Discard
		}
		return &drainWriter{mu: &mu, w: w}
	}
	return func(id string) (cio.IO, error) {
		if err := os.MkdirAll(fifoRoot, 0o700); err != nil {
			return nil, err
		}
		dir, err := os.MkdirTemp(fifoRoot, id+"-")
		if err != nil {
			return nil, err
		}
		// containerd 1.6's shim needs both FIFOs when it has one.
		cfg := cio.Config{Stdout: filepath.Join(dir, "stdout"), Stderr: filepath.Join(dir, "stderr")}
		set := cio.NewFIFOSet(cfg, func() error { return os.RemoveAll(dir) })
		return cio.NewAttach(cio.WithStreams(nil, wrap(stdout), wrap(stderr)))(set)
	}
}

// drainWriter writes to w until w fails, then discards.
type drainWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	failed bool
}

func (d *drainWriter) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.failed {
		if _, err := d.w.Write(p); err != nil {
			d.failed = true
		}
	}
	return len(p), nil
}

// limitedBuffer keeps the first max bytes written to it and counts the rest.
type limitedBuffer struct {
	mu      sync.Mutex
	buf     []byte
	max     int
	dropped int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := min(len(p), b.max-len(b.buf))
	b.buf = append(b.buf, p[:n]...)
	b.dropped += len(p) - n
	return len(p), nil
}

func (b *limitedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf...)
}

// leftoverFIFOs removes the FIFO directories of container id that no task
// names any more: those of a process killed after it made them and before
// containerd had the task (its next Runtime finds no task to name them).
// Called once the container is gone, when none of its directories is in
// use. A directory is the container's when its name is id, a dash and
// os.MkdirTemp's digits: another container's ID may extend id.
func (r *Runtime) leftoverFIFOs(id string) {
	entries, err := os.ReadDir(r.opts.fifoDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !isFIFODirOf(e.Name(), id) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(r.opts.fifoDir, e.Name())); err != nil {
			r.log.Warn("removing FIFOs", "container", id, "error", err)
		}
	}
}

// isFIFODirOf reports whether name is a FIFO directory of container id:
// id, a dash, then digits only.
func isFIFODirOf(name, id string) bool {
	suffix, ok := strings.CutPrefix(name, id+"-")
	if !ok || suffix == "" {
		return false
	}
	for _, c := range suffix {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// removeFIFODir removes the directory holding a FIFO when it lies inside
// root (a directory this runtime, or an earlier one, created).
func removeFIFODir(root, fifo string) error {
	if fifo == "" {
		return nil
	}
	dir := filepath.Dir(filepath.Clean(fifo))
	if filepath.Dir(dir) != root || !strings.HasPrefix(dir, root+string(filepath.Separator)) {
		return nil
	}
	return os.RemoveAll(dir)
}
