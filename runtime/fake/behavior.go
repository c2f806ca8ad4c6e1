package fake

import (
	"errors"
	"maps"
	"syscall"
	"time"

	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/runtime/fake/shell"
)

// Forever is a RunFor (or ExecReply.Takes) that never ends: the process runs
// until a signal, Delete or Close stops it.
const Forever = shell.Forever

// Behavior scripts what happens to an image's pulls and to the containers a
// script matches. The zero Behavior changes nothing: pulls succeed, and the
// container's command decides what its process does (see the package
// documentation for the command vocabulary).
type Behavior struct {
	// PullError makes EnsureImage fail when it has to pull the image. The
	// returned error wraps runtime.ErrImagePull and PullError.
	PullError error
	// PullDelay is how long a pull takes. EnsureImage gives up early, with
	// an error wrapping runtime.ErrImagePull and the context's error, when
	// its context ends first.
	PullDelay time.Duration

	// PullAuth makes the image private: its registry serves it only to
	// these credentials, so a pull (and VerifyImageAccess) with other
	// credentials, or none, fails with runtime.ErrImagePull.
	PullAuth *runtime.Auth

	// StartError makes every Start of the container fail; the container
	// stays CREATED. The returned error wraps runtime.ErrStart and
	// StartError.
	StartError error
	// StartDelay is how long Start takes before the process runs. Start
	// gives up early, wrapping runtime.ErrStart and the context's error,
	// when its context ends first.
	StartDelay time.Duration

	// RunFor and ExitCode script the main process, overriding its command:
	// it runs for RunFor and then exits with ExitCode. RunFor Forever runs
	// until a signal stops it; RunFor 0 with a non-zero ExitCode exits at
	// once. When both are zero the command decides. (To exit 0 at once
	// whatever the command, use a tiny RunFor such as time.Nanosecond.)
	RunFor   time.Duration
	ExitCode int

	// Signals says how the main process answers each signal. A signal that
	// is not in the map is answered as the command would answer it (see the
	// vocabulary); for a scripted RunFor or a command outside the
	// vocabulary that is the signal's default action: exit with 128+n.
	// SIGKILL cannot be caught: it always ends the process with 137.
	Signals map[syscall.Signal]Reaction

	// Stdout and Stderr are lines the main process writes when it starts,
	// before any output of its command. A newline ends each line.
	Stdout []string
	Stderr []string

	// Exec answers every Exec in the container; nil lets the command
	// vocabulary answer. See ExecCodes, FailFirst, HealthyFor and
	// HealthyAfter for common health-check scripts.
	Exec ExecScript

	// Stats returns the container's resource usage, elapsed after it
	// started. nil gives a default reading: 1% of one CPU, 1 MiB of memory,
	// the spec's memory limit and one process (two with Init). The fake
	// fills in Time when Stats leaves it zero.
	Stats func(elapsed time.Duration) runtime.Stats
}

// checkAuth refuses credentials other than PullAuth's, when set.
func (b *Behavior) checkAuth(auth *runtime.Auth) error {
	if b.PullAuth == nil || (auth != nil && *auth == *b.PullAuth) {
		return nil
	}
	return errors.New("the registry refuses these credentials (401 Unauthorized)")
}

// scriptsProcess reports whether b overrides the command.
func (b *Behavior) scriptsProcess() bool { return b.RunFor != 0 || b.ExitCode != 0 }

func (b Behavior) clone() Behavior {
	if b.PullAuth != nil {
		a := *b.PullAuth
		b.PullAuth = &a
	}
	b.Signals = maps.Clone(b.Signals)
	b.Stdout = append([]string(nil), b.Stdout...)
	b.Stderr = append([]string(nil), b.Stderr...)
	return b
}

// Reaction is how a scripted main process answers a signal.
type Reaction struct {
	// Ignore makes the signal do nothing.
	Ignore bool
	// ExitCode is the code the process exits with, After the signal (a
	// graceful shutdown that takes a while). It is unused when Ignore is
	// set.
	ExitCode int
	After    time.Duration
}

// Selector picks the containers (and image pulls) a script applies to. Every
// field that is set must match; the zero Selector matches everything. Pulls
// know only their image reference, so a Selector with ID or Labels never
// matches a pull.
type Selector struct {
	// Image is an image reference, compared as a plain string: "busybox"
	// and "docker.io/library/busybox:latest" are different images.
	Image string
	// ID is a container ID.
	ID string
	// Labels must all be present on the container with these values.
	Labels map[string]string
}

func (s Selector) matchesPull(ref string) bool {
	return s.ID == "" && len(s.Labels) == 0 && (s.Image == "" || s.Image == ref)
}

func (s Selector) matchesContainer(spec *runtime.ContainerSpec) bool {
	if (s.Image != "" && s.Image != spec.Image) || (s.ID != "" && s.ID != spec.ID) {
		return false
	}
	return hasLabels(spec.Labels, s.Labels)
}

func hasLabels(labels, selector map[string]string) bool {
	for k, v := range selector {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// ExecCall describes one Exec for an ExecScript.
type ExecCall struct {
	// ID is the container's ID and Cmd the command to run.
	ID  string
	Cmd []string
	// N counts the Execs in this container, this one included: 1 for the
	// first.
	N int
	// Elapsed is the time since the container started.
	Elapsed time.Duration

	interpret func() (ExecReply, bool)
}

// Interpret returns the command vocabulary's answer to the call, and false
// when the command is outside the vocabulary (the reply is then exit code 0
// and no output). Scripts use it to answer some commands themselves and
// leave the rest to the vocabulary.
func (c ExecCall) Interpret() (ExecReply, bool) {
	if c.interpret == nil {
		return ExecReply{}, false
	}
	return c.interpret()
}

// ExecReply is what an exec'd command does.
type ExecReply struct {
	// ExitCode and Output (combined stdout and stderr) make the
	// runtime.ExecResult.
	ExitCode int
	Output   string
	// Takes is how long the command runs. Exec returns an error wrapping the
	// context's error when its context ends first; Forever never finishes.
	Takes time.Duration
}

// ExecScript answers an Exec. It is called without the runtime's lock held and
// may be called concurrently for different containers.
type ExecScript func(ExecCall) ExecReply

// ExecCodes answers the n-th Exec with codes[n-1]; once the codes run out the
// last one repeats. ExecCodes(1, 1, 0) fails twice, then passes for good.
func ExecCodes(codes ...int) ExecScript {
	if len(codes) == 0 {
		codes = []int{0}
	}
	return func(c ExecCall) ExecReply {
		return ExecReply{ExitCode: codes[min(c.N, len(codes))-1]}
	}
}

// FailFirst fails (exit code 1) the first n Execs and passes the rest.
func FailFirst(n int) ExecScript {
	return func(c ExecCall) ExecReply {
		if c.N <= n {
			return ExecReply{ExitCode: 1}
		}
		return ExecReply{}
	}
}

// HealthyFor passes Execs for d after the container starts, and fails (exit
// code 1) them afterwards.
func HealthyFor(d time.Duration) ExecScript {
	return func(c ExecCall) ExecReply {
		if c.Elapsed < d {
			return ExecReply{}
		}
		return ExecReply{ExitCode: 1}
	}
}

// HealthyAfter fails (exit code 1) Execs for d after the container starts —
// a slow start — and passes them afterwards.
func HealthyAfter(d time.Duration) ExecScript {
	return func(c ExecCall) ExecReply {
		if c.Elapsed < d {
			return ExecReply{ExitCode: 1}
		}
		return ExecReply{}
	}
}
