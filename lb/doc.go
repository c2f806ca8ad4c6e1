// Package lb is Stevedore's embedded load balancer, shaped after the
// Application and Network Load Balancers: listeners accept client traffic
// and forward it to target groups, target groups health-check their
// targets (service tasks) and pick one for each request or connection.
//
// # Target groups
//
// A TargetGroup holds targets of one protocol. HTTP groups take requests
// from HTTP listeners; TCP groups take connections from TCP listeners.
//
//	web, err := lb.NewTargetGroup("web", lb.HTTP,
//		lb.WithHealthCheck(lb.HealthCheck{Path: "/healthz", Matcher: "200-299"}),
//		lb.WithDeregistrationDelay(30*time.Second),      // default 300 s
//		lb.WithAlgorithm(lb.LeastOutstandingRequests),   // default round robin
//	)
//	defer web.Close()
//	err = web.Register(lb.Target{ID: taskID, Addr: "10.0.0.7:8080"})
//
// Each registered target goes through the ALB states:
//
//	initial   --1 passed check------------------------> healthy
//	initial   --UnhealthyThreshold failed checks------> unhealthy
//	healthy   --UnhealthyThreshold failed checks------> unhealthy
//	unhealthy --HealthyThreshold passed checks--------> healthy
//	any       --Deregister----------------------------> draining
//	draining  --nothing in flight, or delay over------> unused (removed)
//
// Only healthy targets get new traffic. Health(id) returns a TargetHealth
// with the state, an ALB reason code (Target.Timeout,
// Target.ResponseCodeMismatch, Target.FailedHealthChecks, ...) and a
// description; Targets() lists every target with its health and its
// TargetStats (requests, errors, requests or connections in flight).
// WaitState blocks until a target reaches a state, and OnHealthChange
// reports every change as it happens.
//
// # Health checks
//
// HealthCheck carries the ALB settings: protocol (HTTP: GET Path and pass
// on a Matcher status such as "200" or "200-299,302"; TCP: pass when the
// connection is accepted), port (default the traffic port), interval 5-300 s
// (30), timeout 2-120 s and less than the interval (5), healthy threshold
// 2-10 (5) and unhealthy threshold 2-10 (2). Zero fields take the defaults.
// The first check of a target runs when it is registered; then one starts
// every interval. Checks use a new connection each, opened through the
// group's DialFunc (WithDialer), which also carries the traffic: an
// orchestrator whose tasks live in network namespaces passes a dialer that
// reaches them. Checks run on the time package's timers, so tests drive
// them with testing/synctest and a fake dialer.
//
// # Deregistration and draining
//
// Deregister stops new traffic to a target at once; requests in flight and
// open TCP connections go on. The target is removed when the last of them
// ends, or when the deregistration delay (default 300 s, 0-3600 s) has
// passed, whichever comes first; traffic still in flight then is cut (the
// client of an HTTP request gets a broken response, a TCP connection is
// closed). A draining target is not health-checked. Registering it again
// cancels the deregistration.
//
// # Listeners
//
//	balancer, err := lb.New()
//	l, err := balancer.AddHTTPListener("0.0.0.0:80", []lb.Rule{
//		{PathPrefix: "/api/", TargetGroup: api},
//		{Host: "*.example.com", TargetGroup: site},
//	}, web) // the default group; nil answers 404
//	tl, err := balancer.AddTCPListener("0.0.0.0:5432", db)
//	defer balancer.Shutdown(ctx)
//
// HTTP listeners try rules in order and forward to the first match. A
// rule's Host pattern takes '*' (any run of characters) and '?' (one), and
// matches the Host header without its port, ignoring case; a '*' or '?' in
// the Host header itself is an ordinary character. The
// proxy (net/http/httputil.ReverseProxy) passes the Host header on and sets
// X-Forwarded-For (appended to the client's), X-Forwarded-Proto,
// X-Forwarded-Host and X-Forwarded-Port. A group with no healthy target
// answers 503 (or, with WithFailOpen, routes to its unhealthy targets as
// ALB does); a target that refuses the connection or breaks off gives
// 502, one that does not accept it within 10 s or stays silent past
// Limits.TargetTimeout gives 504 Gateway Timeout. A
// request whose connection to its target failed before anything was sent
// is tried on another target (at most 3 in all) when its method is
// idempotent and it has no body. Handler serves the same routing to an
// http.Server of your own (NewHandler takes WithLimits too).
//
// Each HTTP target has a pool of keep-alive connections (up to 256 idle,
// closed after 90 s idle). A request is written and its response read on
// the proxy's own goroutine, without the goroutine hand-offs of
// http.Transport, which is most of what the proxy costs besides system
// calls. Before an idle connection is reused it is checked for a close by
// the target (on Linux, a non-blocking peek), and a request without a body
// that meets a connection closed in the meantime is sent again over a new
// one. Targets speak HTTP/1.1 without TLS; upgrades (101 Switching
// Protocols, as for WebSocket) are tunnelled; a request body is sent
// before the response is read, so a target must read the whole body
// before it answers, or close the connection.
//
// TCP listeners forward each connection to one target, trying another
// when the connection to the first fails, copy both ways with 32 KiB
// buffers (in user space, so that the idle timeout sees the traffic) and
// pass half-closes on. A group with no healthy target closes the client's
// connection.
//
// # Limits
//
// No client and no target can hold a listener's resources without bound.
// WithLimits sets, for every listener of a load balancer, a Limits whose
// zero fields keep these defaults (DefaultLimits):
//
//	IdleTimeout        60 s     ALB's idle timeout, client side: a keep-alive connection
//	                            between requests, a request body that sends nothing
//	                            (408 Request Timeout, and the target's request is cut), a
//	                            response the client does not read (cut), an upgraded
//	                            connection silent both ways (closed)
//	ReadHeaderTimeout  30 s     from a request's first byte to the end of its header
//	TargetTimeout      60 s     a target silent after the request (504 Gateway Timeout),
//	                            not reading the request body (504), or silent between two
//	                            parts of its response body (cut)
//	MaxConns           10000    client connections per listener; beyond it HTTP answers
//	                            503 Service Unavailable with a body and closes, TCP closes
//	                            at once; ListenerStats.Refused counts them, and a warning
//	                            is logged at most once a second
//	MaxHeaderBytes     64 KiB   a request's header (431 Request Header Fields Too Large)
//	MaxBodyBytes       none     a request's body (413 Content Too Large): bodies stream
//	                            through unstored and IdleTimeout cuts a stalled one, so
//	                            there is no default cap, as in ALB
//	TCPIdleTimeout     350 s    a TCP connection silent both ways, as NLB (closed, on both
//	                            sides)
//	AllowH2CUpgrade    false    see below
//
//	balancer, err := lb.New(lb.WithLimits(lb.Limits{
//		IdleTimeout:  5 * time.Minute, // long polls
//		MaxBodyBytes: 10 << 20,
//	}))
//
// The idle timeouts count progress, not totals: a large upload or download
// that keeps moving is never cut. Timeouts other than zero are not clamped
// to ALB's ranges (1-4000 s), so that tests may use short ones. A
// request's failure at the client (408, 413) does not count in the
// target's TargetStats.Errors; a target timeout does.
//
// An "Upgrade: h2c" request asks the target to speak HTTP/2 on the
// client's connection, after which the load balancer only copies bytes: a
// client could send, inside the tunnel, requests for paths that the rules
// send to other groups, or that a rule in front was meant to block (h2c
// smuggling). So, unless AllowH2CUpgrade is set, the load balancer takes
// h2c (and h2) out of the Upgrade header, drops HTTP2-Settings and
// forwards the request as HTTP/1.1; other upgrades such as WebSocket pass.
// HTTP/2 with prior knowledge ("PRI * HTTP/2.0") always gets
// 505 HTTP Version Not Supported, CONNECT gets 405 Method Not Allowed (the
// load balancer is no forward proxy), and a request target that is not a
// path or an absolute URL (an opaque "a:b", or "*" but for OPTIONS) gets
// 400 Bad Request, since the target would receive another one. Listener.Stats reports the connections
// open and refused. WithListenFunc opens listeners in another way than
// net.Listen (in another network namespace, or in memory for tests).
//
// Shutdown stops accepting and waits for traffic in flight (cutting it
// when its context ends); Close cuts at once. Shut the load balancer down
// before closing its target groups.
//
// # Performance
//
// BenchmarkProxy sends requests through an HTTP listener to one target and
// straight to that target, in the same run, from Go clients on loopback
// (go test -run '^$' -bench BenchmarkProxy -benchtime 2s -count 3, on 2
// vCPUs shared by clients, proxy and target). With a target that works
// 1 ms per request the proxy's p50 is 1.06-1.10x the direct p50 with
// 0.91-0.95x the throughput at 1 client, 1.17x and 0.84-0.85x at 4
// clients, 1.25-1.30x and 0.76-0.78x at 8 clients, where the CPUs run out.
// With a target that answers at once the proxy adds about 40 µs per
// request (2.1x the direct p50 of 36 µs, about half the throughput): a
// second HTTP hop costs about as many system calls as the first.
// These figures predate the limits, which add a few deadline updates and
// allocations per request; measure again before quoting them.
//
// # Use in Stevedore
//
// A service's load balancer entry names a target group, a container and a
// container port. The orchestrator registers a task of the service
// (Target{ID: task ID, Addr: task IP and container port, or host IP and
// host port in bridge mode}) once it is RUNNING and healthy, counts it
// healthy for deployments only while Health(id).State is healthy (acting
// on other states only after the service's health check grace period), and
// on stopping a task calls Deregister and waits with WaitState(ctx, id,
// StateUnused) before stopping its containers.
//
// # Concurrency and errors
//
// TargetGroup, LoadBalancer, Listener and Handler are safe for concurrent
// use. Errors wrap ErrInvalid (with an *errdefs.FieldError naming the field),
// ErrNotFound, ErrConflict or ErrClosed; test with errors.Is.
package lb
