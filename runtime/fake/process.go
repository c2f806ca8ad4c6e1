package fake

import (
	"io"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/runtime/fake/shell"
)

// unknownExitCode is the code of an ExitStatus whose exit could not be
// determined, as containerd reports it.
const unknownExitCode = 255

// maxCapture bounds what a Container snapshot keeps of each output stream.
const maxCapture = 64 << 10

// maxExecOutput bounds ExecResult.Output.
const maxExecOutput = 4 << 10

// container is the fake's record of one container. Fields are guarded by the
// Runtime's mu, except that everything that plays the main process forward
// (output, exit) is also serialised by seq, so that output reaches the
// writers in order and before the exit is reported.
type container struct {
	seq sync.Mutex

	spec     runtime.ContainerSpec
	behavior Behavior
	prog     *shell.Program
	env      shell.Env

	state     runtime.State
	starting  bool
	pid       int
	createdAt time.Time
	startedAt time.Time
	exitedAt  time.Time
	exitCode  int
	waiters   []*waiter
	signals   []ReceivedSignal
	execs     int
	stdout    capture
	stderr    capture

	// The running process.
	pending []shell.Chunk // output still to write, in time order
	loopK   int           // next loop iteration to add to pending
	exitAt  time.Duration // when the process exits (Forever: never by itself)
	code    int           // its code then
	timer   *time.Timer
	done    chan struct{} // closed when the process exits
}

type waiter struct {
	ch   chan runtime.ExitStatus
	stop func() bool
}

// capture keeps the beginning of an output stream.
type capture struct{ strings.Builder }

func (c *capture) add(s string) {
	if room := maxCapture - c.Len(); room > 0 {
		c.WriteString(s[:min(len(s), room)])
	}
}

func (c *container) info() runtime.ContainerInfo {
	labels := make(map[string]string, len(c.spec.Labels))
	for k, v := range c.spec.Labels {
		labels[k] = v
	}
	return runtime.ContainerInfo{
		ID:        c.spec.ID,
		Image:     c.spec.Image,
		Labels:    labels,
		State:     c.state,
		PID:       c.pid,
		ExitCode:  c.exitCode,
		CreatedAt: c.createdAt,
		StartedAt: c.startedAt,
		ExitedAt:  c.exitedAt,
	}
}

// react answers a signal: the script's reaction when it has one, otherwise
// the program's.
func (c *container) react(sig syscall.Signal, at time.Duration) shell.Reaction {
	if r, ok := c.behavior.Signals[sig]; ok {
		if r.Ignore {
			return shell.Reaction{}
		}
		return shell.Reaction{Exit: true, At: shell.AddDuration(at, r.After), Code: r.ExitCode}
	}
	return c.prog.React(sig, at)
}

// begin sets up the process of a container that has just started. Called
// with mu held.
func (c *container) begin(now time.Time, pid int) {
	c.state = runtime.StateRunning
	c.pid = pid
	c.startedAt = now
	c.done = make(chan struct{})
	c.pending = slices.Clone(c.prog.Out)
	c.exitAt, c.code = c.prog.ExitAt, c.prog.Code
}

// materialise adds the output of endless-loop iterations up to elapsed, and
// the next iteration after it, to pending. Called with mu held.
func (c *container) materialise(elapsed time.Duration) {
	l := c.prog.Loop
	if l == nil {
		return
	}
	for {
		start := l.Start + time.Duration(c.loopK)*l.Period
		if start >= c.exitAt && c.exitAt != Forever {
			return
		}
		future := len(c.pending) > 0 && c.pending[len(c.pending)-1].At > elapsed
		if start > elapsed && future {
			return
		}
		c.insert(l.Iteration(c.loopK), false)
		c.loopK++
	}
}

// insert merges chunks (in time order) into pending. With first, they go
// before pending chunks of the same time.
func (c *container) insert(chunks []shell.Chunk, first bool) {
	for _, ch := range chunks {
		i := position(c.pending, ch.At, first)
		c.pending = slices.Insert(c.pending, i, ch)
	}
}

// position returns where a chunk at offset at goes in pending.
func position(pending []shell.Chunk, at time.Duration, first bool) int {
	i, _ := slices.BinarySearchFunc(pending, at, func(c shell.Chunk, at time.Duration) int {
		switch {
		case c.At < at, c.At == at && !first:
			return -1
		default:
			return 1
		}
	})
	return i
}

// exitBy makes the process exit at offset at with code, unless it exits
// earlier anyway; output it would have written from then on is dropped.
// Called with mu held.
func (c *container) exitBy(at time.Duration, code int) {
	if at >= c.exitAt {
		return
	}
	c.exitAt, c.code = at, code
	i := position(c.pending, at, true)
	c.pending = c.pending[:i]
}

// step plays a running container's process forward to now: it writes the
// output due, then reports the exit if it is due, or arms a timer for the
// next event. Called with c.seq held and mu not held.
func (r *Runtime) step(c *container) {
	r.mu.Lock()
	if c.state != runtime.StateRunning {
		r.mu.Unlock()
		return
	}
	now := time.Now()
	elapsed := now.Sub(c.startedAt)
	c.materialise(elapsed)
	limit := min(elapsed, c.exitAt)
	n := 0
	for n < len(c.pending) && c.pending[n].At <= limit {
		n++
	}
	due := slices.Clone(c.pending[:n])
	c.pending = slices.Delete(c.pending, 0, n)
	for _, ch := range due {
		if ch.Stderr {
			c.stderr.add(ch.Text)
		} else {
			c.stdout.add(ch.Text)
		}
	}
	exiting := elapsed >= c.exitAt
	if !exiting {
		next := c.exitAt
		if len(c.pending) > 0 {
			next = min(next, c.pending[0].At)
		}
		r.arm(c, next-elapsed)
	}
	stdout, stderr := c.spec.Stdout, c.spec.Stderr
	r.mu.Unlock()

	for _, ch := range due {
		w := stdout
		if ch.Stderr {
			w = stderr
		}
		if w != nil {
			// A failing writer loses output; the process does not notice,
			// as with a real container's log pipe.
			_, _ = io.WriteString(w, ch.Text)
		}
	}
	if exiting {
		r.mu.Lock()
		r.finish(c, c.code)
		r.mu.Unlock()
	}
}

// arm sets the container's timer to call step after d. Forever disarms it.
// Called with mu held.
func (r *Runtime) arm(c *container, d time.Duration) {
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	if d >= Forever-time.Hour {
		return
	}
	c.timer = time.AfterFunc(d, func() {
		c.seq.Lock()
		defer c.seq.Unlock()
		r.step(c)
	})
}

// finish records the exit of a running container and tells its waiters.
// Called with mu held (and c.seq, so that no output is still on its way).
func (r *Runtime) finish(c *container, code int) {
	if c.state != runtime.StateRunning {
		return
	}
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	c.state = runtime.StateStopped
	c.exitCode = code
	c.exitedAt = time.Now()
	c.pending = nil
	close(c.done)
	r.release(c, runtime.ExitStatus{Code: code, ExitedAt: c.exitedAt})
}

// release hands status to every waiter of c. Called with mu held.
func (r *Runtime) release(c *container, status runtime.ExitStatus) {
	for _, w := range c.waiters {
		w.stop()
		w.ch <- status
		close(w.ch)
	}
	c.waiters = nil
}

// removeWaiter forgets w; it reports false when w was already released.
func (c *container) removeWaiter(w *waiter) bool {
	i := slices.Index(c.waiters, w)
	if i < 0 {
		return false
	}
	c.waiters = slices.Delete(c.waiters, i, i+1)
	return true
}
