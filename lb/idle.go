package lb

import (
	"sync"
	"sync/atomic"
	"time"
)

// idleWatch calls onIdle once when touch has not been called for d. One
// timer serves a whole connection, however much traffic it carries:
// touch only stores the time, and the timer, when it fires early, sleeps
// again for what is left.
type idleWatch struct {
	d      time.Duration
	onIdle func()
	last   atomic.Int64 // unix nanos of the last touch

	mu      sync.Mutex
	timer   *time.Timer
	stopped bool
}

func newIdleWatch(d time.Duration, onIdle func()) *idleWatch {
	w := &idleWatch{d: d, onIdle: onIdle}
	w.touch()
	w.mu.Lock()
	w.timer = time.AfterFunc(d, w.check)
	w.mu.Unlock()
	return w
}

// touch records activity.
func (w *idleWatch) touch() { w.last.Store(time.Now().UnixNano()) }

func (w *idleWatch) check() {
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		return
	}
	if left := w.d - time.Since(time.Unix(0, w.last.Load())); left > 0 {
		w.timer.Reset(left)
		w.mu.Unlock()
		return
	}
	w.stopped = true
	w.mu.Unlock()
	w.onIdle()
}

// stop ends the watch; onIdle is not called after it returns, unless it
// was already running.
func (w *idleWatch) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	w.timer.Stop()
}
