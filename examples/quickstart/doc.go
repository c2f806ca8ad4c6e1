// Command quickstart runs Stevedore's whole story with real containers on
// this host, as root, against a containerd daemon:
//
//  1. it builds a tiny web application image in Go (busybox's httpd serving
//     a page with its version and hostname), in two versions;
//  2. it starts an Orchestrator with a cluster of three container instances,
//     one per availability zone, sharing one containerd runtime and one
//     Linux network provider (awsvpc: a namespace and an address per task);
//  3. it registers the task definition in webapp-taskdef.json;
//  4. it creates a service of three tasks spread over the zones, waits for a
//     steady state and sends a few HTTP requests to every task;
//  5. it rolls the service to version 2, showing the deployments' progress,
//     and shows the answers switch;
//  6. it deletes everything it created.
//
// The easiest way to run it is
//
//	make demo
//
// which starts a private containerd for the run. Against a containerd of
// your own:
//
//	STEVEDORE_CONTAINERD_ADDRESS=/run/containerd/containerd.sock go run ./examples/quickstart [-keep] [-v]
//
// With -keep it stays up after the roll-out, to explore with ip netns and
// curl, until Ctrl-C. Ctrl-C at any time cleans up before exiting; a second
// Ctrl-C aborts the clean-up.
package main
