// Package netlinux is the Linux implementation of network.Provider: a
// network namespace per task, a veth pair into a Linux bridge, addresses from
// an IPAM persisted on disk, security-group rules (inbound and outbound)
// and published ports with nftables. It is the only package of Stevedore that imports netlink, netns
// and nftables; on other systems it holds only Config.
//
// # Construction
//
//	cfg := netlinux.DefaultConfig()
//	cfg.Subnet = netip.MustParsePrefix("10.88.0.0/16")
//	cfg.StateDir = "/var/lib/stevedore/network"
//	cfg.Logger = logger
//	p, err := netlinux.New(cfg)
//	if err != nil { ... }
//	defer p.Close()
//	// once, before the agent sets up tasks:
//	err = p.Reconcile(ctx, func(taskID string) bool { return agentStillRuns(taskID) })
//
// New needs root. It loads the IPAM state and the attachment records an
// earlier process left in StateDir, so after a restart tasks keep their
// addresses and host ports, Attachment returns what Setup returned, and
// Teardown works. Close releases the provider's sockets and leaves every
// task's network in place; Destroy removes everything, the bridge included.
// A Provider is safe for concurrent use: Setup and Teardown of different
// tasks run in parallel.
//
// # What Setup builds
//
// Every kernel object of a task is named by the provider's NamePrefix
// followed by hex digits of a hash of the task ID, 15 characters in all
// ("stvd-3fa4c2d19b"): the namespace (bound at NetNSDir/<name>, as
// `ip netns` does), the host end of the veth pair, its bridge-family
// nftables table (the port guard below) and in bridge mode the nftables
// table of its published ports. The task ID is also written into
// the alias of the namespace's loopback (and of the veth's host end), so
// that Reconcile can tell whose a namespace is even when StateDir was lost.
//
//   - awsvpc: namespace with lo up; veth pair, the task end created directly
//     in the namespace as eth0 with a MAC derived from the address
//     (02:42:a:b:c:d), the IPAM address and a default route via the gateway;
//     the host end joins the bridge, which holds the gateway address. With an
//     ingress policy, the namespace gets an "inet stevedore" table whose
//     input chain drops what no inbound rule allows and, when the policy
//     restricts egress, whose output chain drops what no outbound rule
//     allows (see network.IngressPolicy; only loopback and packets of
//     connections already allowed pass without a rule, DNS included).
//     UpdateIngress (network.IngressUpdater) replaces that table, both
//     directions together, or adds or deletes it, in one nftables
//     transaction while the task runs. A rule's peers (its prefixes, and
//     the members of the groups it names, resolved) are one anonymous
//     interval set, so a rule naming a large group stays one rule.
//   - bridge: the same, plus an "ip <name>" table in the host with DNAT
//     rules from each host port (on any local address, 127.0.0.1 included)
//     to the task's address and container port, in prerouting for
//     connections from elsewhere and in output for connections from the
//     host itself.
//   - none: namespace with lo only.
//   - host: nothing in the kernel; host ports are reserved.
//
// Every mode gets a hosts and a resolv.conf file in StateDir/tasks/<name>/
// (Attachment.HostsPath and ResolvConfPath) to bind-mount read-only into
// the task's containers, and an attachment record next to them.
//
// The first awsvpc or bridge Setup creates the bridge (BridgeName, with the
// subnet's first address, up) and the provider's host table "ip
// <prefix>host", which masquerades connections from the host's loopback to
// published ports, connections between tasks through a published port
// (hairpin), and tasks' traffic leaving the host. It sets forwarding=1 on the
// bridge only (packets arriving from tasks may be routed: hairpin and
// egress), and the first bridge-mode Setup sets route_localnet=1 on the
// bridge only (connections from the host to 127.0.0.1:<published port> are
// routed to the bridge).
//
// # What a task may send
//
// A task holds CAP_NET_RAW by default (Docker and ECS keep it: ping and
// some network tools need it), so it can write any Ethernet frame to its
// eth0. Two guards make that harmless:
//
//   - Every awsvpc and bridge task's veth gets a table "bridge <name>",
//     installed before the veth exists, whose chain lets through the bridge
//     only frames with the task's own MAC, only ARP and IPv4 (IPv6, VLAN
//     tags and other types are dropped: tasks have no IPv6), only the task's
//     own address as the IPv4 or ARP sender, and nothing addressed to
//     127.0.0.0/8. A task cannot pass for another task, which security
//     groups' rules by source address rely on, nor for an address outside
//     the subnet.
//   - The host table's "guard" chain drops, at the routing layer, packets
//     from the bridge whose source is outside the subnet, and packets from
//     the bridge for 127.0.0.0/8 that are not replies to the host's own
//     connections. route_localnet would otherwise let a task reach what the
//     host binds to loopback (CVE-2020-8558).
//
// The global net.ipv4.ip_forward is left alone unless Config.EnableIPForward
// is set; without it published ports answer connections made on this host
// but not from other hosts, and tasks reach the host and each other but
// nothing beyond the host.
//
// # Teardown and Reconcile
//
// Teardown deletes the task's nftables tables, unmounts its namespace and removes
// its files, then releases its address and ports. The kernel destroys the
// namespace and the veth in it once no process holds the namespace any
// more, a moment later; call Teardown after the task's containers stopped.
// Teardown is idempotent and works without a record (a crash in Setup).
//
// Reconcile tears down every task keep rejects among those it knows of
// (attachment records, IPAM allocations, namespace labels), then removes
// namespaces, veths and port tables carrying the prefix that belong to no
// kept task. Two providers on one host must therefore use different
// prefixes. Leftovers lists what the provider's prefix and bridge still
// own, for leak checks.
//
// # Threads and namespaces
//
// Work inside a task's namespace runs on a goroutine locked to a fresh OS
// thread that is never unlocked, so the Go runtime discards the thread
// afterwards and no other goroutine ever runs in a task's namespace; every
// other thread of the process stays in the host namespace.
//
// DialTask (network.TaskDialer), which the agent uses for HTTP and TCP
// health checks, is the exception that keeps its thread: it locks a
// goroutine to its thread, enters the task's namespace, creates and
// connects the socket, and returns to the namespace it came from before it
// unlocks the thread. If that return fails the thread stays locked and its
// goroutine ends, so the runtime discards it. Names are resolved before,
// outside the namespace (localhost is the task's loopback, other names come
// from the task's hosts file or the host's resolver).
//
// # Performance
//
// On a 2-core VM, Setup plus Teardown of an awsvpc task takes about 10 ms
// (7-8 ms Setup, 2-3 ms Teardown); see BenchmarkSetupTeardown. Most of it
// is the kernel creating the namespace and the veth pair. IPAM changes are
// appended to a journal (network.FileStore) instead of rewriting a file.
//
// # Host firewalls
//
// The provider adds its own nftables tables and never touches other
// tables. A host firewall that drops forwarded traffic (for example an
// iptables FORWARD policy of DROP with br_netfilter loaded, as Docker sets
// up) can still drop traffic between tasks or to published ports; allow the
// bridge there.
package netlinux
