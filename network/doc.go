// Package network is the per-task networking of Stevedore: network modes,
// address and host-port allocation, security-group rules, and the Provider
// interface through which an agent sets up and tears down a task's network.
//
// This package is pure Go and builds on any OS. The Linux implementation of
// Provider (network namespaces, veth pairs, a bridge, nftables) lives in
// network/netlinux; network/fake is an in-memory Provider for unit tests.
//
// # Modes
//
// A task definition's networkMode is a Mode: ModeAWSVPC, ModeBridge,
// ModeHost or ModeNone. ParseMode reads the ECS spelling (the empty string is
// bridge, ECS's default on Linux).
//
//   - awsvpc: a namespace of its own, one address from the cluster subnet on
//     eth0, default route through the bridge. Container ports are reached at
//     the task's address; nothing is published on the host.
//   - bridge: the same namespace and address, plus host ports published
//     for the port mappings (host port 0 picks one from 49153-65535).
//   - host: the host's namespace; container ports are reserved on the host.
//   - none: a namespace with loopback only.
//
// # Requests and attachments
//
// A Request names the task, its mode, hostname, port mappings, ingress
// policy, DNS settings and extra hosts; Request.Validate reports every
// problem as an *errdefs.FieldError wrapping ErrInvalid:
//
//	req := network.Request{
//		TaskID:       "3f1c...",
//		Mode:         network.ModeBridge,
//		Hostname:     "web",
//		PortMappings: []network.PortMapping{{ContainerPort: 80}}, // dynamic host port
//	}
//	att, err := provider.Setup(ctx, req)
//	// att.NetNSPath -> runtime.ContainerSpec.NetNSPath (empty: HostNetwork)
//	// att.HostsPath, att.ResolvConfPath -> read-only bind mounts over
//	//   /etc/hosts and /etc/resolv.conf
//	// att.PortBindings[0].HostPort -> the host port picked
//	...
//	err = provider.Teardown(ctx, req.TaskID) // idempotent
//
// After a restart the agent reads attachments back with Attachment and calls
// Reconcile(ctx, keep) once, which tears down every task keep rejects and
// removes leftovers of a crash.
//
// # Dialling into a task
//
// A Provider may also be a TaskDialer: DialTask opens a connection from
// inside a task's namespace, where localhost is the task's own loopback. The
// agent finds it with a type assertion and runs HTTP and TCP health checks
// through it. Code that wraps a Provider should keep it, as in:
//
//	if d, ok := p.(network.TaskDialer); ok { ... }
//
// # Security-group rules
//
// IngressPolicy is the security-group analogue, a task's policy in both
// directions. A nil policy filters nothing: every inbound connection
// reaches the task, as with Docker's bridge network and as a task whose
// group allows all. A non-nil policy drops every inbound packet that no
// IngressRule allows, except replies to the task's own connections and
// loopback traffic; an empty policy therefore isolates the task from
// inbound connections. Rules name a protocol (tcp, udp, icmp or all), a
// port range for tcp and udp, and IPv4 source prefixes:
//
//	rule, err := network.ParseIngressRule("tcp:8000-8080 from 10.0.0.0/8")
//	req.Ingress = &network.IngressPolicy{Rules: []network.IngressRule{rule}}
//
// Its Egress, when set, restricts outbound connections to what its
// EgressRules allow ("udp:53 to 10.88.0.1", "tcp:443 to 0.0.0.0/0"); nil
// leaves them unrestricted. Only replies to allowed connections and
// loopback pass without a rule: a task whose egress is restricted reaches
// its DNS resolver only if a rule allows it (AWS exempts its own resolver;
// here the resolver is an ordinary address, and Stevedore's Orchestrator
// adds the rules for the DNS server it gives a task).
//
// A SecurityGroup is a named set of inbound and outbound rules that tasks
// join. As in AWS, a new group (NewSecurityGroup) allows all outbound
// traffic through DefaultEgressRule until that rule is revoked
// (RevokeEgress), and rules may name another group instead of a prefix
// ("tcp:5432 from sg-0a1b": the tasks in sg-0a1b). ResolvePolicy makes the
// policy of a task in several groups, the union of their rules, with group
// references resolved to the /32 addresses of the groups' members, which
// the caller supplies:
//
//	policy := network.ResolvePolicy(func(id string) []netip.Addr {
//		return addressesOfTasksIn(id) // the caller's view of the members
//	}, web, admin)
//
// The resolution is the caller's: a policy holds addresses only, and when
// the members of a referenced group (SecurityGroup.ReferencedGroups)
// change, the caller resolves the policies that depend on them again and
// applies them. A Provider that also implements IngressUpdater changes a
// running task's policy in place (network/netlinux replaces the task's
// nftables table, both directions, in one transaction), which is how a
// group's new rules and new members reach its running tasks.
//
// In bridge mode, connections to a published port made from the host itself
// arrive from the bridge's address (they are masqueraded); connections from
// elsewhere keep their source address.
//
// # Allocation
//
// IPAM hands out one IPv4 address per task (gateway = the subnet's first
// address; network and broadcast addresses are skipped) with a next-fit
// bitmap, and saves every change through an AllocationStore before
// returning: FileStore appends each change to a JSON-lines file and now and
// then replaces it with a snapshot by atomic rename (so allocations survive
// a restart of the orchestrator), MemoryStore keeps the state in memory:
//
//	store := network.NewFileStore("/var/lib/stevedore/network/ipam.json")
//	ipam, err := network.NewIPAM(netip.MustParsePrefix("10.88.0.0/16"), store)
//	addr, err := ipam.Allocate(taskID) // 10.88.0.2, then .3, ...; ErrExhausted when full
//	err = ipam.Release(taskID)
//
// PortAllocator reserves static host ports and picks dynamic ones per
// protocol. Allocator combines the two the way a Provider needs. IPAM,
// PortAllocator and Allocator are safe for concurrent use.
//
// # Errors
//
// Test errors with errors.Is against ErrInvalid (with *errdefs.FieldError for the
// field), ErrExhausted (no address or dynamic port left), ErrPortInUse,
// ErrNotFound, ErrExists and ErrConflict.
package network
