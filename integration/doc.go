// Package integration holds Stevedore's end-to-end tests: the root API
// (stevedore.New, RunTask, CreateService, ...) driving real containers
// through containerd and runc, real network namespaces, veths, bridges and
// nftables through network/netlinux, secrets from package secrets and logs
// into package logs.
//
// The package has no code of its own besides this comment: everything is in
// its _test.go files. Run the tests as root with a private containerd:
//
//	./scripts/with-containerd.sh go test -race -count=1 -v ./integration/
//
// Without root, or without STEVEDORE_CONTAINERD_ADDRESS (which
// with-containerd.sh exports), every test skips and says why; with CI=true
// they fail instead, so that CI never passes by skipping.
//
// Each test has a world of its own: a containerd namespace
// "stevedore-integration-<test>", a bridge "stvi<nn>br", object names
// "stvi<nn>-...", a subnet 10.214.<n>.0/24 that no interface of the host
// uses, a memory store, an Orchestrator, a logs store and a temporary
// directory. Its clean-up (t.Cleanup, also on failure) stops every task and
// service and waits for them to be STOPPED, closes the Orchestrator, checks
// that no container, network object or agent task directory is left and
// removes what is. After the last test, TestMain runs internal/leakcheck over
// the names the package uses and fails the run if anything is left.
//
// Traffic goes only to loopback and to addresses of namespaces the tests
// created; every wait and request loop is bounded.
package integration
