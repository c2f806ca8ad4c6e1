package lb_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/lb"
)

// countingBackend is an HTTP target that counts the connections it gets.
type countingBackend struct {
	*httptest.Server
	conns atomic.Int64
}

func newCountingBackend(t *testing.T, h http.HandlerFunc) *countingBackend {
	t.Helper()
	cb := &countingBackend{}
	cb.Server = httptest.NewUnstartedServer(h)
	cb.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			cb.conns.Add(1)
		}
	}
	cb.Start()
	t.Cleanup(cb.Close)
	return cb
}

// proxyTo puts an HTTP listener in front of one healthy target at addr.
func proxyTo(t *testing.T, addr string, opts ...lb.GroupOption) (*lb.TargetGroup, string) {
	t.Helper()
	opts = append([]lb.GroupOption{lb.WithHealthCheck(lb.HealthCheck{Protocol: lb.TCP})}, opts...)
	g := newGroup(t, "web", lb.HTTP, opts...)
	registerHealthy(t, g, "t", addr)
	return g, listenHTTP(t, newBalancer(t), nil, g)
}

func TestProxyExchanges(t *testing.T) {
	t.Parallel()
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	be := newCountingBackend(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/chunked":
			for i := 0; i < len(big); i += 64 << 10 {
				_, _ = w.Write(big[i : i+64<<10])
				w.(http.Flusher).Flush()
			}
		case "/echo":
			h := sha256.New()
			n, _ := io.Copy(h, r.Body)
			fmt.Fprintf(w, "%d %x", n, h.Sum(nil))
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/hints":
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			_, _ = io.WriteString(w, "after hints")
		default:
			_, _ = io.WriteString(w, "plain")
		}
	})
	_, base := proxyTo(t, addr(be.Server))
	c := newClient(t)

	status, body := get(t, c, base+"/chunked")
	assert.Equal(t, http.StatusOK, status)
	assert.True(t, bytes.Equal(big, []byte(body)), "chunked body intact")

	sum := sha256.Sum256(big)
	status, body = do(t, c, http.MethodPost, base+"/echo", "", bytes.NewReader(big))
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, fmt.Sprintf("%d %x", len(big), sum), body, "request body intact")
	// A chunked request body (unknown length).
	status, body = do(t, c, http.MethodPost, base+"/echo", "", io.MultiReader(bytes.NewReader(big)))
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, fmt.Sprintf("%d %x", len(big), sum), body)

	status, body = get(t, c, base+"/empty")
	assert.Equal(t, http.StatusNoContent, status)
	assert.Empty(t, body)
	status, body = do(t, c, http.MethodHead, base+"/", "", nil)
	assert.Equal(t, http.StatusOK, status)
	assert.Empty(t, body)
	status, body = get(t, c, base+"/hints")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "after hints", body)

	for range 20 {
		_, body = get(t, c, base+"/")
		assert.Equal(t, "plain", body)
	}
	assert.EqualValues(t, 1+1, be.conns.Load(), "the health check's and one keep-alive connection that carried every exchange")
}

func TestProxyConnectionClose(t *testing.T) {
	t.Parallel()
	be := newCountingBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		_, _ = io.WriteString(w, "bye")
	})
	_, base := proxyTo(t, addr(be.Server))
	c := newClient(t)
	for range 3 {
		status, body := get(t, c, base+"/")
		require.Equal(t, http.StatusOK, status)
		assert.Equal(t, "bye", body)
	}
	assert.EqualValues(t, 1+3, be.conns.Load(), "the health check's and one per request: Connection: close is honoured")
}

// rawBackend serves each connection with serve, on loopback.
func rawBackend(t *testing.T, serve func(c net.Conn, r *bufio.Reader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	serveConns(t, ln, serve)
	return ln.Addr().String()
}

// serveConns serves each connection ln accepts with serve, until the test
// ends.
func serveConns(t *testing.T, ln net.Listener, serve func(c net.Conn, r *bufio.Reader)) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				serve(c, bufio.NewReader(c))
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
}

func TestProxyStaleConnection(t *testing.T) {
	t.Parallel()
	var conns atomic.Int64
	// Each connection answers one request, then takes the next one and
	// closes without a word: a keep-alive race lost.
	target := rawBackend(t, func(c net.Conn, r *bufio.Reader) {
		if _, err := http.ReadRequest(r); err != nil {
			return // the health check
		}
		n := conns.Add(1)
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n%d", n%10)
		req, err := http.ReadRequest(r)
		if err == nil && req.Body != nil {
			_, _ = io.Copy(io.Discard, req.Body)
		}
	})
	g, base := proxyTo(t, target)
	c := newClient(t)
	for range 5 {
		status, _ := get(t, c, base+"/")
		require.Equal(t, http.StatusOK, status, "a GET is sent again over a new connection")
	}
	s, _ := g.Stats("t")
	assert.Zero(t, s.Errors)

	status, _ := do(t, c, http.MethodPost, base+"/", "", strings.NewReader("once only"))
	assert.Equal(t, http.StatusBadGateway, status, "a request with a body is not sent twice")
	s, _ = g.Stats("t")
	assert.EqualValues(t, 1, s.Errors)
}

func TestProxyUpgrade(t *testing.T) {
	t.Parallel()
	// Switches to a line echo protocol.
	target := rawBackend(t, func(c net.Conn, r *bufio.Reader) {
		req, err := http.ReadRequest(r)
		if err != nil || req.Header.Get("Upgrade") != "echo" {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		_, _ = io.Copy(c, r)
	})
	g, base := proxyTo(t, target)
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), waitTimeout)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(waitTimeout)))
	_, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	require.NoError(t, err)
	r := bufio.NewReader(c)
	resp, err := http.ReadResponse(r, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	_, err = io.WriteString(c, "ping\n")
	require.NoError(t, err)
	line, err := r.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "ping\n", line)
	s, _ := g.Stats("t")
	assert.EqualValues(t, 1, s.Active, "the upgraded connection is in flight")
	c.Close()
	require.NoError(t, g.Deregister("t"))
	waitState(t, g, "t", lb.StateUnused) // released when the tunnel closed
}

func TestProxyResponseHeaderTooLarge(t *testing.T) {
	t.Parallel()
	target := rawBackend(t, func(c net.Conn, r *bufio.Reader) {
		if _, err := http.ReadRequest(r); err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Big: ")
		_, _ = c.Write(bytes.Repeat([]byte("x"), 2<<20))
		_, _ = io.WriteString(c, "\r\n\r\n")
	})
	g, base := proxyTo(t, target)
	status, _ := get(t, newClient(t), base+"/")
	assert.Equal(t, http.StatusBadGateway, status)
	s, _ := g.Stats("t")
	assert.EqualValues(t, 1, s.Errors)
}

func TestProxyClientGoneCancelsTarget(t *testing.T) {
	t.Parallel()
	canceled := make(chan struct{})
	be := backend(t, "slow", func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/stream" {
			return false
		}
		_, _ = io.WriteString(w, "first part\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		close(canceled)
		return true
	})
	g, base := proxyTo(t, addr(be))
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), waitTimeout)
	require.NoError(t, err)
	require.NoError(t, c.SetDeadline(time.Now().Add(waitTimeout)))
	_, err = io.WriteString(c, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	r := bufio.NewReader(c)
	resp, err := http.ReadResponse(r, nil)
	require.NoError(t, err)
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "first part\n", line)
	c.Close() // the client goes away mid-response
	select {
	case <-canceled:
	case <-time.After(waitTimeout):
		t.Fatal("the target's request was not cancelled")
	}
	require.NoError(t, g.Deregister("t"))
	waitState(t, g, "t", lb.StateUnused)
}

func TestIdleConnectionsExpire(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		var open atomic.Int64
		s := &http.Server{
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }),
			ConnState: func(_ net.Conn, st http.ConnState) {
				switch st {
				case http.StateNew:
					open.Add(1)
				case http.StateClosed, http.StateHijacked:
					open.Add(-1)
				}
			},
		}
		l := n.listen("10.0.0.1:80")
		go func() { _ = s.Serve(l) }()
		defer s.Close()
		g, err := lb.NewTargetGroup("web", lb.HTTP, lb.WithDialer(n.dial))
		require.NoError(t, err)
		defer g.Close()
		h, err := lb.NewHandler(nil, g)
		require.NoError(t, err)
		require.NoError(t, g.Register(lb.Target{ID: "a", Addr: "10.0.0.1:80"}))
		synctest.Wait()
		require.Equal(t, "ok", serve(h, "/").Body.String())
		synctest.Wait()
		assert.EqualValues(t, 1, open.Load(), "the keep-alive connection stays")
		time.Sleep(89 * time.Second)
		synctest.Wait()
		assert.EqualValues(t, 1, open.Load())
		time.Sleep(2 * time.Second)
		synctest.Wait()
		assert.EqualValues(t, 0, open.Load(), "closed after 90 s idle")
	})
}
