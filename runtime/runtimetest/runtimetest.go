package runtimetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/runtime"
)

// Harness tells the suite how to get a runtime under test.
type Harness struct {
	// New returns a fresh runtime for one subtest; cleanup via t.Cleanup.
	New func(t *testing.T) runtime.Runtime
	// Image is an image reference with busybox (/bin/sh and applets: sleep,
	// echo, cat, true, false, env, id, hostname) usable by EnsureImage.
	Image string
	// NewImage makes an image like Image available to rt under a
	// reference that no other subtest uses, and returns the reference:
	// the RemoveImage case removes it. When nil, that case is skipped.
	NewImage func(t *testing.T, rt runtime.Runtime) string
}

// Bounds on how long the suite waits. They are generous because a real
// runtime on a loaded CI machine can be slow; a fast runtime never gets near
// them.
const (
	// pullTimeout bounds EnsureImage.
	pullTimeout = 2 * time.Minute
	// callTimeout bounds every other call, and every wait for an exit or
	// for output.
	callTimeout = 30 * time.Second
	// execTimeout is the context deadline of the Exec that must time out.
	execTimeout = 500 * time.Millisecond
)

// Run runs the conformance suite as subtests of t. The subtests run in
// parallel with one another; Run returns when all of them are done.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil || h.Image == "" {
		t.Fatal("runtimetest: Harness needs New and Image")
	}
	tests := []struct {
		name string
		run  func(t *testing.T, s *suite)
	}{
		{"EnsureImage", testEnsureImage},
		{"RemoveImage", testRemoveImage},
		{"CreateInvalidSpec", testCreateInvalidSpec},
		{"CreateMissingImage", testCreateMissingImage},
		{"CreateTwice", testCreateTwice},
		{"UnknownContainer", testUnknownContainer},
		{"StartTwice", testStartTwice},
		{"ExitCode", testExitCode},
		{"WaitBeforeStart", testWaitBeforeStart},
		{"WaitAfterExit", testWaitAfterExit},
		{"SIGKILL", testSIGKILL},
		{"SIGTERMHandled", testSIGTERMHandled},
		{"SIGTERMIgnoredByPID1", testSIGTERMIgnoredByPID1},
		{"InitForwardsSIGTERM", testInitForwardsSIGTERM},
		{"Exec", testExec},
		{"ExecTimeout", testExecTimeout},
		{"NotRunning", testNotRunning},
		{"Output", testOutput},
		{"ProcessSettings", testProcessSettings},
		{"LabelsAndList", testLabelsAndList},
		{"InspectStates", testInspectStates},
		{"DeleteRunning", testDeleteRunning},
		{"DeleteThenInspect", testDeleteThenInspect},
		{"Stats", testStats},
		{"Concurrent", testConcurrent},
	}
	// The group keeps Run from returning before the parallel subtests are
	// done, so that a caller's checks after Run (leaks, say) see the end.
	t.Run("group", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				s := &suite{t: t, rt: h.New(t), image: h.Image, newImage: h.NewImage, prefix: "rtt-" + randomSuffix(t), seq: new(atomic.Int64)}
				tt.run(t, s)
			})
		}
	})
}

// suite is one subtest's runtime and helpers.
type suite struct {
	t      *testing.T
	rt     runtime.Runtime
	image  string
	prefix string
	seq    *atomic.Int64

	newImage func(t *testing.T, rt runtime.Runtime) string
}

// sub returns the suite for a nested subtest t, so that helpers fail the
// right test.
func (s *suite) sub(t *testing.T) *suite {
	c := *s
	c.t = t
	return &c
}

func randomSuffix(t *testing.T) string {
	var b [4]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	return hex.EncodeToString(b[:])
}

// ctx returns a context for one call, bounded by callTimeout.
func (s *suite) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	s.t.Cleanup(cancel)
	return ctx
}

// id returns a container ID unique to this subtest.
func (s *suite) id(name string) string {
	return fmt.Sprintf("%s-%s-%d", s.prefix, name, s.seq.Add(1))
}

func (s *suite) ensureImage() {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), pullTimeout)
	defer cancel()
	require.NoError(s.t, s.rt.EnsureImage(ctx, s.image, nil), "EnsureImage(%q)", s.image)
}

// spec returns a spec for the suite's image running argv.
func (s *suite) spec(name string, argv ...string) runtime.ContainerSpec {
	return runtime.ContainerSpec{
		ID:      s.id(name),
		Image:   s.image,
		Command: argv,
		Labels:  map[string]string{"stevedore.runtimetest": s.prefix},
	}
}

// create pulls the image, creates the container and deletes it when the
// subtest ends.
func (s *suite) create(spec runtime.ContainerSpec) string {
	s.t.Helper()
	s.ensureImage()
	require.NoError(s.t, s.rt.Create(s.ctx(), spec), "Create(%q)", spec.ID)
	s.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		if err := s.rt.Delete(ctx, spec.ID); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			s.t.Errorf("cleanup: Delete(%q): %v", spec.ID, err)
		}
	})
	return spec.ID
}

// run creates and starts a container.
func (s *suite) run(spec runtime.ContainerSpec) string {
	s.t.Helper()
	id := s.create(spec)
	require.NoError(s.t, s.rt.Start(s.ctx(), id), "Start(%q)", id)
	return id
}

// wait returns a Wait channel for id.
func (s *suite) wait(id string) <-chan runtime.ExitStatus {
	s.t.Helper()
	ch, err := s.rt.Wait(s.ctx(), id)
	require.NoError(s.t, err, "Wait(%q)", id)
	return ch
}

// exit receives the exit status from ch, within callTimeout.
func (s *suite) exit(id string, ch <-chan runtime.ExitStatus) runtime.ExitStatus {
	s.t.Helper()
	select {
	case st, ok := <-ch:
		require.True(s.t, ok, "Wait(%q) channel closed without a status", id)
		require.NoError(s.t, st.Err, "exit status of %q", id)
		return st
	case <-time.After(callTimeout):
		require.FailNow(s.t, "no exit", "container %q did not exit within %v", id, callTimeout)
		return runtime.ExitStatus{}
	}
}

// exitCode runs to the exit of id and returns its code.
func (s *suite) exitCode(id string) int {
	s.t.Helper()
	return s.exit(id, s.wait(id)).Code
}

// requireClosed checks that ch is closed after its one status.
func (s *suite) requireClosed(id string, ch <-chan runtime.ExitStatus) {
	s.t.Helper()
	select {
	case _, ok := <-ch:
		require.False(s.t, ok, "Wait(%q) channel delivered a second status", id)
	case <-time.After(callTimeout):
		require.FailNow(s.t, "channel not closed", "Wait(%q) channel not closed after its status", id)
	}
}

// Output is a concurrency-safe io.Writer for a container's Stdout or
// Stderr that a test can read while the container writes, and wait on. It
// is exported for implementations' own tests.
type Output struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

// NewOutput returns an empty Output.
func NewOutput() *Output { return &Output{changed: make(chan struct{})} }

// Write appends p and wakes the waiters.
func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n, err := o.buf.Write(p)
	close(o.changed)
	o.changed = make(chan struct{})
	return n, err
}

// String returns what was written so far.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// OutputTimeout bounds Output's waits.
const OutputTimeout = time.Minute

// WaitLine waits, at most OutputTimeout, until line appears as a whole
// line, and fails t otherwise.
func (o *Output) WaitLine(t testing.TB, line string) {
	t.Helper()
	o.wait(t, fmt.Sprintf("line %q", line), func(s string) bool { return slices.Contains(strings.Split(s, "\n"), line) })
}

// WaitContains waits, at most OutputTimeout, until the output contains
// sub, and fails t otherwise.
func (o *Output) WaitContains(t testing.TB, sub string) {
	t.Helper()
	o.wait(t, fmt.Sprintf("%q", sub), func(s string) bool { return strings.Contains(s, sub) })
}

func (o *Output) wait(t testing.TB, what string, found func(string) bool) {
	t.Helper()
	deadline := time.NewTimer(OutputTimeout)
	defer deadline.Stop()
	for {
		o.mu.Lock()
		ok, changed := found(o.buf.String()), o.changed
		o.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			require.FailNow(t, "no output", "%s not written within %v; output so far: %q", what, OutputTimeout, o.String())
		}
	}
}

// trapTERM is a script that exits 0 on SIGTERM; it prints "ready" once the
// trap is set, because a signal that arrives before would find no handler.
const trapTERM = `trap "exit 0" TERM; echo ready; while true; do sleep 0.1; done`

// sleepLong keeps a container running until it is killed.
const sleepLong = "3600"

func testEnsureImage(t *testing.T, s *suite) {
	s.ensureImage()
	s.ensureImage() // a second time: nothing to pull, still no error
}

func testRemoveImage(t *testing.T, s *suite) {
	if s.newImage == nil {
		t.Skip("Harness.NewImage is nil")
	}
	ref := s.newImage(t, s.rt)
	spec := s.spec("rmimage", "true")
	spec.Image = ref
	s.create(spec)
	require.ErrorIs(t, s.rt.RemoveImage(s.ctx(), ref), runtime.ErrInUse, "RemoveImage while a container made from it exists")
	require.NoError(t, s.rt.Delete(s.ctx(), spec.ID))
	require.NoError(t, s.rt.RemoveImage(s.ctx(), ref))

	again := s.spec("rmimage", "true")
	again.Image = ref
	err := s.rt.Create(s.ctx(), again)
	if err == nil {
		_ = s.rt.Delete(s.ctx(), again.ID)
	}
	require.ErrorIs(t, err, runtime.ErrNotFound, "Create from a removed image")
	require.ErrorIs(t, s.rt.RemoveImage(s.ctx(), ref), runtime.ErrNotFound, "RemoveImage a second time")
	require.Equal(t, 0, s.exitCode(s.run(s.spec("other", "true"))), "the suite's image is still there")
}

func testCreateInvalidSpec(t *testing.T, s *suite) {
	s.ensureImage()
	tests := []struct {
		name string
		spec runtime.ContainerSpec
	}{
		{"no ID", runtime.ContainerSpec{Image: s.image, Command: []string{"true"}}},
		{"no image", runtime.ContainerSpec{ID: s.id("noimage"), Command: []string{"true"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := s.sub(t)
			err := s.rt.Create(s.ctx(), tt.spec)
			if err == nil {
				_ = s.rt.Delete(s.ctx(), tt.spec.ID)
			}
			require.ErrorIs(t, err, runtime.ErrInvalidSpec)
		})
	}
}

func testCreateMissingImage(t *testing.T, s *suite) {
	spec := s.spec("missingimage", "true")
	spec.Image = "example.invalid/stevedore/runtimetest-missing:" + s.prefix
	err := s.rt.Create(s.ctx(), spec)
	if err == nil {
		_ = s.rt.Delete(s.ctx(), spec.ID)
	}
	require.ErrorIs(t, err, runtime.ErrNotFound, "Create with an image never pulled")
}

func testCreateTwice(t *testing.T, s *suite) {
	spec := s.spec("twice", "true")
	s.create(spec)
	require.ErrorIs(t, s.rt.Create(s.ctx(), spec), runtime.ErrAlreadyExists)
}

func testUnknownContainer(t *testing.T, s *suite) {
	id := s.id("unknown")
	calls := []struct {
		name string
		call func() error
	}{
		{"Start", func() error { return s.rt.Start(s.ctx(), id) }},
		{"Wait", func() error { _, err := s.rt.Wait(s.ctx(), id); return err }},
		{"Signal", func() error { return s.rt.Signal(s.ctx(), id, syscall.SIGTERM) }},
		{"Exec", func() error { _, err := s.rt.Exec(s.ctx(), id, []string{"true"}); return err }},
		{"Stats", func() error { _, err := s.rt.Stats(s.ctx(), id); return err }},
		{"Inspect", func() error { _, err := s.rt.Inspect(s.ctx(), id); return err }},
		{"Delete", func() error { return s.rt.Delete(s.ctx(), id) }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			require.ErrorIs(t, c.call(), runtime.ErrNotFound)
		})
	}
}

func testStartTwice(t *testing.T, s *suite) {
	t.Run("running", func(t *testing.T) {
		s := s.sub(t)
		id := s.run(s.spec("running", "sleep", sleepLong))
		require.ErrorIs(t, s.rt.Start(s.ctx(), id), runtime.ErrAlreadyStarted)
	})
	t.Run("exited", func(t *testing.T) {
		s := s.sub(t)
		id := s.run(s.spec("exited", "true"))
		require.Equal(t, 0, s.exitCode(id))
		require.ErrorIs(t, s.rt.Start(s.ctx(), id), runtime.ErrAlreadyStarted)
	})
}

func testExitCode(t *testing.T, s *suite) {
	tests := []struct {
		argv []string
		code int
	}{
		{[]string{"true"}, 0},
		{[]string{"false"}, 1},
		{[]string{"sh", "-c", "exit 3"}, 3},
		{[]string{"sh", "-c", "echo hi; exit 42"}, 42},
		{[]string{"sleep", "0.1"}, 0},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.argv, " "), func(t *testing.T) {
			s := s.sub(t)
			id := s.run(s.spec("exit", tt.argv...))
			st := s.exitCode(id)
			require.Equal(t, tt.code, st)
		})
	}
}

func testWaitBeforeStart(t *testing.T, s *suite) {
	id := s.create(s.spec("waitfirst", "sh", "-c", "exit 5"))
	ch := s.wait(id)
	require.NoError(t, s.rt.Start(s.ctx(), id))
	require.Equal(t, 5, s.exit(id, ch).Code)
	s.requireClosed(id, ch)
}

func testWaitAfterExit(t *testing.T, s *suite) {
	id := s.run(s.spec("waitafter", "sh", "-c", "exit 3"))
	first := s.wait(id)
	st := s.exit(id, first)
	require.Equal(t, 3, st.Code)
	require.False(t, st.ExitedAt.IsZero(), "ExitedAt")
	s.requireClosed(id, first)

	// The container has exited: a new Wait delivers the same status.
	again := s.wait(id)
	st2 := s.exit(id, again)
	require.Equal(t, 3, st2.Code)
	s.requireClosed(id, again)
}

func testSIGKILL(t *testing.T, s *suite) {
	id := s.run(s.spec("kill", "sleep", sleepLong))
	ch := s.wait(id)
	require.NoError(t, s.rt.Signal(s.ctx(), id, syscall.SIGKILL))
	require.Equal(t, 137, s.exit(id, ch).Code)
}

func testSIGTERMHandled(t *testing.T, s *suite) {
	out := NewOutput()
	spec := s.spec("term", "sh", "-c", trapTERM)
	spec.Stdout = out
	id := s.run(spec)
	ch := s.wait(id)
	out.WaitLine(t, "ready")
	require.NoError(t, s.rt.Signal(s.ctx(), id, syscall.SIGTERM))
	require.Equal(t, 0, s.exit(id, ch).Code)
}

func testSIGTERMIgnoredByPID1(t *testing.T, s *suite) {
	// sleep runs as PID 1 and has no SIGTERM handler, so the kernel drops
	// SIGTERM. Had it killed the process, the exit code would be 143.
	id := s.run(s.spec("pid1", "sleep", sleepLong))
	ch := s.wait(id)
	require.NoError(t, s.rt.Signal(s.ctx(), id, syscall.SIGTERM))
	info, err := s.rt.Inspect(s.ctx(), id)
	require.NoError(t, err)
	require.Equal(t, runtime.StateRunning, info.State)
	require.NoError(t, s.rt.Signal(s.ctx(), id, syscall.SIGKILL))
	require.Equal(t, 137, s.exit(id, ch).Code)
}

func testInitForwardsSIGTERM(t *testing.T, s *suite) {
	// With an init process, sleep is not PID 1: the forwarded SIGTERM kills
	// it, and init exits with 128+15.
	spec := s.spec("init", "sleep", sleepLong)
	spec.Init = true
	id := s.run(spec)
	ch := s.wait(id)
	require.NoError(t, s.rt.Signal(s.ctx(), id, syscall.SIGTERM))
	require.Equal(t, 143, s.exit(id, ch).Code)
}

func testExec(t *testing.T, s *suite) {
	spec := s.spec("exec", "sleep", sleepLong)
	spec.Env = []string{"FOO=from-env"}
	id := s.run(spec)
	tests := []struct {
		cmd    []string
		code   int
		output string // exact; "" means no output
	}{
		{[]string{"true"}, 0, ""},
		{[]string{"false"}, 1, ""},
		{[]string{"sh", "-c", "exit 4"}, 4, ""},
		{[]string{"echo", "hello", "world"}, 0, "hello world\n"},
		{[]string{"sh", "-c", "echo $FOO"}, 0, "from-env\n"},
		{[]string{"sh", "-c", "echo out; echo err >&2; exit 2"}, 2, ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.cmd, " "), func(t *testing.T) {
			s := s.sub(t)
			res, err := s.rt.Exec(s.ctx(), id, tt.cmd)
			require.NoError(t, err)
			require.Equal(t, tt.code, res.ExitCode)
			if tt.output != "" {
				require.Equal(t, tt.output, string(res.Output))
			}
		})
	}
	t.Run("combined output", func(t *testing.T) {
		s := s.sub(t)
		res, err := s.rt.Exec(s.ctx(), id, []string{"sh", "-c", "echo out; echo err >&2"})
		require.NoError(t, err)
		assert.Contains(t, string(res.Output), "out\n")
		assert.Contains(t, string(res.Output), "err\n")
	})
}

func testExecTimeout(t *testing.T, s *suite) {
	id := s.run(s.spec("exectimeout", "sleep", sleepLong))
	ctx, cancel := context.WithTimeout(context.Background(), execTimeout)
	defer cancel()
	_, err := s.rt.Exec(ctx, id, []string{"sleep", sleepLong})
	require.ErrorIs(t, err, context.DeadlineExceeded)

	// The container is still usable.
	res, err := s.rt.Exec(s.ctx(), id, []string{"true"})
	require.NoError(t, err)
	require.Equal(t, 0, res.ExitCode)
}

func testNotRunning(t *testing.T, s *suite) {
	created := s.create(s.spec("created", "true"))
	exited := s.run(s.spec("exited", "true"))
	require.Equal(t, 0, s.exitCode(exited))
	for _, c := range []struct{ state, id string }{{"created", created}, {"exited", exited}} {
		t.Run(c.state, func(t *testing.T) {
			s := s.sub(t)
			_, err := s.rt.Exec(s.ctx(), c.id, []string{"true"})
			require.ErrorIs(t, err, runtime.ErrNotRunning, "Exec")
			require.ErrorIs(t, s.rt.Signal(s.ctx(), c.id, syscall.SIGTERM), runtime.ErrNotRunning, "Signal")
			_, err = s.rt.Stats(s.ctx(), c.id)
			require.ErrorIs(t, err, runtime.ErrNotRunning, "Stats")
		})
	}
}

func testOutput(t *testing.T, s *suite) {
	stdout, stderr := NewOutput(), NewOutput()
	spec := s.spec("output", "sh", "-c", `echo "$FOO"; echo to-stderr >&2; echo $BAR`)
	spec.Env = []string{"FOO=hello  there", "BAR=x"}
	spec.Stdout, spec.Stderr = stdout, stderr
	id := s.run(spec)
	require.Equal(t, 0, s.exitCode(id))
	// Output is complete by the time the exit is reported.
	require.Equal(t, "hello  there\nx\n", stdout.String())
	require.Equal(t, "to-stderr\n", stderr.String())
}

func testProcessSettings(t *testing.T, s *suite) {
	stdout := NewOutput()
	spec := s.spec("settings", "sh", "-c", "hostname; id -u; id -g; pwd")
	spec.Hostname = "rtt-host"
	spec.User = "1000:1001"
	spec.WorkingDir = "/bin"
	spec.Stdout = stdout
	id := s.run(spec)
	require.Equal(t, 0, s.exitCode(id), "output: %q", stdout.String())
	require.Equal(t, "rtt-host\n1000\n1001\n/bin\n", stdout.String())
}

func testLabelsAndList(t *testing.T, s *suite) {
	mk := func(name, role string) string {
		spec := s.spec(name, "true")
		spec.Labels["role"] = role
		return s.create(spec)
	}
	// Created out of order: List must sort by ID.
	c := mk("c", "web")
	a := mk("a", "web")
	b := mk("b", "db")

	all, err := s.rt.List(s.ctx(), map[string]string{"stevedore.runtimetest": s.prefix})
	require.NoError(t, err)
	require.Equal(t, sorted(a, b, c), ids(all))
	for _, info := range all {
		require.Equal(t, s.prefix, info.Labels["stevedore.runtimetest"])
		require.Equal(t, s.image, info.Image)
		require.Equal(t, runtime.StateCreated, info.State)
	}

	web, err := s.rt.List(s.ctx(), map[string]string{"stevedore.runtimetest": s.prefix, "role": "web"})
	require.NoError(t, err)
	require.Equal(t, sorted(a, c), ids(web))
	require.Equal(t, "web", web[0].Labels["role"])

	none, err := s.rt.List(s.ctx(), map[string]string{"stevedore.runtimetest": s.prefix, "role": "cache"})
	require.NoError(t, err)
	require.Empty(t, none)

	everything, err := s.rt.List(s.ctx(), nil)
	require.NoError(t, err)
	got := ids(everything)
	require.True(t, slices.IsSorted(got), "List(nil) not in ID order: %q", got)
	for _, id := range []string{a, b, c} {
		require.Contains(t, got, id)
	}
}

func ids(infos []runtime.ContainerInfo) []string {
	out := make([]string, len(infos))
	for i, info := range infos {
		out[i] = info.ID
	}
	return out
}

func sorted(ids ...string) []string {
	slices.Sort(ids)
	return ids
}

func testInspectStates(t *testing.T, s *suite) {
	spec := s.spec("states", "sleep", sleepLong)
	spec.Labels["k"] = "v"
	id := s.create(spec)

	info, err := s.rt.Inspect(s.ctx(), id)
	require.NoError(t, err)
	require.Equal(t, id, info.ID)
	require.Equal(t, s.image, info.Image)
	require.Equal(t, "v", info.Labels["k"])
	require.Equal(t, runtime.StateCreated, info.State)
	require.False(t, info.CreatedAt.IsZero(), "CreatedAt")

	ch := s.wait(id)
	require.NoError(t, s.rt.Start(s.ctx(), id))
	info, err = s.rt.Inspect(s.ctx(), id)
	require.NoError(t, err)
	require.Equal(t, runtime.StateRunning, info.State)
	require.Positive(t, info.PID, "PID")
	require.False(t, info.StartedAt.IsZero(), "StartedAt")

	require.NoError(t, s.rt.Signal(s.ctx(), id, syscall.SIGKILL))
	st := s.exit(id, ch)
	require.Equal(t, 137, st.Code)
	info, err = s.rt.Inspect(s.ctx(), id)
	require.NoError(t, err)
	require.Equal(t, runtime.StateStopped, info.State)
	require.Equal(t, 137, info.ExitCode)
	require.False(t, info.ExitedAt.IsZero(), "ExitedAt")
	require.False(t, info.ExitedAt.Before(info.StartedAt), "ExitedAt %v before StartedAt %v", info.ExitedAt, info.StartedAt)

	t.Run("exit code", func(t *testing.T) {
		s := s.sub(t)
		id := s.run(s.spec("code", "sh", "-c", "exit 7"))
		require.Equal(t, 7, s.exitCode(id))
		info, err := s.rt.Inspect(s.ctx(), id)
		require.NoError(t, err)
		require.Equal(t, runtime.StateStopped, info.State)
		require.Equal(t, 7, info.ExitCode)
	})
}

func testDeleteRunning(t *testing.T, s *suite) {
	id := s.run(s.spec("delrunning", "sleep", sleepLong))
	ch := s.wait(id)
	require.NoError(t, s.rt.Delete(s.ctx(), id))
	require.Equal(t, 137, s.exit(id, ch).Code)
	s.requireClosed(id, ch)
	_, err := s.rt.Inspect(s.ctx(), id)
	require.ErrorIs(t, err, runtime.ErrNotFound)
}

func testDeleteThenInspect(t *testing.T, s *suite) {
	spec := s.spec("delete", "sh", "-c", "exit 2")
	id := s.run(spec)
	require.Equal(t, 2, s.exitCode(id))
	require.NoError(t, s.rt.Delete(s.ctx(), id))

	_, err := s.rt.Inspect(s.ctx(), id)
	require.ErrorIs(t, err, runtime.ErrNotFound, "Inspect after Delete")
	require.ErrorIs(t, s.rt.Delete(s.ctx(), id), runtime.ErrNotFound, "second Delete")
	list, err := s.rt.List(s.ctx(), map[string]string{"stevedore.runtimetest": s.prefix})
	require.NoError(t, err)
	require.NotContains(t, ids(list), id)

	// The ID is free again.
	spec.Command = []string{"sh", "-c", "exit 6"}
	require.NoError(t, s.rt.Create(s.ctx(), spec))
	require.NoError(t, s.rt.Start(s.ctx(), id))
	require.Equal(t, 6, s.exitCode(id))
}

func testStats(t *testing.T, s *suite) {
	const limit = 64 << 20
	spec := s.spec("stats", "sleep", sleepLong)
	spec.MemoryLimit = limit
	id := s.run(spec)
	st, err := s.rt.Stats(s.ctx(), id)
	require.NoError(t, err)
	require.False(t, st.Time.IsZero(), "Time")
	require.Positive(t, st.MemoryUsage, "MemoryUsage")
	require.Equal(t, uint64(limit), st.MemoryLimit, "MemoryLimit")
	require.GreaterOrEqual(t, st.Pids, uint64(1), "Pids")
}

func testConcurrent(t *testing.T, s *suite) {
	const n = 10
	s.ensureImage()
	specs := make([]runtime.ContainerSpec, n)
	for i := range specs {
		specs[i] = s.spec("concurrent", "sh", "-c", fmt.Sprintf("exit %d", i))
		id := specs[i].ID
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
			defer cancel()
			if err := s.rt.Delete(ctx, id); err != nil && !errors.Is(err, runtime.ErrNotFound) {
				t.Errorf("cleanup: Delete(%q): %v", id, err)
			}
		})
	}
	codes := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, spec := range specs {
		wg.Go(func() {
			errs[i] = func() error {
				ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
				defer cancel()
				if err := s.rt.Create(ctx, spec); err != nil {
					return err
				}
				ch, err := s.rt.Wait(ctx, spec.ID)
				if err != nil {
					return err
				}
				if err := s.rt.Start(ctx, spec.ID); err != nil {
					return err
				}
				select {
				case st := <-ch:
					codes[i] = st.Code
					return st.Err
				case <-ctx.Done():
					return ctx.Err()
				}
			}()
		})
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i], "container %d", i)
		require.Equal(t, i, codes[i], "exit code of container %d", i)
	}
	list, err := s.rt.List(s.ctx(), map[string]string{"stevedore.runtimetest": s.prefix})
	require.NoError(t, err)
	require.Len(t, list, n)
}
