// Package fake provides an in-memory network.Provider for unit tests.
//
// The fake creates no namespace, interface or firewall rule, but allocates
// addresses and host ports with the real network.Allocator, so a test sees
// the same addresses, dynamic ports, exhaustion and conflicts as with the
// Linux provider. It implements network.IngressUpdater, and Ingress tells
// the policy in force for a task (inbound and outbound rules). Every Setup, Teardown, Reconcile and
// UpdateIngress is recorded:
//
//	net := fake.New(fake.WithSubnet(netip.MustParsePrefix("10.0.0.0/24")))
//	agent := agent.New(..., net)
//	... // run the code under test
//	for _, c := range net.Calls() {
//		fmt.Println(c.Op, c.TaskID, c.Err)
//	}
//
// FailSetup and FailTeardown script failures:
//
//	net.FailSetup(func(r network.Request) error {
//		if r.TaskID == "doomed" {
//			return errors.New("no veth for you")
//		}
//		return nil
//	})
//
// The fake is also a network.TaskDialer, so the agent can run HTTP and TCP
// health checks against it: Listen makes a listener for a task's port (""
// for every task), served over net.Pipe, and DialTask connects to it as a
// probe from inside the task would. A port nobody listens on refuses the
// connection. Nothing touches the host's network, so it all runs under
// testing/synctest:
//
//	l, _ := net.Listen("t1", 8080)
//	defer l.Close()
//	go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
//		w.WriteHeader(http.StatusOK) // ["HTTP", "http://localhost:8080/"] passes
//	}))
//
// The fake enforces security-group policies as network/netlinux does:
// Check tells whether a task may open a connection of a protocol to an
// address and port under the sender's outbound rules and, when the address
// is another task's, the receiver's inbound rules (an error wrapping
// ErrDropped when not), and DialTask to another task's address reaches
// that task's listener only when Check allows it. Rules that name groups
// are enforced as resolved by the caller (network.ResolvePolicy):
//
//	err := net.Check("web-1", network.ProtocolTCP, netip.AddrPortFrom(dbAddr, 5432))
//	if errors.Is(err, fake.ErrDropped) { ... }
//
// With WithFilesDir the fake also writes each task's hosts and resolv.conf
// files, for code that bind-mounts them. A Provider is safe for concurrent
// use.
package fake
