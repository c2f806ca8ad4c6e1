package fake

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/runtime/fake/shell"
)

// Runtime is an in-memory runtime.Runtime for tests. Create one with New. It
// is safe for concurrent use.
type Runtime struct {
	mu         sync.Mutex
	scripts    []script
	images     map[string]bool // images available locally
	onlyLocal  bool
	pulls      []string
	containers map[string]*container
	// indexed holds, for every label key a List selected on, the
	// containers by that label's value, so that List reads only the
	// containers of one value (an agent's instance, among a thousand
	// sharing the fake). Keys no List selects on are not indexed: most of
	// a container's labels are its task's alone, and an index of each
	// would hold a map per task for nothing.
	indexed map[string]map[string]map[string]*container
	calls   callLog
	nextPID int
	// unavailable simulates an engine outage (SetUnavailable).
	unavailable bool
}

var (
	_ runtime.Runtime        = (*Runtime)(nil)
	_ runtime.AccessVerifier = (*Runtime)(nil)
)

// label is one label of a container, as the runtime indexes it.
type script struct {
	sel Selector
	b   Behavior
}

// Option configures a Runtime made by New. Options that cannot apply
// return an error, and New panics with it: a bad option is a bug in the
// test that uses the fake.
type Option func(*options) error

// options are what the options of New set, applied to the Runtime in New.
type options struct {
	scripts   []script
	images    []string
	onlyLocal bool
}

// WithImage scripts the pulls of image ref and the containers created from
// it; see Runtime.Script.
func WithImage(ref string, b Behavior) Option {
	return WithScript(Selector{Image: ref}, b)
}

// WithScript scripts the pulls and containers sel matches; see
// Runtime.ScriptFor.
func WithScript(sel Selector, b Behavior) Option {
	return func(o *options) error {
		o.scripts = append(o.scripts, script{sel: sel, b: b})
		return nil
	}
}

// WithLocalImages makes refs available from the start: EnsureImage does not
// pull them and Create accepts them.
func WithLocalImages(refs ...string) Option {
	return func(o *options) error {
		o.images = append(o.images, refs...)
		return nil
	}
}

// WithOnlyLocalImages turns the registry off: EnsureImage of an image that is
// not available locally (see WithLocalImages and LoadImages) fails with an
// error wrapping runtime.ErrImagePull and runtime.ErrNotFound.
func WithOnlyLocalImages() Option {
	return func(o *options) error {
		o.onlyLocal = true
		return nil
	}
}

// New returns an empty Runtime. By default every image can be pulled, no
// image is available locally before its pull, and every container's process
// follows its command (see the package documentation). It panics when an
// option returns an error.
func New(opts ...Option) *Runtime {
	var o options
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			panic(fmt.Sprintf("fake runtime: %v", err))
		}
	}
	r := &Runtime{
		images:     map[string]bool{},
		containers: map[string]*container{},
		indexed:    map[string]map[string]map[string]*container{},
		nextPID:    1000,
		onlyLocal:  o.onlyLocal,
	}
	for _, sc := range o.scripts {
		r.ScriptFor(sc.sel, sc.b)
	}
	r.LoadImages(o.images...)
	return r
}

// Script scripts the pulls of image ref and the containers created from it.
// It is ScriptFor(Selector{Image: ref}, b).
func (r *Runtime) Script(ref string, b Behavior) {
	r.ScriptFor(Selector{Image: ref}, b)
}

// ScriptFor scripts the pulls and the containers that sel matches. When
// several scripts match, the one added last applies, whole: scripts are not
// merged. A container's script is chosen when it is created, a pull's when
// EnsureImage runs, so scripting later changes only what comes after.
func (r *Runtime) ScriptFor(sel Selector, b Behavior) {
	sel.Labels = maps.Clone(sel.Labels)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.scripts = append(r.scripts, script{sel: sel, b: b.clone()})
}

// LoadImages makes refs available locally, as if pulled, without recording a
// pull.
func (r *Runtime) LoadImages(refs ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ref := range refs {
		r.images[ref] = true
	}
}

// Images returns the references of the images available locally, sorted.
func (r *Runtime) Images() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(maps.Keys(r.images))
}

// Pulls returns the image references EnsureImage pulled, in order. Calls of
// EnsureImage for images already available are not pulls.
func (r *Runtime) Pulls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.pulls)
}

// Calls returns every call of a runtime.Runtime method so far, in the order
// the calls began.
func (r *Runtime) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls.all()
}

// CallsTo returns the calls of one method, such as "Start" (see the Method
// constants), in the order they began. It panics on a name that is not a
// runtime.Runtime method, so that a typo cannot pass for "never called".
func (r *Runtime) CallsTo(method string) []Call {
	if !methods[method] {
		panic(fmt.Sprintf("fake: CallsTo(%q): no such runtime.Runtime method", method))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Call
	for _, chunk := range r.calls.chunks {
		for _, c := range chunk {
			if c.Method == method {
				out = append(out, c)
			}
		}
	}
	return out
}

// SetUnavailable simulates an outage of the engine (true) and its end
// (false), as when containerd is killed and started again under running
// shims: meanwhile every call fails with an error wrapping
// runtime.ErrUnavailable, the containers' processes go on, and pending
// Waits stay pending (an exit during the outage is delivered at once).
func (r *Runtime) SetUnavailable(down bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.unavailable = down
}

// checkAvailable fails a call with runtime.ErrUnavailable during an outage.
func (r *Runtime) checkAvailable() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.unavailable {
		return runtime.ErrUnavailable
	}
	return nil
}

// Container returns a snapshot of container id, and false when there is no
// such container (it was never created, or was deleted).
func (r *Runtime) Container(id string) (Container, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return Container{}, false
	}
	return c.snapshot(), true
}

// Containers returns snapshots of every container, in ID order.
func (r *Runtime) Containers() []Container {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Container, 0, len(r.containers))
	for _, id := range slices.Sorted(maps.Keys(r.containers)) {
		out = append(out, r.containers[id].snapshot())
	}
	return out
}

func (c *container) snapshot() Container {
	spec := cloneSpec(&c.spec)
	return Container{
		Spec:    *spec,
		Info:    c.info(),
		Signals: slices.Clone(c.signals),
		Execs:   c.execs,
		Stdout:  c.stdout.String(),
		Stderr:  c.stderr.String(),
	}
}

// Exit makes the main process of running container id exit now with code,
// as if it crashed. It is not a runtime.Runtime method and is not recorded.
// Errors wrap runtime.ErrNotFound or runtime.ErrNotRunning.
func (r *Runtime) Exit(id string, code int) error {
	c, err := r.lookup(id)
	if err != nil {
		return fmt.Errorf("fake: exit container %q: %w", id, err)
	}
	c.seq.Lock()
	defer c.seq.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.state != runtime.StateRunning {
		return fmt.Errorf("fake: exit container %q: %w", id, runtime.ErrNotRunning)
	}
	r.finish(c, code)
	return nil
}

// Close kills every running container (exit code 137, as for SIGKILL) and
// ends every pending Wait, so that no timer or waiting goroutine outlives the
// test. Containers stay, stopped, for inspection; the Runtime remains usable.
func (r *Runtime) Close() {
	r.mu.Lock()
	all := slices.Collect(maps.Values(r.containers))
	r.mu.Unlock()
	for _, c := range all {
		c.seq.Lock()
		r.mu.Lock()
		r.finish(c, 128+int(shell.SigKILL))
		r.release(c, runtime.ExitStatus{Code: unknownExitCode, Err: fmt.Errorf("fake: wait for container %q: runtime closed before it started: %w", c.spec.ID, runtime.ErrNotRunning)})
		r.mu.Unlock()
		c.seq.Unlock()
	}
}

// record notes the beginning of a call and returns a function that notes its
// error and returns it.
func (r *Runtime) record(call *Call) func(error) error {
	call.Time = time.Now()
	r.mu.Lock()
	c := r.calls.add(call)
	r.mu.Unlock()
	return func(err error) error {
		r.mu.Lock()
		c.Err = err
		r.mu.Unlock()
		return err
	}
}

// op is a recorded call under way; fail and ok end it.
type op struct {
	done func(error) error
	what callWhat // what the call does, for its errors
}

// callWhat says what a call does, for its errors: `start container "x"`.
// It is put together only when the call fails: most calls succeed, and
// formatting the message of each cost more than the call.
type callWhat struct {
	action, subject string
	plain           bool // action is the whole of it
}

// about is an action on a subject, quoted: about("start container", "x").
func about(action, subject string) callWhat { return callWhat{action: action, subject: subject} }

// plainly is a description given whole.
func plainly(what string) callWhat { return callWhat{action: what, plain: true} }

func (w callWhat) String() string {
	if w.plain {
		return w.action
	}
	return w.action + " " + strconv.Quote(w.subject)
}

// fail ends the call with err, prefixed with what the call does.
func (o op) fail(err error) error { return o.done(fmt.Errorf("fake: %s: %w", o.what, err)) }

// ok ends the call without error.
func (o op) ok() error { return o.done(nil) }

// begin records call and fails it at once when ctx is done.
func (r *Runtime) begin(ctx context.Context, call *Call, what callWhat) (op, error) {
	o := op{done: r.record(call), what: what}
	if err := ctx.Err(); err != nil {
		return o, o.fail(err)
	}
	if err := r.checkAvailable(); err != nil {
		return o, o.fail(err)
	}
	return o, nil
}

// beginOn is begin for a call on container call.ID, which it looks up.
func (r *Runtime) beginOn(ctx context.Context, call *Call, what callWhat) (op, *container, error) {
	o, err := r.begin(ctx, call, what)
	if err != nil {
		return o, nil, err
	}
	c, err := r.lookup(call.ID)
	if err != nil {
		return o, nil, o.fail(err)
	}
	return o, c, nil
}

// behaviorFor returns the script that applies to spec. Called with mu held.
func (r *Runtime) behaviorFor(spec *runtime.ContainerSpec) Behavior {
	for i := len(r.scripts) - 1; i >= 0; i-- {
		if r.scripts[i].sel.matchesContainer(spec) {
			return r.scripts[i].b
		}
	}
	return Behavior{}
}

// lookup returns container id or an error wrapping runtime.ErrNotFound.
func (r *Runtime) lookup(id string) (*container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return nil, runtime.ErrNotFound
	}
	return c, nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pullBehavior returns the script of ref's pulls; r.mu is held.
func (r *Runtime) pullBehavior(ref string) Behavior {
	for i := len(r.scripts) - 1; i >= 0; i-- {
		if r.scripts[i].sel.matchesPull(ref) {
			return r.scripts[i].b
		}
	}
	return Behavior{}
}

// EnsureImage makes ref available, recording a pull when it was not. Errors
// wrap runtime.ErrImagePull.
func (r *Runtime) EnsureImage(ctx context.Context, ref string, auth *runtime.Auth) error {
	call := Call{Method: MethodEnsureImage, Ref: ref}
	if auth != nil {
		a := *auth
		call.Auth = &a
	}
	o := op{done: r.record(&call), what: about("pull image", ref)}
	r.mu.Lock()
	local := r.images[ref] && ref != ""
	r.mu.Unlock()
	if local && ctx.Err() == nil && r.checkAvailable() == nil {
		return o.ok()
	}
	// The rest is the slow path, in a frame of its own: an agent pulls
	// deep in a task's goroutine, whose stack this one's frame would grow.
	return o.pullFailed(r.pull(ctx, ref, auth))
}

// pullFailed ends an EnsureImage call with err, which it wraps in
// runtime.ErrImagePull, or without error when err is nil.
func (o op) pullFailed(err error) error {
	if err == nil {
		return o.ok()
	}
	return o.fail(fmt.Errorf("%w: %w", runtime.ErrImagePull, err))
}

// pull makes ref available as its script says, unless ctx is done or the
// engine is away.
//
//go:noinline
func (r *Runtime) pull(ctx context.Context, ref string, auth *runtime.Auth) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := r.checkAvailable(); err != nil {
		return err
	}
	if ref == "" {
		return fmt.Errorf("empty image reference: %w", runtime.ErrInvalidSpec)
	}
	r.mu.Lock()
	if r.images[ref] {
		r.mu.Unlock()
		return nil
	}
	b := r.pullBehavior(ref)
	onlyLocal := r.onlyLocal
	r.mu.Unlock()

	if onlyLocal {
		return fmt.Errorf("no registry: %w", runtime.ErrNotFound)
	}
	if err := sleep(ctx, b.PullDelay); err != nil {
		return err
	}
	if b.PullError != nil {
		return b.PullError
	}
	if err := b.checkAuth(auth); err != nil {
		return err
	}
	r.mu.Lock()
	r.images[ref] = true
	r.pulls = append(r.pulls, ref)
	r.mu.Unlock()
	return nil
}

// VerifyImageAccess implements runtime.AccessVerifier: it fails when ref
// is not local, when the registry is off (WithOnlyLocalImages), or when
// the image's script has PullAuth and auth is not those credentials.
func (r *Runtime) VerifyImageAccess(ctx context.Context, ref string, auth *runtime.Auth) error {
	call := Call{Method: MethodVerifyImageAccess, Ref: ref}
	if auth != nil {
		a := *auth
		call.Auth = &a
	}
	o := op{done: r.record(&call), what: about("verify access to image", ref)}
	fail := func(err error) error { return o.fail(fmt.Errorf("%w: %w", runtime.ErrImagePull, err)) }
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	if err := r.checkAvailable(); err != nil {
		return fail(err)
	}
	r.mu.Lock()
	local, onlyLocal, b := r.images[ref], r.onlyLocal, r.pullBehavior(ref)
	r.mu.Unlock()
	switch {
	case !local:
		return fail(fmt.Errorf("not present: %w", runtime.ErrNotFound))
	case onlyLocal:
		return fail(errors.New("no registry to ask"))
	}
	if err := b.checkAuth(auth); err != nil {
		return fail(err)
	}
	return o.ok()
}

// RemoveImage makes ref unavailable locally, as a real runtime removes an
// image: Create refuses it until EnsureImage pulls it again. Errors wrap
// runtime.ErrNotFound, or runtime.ErrInUse while a container (of any state,
// until Delete) was made from it.
func (r *Runtime) RemoveImage(ctx context.Context, ref string) error {
	o, err := r.begin(ctx, &Call{Method: MethodRemoveImage, Ref: ref}, about("remove image", ref))
	if err != nil {
		return err
	}
	if err := r.removeImage(ref); err != nil {
		return o.fail(err)
	}
	return o.ok()
}

func (r *Runtime) removeImage(ref string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.images[ref] {
		return runtime.ErrNotFound
	}
	for _, id := range slices.Sorted(maps.Keys(r.containers)) {
		if r.containers[id].spec.Image == ref {
			return fmt.Errorf("%w: container %q", runtime.ErrInUse, id)
		}
	}
	delete(r.images, ref)
	return nil
}

// idPattern is containerd's rule for identifiers.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$`)

// validate checks what a real runtime would refuse.
func validate(spec *runtime.ContainerSpec) error {
	switch {
	case spec.ID == "":
		return fmt.Errorf("field ID: empty")
	case len(spec.ID) > 76 || !idPattern.MatchString(spec.ID):
		return fmt.Errorf("field ID: %q is not letters and digits separated by single '.', '_' or '-' (at most 76 characters)", spec.ID)
	case spec.Image == "":
		return fmt.Errorf("field Image: empty")
	case spec.MemoryLimit < 0:
		return fmt.Errorf("field MemoryLimit: negative (%d)", spec.MemoryLimit)
	case spec.MemoryReservation < 0:
		return fmt.Errorf("field MemoryReservation: negative (%d)", spec.MemoryReservation)
	case spec.MemoryLimit > 0 && spec.MemoryReservation > spec.MemoryLimit:
		return fmt.Errorf("field MemoryReservation: %d is above MemoryLimit %d", spec.MemoryReservation, spec.MemoryLimit)
	case spec.PidsLimit < 0:
		return fmt.Errorf("field PidsLimit: negative (%d)", spec.PidsLimit)
	case spec.HostNetwork && spec.NetNSPath != "":
		return fmt.Errorf("fields HostNetwork and NetNSPath: both set")
	}
	for i, m := range spec.Mounts {
		if !strings.HasPrefix(m.Source, "/") || !strings.HasPrefix(m.Destination, "/") {
			return fmt.Errorf("field Mounts[%d]: source %q and destination %q must be absolute paths", i, m.Source, m.Destination)
		}
	}
	for i, u := range spec.Ulimits {
		if u.Name == "" || u.Soft > u.Hard {
			return fmt.Errorf("field Ulimits[%d]: %q soft %d hard %d: needs a name and soft <= hard", i, u.Name, u.Soft, u.Hard)
		}
	}
	return nil
}

// cloneSpec returns a copy of from with slices and maps of its own.
func cloneSpec(from *runtime.ContainerSpec) *runtime.ContainerSpec {
	spec := new(runtime.ContainerSpec)
	*spec = *from
	ownSlices(spec)
	return spec
}

// ownSlices gives spec copies of its slices and maps. It is called deep in
// an agent's goroutines (Create): its frame is kept apart from its
// caller's and small, and so is cloneSpec's.
//
//go:noinline
func ownSlices(spec *runtime.ContainerSpec) {
	spec.EntryPoint = slices.Clone(spec.EntryPoint)
	spec.Command = slices.Clone(spec.Command)
	spec.Env = slices.Clone(spec.Env)
	spec.Labels = maps.Clone(spec.Labels)
	spec.Mounts = slices.Clone(spec.Mounts)
	spec.Ulimits = slices.Clone(spec.Ulimits)
	spec.CapAdd = slices.Clone(spec.CapAdd)
	spec.CapDrop = slices.Clone(spec.CapDrop)
}

// Create creates a container from spec. Its image must be available (pulled
// by EnsureImage or loaded). Errors wrap runtime.ErrInvalidSpec,
// runtime.ErrAlreadyExists or runtime.ErrNotFound.
func (r *Runtime) Create(ctx context.Context, spec runtime.ContainerSpec) error {
	// One copy serves the call's record and the container: neither is
	// changed after this.
	s := cloneSpec(&spec)
	o, err := r.begin(ctx, &Call{Method: MethodCreate, ID: spec.ID, Spec: s}, about("create container", spec.ID))
	if err != nil {
		return err
	}
	if err := validate(s); err != nil {
		return o.fail(fmt.Errorf("%w: %w", runtime.ErrInvalidSpec, err))
	}
	return o.done(r.create(s))
}

// create adds a container for a validated spec.
func (r *Runtime) create(s *runtime.ContainerSpec) error {
	fail := func(err error) error {
		return fmt.Errorf("fake: create container %q: %w", s.ID, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.containers[s.ID]; ok {
		return fail(runtime.ErrAlreadyExists)
	}
	if !r.images[s.Image] {
		return fail(fmt.Errorf("image %q: %w", s.Image, runtime.ErrNotFound))
	}
	c := &container{
		spec:      *s,
		behavior:  r.behaviorFor(s),
		state:     runtime.StateCreated,
		createdAt: time.Now(),
	}
	c.env = shell.Env{
		Vars:     append(shell.DefaultEnv(), s.Env...),
		Hostname: s.Hostname,
		User:     s.User,
		Workdir:  s.WorkingDir,
		PID1:     !s.Init,
	}
	if c.env.Hostname == "" {
		c.env.Hostname = s.ID
	}
	c.prog = mainProgram(s, &c.behavior, c.env)
	r.containers[s.ID] = c
	for k, byValue := range r.indexed {
		if v, ok := s.Labels[k]; ok {
			addIndexed(byValue, v, c)
		}
	}
	return nil
}

// addIndexed adds c to byValue, an index of one label key, under value v.
func addIndexed(byValue map[string]map[string]*container, v string, c *container) {
	set := byValue[v]
	if set == nil {
		set = map[string]*container{}
		byValue[v] = set
	}
	set[c.spec.ID] = c
}

// index returns the index of label key k, built on its first use. Called
// with mu held.
func (r *Runtime) index(k string) map[string]map[string]*container {
	byValue := r.indexed[k]
	if byValue == nil {
		byValue = map[string]map[string]*container{}
		for _, c := range r.containers {
			if v, ok := c.spec.Labels[k]; ok {
				addIndexed(byValue, v, c)
			}
		}
		r.indexed[k] = byValue
	}
	return byValue
}

// mainProgram works out the container's main process from its script and
// command.
func mainProgram(spec *runtime.ContainerSpec, b *Behavior, env shell.Env) *shell.Program {
	var p *shell.Program
	if b.scriptsProcess() {
		p = &shell.Program{Known: true, ExitAt: b.RunFor, Code: b.ExitCode}
	} else {
		p = shell.Interpret(append(slices.Clone(spec.EntryPoint), spec.Command...), env)
	}
	if p.React == nil {
		// A scripted process, or a program outside the vocabulary: an
		// ordinary program with default signal dispositions.
		p.React = func(sig syscall.Signal, at time.Duration) shell.Reaction {
			return shell.DefaultReaction(sig, at, false)
		}
	}
	var lines []shell.Chunk
	for _, l := range b.Stdout {
		lines = append(lines, shell.Chunk{Text: l + "\n"})
	}
	for _, l := range b.Stderr {
		lines = append(lines, shell.Chunk{Stderr: true, Text: l + "\n"})
	}
	p.Out = append(lines, p.Out...)
	return p
}

// Start starts created container id. Errors wrap runtime.ErrNotFound,
// runtime.ErrAlreadyStarted or runtime.ErrStart.
func (r *Runtime) Start(ctx context.Context, id string) error {
	o, c, err := r.beginOn(ctx, &Call{Method: MethodStart, ID: id}, about("start container", id))
	if err != nil {
		return err
	}
	r.mu.Lock()
	if c.state != runtime.StateCreated || c.starting {
		r.mu.Unlock()
		return o.fail(runtime.ErrAlreadyStarted)
	}
	c.starting = true
	b := c.behavior
	r.mu.Unlock()

	err = sleep(ctx, b.StartDelay)
	r.mu.Lock()
	c.starting = false
	switch {
	case r.containers[id] != c:
		err = runtime.ErrNotFound // deleted while starting
	case err != nil:
		err = fmt.Errorf("%w: %w", runtime.ErrStart, err)
	case b.StartError != nil:
		err = fmt.Errorf("%w: %w", runtime.ErrStart, b.StartError)
	default:
		c.begin(time.Now(), r.nextPID)
		r.nextPID++
	}
	r.mu.Unlock()
	if err != nil {
		return o.fail(err)
	}
	c.seq.Lock()
	r.step(c)
	c.seq.Unlock()
	return o.ok()
}

// Wait returns a channel that receives container id's exit status once and is
// then closed. When ctx ends first, the channel receives a status whose Err
// wraps the context's error (and Code 255), as containerd does; when the
// container is deleted or the Runtime closed before it ever ran, Err wraps
// runtime.ErrNotFound or runtime.ErrNotRunning. Errors wrap
// runtime.ErrNotFound.
func (r *Runtime) Wait(ctx context.Context, id string) (<-chan runtime.ExitStatus, error) {
	o, err := r.begin(ctx, &Call{Method: MethodWait, ID: id}, about("wait for container", id))
	if err != nil {
		return nil, err
	}
	ch, err := r.wait(ctx, id)
	return ch, o.done(err)
}

func (r *Runtime) wait(ctx context.Context, id string) (<-chan runtime.ExitStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return nil, fmt.Errorf("fake: wait for container %q: %w", id, runtime.ErrNotFound)
	}
	ch := make(chan runtime.ExitStatus, 1)
	if c.state == runtime.StateStopped {
		ch <- runtime.ExitStatus{Code: c.exitCode, ExitedAt: c.exitedAt}
		close(ch)
		return ch, nil
	}
	w := &waiter{ch: ch}
	c.waiters = append(c.waiters, w)
	w.stop = context.AfterFunc(ctx, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if c.removeWaiter(w) {
			w.ch <- runtime.ExitStatus{Code: unknownExitCode, Err: fmt.Errorf("fake: wait for container %q: %w", id, ctx.Err())}
			close(w.ch)
		}
	})
	return ch, nil
}

// Signal sends sig to container id's main process. Errors wrap
// runtime.ErrNotFound or runtime.ErrNotRunning.
func (r *Runtime) Signal(ctx context.Context, id string, sig syscall.Signal) error {
	o, c, err := r.beginOn(ctx, &Call{Method: MethodSignal, ID: id, Signal: sig}, plainly(fmt.Sprintf("signal container %q with %s", id, shell.SignalName(sig))))
	if err != nil {
		return err
	}
	c.seq.Lock()
	defer c.seq.Unlock()
	r.mu.Lock()
	if r.containers[id] != c {
		r.mu.Unlock()
		return o.fail(runtime.ErrNotFound)
	}
	if c.state != runtime.StateRunning {
		r.mu.Unlock()
		return o.fail(runtime.ErrNotRunning)
	}
	now := time.Now()
	c.signals = append(c.signals, ReceivedSignal{Signal: sig, Time: now})
	if sig == shell.SigKILL {
		r.finish(c, 128+int(sig))
		r.mu.Unlock()
		return o.ok()
	}
	re := c.react(sig, now.Sub(c.startedAt))
	if re.Exit {
		c.exitBy(re.At, re.Code)
	}
	var out []shell.Chunk
	for _, ch := range re.Out {
		if ch.At <= c.exitAt {
			out = append(out, ch)
		}
	}
	c.insert(out, true)
	r.mu.Unlock()
	r.step(c)
	return o.ok()
}

// Exec answers cmd in running container id from the container's script or
// the command vocabulary. Errors wrap runtime.ErrNotFound,
// runtime.ErrNotRunning or the context's error.
func (r *Runtime) Exec(ctx context.Context, id string, cmd []string) (runtime.ExecResult, error) {
	o, err := r.begin(ctx, &Call{Method: MethodExec, ID: id, Cmd: slices.Clone(cmd)}, plainly(fmt.Sprintf("exec %q in container %q", cmd, id)))
	if err != nil {
		return runtime.ExecResult{}, err
	}
	fail := func(err error) (runtime.ExecResult, error) { return runtime.ExecResult{}, o.fail(err) }
	r.mu.Lock()
	c, ok := r.containers[id]
	switch {
	case !ok:
		r.mu.Unlock()
		return fail(runtime.ErrNotFound)
	case c.state != runtime.StateRunning:
		r.mu.Unlock()
		return fail(runtime.ErrNotRunning)
	}
	c.execs++
	env := c.env
	env.PID1 = false
	call := ExecCall{
		ID:      id,
		Cmd:     slices.Clone(cmd),
		N:       c.execs,
		Elapsed: time.Since(c.startedAt),
		interpret: func() (ExecReply, bool) {
			return execReply(cmd, env)
		},
	}
	script, exited := c.behavior.Exec, c.done
	r.mu.Unlock()

	var reply ExecReply
	if script != nil {
		reply = script(call)
	} else {
		reply, _ = call.Interpret()
	}
	result := runtime.ExecResult{ExitCode: reply.ExitCode, Output: []byte(reply.Output)}
	if len(result.Output) > maxExecOutput {
		result.Output = result.Output[:maxExecOutput]
	}
	if reply.Takes <= 0 {
		return result, o.ok()
	}
	var finished <-chan time.Time
	if reply.Takes != Forever {
		t := time.NewTimer(reply.Takes)
		defer t.Stop()
		finished = t.C
	}
	select {
	case <-finished:
		return result, o.ok()
	case <-exited:
		// The container's processes are killed with its main process.
		return runtime.ExecResult{ExitCode: 128 + int(shell.SigKILL)}, o.ok()
	case <-ctx.Done():
		return fail(ctx.Err())
	}
}

// execReply is the vocabulary's answer to an exec'd command.
func execReply(cmd []string, env shell.Env) (ExecReply, bool) {
	p := shell.Interpret(cmd, env)
	if !p.Known {
		return ExecReply{}, false
	}
	var out strings.Builder
	for _, ch := range p.Out {
		if ch.At <= p.ExitAt {
			out.WriteString(ch.Text)
		}
	}
	return ExecReply{ExitCode: p.Code, Output: out.String(), Takes: p.ExitAt}, true
}

// Stats returns running container id's resource usage: the script's reading,
// or a default one. Errors wrap runtime.ErrNotFound or runtime.ErrNotRunning.
func (r *Runtime) Stats(ctx context.Context, id string) (runtime.Stats, error) {
	o, err := r.begin(ctx, &Call{Method: MethodStats, ID: id}, about("stats of container", id))
	if err != nil {
		return runtime.Stats{}, err
	}
	fail := func(err error) (runtime.Stats, error) { return runtime.Stats{}, o.fail(err) }
	r.mu.Lock()
	c, ok := r.containers[id]
	switch {
	case !ok:
		r.mu.Unlock()
		return fail(runtime.ErrNotFound)
	case c.state != runtime.StateRunning:
		r.mu.Unlock()
		return fail(runtime.ErrNotRunning)
	}
	now := time.Now()
	elapsed := now.Sub(c.startedAt)
	script, limit, init := c.behavior.Stats, c.spec.MemoryLimit, c.spec.Init
	r.mu.Unlock()

	var s runtime.Stats
	if script != nil {
		s = script(elapsed)
	} else {
		s = runtime.Stats{
			CPUUsage:    elapsed / 100,
			MemoryUsage: 1 << 20,
			MemoryLimit: uint64(limit),
			Pids:        1,
		}
		if init {
			s.Pids = 2
		}
	}
	if s.Time.IsZero() {
		s.Time = now
	}
	return s, o.ok()
}

// Inspect returns what the fake knows of container id. Errors wrap
// runtime.ErrNotFound.
func (r *Runtime) Inspect(ctx context.Context, id string) (runtime.ContainerInfo, error) {
	o, err := r.begin(ctx, &Call{Method: MethodInspect, ID: id}, about("inspect container", id))
	if err != nil {
		return runtime.ContainerInfo{}, err
	}
	r.mu.Lock()
	c, ok := r.containers[id]
	var info runtime.ContainerInfo
	if ok {
		info = c.info()
	}
	r.mu.Unlock()
	if !ok {
		return info, o.fail(runtime.ErrNotFound)
	}
	return info, o.ok()
}

// List returns the containers carrying every label in selector, in ID order.
func (r *Runtime) List(ctx context.Context, selector map[string]string) ([]runtime.ContainerInfo, error) {
	o, err := r.begin(ctx, &Call{Method: MethodList, Selector: maps.Clone(selector)}, plainly("list containers"))
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	var out []runtime.ContainerInfo
	candidates := r.containers
	for k, v := range selector {
		if set := r.index(k)[v]; len(set) < len(candidates) {
			candidates = set
		}
	}
	for _, id := range slices.Sorted(maps.Keys(candidates)) {
		if c := candidates[id]; hasLabels(c.spec.Labels, selector) {
			out = append(out, c.info())
		}
	}
	r.mu.Unlock()
	return out, o.ok()
}

// Delete removes container id, killing its main process first (exit code
// 137) when it runs. Waiters of a container that never ran receive a status
// whose Err wraps runtime.ErrNotFound. Errors wrap runtime.ErrNotFound.
func (r *Runtime) Delete(ctx context.Context, id string) error {
	o, c, err := r.beginOn(ctx, &Call{Method: MethodDelete, ID: id}, about("delete container", id))
	if err != nil {
		return err
	}
	c.seq.Lock()
	r.mu.Lock()
	removed := r.containers[id] == c
	if removed {
		r.finish(c, 128+int(shell.SigKILL))
		r.release(c, runtime.ExitStatus{Code: unknownExitCode, Err: fmt.Errorf("fake: wait for container %q: deleted before it ran: %w", id, runtime.ErrNotFound)})
		delete(r.containers, id)
		for k, byValue := range r.indexed {
			if v, ok := c.spec.Labels[k]; ok {
				delete(byValue[v], id)
				if len(byValue[v]) == 0 {
					delete(byValue, v)
				}
			}
		}
	}
	r.mu.Unlock()
	c.seq.Unlock()
	if !removed {
		return o.fail(runtime.ErrNotFound)
	}
	return o.ok()
}
