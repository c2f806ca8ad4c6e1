package agent

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/runtime"
)

const (
	// EngineProbeInterval is how often an agent that cannot reach its
	// container engine asks it whether it is back. The agent's other calls
	// cannot be relied on for that: a task without health checks makes
	// none while it runs.
	EngineProbeInterval = time.Second
	// engineProbeTimeout bounds one of those questions.
	engineProbeTimeout = 5 * time.Second
	// maxOutageReason bounds the reason of an outage stored on the
	// instance.
	maxOutageReason = 512
)

// engine follows whether the agent's container engine answers, from the
// outcome of every call the agent makes to it (engineRuntime): a call
// failing with runtime.ErrUnavailable begins an outage, a call that
// succeeds ends it. While the engine is away the agent does not take its
// errors for the containers' (see untilAvailable), and the instance says
// so (watchEngine).
type engine struct {
	// epoch counts the outages begun and ended, twice over: it is odd
	// during an outage. A success ends an outage only if the call began
	// after the outage did. Read without mu on every call; written with
	// mu held.
	epoch  atomic.Uint64
	mu     sync.Mutex
	outage *cluster.EngineOutage // nil while the engine answers
	up     chan struct{}         // closed while the engine answers
	// changed receives a value after each change, for watchEngine.
	changed chan struct{}
}

func newEngine() *engine {
	up := make(chan struct{})
	close(up)
	return &engine{up: up, changed: make(chan struct{}, 1)}
}

// begin returns the epoch of a call that starts now.
func (e *engine) begin() uint64 { return e.epoch.Load() }

// report records the outcome of a call that began in epoch. Errors other
// than runtime.ErrUnavailable say nothing of the engine's reach: the
// engine answered them, or the caller's context ended.
func (e *engine) report(epoch uint64, err error) {
	switch {
	case err == nil:
		if epoch%2 == 0 {
			// The call began with no outage: if one began since, the
			// call's answer may predate it.
			return
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		if epoch != e.epoch.Load() {
			return // ended already
		}
		e.outage = nil
		e.epoch.Add(1)
		close(e.up)
		e.notify()
	case errors.Is(err, runtime.ErrUnavailable):
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.outage != nil {
			return
		}
		reason := err.Error()
		if len(reason) > maxOutageReason {
			cut := maxOutageReason
			for cut > 0 && !utf8.RuneStart(reason[cut]) {
				cut--
			}
			reason = reason[:cut]
		}
		e.outage = &cluster.EngineOutage{Since: time.Now(), Reason: reason}
		e.epoch.Add(1)
		e.up = make(chan struct{})
		e.notify()
	}
}

// notify tells watchEngine of a change. e.mu must be held.
func (e *engine) notify() {
	select {
	case e.changed <- struct{}{}:
	default:
	}
}

// state returns the present outage (nil when the engine answers) and a
// channel closed once it does.
func (e *engine) state() (*cluster.EngineOutage, <-chan struct{}) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.outage, e.up
}

// wait returns once the engine answers, or with ctx's error.
func (e *engine) wait(ctx context.Context) error {
	_, up := e.state()
	select {
	case <-up:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// untilAvailable runs call until it returns anything but an error wrapping
// runtime.ErrUnavailable, waiting between the tries for the engine to
// answer again: an outage of the engine delays what the agent does to
// containers, and fails nothing. It returns call's last error, or ctx's
// when ctx ends first. call must go through the agent's runtime (or
// verifier), whose calls the engine follows.
func (a *Agent) untilAvailable(ctx context.Context, call func() error) error {
	for {
		err := call()
		if err == nil || !errors.Is(err, runtime.ErrUnavailable) {
			return err
		}
		if err := a.waitAvailable(ctx, err); err != nil {
			return err
		}
	}
}

// waitAvailable waits for the engine to be back after a call failed with
// err, which says it is away; it returns an error if ctx ends first. Not
// inlined: untilAvailable runs under every runtime call, deep in a task's
// goroutine, and its frame is kept small.
//
//go:noinline
func (a *Agent) waitAvailable(ctx context.Context, err error) error {
	a.log.Warn("agent: container engine unavailable; waiting for it", "err", err)
	if werr := a.engine.wait(ctx); werr != nil {
		return errors.Join(err, werr)
	}
	return nil
}

// watchEngine records the engine's outages on the instance until ctx
// ends: AgentConnected false with the EngineOutage while the engine
// cannot be reached, so that placement keeps new tasks off the instance,
// and both cleared once it answers. Meanwhile it asks the engine every
// EngineProbeInterval whether it is back. A write that fails is tried
// again at the next change or probe.
func (a *Agent) watchEngine(ctx context.Context) {
	// Run began with no outage recorded (setConnected).
	var wrote, logged *cluster.EngineOutage
	timer := time.NewTimer(EngineProbeInterval)
	defer timer.Stop()
	for {
		outage, _ := a.engine.state()
		if outage != logged {
			if outage != nil {
				a.log.Warn("agent: container engine unavailable; the instance is disconnected until it answers", "reason", outage.Reason)
			} else {
				a.log.Info("agent: container engine available again", "outage", time.Since(logged.Since))
			}
			logged = outage
		}
		if outage != wrote {
			if err := a.recordEngine(ctx, outage); err != nil {
				if ctx.Err() != nil {
					return
				}
				a.log.Warn("agent: could not record the container engine's state", "err", err)
			} else {
				wrote = outage
			}
		}
		var tick <-chan time.Time
		if outage != nil || outage != wrote {
			timer.Reset(EngineProbeInterval)
			tick = timer.C
		}
		select {
		case <-ctx.Done():
			return
		case <-a.engine.changed:
		case <-tick:
			if outage != nil {
				a.probeEngine(ctx)
			}
		}
	}
}

// probeEngine asks the engine for the instance's containers; the answer
// (through the agent's runtime) tells the engine watch whether it is back.
func (a *Agent) probeEngine(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, engineProbeTimeout)
	defer cancel()
	_, _ = a.cfg.Runtime.List(ctx, map[string]string{LabelInstance: a.cfg.InstanceID})
}

// recordEngine writes the engine's state on the instance, with the
// heartbeat.
func (a *Agent) recordEngine(ctx context.Context, outage *cluster.EngineOutage) error {
	return a.writeInstance(ctx, a.cfg.Store.Update, func(inst *state.Instance, now time.Time) (*state.Instance, bool) {
		connected := outage == nil
		if inst.AgentConnected == connected && sameOutage(inst.EngineOutage, outage) && inst.AgentLost == nil {
			return nil, false
		}
		next := inst.Copy()
		next.AgentConnected, next.EngineOutage, next.AgentLost = connected, outage, nil
		next.DateChange(&inst.ContainerInstance, now)
		return next, true
	})
}

func sameOutage(a, b *cluster.EngineOutage) bool {
	return a == b || (a != nil && b != nil && *a == *b)
}

// engineRuntime is the agent's runtime: every call's outcome goes to the
// engine watch.
type engineRuntime struct {
	rt runtime.Runtime
	e  *engine
}

var _ runtime.Runtime = engineRuntime{}

func (r engineRuntime) EnsureImage(ctx context.Context, ref string, auth *runtime.Auth) error {
	ep := r.e.begin()
	err := r.rt.EnsureImage(ctx, ref, auth)
	r.e.report(ep, err)
	return err
}

func (r engineRuntime) RemoveImage(ctx context.Context, ref string) error {
	ep := r.e.begin()
	err := r.rt.RemoveImage(ctx, ref)
	r.e.report(ep, err)
	return err
}

func (r engineRuntime) Create(ctx context.Context, spec runtime.ContainerSpec) error {
	ep := r.e.begin()
	err := r.rt.Create(ctx, spec)
	r.e.report(ep, err)
	return err
}

func (r engineRuntime) Start(ctx context.Context, id string) error {
	ep := r.e.begin()
	err := r.rt.Start(ctx, id)
	r.e.report(ep, err)
	return err
}

func (r engineRuntime) Wait(ctx context.Context, id string) (<-chan runtime.ExitStatus, error) {
	ep := r.e.begin()
	ch, err := r.rt.Wait(ctx, id)
	r.e.report(ep, err)
	return ch, err
}

func (r engineRuntime) Signal(ctx context.Context, id string, sig syscall.Signal) error {
	ep := r.e.begin()
	err := r.rt.Signal(ctx, id, sig)
	r.e.report(ep, err)
	return err
}

func (r engineRuntime) Exec(ctx context.Context, id string, cmd []string) (runtime.ExecResult, error) {
	ep := r.e.begin()
	res, err := r.rt.Exec(ctx, id, cmd)
	r.e.report(ep, err)
	return res, err
}

func (r engineRuntime) Stats(ctx context.Context, id string) (runtime.Stats, error) {
	ep := r.e.begin()
	st, err := r.rt.Stats(ctx, id)
	r.e.report(ep, err)
	return st, err
}

func (r engineRuntime) Inspect(ctx context.Context, id string) (runtime.ContainerInfo, error) {
	ep := r.e.begin()
	info, err := r.rt.Inspect(ctx, id)
	r.e.report(ep, err)
	return info, err
}

func (r engineRuntime) List(ctx context.Context, selector map[string]string) ([]runtime.ContainerInfo, error) {
	ep := r.e.begin()
	infos, err := r.rt.List(ctx, selector)
	r.e.report(ep, err)
	return infos, err
}

func (r engineRuntime) Delete(ctx context.Context, id string) error {
	ep := r.e.begin()
	err := r.rt.Delete(ctx, id)
	r.e.report(ep, err)
	return err
}

// engineVerifier is the agent's runtime.AccessVerifier, followed by the
// engine watch like engineRuntime.
type engineVerifier struct {
	v runtime.AccessVerifier
	e *engine
}

func (v engineVerifier) VerifyImageAccess(ctx context.Context, ref string, auth *runtime.Auth) error {
	ep := v.e.begin()
	err := v.v.VerifyImageAccess(ctx, ref, auth)
	v.e.report(ep, err)
	return err
}
