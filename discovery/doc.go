// Package discovery is Stevedore's service discovery: a registry of the
// healthy tasks of each service, a DNS server authoritative for a namespace
// (such as "local") that answers from it, and the same answers in-process.
// Containers reach each other by service name: a task's /etc/resolv.conf
// points at the server, and "web" resolves to the addresses of the healthy
// tasks of service web.
//
// # Registry
//
// A Registry holds Instances: a service name, an ID (the task ID), an
// address, a port for SRV records and a health flag. It is in memory, safe
// for concurrent use, and answers only healthy instances:
//
//	reg := discovery.NewRegistry()
//	err := reg.Register(discovery.Instance{
//		Service: "web",
//		ID:      "3f1c9a",
//		Addr:    netip.MustParseAddr("10.88.0.5"),
//		Port:    8080, // 0: A record only
//		Healthy: true,
//	}) // errors.Is(err, discovery.ErrInvalid) for a bad name or address
//	err = reg.SetHealth("web", "3f1c9a", false) // left out of answers
//	reg.Deregister("web", "3f1c9a")
//
// Register replaces the instance with the same service and ID (and changes
// nothing when it is the same). Replace loads a whole snapshot at once.
//
// # Following tasks
//
// FromTask turns a task and its network attachment into its Instance and
// says whether it should be registered: while ACTIVATING or RUNNING with
// desired status RUNNING, healthy once its health checks pass (at once when
// its essential containers have none), and no longer once it is asked to
// stop, so that it is gone before DEACTIVATING. SyncTask applies that
// decision; a snapshot-then-watch loop over the stored tasks is all the
// wiring:
//
//	// snapshot: for every task, inst, ok := discovery.FromTask(...); keep the ok ones
//	err := reg.Replace(insts)
//	// then for every change after the snapshot's revision:
//	if deleted {
//		reg.DeregisterID(taskID)
//	} else {
//		err = reg.SyncTask(t, att, discovery.TaskOptions{})
//	}
//
// The address is the task's own in awsvpc mode; see TaskOptions for bridge
// and host mode.
//
// # Names
//
// With the namespace (zone) "local":
//
//	web.local                  A/AAAA of every healthy instance of web; SRV too
//	_web._tcp.local            SRV of web (_udp is accepted as well)
//	<id>.web.local             one instance: the target of its SRV record
//	web.prod.local             only the instances of web in sub-namespace prod
//	_web._tcp.prod.local       SRV of those
//	<id>.web.prod.local        one instance of namespace prod
//	local                      SOA and NS of the zone (the apex answers A with
//	                           the server's own address: it is the NS target)
//
// An instance's Namespace is optional; the orchestrator uses the cluster
// name, so that web.local answers web's tasks of every cluster and
// web.<cluster>.local those of one. web.prod and <id>.web have the same
// shape: the service reading wins when service web has instances in
// namespace prod. Names compare case-insensitively. Services, namespaces
// and IDs are DNS labels: letters, digits, '-' and '_', at most 63
// characters, not starting with '_' or '-'.
//
// # DNS server
//
//	srv, err := discovery.NewServer(reg, discovery.Config{
//		Namespace: "local",
//		Listen:    "10.88.0.1:53", // the bridge gateway; "127.0.0.1:0" in tests
//		TTL:       10 * time.Second,
//		Logger:    logger,
//	})
//	err = srv.Start(ctx) // serves UDP and TCP until ctx is done or Close
//	defer srv.Close()
//	req.DNS = srv.DNSConfig(clusterName) // network.Request of each task
//
// Run(ctx) is Start, wait for ctx, Close in one call, for an errgroup;
// Ready is closed once it serves. Close waits for the queries in flight.
// A Server is also a dns.Handler (ServeDNS), to mount on a miekg/dns
// server of one's own.
//
// The server is authoritative (AA set) for its namespace. Every other name
// is forwarded to the host's resolvers (see Forwarding below), so that a
// task whose resolv.conf names only this server resolves the rest of the
// world too; with Config.NoForward it is REFUSED instead. Answers in the
// namespace:
//
//   - A (IPv4 instances) and AAAA (IPv6 instances), rotated from one answer
//     to the next so that clients taking the first address spread the load.
//   - SRV with priority 1, weight 1, the instance's port and its own name as
//     target, the target's address in the additional section. Instances
//     without a port have no SRV record.
//   - NXDOMAIN for a name that does not exist; NODATA (NOERROR, no answer,
//     the SOA in the authority section) for a name that exists without
//     records of the type asked, including a service whose instances are
//     all unhealthy. The SOA serial is Registry.Version.
//   - Every record, and negative answers, with Config.TTL (10 s by default).
//   - Over UDP an answer is cut to 512 bytes, or to the client's EDNS0
//     buffer size up to 1232 bytes, with the TC bit set so that the client
//     retries over TCP, which has room for 65535 bytes. EDNS0 queries get an
//     OPT record back; a version other than 0 gets BADVERS.
//   - ANY queries get one synthesized record, HINFO "RFC8482" "", as RFC
//     8482 recommends, rather than every record of the name: an answer to
//     ANY is never much larger than the query (NXDOMAIN still for names
//     that do not exist).
//   - Opcodes other than QUERY get NOTIMP, classes other than IN (and ANY)
//     REFUSED.
//   - Each client (an IPv4 address, or an IPv6 /64) may send
//     Config.RateLimit queries per second on average, DefaultRateLimit by
//     default, in bursts of up to Config.RateBurst. Over the limit, UDP
//     queries are dropped, every second one answered with an empty
//     truncated answer so that a real client retries over TCP, and TCP
//     queries get REFUSED. The limiter tracks at most Config.RateClients
//     clients; see Config.RateLimit.
//
// TaskDNSConfig (and Server.DNSConfig) give the resolver settings of a
// task: the server as nameserver, the namespace as search domain, and
// ndots, so that "web" resolves, and through forwarding "example.com" as
// well. resolv.conf cannot name a port: tasks need the server on port 53.
//
// # Forwarding
//
// A query for a name outside the namespace goes to the nameservers of the
// host's resolv.conf (Config.ResolvConf, read again when it changes; a
// local stub such as 127.0.0.53 works, since the server runs on the host),
// or to Config.Upstreams, never to the server's own address:
//
//   - Only recursive queries (RD set) of class IN are forwarded; zone
//     transfers and meta types are REFUSED, and ANY gets the RFC 8482
//     answer without asking anybody. The rate limit applies first.
//   - Each attempt waits Config.ForwardTimeout (2 s); a query gets
//     Config.ForwardAttempts attempts (3), the upstreams taken in turn,
//     over UDP and then TCP when the answer is truncated. An upstream
//     answer is taken only if it answers the very question asked with
//     NOERROR or NXDOMAIN; when none does, the client gets SERVFAIL.
//   - At most Config.MaxForwards queries (256) are forwarded at once; past
//     that, SERVFAIL at once rather than a queue.
//   - Answers are cached (Config.CacheSize, 2048 answers of at most 4 KiB,
//     least recently used dropped first) for their smallest TTL, negative
//     answers for their SOA's TTL and minimum (RFC 2308), never longer
//     than MaxCacheTTL; TTLs count down in answers from the cache. Failures
//     are not cached.
//   - Forwarded answers have RA set and AA clear.
//
// Whoever reaches the server can have names resolved through it: listen on
// an address only tasks and the host reach (the task bridge's gateway, as
// the orchestrator does), not on a public one.
//
// # In-process resolution
//
// Resolver answers the same names from the Registry without sockets, and
// Server.Resolver returns a net.Resolver that queries the server:
//
//	r, err := discovery.NewResolver(reg, "local")
//	addrs, err := r.LookupHost(ctx, "web")  // or "web.local", "web.prod"
//	srvs, err := r.LookupSRV(ctx, "web")    // port, target and address
//	addrs2, err := srv.Resolver().LookupNetIP(ctx, "ip4", "web.local")
//
// Resolver errors are *net.DNSError with IsNotFound set, wrapping
// ErrNotFound (no such name) or ErrNoHealthy (no healthy instance); a
// fully qualified name outside the namespace wraps ErrOutsideZone.
//
// # Errors
//
// ErrInvalid: a malformed instance or configuration. ErrNotFound:
// SetHealth of an instance that is not registered, or a name that does not
// exist. ErrNoHealthy: a name without healthy instances. ErrOutsideZone: a
// name outside the namespace. ErrClosed: Start on a server already started
// or closed.
package discovery
