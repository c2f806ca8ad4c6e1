package fake_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/network/fake"
)

func TestDialTask(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		p := fake.New()
		att, err := p.Setup(ctx, network.Request{TaskID: "web", Mode: network.ModeAWSVPC})
		require.NoError(t, err)
		_, err = p.Setup(ctx, network.Request{TaskID: "db", Mode: network.ModeAWSVPC})
		require.NoError(t, err)

		l, err := p.Listen("web", 8080)
		require.NoError(t, err)
		defer l.Close()
		_, err = p.Listen("web", 8080)
		require.ErrorIs(t, err, network.ErrPortInUse)
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				_, _ = io.WriteString(c, "hello")
				c.Close()
			}
		}()

		for _, addr := range []string{"127.0.0.1:8080", "localhost:8080", "[::1]:8080", net.JoinHostPort(att.Address.Addr().String(), "8080")} {
			c, err := p.DialTask(ctx, "web", "tcp", addr)
			require.NoError(t, err, addr)
			b, err := io.ReadAll(c)
			require.NoError(t, err)
			assert.Equal(t, "hello", string(b))
			c.Close()
		}

		_, err = p.DialTask(ctx, "web", "tcp", "127.0.0.1:9090")
		require.ErrorIs(t, err, syscall.ECONNREFUSED, "no listener on that port")
		_, err = p.DialTask(ctx, "db", "tcp", "127.0.0.1:8080")
		require.ErrorIs(t, err, syscall.ECONNREFUSED, "the listener is web's, not db's")
		_, err = p.DialTask(ctx, "gone", "tcp", "127.0.0.1:8080")
		require.ErrorIs(t, err, network.ErrNotFound)
		_, err = p.DialTask(ctx, "web", "tcp", "10.9.9.9:8080")
		require.Error(t, err, "another address is not the task's")
		_, err = p.DialTask(ctx, "web", "udp", "127.0.0.1:8080")
		require.Error(t, err)

		// A listener for every task.
		every, err := p.Listen("", 5432)
		require.NoError(t, err)
		c, err := p.DialTask(ctx, "db", "tcp", "localhost:5432")
		require.NoError(t, err, "queued in the backlog before any Accept")
		c.Close()
		require.NoError(t, every.Close())
		require.ErrorIs(t, every.Close(), net.ErrClosed)
		_, err = p.DialTask(ctx, "db", "tcp", "localhost:5432")
		require.ErrorIs(t, err, syscall.ECONNREFUSED, "closed")
		_, err = every.Accept()
		require.ErrorIs(t, err, net.ErrClosed)
	})
}

func TestDialTaskBacklogFull(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := fake.New()
		_, err := p.Setup(t.Context(), network.Request{TaskID: "web", Mode: network.ModeNone})
		require.NoError(t, err)
		l, err := p.Listen("web", 80)
		require.NoError(t, err)
		defer l.Close()
		for {
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			c, err := p.DialTask(ctx, "web", "tcp", "127.0.0.1:80")
			cancel()
			if err != nil {
				require.ErrorIs(t, err, context.DeadlineExceeded, "a full backlog waits for the caller's deadline")
				return
			}
			defer c.Close()
		}
	})
}

// An HTTP server behind Listen answers a client that dials with DialTask,
// all inside a synctest bubble.
func TestDialTaskHTTP(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := fake.New()
		_, err := p.Setup(t.Context(), network.Request{TaskID: "web", Mode: network.ModeBridge})
		require.NoError(t, err)
		l, err := p.Listen("web", 80)
		require.NoError(t, err)
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "teapot", http.StatusTeapot)
		})}
		go func() { _ = srv.Serve(l) }()
		defer srv.Close()

		client := &http.Client{Transport: &http.Transport{
			DisableKeepAlives: true,
			DialContext: func(ctx context.Context, nw, addr string) (net.Conn, error) {
				return p.DialTask(ctx, "web", nw, addr)
			},
		}}
		resp, err := client.Get("http://localhost/")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusTeapot, resp.StatusCode)
	})
}
