// Command quickstart runs Stevedore's whole story with real containers on
// this host, as root, against a containerd daemon:
//
//  1. it builds a tiny web application image in Go (busybox's httpd serving
//     a page with its version and hostname), in two versions;
//  2. it starts an Orchestrator with a cluster of three container instances,
//     one per availability zone, sharing one containerd runtime and one
//     Linux network provider (awsvpc: a namespace and an address per task);
//  3. it registers the task definition in webapp-taskdef.json;
//  4. it creates a service of three tasks spread over the zones behind an
//     embedded load balancer (an HTTP listener on 127.0.0.1 forwarding to a
//     target group with health checks), waits for a steady state, sends a
//     few HTTP requests to every task, through the load balancer and by
//     service name through Stevedore's DNS server, which also forwards
//     names outside its namespace to the host's resolvers (a task looks up
//     example.com);
//  5. it rolls the service to version 2, showing the deployments' progress
//     while a client keeps sending requests through the load balancer (the
//     run fails if one of them fails), and shows the answers switch;
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
// The load balancer listens on a free port of 127.0.0.1 (-listen picks
// one). With -keep it stays up after the roll-out, to explore with wget, ip netns
// and ctr (it prints the commands), and shows the service's events until
// Ctrl-C. Ctrl-C at any time cleans up before exiting; a second Ctrl-C
// aborts the clean-up. -v logs what Stevedore does to stderr.
//
// The tasks' addresses come from 10.213.77.0/24 on the bridge stvd-quick0,
// and their namespaces, veths and nftables tables are named stvqs-…; the
// quickstart refuses to start when another interface has an address in the
// subnet, or when another quickstart uses the same prefix. -subnet, -bridge
// and -prefix change them. Every wait is bounded (2 minutes for the first
// steady state, 3 for the roll-out, 2 for the clean-up); a failure ends the
// run with the step, the service's latest events and the reasons of the
// tasks that stopped, after the clean-up.
//
// The three container instances share one network provider. An agent
// reconciles the provider when it starts and would tear down the task
// networks of the other instances, so each instance gets a view of the
// provider that leaves them alone (sharedNetwork in sharednet.go).
package main
