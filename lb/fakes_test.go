package lb_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// errRefused stands for a refused connection.
var errRefused = errors.New("connection refused")

// Behaviours of a fakeTarget's health check endpoint.
const (
	refuse = 0  // the dial fails
	hang   = -1 // the connection is accepted, the response never comes
	accept = -2 // a TCP health check passes (HTTP ones fail: no response)
)

// fakeTargets answers health checks without a network: its dial returns one
// end of a net.Pipe and serves one HTTP response on the other.
type fakeTargets struct {
	mu      sync.Mutex
	targets map[string]*fakeTarget
}

type fakeTarget struct {
	status atomic.Int64 // an HTTP status or one of the behaviours above
	checks atomic.Int64
	mu     sync.Mutex
	paths  []string
}

func newFakeTargets() *fakeTargets { return &fakeTargets{targets: map[string]*fakeTarget{}} }

// set makes the endpoint at addr answer status (or behave as refuse, hang
// or accept).
func (f *fakeTargets) set(addr string, status int) *fakeTarget {
	f.mu.Lock()
	defer f.mu.Unlock()
	ft, ok := f.targets[addr]
	if !ok {
		ft = &fakeTarget{}
		f.targets[addr] = ft
	}
	ft.status.Store(int64(status))
	return ft
}

func (f *fakeTargets) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	f.mu.Lock()
	ft := f.targets[addr]
	f.mu.Unlock()
	if ft == nil {
		return nil, fmt.Errorf("dial %s %s: %w", network, addr, errRefused)
	}
	ft.checks.Add(1)
	status := int(ft.status.Load())
	if status == refuse {
		return nil, fmt.Errorf("dial %s %s: %w", network, addr, errRefused)
	}
	client, server := net.Pipe()
	go ft.serve(server, status)
	return client, nil
}

func (ft *fakeTarget) serve(c net.Conn, status int) {
	defer c.Close()
	if status == accept {
		_, _ = io.Copy(io.Discard, c)
		return
	}
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil {
		return
	}
	ft.mu.Lock()
	ft.paths = append(ft.paths, req.Host+req.URL.RequestURI())
	ft.mu.Unlock()
	if status == hang {
		_, _ = io.Copy(io.Discard, c) // until the checker gives up
		return
	}
	fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", status, http.StatusText(status))
}

func (ft *fakeTarget) requests() []string {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return append([]string(nil), ft.paths...)
}

// memNet is an in-memory network for tests inside testing/synctest: real
// HTTP servers listen on it and target groups dial through it.
type memNet struct {
	mu        sync.Mutex
	listeners map[string]*memListener
}

func newMemNet() *memNet { return &memNet{listeners: map[string]*memListener{}} }

func (n *memNet) listen(addr string) *memListener {
	n.mu.Lock()
	defer n.mu.Unlock()
	l := &memListener{net: n, addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
	n.listeners[addr] = l
	return l
}

func (n *memNet) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	n.mu.Lock()
	l := n.listeners[addr]
	n.mu.Unlock()
	if l == nil {
		return nil, fmt.Errorf("dial %s %s: %w", network, addr, errRefused)
	}
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, fmt.Errorf("dial %s %s: %w", network, addr, errRefused)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// listenFunc serves lb.WithListenFunc: the load balancer's listeners
// accept on n.
func (n *memNet) listenFunc(_, addr string) (net.Listener, error) { return n.listen(addr), nil }

type memListener struct {
	net   *memNet
	addr  string
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *memListener) Close() error {
	l.once.Do(func() {
		close(l.done)
		l.net.mu.Lock()
		delete(l.net.listeners, l.addr)
		l.net.mu.Unlock()
	})
	return nil
}

func (l *memListener) Addr() net.Addr { return memAddr(l.addr) }

type memAddr string

func (a memAddr) Network() string { return "mem" }
func (a memAddr) String() string  { return string(a) }
