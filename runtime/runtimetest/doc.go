// Package runtimetest is the conformance suite for runtime.Runtime
// implementations. Every implementation runs it from its own tests, so that
// code written and unit-tested against runtime/fake behaves the same on a
// real engine.
//
// # Running the suite
//
// Give Run a Harness: a constructor for a fresh runtime per subtest, a
// busybox image reference and, for the RemoveImage case, a way to make an
// image of the subtest's own.
//
//	func TestConformance(t *testing.T) {
//		if testing.Short() {
//			t.Skip("needs containerd")
//		}
//		runtimetest.Run(t, runtimetest.Harness{
//			New: func(t *testing.T) runtime.Runtime {
//				rt, err := containerd.New(...)
//				require.NoError(t, err)
//				t.Cleanup(func() { rt.Close() })
//				return rt
//			},
//			Image: "docker.io/library/busybox:1.36",
//		})
//	}
//
// The image needs /bin/sh and the busybox applets sleep, echo, true, false,
// id and hostname. The subtests run in parallel with one another, each
// with its own runtime from New; Run returns when all are done, so checks
// after it (for leaked containers, say) see the end state. Every subtest
// deletes the containers it creates. Container IDs start with "rtt-" and a
// random suffix, and carry the label stevedore.runtimetest=<that prefix>, so
// a shared engine can hold other containers at the same time.
//
// The suite uses real time, within bounds: calls have a context with a
// timeout, exits and output are awaited on channels with a deadline, and
// nothing polls. A fast runtime finishes in a couple of seconds; the bounds
// (30 s a call, 1 min for output, 2 min a pull) leave room for a slow machine.
//
// # What it checks
//
// The contract written in package runtime, and the behaviour that commands
// have in a busybox container, so that the fake's command vocabulary and the
// real runtime agree:
//
//   - EnsureImage succeeds, also a second time. Create with an image never
//     pulled fails with runtime.ErrNotFound; without ID or Image with
//     runtime.ErrInvalidSpec; with an ID in use with runtime.ErrAlreadyExists.
//   - RemoveImage (with Harness.NewImage) fails with runtime.ErrInUse while
//     a container made from the image exists, then removes it: Create from
//     it and a second RemoveImage fail with runtime.ErrNotFound.
//   - Every call on an unknown ID fails with runtime.ErrNotFound. Start of a
//     running or exited container fails with runtime.ErrAlreadyStarted.
//     Exec, Signal and Stats of a created or exited container fail with
//     runtime.ErrNotRunning.
//   - Exit codes: true, false, sh -c "exit N", sleep; Wait before Start; Wait
//     after the exit still delivers; every Wait channel delivers one status
//     and is closed.
//   - Signals: SIGKILL gives 137; a shell with a SIGTERM trap exits 0;
//     busybox sleep as PID 1 ignores SIGTERM; with Init the init process
//     forwards SIGTERM and the exit code is 143.
//   - Exec: exit codes, output (stdout and stderr combined), the container's
//     environment, and the context deadline (an error wrapping
//     context.DeadlineExceeded, the container unharmed).
//   - The process: Env, Stdout and Stderr writers (complete by the time Wait
//     delivers the exit), Hostname, User ("uid:gid") and WorkingDir.
//   - Labels and List: selection on every label of the selector, ID order.
//   - Inspect: CREATED, RUNNING with a PID and start time, STOPPED with exit
//     code and exit time.
//   - Delete of a running container kills it (waiters get 137); after Delete,
//     Inspect and Delete fail with runtime.ErrNotFound and the ID can be used
//     again.
//   - Stats of a running container: a time, memory in use, the memory limit
//     of the spec, at least one process.
//   - Ten containers created, started and awaited concurrently.
package runtimetest
