package history

import (
	"sync"

	"github.com/stevedore-io/stevedore/store"
)

// Outlet is the consumer's side of a store.Watcher, for a watcher whose
// own goroutine produces the events: it gives Events, Err and Close, and
// the producer sends on Out, watches Stopped, and calls Finish and then
// Done when it ends. A watcher embeds it.
type Outlet struct {
	// Out is the events channel the producer sends on.
	Out  chan store.Event
	stop chan struct{} // closed by Close
	done chan struct{} // closed by Done
	once sync.Once

	mu  sync.Mutex
	err error
}

// NewOutlet returns an Outlet whose channel holds buffer events.
func NewOutlet(buffer int) *Outlet {
	return &Outlet{Out: make(chan store.Event, buffer), stop: make(chan struct{}), done: make(chan struct{})}
}

// Events delivers the changes; see store.Watcher.
func (o *Outlet) Events() <-chan store.Event { return o.Out }

// Err says why the watch ended, once Events is closed.
func (o *Outlet) Err() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}

// Close asks the producer to stop and waits until it has ended.
func (o *Outlet) Close() {
	o.once.Do(func() { close(o.stop) })
	<-o.done
}

// Stopped is closed by Close: the producer returns when it is.
func (o *Outlet) Stopped() <-chan struct{} { return o.stop }

// Finish records why the watch ended and closes Events; the producer
// calls it once, then releases what it holds, then calls Done.
func (o *Outlet) Finish(err error) {
	o.mu.Lock()
	o.err = err
	o.mu.Unlock()
	close(o.Out)
}

// Done lets Close return.
func (o *Outlet) Done() { close(o.done) }
