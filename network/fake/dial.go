package fake

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"syscall"

	"github.com/stevedore-io/stevedore/network"
)

var _ network.TaskDialer = (*Provider)(nil)

// backlog is how many connections DialTask queues for a listener that
// does not accept them yet, as a kernel's listen backlog does.
const backlog = 16

// listenKey names a listener: a task ("" for every task) and a port.
type listenKey struct {
	taskID string
	port   uint16
}

// Listen returns a listener that accepts the connections DialTask opens to
// port in task taskID, each the server end of a net.Pipe; taskID "" makes
// it accept them for every task that has no listener of its own on port.
// Serve it as a real one, for example with http.Serve, and close it when
// done (inside a testing/synctest bubble: before the bubble ends). Nothing
// touches the host's network, so probes run under testing/synctest.
// Errors wrap network.ErrPortInUse when the port already has a listener.
func (p *Provider) Listen(taskID string, port uint16) (net.Listener, error) {
	if port == 0 {
		return nil, fmt.Errorf("%w: listen: port 0", network.ErrInvalid)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	k := listenKey{taskID, port}
	if p.listeners == nil {
		p.listeners = map[listenKey]*listener{}
	}
	if _, ok := p.listeners[k]; ok {
		return nil, fmt.Errorf("%w: task %q already listens on %d", network.ErrPortInUse, taskID, port)
	}
	l := &listener{p: p, key: k, conns: make(chan net.Conn, backlog), done: make(chan struct{})}
	p.listeners[k] = l
	return l, nil
}

// DialTask connects from inside a task to a listener made with Listen.
// When addr's host is "localhost", a loopback address or the task's own
// address (in every mode alike: the fake has no host namespace), it
// reaches the task's own listener. When it is another task's address, it
// reaches that task's listener if the security-group policies allow the
// connection (see Check; an error wrapping ErrDropped otherwise). Without
// a listener the connection is refused (an error wrapping
// syscall.ECONNREFUSED, as a real one); an address that is no task's is
// unreachable (syscall.EHOSTUNREACH) once the sender's outbound rules let
// it go; a task without an attachment gives an error wrapping
// network.ErrNotFound.
func (p *Provider) DialTask(ctx context.Context, taskID, nw, addr string) (net.Conn, error) {
	fail := func(err error) (net.Conn, error) {
		return nil, &net.OpError{Op: "dial", Net: nw, Err: err}
	}
	switch nw {
	case "tcp", "tcp4", "tcp6":
	default:
		return fail(net.UnknownNetworkError(nw))
	}
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return fail(err)
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil || port == 0 {
		return fail(fmt.Errorf("invalid port %q", portText))
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fail(fmt.Errorf("fake network: %q is not an IP address or localhost", host))
	}
	p.mu.Lock()
	_, ok := p.attachments[taskID]
	if !ok {
		p.mu.Unlock()
		return nil, fmt.Errorf("dial %s in task %q: %w", addr, taskID, network.ErrNotFound)
	}
	dst, err := p.checkLocked(taskID, network.ProtocolTCP, netip.AddrPortFrom(ip, uint16(port)))
	if err != nil {
		p.mu.Unlock()
		return fail(err)
	}
	owner := taskID
	if dst != "" {
		owner = dst
	} else if att := p.attachments[taskID]; !ip.Unmap().IsLoopback() && (!att.Address.IsValid() || ip.Unmap() != att.Address.Addr()) {
		p.mu.Unlock()
		return fail(&os.SyscallError{Syscall: "connect", Err: syscall.EHOSTUNREACH})
	}
	l := p.listeners[listenKey{owner, uint16(port)}]
	if l == nil {
		l = p.listeners[listenKey{"", uint16(port)}]
	}
	p.mu.Unlock()
	refused := &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}
	if l == nil {
		return fail(refused)
	}
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		select {
		case <-l.done: // closed meanwhile, perhaps after dropping its backlog
			err = refused
		default:
			return client, nil
		}
	case <-l.done:
		err = refused
	case <-ctx.Done():
		err = ctx.Err()
	}
	client.Close()
	server.Close()
	return fail(err)
}

// listener is what Listen returns.
type listener struct {
	p     *Provider
	key   listenKey
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

// Accept waits for a connection; it returns net.ErrClosed once the
// listener is closed.
func (l *listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, &net.OpError{Op: "accept", Net: "pipe", Addr: l.Addr(), Err: net.ErrClosed}
	}
}

// Close stops the listener and closes the connections it did not accept.
func (l *listener) Close() error {
	closed := false
	l.once.Do(func() {
		closed = true
		l.p.mu.Lock()
		if l.p.listeners[l.key] == l {
			delete(l.p.listeners, l.key)
		}
		l.p.mu.Unlock()
		close(l.done)
		for {
			select {
			case c := <-l.conns:
				c.Close()
			default:
				return
			}
		}
	})
	if !closed {
		return net.ErrClosed
	}
	return nil
}

// Addr returns the listener's address, "127.0.0.1:<port>".
func (l *listener) Addr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(l.key.port)}
}
