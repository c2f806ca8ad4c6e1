// Package fake provides an in-memory network.Provider for unit tests.
//
// The fake creates no namespace, interface or firewall rule, but allocates
// addresses and host ports with the real network.Allocator, so a test sees
// the same addresses, dynamic ports, exhaustion and conflicts as with the
// Linux provider. It implements network.IngressUpdater, and Ingress tells
// the policy in force for a task. Every Setup, Teardown, Reconcile and
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
// With WithFilesDir the fake also writes each task's hosts and resolv.conf
// files, for code that bind-mounts them. A Provider is safe for concurrent
// use.
package fake
