package lb_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/lb"
)

// tcpBackend listens on loopback. Each connection gets "<name>\n", then
// every line back, then "bye\n" after the client half-closes.
func tcpBackend(t *testing.T, name string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				if _, err := io.WriteString(c, name+"\n"); err != nil {
					return
				}
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						_, _ = io.WriteString(c, "bye\n")
						return
					}
					if _, err := io.WriteString(c, line); err != nil {
						return
					}
				}
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

type tcpClient struct {
	net.Conn
	r *bufio.Reader
}

func dialTCP(t *testing.T, addr string) *tcpClient {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, waitTimeout)
	require.NoError(t, err)
	require.NoError(t, c.SetDeadline(time.Now().Add(waitTimeout)))
	t.Cleanup(func() { c.Close() })
	return &tcpClient{Conn: c, r: bufio.NewReader(c)}
}

func (c *tcpClient) line(t *testing.T) string {
	t.Helper()
	s, err := c.r.ReadString('\n')
	require.NoError(t, err)
	return strings.TrimSuffix(s, "\n")
}

func (c *tcpClient) echo(t *testing.T, s string) {
	t.Helper()
	_, err := io.WriteString(c, s+"\n")
	require.NoError(t, err)
	assert.Equal(t, s, c.line(t))
}

// closed reports whether the connection ends (EOF or reset) before its
// deadline.
func (c *tcpClient) closed(t *testing.T) bool {
	t.Helper()
	_, err := c.r.ReadString('\n')
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return err != nil
}

func listenTCP(t *testing.T, b *lb.LoadBalancer, g *lb.TargetGroup) string {
	t.Helper()
	l, err := b.AddTCPListener("127.0.0.1:0", g)
	require.NoError(t, err)
	return l.Addr().String()
}

func TestTCPListener(t *testing.T) {
	t.Parallel()
	g := newGroup(t, "db", lb.TCP)
	registerHealthy(t, g, "a", tcpBackend(t, "a"))
	registerHealthy(t, g, "b", tcpBackend(t, "b"))
	b := newBalancer(t)
	front := listenTCP(t, b, g)

	seen := map[string]int{}
	for range 4 {
		c := dialTCP(t, front)
		seen[c.line(t)]++
		c.echo(t, "hello")
		c.echo(t, strings.Repeat("x", 100<<10)) // more than a buffer
		// Half-close: the target still sends after the client is done.
		require.NoError(t, c.Conn.(*net.TCPConn).CloseWrite())
		assert.Equal(t, "bye", c.line(t))
		_, err := c.r.ReadString('\n')
		assert.ErrorIs(t, err, io.EOF)
	}
	assert.Equal(t, map[string]int{"a": 2, "b": 2}, seen)

	require.NoError(t, b.Shutdown(t.Context()))
	for _, d := range g.Targets() {
		assert.Equal(t, lb.TargetStats{Requests: 2}, d.Stats, d.Target.ID)
	}
}

func TestTCPNoHealthyTargetAndRetry(t *testing.T) {
	t.Parallel()
	g := newGroup(t, "db", lb.TCP)
	b := newBalancer(t)
	front := listenTCP(t, b, g)
	assert.True(t, dialTCP(t, front).closed(t), "no target: the connection is closed")

	registerHealthy(t, g, "live", tcpBackend(t, "live"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { // accepts the health check only, then goes away
		c, err := ln.Accept()
		if err == nil {
			c.Close()
		}
	}()
	registerHealthy(t, g, "dead", ln.Addr().String())
	ln.Close()
	for range 4 {
		assert.Equal(t, "live", dialTCP(t, front).line(t), "a failed connect is retried on another target")
	}
	s, _ := g.Stats("dead")
	assert.Equal(t, s.Requests, s.Errors)
	assert.Positive(t, s.Errors)
}

func TestTCPDraining(t *testing.T) {
	t.Parallel()
	g := newGroup(t, "db", lb.TCP)
	registerHealthy(t, g, "old", tcpBackend(t, "old"))
	b := newBalancer(t)
	front := listenTCP(t, b, g)
	c1 := dialTCP(t, front)
	require.Equal(t, "old", c1.line(t))
	registerHealthy(t, g, "new", tcpBackend(t, "new"))

	require.NoError(t, g.Deregister("old"))
	assert.Equal(t, lb.StateDraining, g.Health("old").State)
	for range 3 {
		assert.Equal(t, "new", dialTCP(t, front).line(t), "no new connections to a draining target")
	}
	c1.echo(t, "still here") // the open connection goes on
	s, _ := g.Stats("old")
	assert.EqualValues(t, 1, s.Active)
	c1.Close()
	waitState(t, g, "old", lb.StateUnused) // idle: removed before the delay
}

func TestTCPDeregistrationDelayCuts(t *testing.T) {
	t.Parallel()
	const delay = 200 * time.Millisecond
	g := newGroup(t, "db", lb.TCP, lb.WithDeregistrationDelay(delay))
	registerHealthy(t, g, "old", tcpBackend(t, "old"))
	b := newBalancer(t)
	c := dialTCP(t, listenTCP(t, b, g))
	require.Equal(t, "old", c.line(t))
	start := time.Now()
	require.NoError(t, g.Deregister("old"))
	assert.True(t, c.closed(t), "the connection is cut when the delay is over")
	assert.GreaterOrEqual(t, time.Since(start), delay)
	waitState(t, g, "old", lb.StateUnused)
}

func TestTCPShutdown(t *testing.T) {
	t.Parallel()
	g := newGroup(t, "db", lb.TCP)
	registerHealthy(t, g, "a", tcpBackend(t, "a"))
	b := newBalancer(t)
	l, err := b.AddTCPListener("127.0.0.1:0", g)
	require.NoError(t, err)
	c := dialTCP(t, l.Addr().String())
	require.Equal(t, "a", c.line(t))

	shut := make(chan error, 1)
	go func() { shut <- b.Shutdown(t.Context()) }()
	c.echo(t, "open connections finish first")
	require.NoError(t, c.Conn.(*net.TCPConn).CloseWrite())
	assert.Equal(t, "bye", c.line(t))
	require.NoError(t, <-shut)
	_, err = net.DialTimeout("tcp", l.Addr().String(), waitTimeout)
	assert.Error(t, err, "no longer accepting")
}
