// Package leakcheck lists what Stevedore may have left behind on a host:
// containers, tasks and writable snapshots in containerd namespaces whose
// name starts with "stevedore", and network namespaces, veths, bridges and
// nftables tables that carry one of Stevedore's name prefixes (or, for
// namespaces and veths, the "stevedore-task=" label network/netlinux puts on
// them), plus leftover FIFO directories of the containerd runtime and task
// directories of agents.
//
// Test suites call it once everything they created should be gone:
//
//	cfg := leakcheck.Config{ContainerdAddress: os.Getenv("STEVEDORE_CONTAINERD_ADDRESS")}
//	if err := leakcheck.Check(ctx, cfg); err != nil {
//		// errors.Is(err, leakcheck.ErrLeaks): err lists every leak,
//		// errors.As(err, new(*leakcheck.Error)) gives them one by one.
//	}
//
// and the stevedore-leakcheck command (internal/leakcheck/cmd/stevedore-leakcheck)
// does the same from the command line, exiting 1 when something is left.
//
// Image layers (committed snapshots) and the images themselves are not
// leaks: a runtime keeps images on purpose. Everything else found under a
// Stevedore name is. Find only reads: it removes nothing, and it needs root
// to see network namespaces and nftables tables.
//
// Scope a check to what one test suite creates by narrowing
// ContainerdNamespacePrefix and NamePrefixes to the names that suite uses, so
// that suites running at the same time on one host (go test ./... runs
// packages in parallel) do not see each other's objects.
package leakcheck
