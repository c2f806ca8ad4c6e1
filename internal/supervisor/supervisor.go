// Package supervisor runs an Orchestrator's components, swarmkit's
// manager-style: every loop, every agent and every subscription runs as a
// component started here, restarted after an error that is not the end of
// the supervisor, and waited for when the supervisor stops. Nothing else in
// the control plane starts a goroutine of its own at the top level.
package supervisor

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// ErrStopped is returned by Start after Stop: the supervisor runs nothing
// any more. The Orchestrator reports it as its ErrClosed.
var ErrStopped = errors.New("supervisor: stopped")

// Component is what the supervisor runs: a loop that runs until its context
// ends (returning then) or fails (returning an error).
type Component interface {
	Run(ctx context.Context) error
}

// Func adapts a function to a Component.
type Func func(ctx context.Context) error

// Run implements Component.
func (f Func) Run(ctx context.Context) error { return f(ctx) }

// Supervisor runs components until Stop.
type Supervisor struct {
	ctx    context.Context
	cancel context.CancelFunc
	log    *slog.Logger

	mu      sync.Mutex // orders Go's Add before Stop's Wait
	stopped bool
	wg      sync.WaitGroup
}

// New returns a running supervisor that logs restarts to log.
func New(log *slog.Logger) *Supervisor {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Supervisor{ctx: ctx, cancel: cancel, log: log}
}

// Context is the supervisor's: it ends when Stop is called.
func (s *Supervisor) Context() context.Context { return s.ctx }

// Handle is one running component.
type Handle struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// Stop ends the component and waits until it has returned.
func (h *Handle) Stop() {
	h.cancel()
	<-h.done
}

// Done is closed when the component has returned for good.
func (h *Handle) Done() <-chan struct{} { return h.done }

// Start runs c until the supervisor stops (or the handle's Stop is
// called). When c returns before that, with an error or not, it runs again
// after restartDelay; restartDelay < 0 runs it once. After Stop, Start runs
// nothing and returns ErrStopped: a caller that starts components on
// request (an agent for a registration) learns that it came too late.
func (s *Supervisor) Start(name string, c Component, restartDelay time.Duration) (*Handle, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return nil, ErrStopped
	}
	ctx, cancel := context.WithCancel(s.ctx)
	h := &Handle{cancel: cancel, done: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(h.done)
		defer cancel()
		for {
			err := c.Run(ctx)
			if ctx.Err() != nil || restartDelay < 0 {
				return
			}
			s.log.Warn("component ended; restarting", "component", name, "err", err)
			timer := time.NewTimer(restartDelay)
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case <-timer.C:
			}
		}
	}()
	return h, nil
}

// Go is Start for components whose caller has no use for ErrStopped (the
// loops that New wires, before anyone can call Stop): after Stop, Go runs
// nothing and returns a handle that is done.
func (s *Supervisor) Go(name string, c Component, restartDelay time.Duration) *Handle {
	h, err := s.Start(name, c, restartDelay)
	if err != nil {
		h = &Handle{cancel: func() {}, done: make(chan struct{})}
		close(h.done)
	}
	return h
}

// Stop ends every component and waits until they have returned.
func (s *Supervisor) Stop() {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}
