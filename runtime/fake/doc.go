// Package fake is an in-memory, scriptable runtime.Runtime for unit tests of
// code that drives containers: agents, supervisors, health checkers. Nothing
// runs: containers are records, processes are timelines played against the
// clock. It builds and runs on any OS, is deterministic inside
// testing/synctest bubbles, and passes the same conformance suite
// (runtime/runtimetest) as the containerd runtime.
//
// # Getting started
//
//	rt := fake.New()
//	t.Cleanup(rt.Close)
//
//	_ = rt.EnsureImage(ctx, "busybox", nil) // every image can be pulled
//	_ = rt.Create(ctx, runtime.ContainerSpec{
//		ID: "web-1", Image: "busybox",
//		Command: []string{"sh", "-c", "echo hello; exit 3"},
//		Stdout:  &out,
//	})
//	ch, _ := rt.Wait(ctx, "web-1")
//	_ = rt.Start(ctx, "web-1")
//	st := <-ch // st.Code == 3, out holds "hello\n"
//
// Close kills whatever still runs and ends pending Waits; the Runtime stays
// inspectable afterwards.
//
// # Images
//
// By default every image exists in an imaginary registry: EnsureImage pulls
// it (see Pulls) and Create accepts it afterwards. Create of an image that was
// neither pulled nor loaded fails with runtime.ErrNotFound, as on a real
// runtime, which catches a forgotten EnsureImage. WithLocalImages (or
// LoadImages) makes images present without a pull; WithOnlyLocalImages turns
// the registry off. RemoveImage makes an image unavailable again (refused
// while a container made from it exists). References are compared as plain
// strings.
//
// # The command vocabulary
//
// Without a script, a container does what its command (EntryPoint followed by
// Command) would do in a busybox image, for a small vocabulary chosen so that
// the same command means the same thing on the fake and on a real runtime:
//
//	true, false              exit 0, exit 1
//	echo [-n] ARGS...        write ARGS to stdout, exit 0
//	sleep N                  run N seconds (fractions and s/m/h/d suffixes
//	                         allowed; "infinity" never ends), exit 0
//	hostname, pwd            the spec's Hostname (default: the ID) and
//	                         WorkingDir (default: /)
//	id -u, id -g             from the spec's User ("uid", "uid:gid", "root")
//	env                      the environment, one KEY=VALUE a line
//	sh                       with no arguments: exits 0 (no input)
//	sh -c SCRIPT             a script of the commands above and:
//	  exit [N]               exit N (or the last status)
//	  :                      do nothing
//	  A; B   A && B   A || B sequences and conditions, newlines too
//	  $NAME ${NAME} $?       expansion, with "double" and 'single' quotes
//	  >&2  2>&1  >/dev/null  redirections of stdout and stderr
//	  trap 'ACTION' SIG...   a handler (TERM, INT, HUP, QUIT, USR1, USR2,
//	                         ALRM or numbers); '' ignores, - resets
//	  while true; do ...; done   (or while :) an endless loop whose body
//	                         uses the commands above; its output repeats
//	  exec COMMAND           replace the shell with COMMAND
//
// Applets may be named by path (/bin/sleep). Anything else — another
// program, pipes, command substitution, files — is outside the vocabulary: a
// main process outside it runs until it is signalled (and dies of any signal
// with 128+n); an Exec outside it exits 0 with no output, so health checks
// pass unless scripted. Scripts decide otherwise (see below). The
// interpreter of the vocabulary is package runtime/fake/shell.
//
// Signals follow what the kernel does to a container's PID 1. Without an init
// process (ContainerSpec.Init false) the command is PID 1, and a signal it has
// no handler for is ignored: SIGTERM does not stop "sleep 3600". With Init the
// init process forwards the signal and the command dies of it: SIGTERM gives
// exit code 143. A shell trap runs once the foreground command ends, as in a
// real shell: with `trap "exit 0" TERM; while true; do sleep 1; done` the
// process exits 0 up to a second after SIGTERM, at the end of the current
// sleep. SIGKILL always ends the process with 137. Signal numbers are
// Linux's, whatever the host: HUP, INT, QUIT, KILL, ALRM and TERM have the
// same numbers everywhere, but on macOS pass syscall.Signal(10), not
// syscall.SIGUSR1, for a container's SIGUSR1.
//
// # Scripts
//
// A Behavior scripts pulls, starts, the main process, signals, execs and
// stats. Attach it to an image, or to containers chosen by a Selector (image,
// ID, labels), when the runtime is built or later:
//
//	rt := fake.New(
//		fake.WithImage("web:1", fake.Behavior{RunFor: 10 * time.Second, ExitCode: 1}), // crash after 10s
//		fake.WithImage("private:1", fake.Behavior{PullError: errDenied}),
//	)
//	rt.Script("api:2", fake.Behavior{
//		RunFor:  fake.Forever,
//		Signals: map[syscall.Signal]fake.Reaction{syscall.SIGTERM: {ExitCode: 0, After: 3 * time.Second}},
//		Exec:    fake.HealthyAfter(20 * time.Second), // a slow start
//	})
//	rt.ScriptFor(fake.Selector{Labels: map[string]string{"canary": "true"}}, fake.Behavior{StartError: errNoBinary})
//
// The last matching script applies, whole; a container's script is chosen
// when it is created. A Behavior that leaves RunFor and ExitCode zero keeps
// the command's process, so a script can add health-check answers or stats to
// an otherwise ordinary container. ExecCodes, FailFirst, HealthyFor and
// HealthyAfter cover common health checks; any func(ExecCall) ExecReply works,
// and ExecCall.Interpret gives the vocabulary's answer to fall back on.
//
// To make a running container exit from the test itself, call Exit. To
// take the engine away, as when containerd is killed under running shims,
// call SetUnavailable(true): every call then fails with
// runtime.ErrUnavailable while the containers go on, until
// SetUnavailable(false).
//
// # Assertions
//
// Every runtime.Runtime call is recorded with its arguments, start time and
// returned error: Calls returns them all, CallsTo those of one method (it
// panics on a misspelt method name). Container returns a snapshot of a
// container — spec, the Inspect view, the signals it received, the number of
// execs, and what it wrote — and Containers all of them. Pulls and Images tell
// what was pulled and what is present.
//
//	for _, c := range rt.CallsTo(fake.MethodSignal) {
//		fmt.Println(c.ID, c.Signal, c.Time)
//	}
//
// # Time and testing/synctest
//
// All timing goes through the time package: timers for process events,
// time.Now for timestamps. Inside a synctest bubble time is virtual, so a
// container scripted to crash after an hour crashes after exactly an hour, at
// once:
//
//	synctest.Test(t, func(t *testing.T) {
//		rt := fake.New(fake.WithImage("web:1", fake.Behavior{RunFor: time.Hour, ExitCode: 1}))
//		t.Cleanup(rt.Close)
//		... start web-1 ...
//		st := <-ch // time.Since(start) == time.Hour
//	})
//
// Create the Runtime, and start its containers, inside the bubble: the fake's
// channels and timers then belong to it, and goroutines that wait on them are
// durably blocked, letting virtual time advance. The fake starts no goroutine
// of its own except short-lived timer callbacks, and a container that never
// exits by itself leaves no timer behind, so a bubble can end with containers
// still running; Close is still good hygiene, and it releases goroutines of
// the code under test that wait on the containers. When the test wakes at the
// very instant a process writes output or exits, call synctest.Wait before
// looking, so that the fake's timer callback has run. Outside a bubble the
// fake runs in real time; keep scripted durations short there.
//
// See the example_synctest_test.go file for a complete test.
//
// # Concurrency and errors
//
// A Runtime is safe for concurrent use. Output reaches the spec's Stdout and
// Stderr writers in order, from the goroutine that played the process forward
// (Start, Signal, or a timer), and always before the exit is reported to Wait;
// the writers must be safe to call from another goroutine than the test's.
//
// Errors wrap the runtime package's sentinel errors (runtime.ErrNotFound,
// runtime.ErrAlreadyExists, runtime.ErrNotRunning, runtime.ErrAlreadyStarted,
// runtime.ErrImagePull, runtime.ErrStart, runtime.ErrInvalidSpec) and name the
// container or image; test them with errors.Is. Create validates what a real
// runtime refuses: empty or malformed IDs (containerd's rule: letters and
// digits separated by single '.', '_' or '-', at most 76 characters), an empty
// Image, negative limits, relative mount paths, ulimits with soft above hard.
// A call whose context is already done fails with the context's error.
package fake
