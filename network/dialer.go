package network

import (
	"context"
	"net"
)

// TaskDialer is implemented by Providers that can open connections from
// inside a task's network namespace, as a process of the task would: there
// "localhost" and 127.0.0.1 are the task's own loopback, and a server that
// listens on 127.0.0.1 only inside the task is reachable. The agent uses it
// for HTTP and TCP health checks, so that images need no curl. In host
// mode the task has no namespace of its own and connections are made from
// the host's.
//
// It is optional: the agent checks for it with a type assertion, and a
// task whose health check needs it fails that check, saying why, when the
// instance's Provider lacks it. network/netlinux and network/fake
// implement it.
type TaskDialer interface {
	// DialTask connects to addr on the named network ("tcp", "tcp4",
	// "tcp6"), as net.Dialer.DialContext does, from inside the network
	// namespace of task taskID. Errors wrap ErrNotFound for a task without
	// a network attachment.
	DialTask(ctx context.Context, taskID, network, addr string) (net.Conn, error)
}
