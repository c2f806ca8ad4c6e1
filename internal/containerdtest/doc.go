// Package containerdtest starts a containerd daemon of a test's own, with
// its config, root, state and sockets under a directory of its own (as
// scripts/with-containerd.sh makes the shared one), so that the test may
// kill it and start it again on the same directories: what the engine
// outages of issue 10 need. The shared daemon at
// STEVEDORE_CONTAINERD_ADDRESS, which other tests use at the same time, is
// never touched.
//
//	d := containerdtest.Start(t) // needs root and containerd in PATH
//	rt, err := containerd.New(d.Address(), ...)
//	d.Kill()  // SIGKILL: the shims, and the containers, run on
//	d.Start() // again, on the same directories
//
// Start registers the clean-up (t.Cleanup): it kills the daemon and the
// shims it left, unmounts what it left mounted and removes its directory.
// Start it before anything that needs the daemon in its own clean-up, so
// that this clean-up runs after. On systems other than Linux, Start skips
// the test.
package containerdtest
