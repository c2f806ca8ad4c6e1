package netlinux

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/network"
)

// serveLoopback starts a TCP server on 127.0.0.1:port in the namespace at
// path (the host when empty; port 0 picks one) that writes greeting to
// every connection. It returns the port and stops at the end of the test.
func serveLoopback(t testing.TB, path string, port int, greeting string) int {
	t.Helper()
	var l net.Listener
	inNetNS(t, path, func() (err error) {
		l, err = net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		return err
	})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return // closed
			}
			_ = c.SetDeadline(time.Now().Add(2 * time.Second))
			_, _ = io.WriteString(c, greeting+"\n")
			c.Close()
		}
	})
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
	return l.Addr().(*net.TCPAddr).Port
}

// greeting connects with dial and returns the line the server wrote.
func greeting(t testing.TB, dial func(ctx context.Context) (net.Conn, error)) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	c, err := dial(ctx)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	return bufio.NewReader(c).ReadString('\n')
}

// TestDialTaskDialsFromInsideTheNamespace proves that DialTask's sockets
// live in the task's namespace: the same 127.0.0.1 port answers "task"
// through DialTask and "host" from the host, and a server bound to the
// task's loopback only is reachable.
func TestDialTaskDialsFromInsideTheNamespace(t *testing.T) {
	t.Parallel()
	p := newTestProvider(t, testConfig(t))
	ctx := t.Context()
	port := serveLoopback(t, "", 0, "host")

	for _, mode := range []network.Mode{network.ModeAWSVPC, network.ModeBridge, network.ModeNone} {
		t.Run(string(mode), func(t *testing.T) {
			id := "dial-" + string(mode)
			att, err := p.Setup(ctx, network.Request{TaskID: id, Mode: mode, Hostname: "probed"})
			require.NoError(t, err)
			serveLoopback(t, att.NetNSPath, port, "task")

			for _, addr := range []string{"127.0.0.1", "localhost"} {
				hostport := net.JoinHostPort(addr, strconv.Itoa(port))
				// Many dials, to catch a thread left in the wrong namespace:
				// the host's dials in between must still reach the host.
				for range 20 {
					line, err := greeting(t, func(ctx context.Context) (net.Conn, error) {
						return p.DialTask(ctx, id, "tcp", hostport)
					})
					require.NoError(t, err, hostport)
					require.Equal(t, "task\n", line, hostport)
					line, err = greeting(t, func(ctx context.Context) (net.Conn, error) {
						return (&net.Dialer{}).DialContext(ctx, "tcp", fmt.Sprintf("127.0.0.1:%d", port))
					})
					require.NoError(t, err)
					require.Equal(t, "host\n", line, "a dial outside DialTask stays in the host")
				}
			}
			_, err = p.DialTask(ctx, id, "tcp", "127.0.0.1:1")
			require.ErrorIs(t, err, syscall.ECONNREFUSED)

			// Names come from the task's hosts file: its hostname is its
			// address (127.0.1.1 without one), where nothing listens.
			want := "127.0.1.1"
			if att.Address.IsValid() {
				want = att.Address.Addr().String()
			}
			_, err = p.DialTask(ctx, id, "tcp", net.JoinHostPort("probed", strconv.Itoa(port)))
			require.ErrorIs(t, err, syscall.ECONNREFUSED)
			assert.Contains(t, err.Error(), want+":")

			require.NoError(t, p.Teardown(ctx, id))
			_, err = p.DialTask(ctx, id, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
			require.ErrorIs(t, err, network.ErrNotFound)
		})
	}

	t.Run("host", func(t *testing.T) {
		_, err := p.Setup(ctx, network.Request{TaskID: "dial-host", Mode: network.ModeHost})
		require.NoError(t, err)
		line, err := greeting(t, func(ctx context.Context) (net.Conn, error) {
			return p.DialTask(ctx, "dial-host", "tcp", fmt.Sprintf("localhost:%d", port))
		})
		require.NoError(t, err)
		assert.Equal(t, "host\n", line, "host mode dials from the host")
	})
}

// BenchmarkDialTask measures one connection made from inside a task's
// namespace (locked thread, setns there and back, connect, close) next to
// a plain loopback dial on the host.
func BenchmarkDialTask(b *testing.B) {
	requireRoot(b)
	p, err := New(testConfig(b))
	require.NoError(b, err)
	b.Cleanup(func() {
		assert.NoError(b, p.Destroy(context.Background()))
		p.Close()
	})
	ctx := context.Background()
	att, err := p.Setup(ctx, network.Request{TaskID: "bench", Mode: network.ModeAWSVPC})
	require.NoError(b, err)
	var l net.Listener
	inNetNS(b, att.NetNSPath, func() (err error) {
		l, err = net.Listen("tcp4", "127.0.0.1:0")
		return err
	})
	host, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(b, err)
	for _, ln := range []net.Listener{l, host} {
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		b.Cleanup(func() { ln.Close() })
	}
	b.Run("task", func(b *testing.B) {
		for b.Loop() {
			c, err := p.DialTask(ctx, "bench", "tcp", l.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			c.Close()
		}
	})
	b.Run("host", func(b *testing.B) {
		var d net.Dialer
		for b.Loop() {
			c, err := d.DialContext(ctx, "tcp", host.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			c.Close()
		}
	})
}
