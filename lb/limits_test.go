package lb_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/lb"
)

// lbAddr is where tests on a memNet reach the load balancer.
const lbAddr = "10.0.0.100:80"

// memGroup returns a group that reaches its target at addr over n and
// checks it by TCP, and waits for the target to be healthy. Inside a
// synctest bubble.
func memGroup(t *testing.T, n *memNet, p lb.Protocol, addr string) *lb.TargetGroup {
	t.Helper()
	g, err := lb.NewTargetGroup("web", p, lb.WithDialer(n.dial), lb.WithHealthCheck(lb.HealthCheck{Protocol: lb.TCP}))
	require.NoError(t, err)
	t.Cleanup(func() { g.Close() })
	require.NoError(t, g.Register(lb.Target{ID: "t", Addr: addr}))
	synctest.Wait()
	require.Equal(t, lb.StateHealthy, g.Health("t").State)
	return g
}

// memBalancer returns a load balancer whose listeners accept on n.
func memBalancer(t *testing.T, n *memNet, lim lb.Limits) *lb.LoadBalancer {
	t.Helper()
	return newBalancer(t, lb.WithListenFunc(n.listenFunc), lb.WithLimits(lim))
}

// memDial connects a client to addr on n.
func memDial(t *testing.T, n *memNet, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := n.dial(t.Context(), "tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

// memRawBackend serves each connection on addr of n with serve.
func memRawBackend(t *testing.T, n *memNet, addr string, serve func(c net.Conn, r *bufio.Reader)) {
	t.Helper()
	serveConns(t, n.listen(addr), serve)
}

// answer is a response and when it came.
type answer struct {
	status int
	body   string
	after  time.Duration
	err    error
}

// readAnswer reads one response from r in the background.
func readAnswer(r *bufio.Reader, start time.Time) <-chan answer {
	out := make(chan answer, 1)
	go func() {
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			out <- answer{err: err, after: time.Since(start)}
			return
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		out <- answer{status: resp.StatusCode, body: string(body), after: time.Since(start), err: err}
	}()
	return out
}

// notYet fails when ch has a value.
func notYet[T any](t *testing.T, ch <-chan T, what string) {
	t.Helper()
	synctest.Wait()
	select {
	case v := <-ch:
		t.Fatalf("%s too early: %+v", what, v)
	default:
	}
}

// now receives from ch, which must have a value.
func now[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	synctest.Wait()
	select {
	case v := <-ch:
		return v
	default:
		t.Fatalf("%s: nothing yet", what)
		panic("unreachable")
	}
}

func TestTargetTimeoutGives504(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		lim  lb.Limits
		want time.Duration
	}{
		{"default, as ALB's idle timeout", lb.Limits{}, 60 * time.Second},
		{"configured", lb.Limits{TargetTimeout: 5 * time.Second}, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				n := newMemNet()
				// Passes its health checks, never answers a request.
				memBackend(t, n, "10.0.0.1:80", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
				g := memGroup(t, n, lb.HTTP, "10.0.0.1:80")
				h, err := lb.NewHandler(nil, g, lb.WithLimits(tt.lim))
				require.NoError(t, err)

				start := time.Now()
				done := make(chan answer, 1)
				go func() {
					w := serve(h, "/")
					done <- answer{status: w.Code, after: time.Since(start)}
				}()
				time.Sleep(tt.want - time.Second)
				notYet(t, done, "answer")
				time.Sleep(2 * time.Second)
				got := now(t, done, "the client waits past the target timeout")
				assert.Equal(t, answer{status: http.StatusGatewayTimeout, after: tt.want}, got)
				s, _ := g.Stats("t")
				assert.Equal(t, lb.TargetStats{Requests: 1, Errors: 1}, s)
			})
		})
	}
}

func TestConnectTimeoutGives504(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		memEcho(t, n, "10.0.0.1:81") // the health check port answers
		blackhole := func(ctx context.Context, network, addr string) (net.Conn, error) {
			if strings.HasSuffix(addr, ":80") { // the traffic port never does
				<-ctx.Done()
				return nil, ctx.Err()
			}
			return n.dial(ctx, network, addr)
		}
		g, err := lb.NewTargetGroup("web", lb.HTTP, lb.WithDialer(blackhole), lb.WithHealthCheck(lb.HealthCheck{Protocol: lb.TCP, Port: 81}))
		require.NoError(t, err)
		t.Cleanup(func() { g.Close() })
		require.NoError(t, g.Register(lb.Target{ID: "t", Addr: "10.0.0.1:80"}))
		synctest.Wait()
		h, err := lb.NewHandler(nil, g)
		require.NoError(t, err)
		start := time.Now()
		w := serve(h, "/")
		assert.Equal(t, http.StatusGatewayTimeout, w.Code)
		assert.Equal(t, 10*time.Second, time.Since(start), "ALB's connect timeout")
	})
}

func TestTargetTimeoutCutsSilentBody(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		memBackend(t, n, "10.0.0.1:80", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "part one;")
			w.(http.Flusher).Flush()
			time.Sleep(30 * time.Second)
			_, _ = io.WriteString(w, "part two;")
			w.(http.Flusher).Flush()
			<-r.Context().Done() // then silence
		})
		g := memGroup(t, n, lb.HTTP, "10.0.0.1:80")
		h, err := lb.NewHandler(nil, g)
		require.NoError(t, err)
		start := time.Now()
		done := make(chan answer, 1)
		go func() {
			w := serve(h, "/")
			done <- answer{status: w.Code, body: w.Body.String(), after: time.Since(start)}
		}()
		time.Sleep(89 * time.Second) // 30 s to part two, then 60 s of silence
		notYet(t, done, "cut")
		time.Sleep(2 * time.Second)
		got := now(t, done, "the response is cut")
		assert.Equal(t, answer{status: http.StatusOK, body: "part one;part two;", after: 90 * time.Second}, got)
	})
}

func TestStalledRequestBodyIsCut(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		targetDone := make(chan error, 1)
		memBackend(t, n, "10.0.0.1:80", func(w http.ResponseWriter, r *http.Request) {
			_, err := io.Copy(io.Discard, r.Body)
			targetDone <- err
		})
		g := memGroup(t, n, lb.HTTP, "10.0.0.1:80")
		_, err := memBalancer(t, n, lb.Limits{}).AddHTTPListener(lbAddr, nil, g)
		require.NoError(t, err)

		c, r := memDial(t, n, lbAddr)
		start := time.Now()
		// 8 KiB of a 100 kB body, then nothing.
		_, err = io.WriteString(c, "POST /upload HTTP/1.1\r\nHost: web.test\r\nContent-Length: 100000\r\n\r\n"+strings.Repeat("x", 8<<10))
		require.NoError(t, err)
		answered := readAnswer(r, start)
		time.Sleep(59 * time.Second)
		notYet(t, answered, "answer")
		notYet(t, targetDone, "the target's request end")
		time.Sleep(2 * time.Second)
		got := now(t, answered, "a stalled body is cut after the idle timeout")
		assert.Equal(t, http.StatusRequestTimeout, got.status)
		assert.Equal(t, 60*time.Second, got.after)
		assert.Error(t, now(t, targetDone, "the target's connection is closed"), "the target's body ends broken")
		s, _ := g.Stats("t")
		assert.Zero(t, s.Errors, "the client's fault, not the target's")
	})
}

func TestUnreadResponseIsCut(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		targetDone := make(chan time.Duration, 1)
		var start time.Time
		memBackend(t, n, "10.0.0.1:80", func(w http.ResponseWriter, r *http.Request) {
			// With a length, so that the proxy copies without a flushing
			// goroutine (its mutex would hide the wait from synctest).
			w.Header().Set("Content-Length", fmt.Sprint(64<<20))
			chunk := bytes.Repeat([]byte("x"), 64<<10)
			for range 1 << 10 {
				if _, err := w.Write(chunk); err != nil {
					break
				}
			}
			targetDone <- time.Since(start)
		})
		g := memGroup(t, n, lb.HTTP, "10.0.0.1:80")
		_, err := memBalancer(t, n, lb.Limits{IdleTimeout: 20 * time.Second}).AddHTTPListener(lbAddr, nil, g)
		require.NoError(t, err)

		c, _ := memDial(t, n, lbAddr)
		start = time.Now()
		_, err = io.WriteString(c, "GET /big HTTP/1.1\r\nHost: web.test\r\n\r\n")
		require.NoError(t, err)
		// The client reads nothing.
		time.Sleep(19 * time.Second)
		notYet(t, targetDone, "the target's request end")
		time.Sleep(2 * time.Second)
		assert.Equal(t, 20*time.Second, now(t, targetDone, "a response nobody reads is cut after the idle timeout"))
	})
}

func TestReadHeaderTimeout(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		memBackend(t, n, "10.0.0.1:80", func(w http.ResponseWriter, r *http.Request) {})
		g := memGroup(t, n, lb.HTTP, "10.0.0.1:80")
		_, err := memBalancer(t, n, lb.Limits{ReadHeaderTimeout: 5 * time.Second}).AddHTTPListener(lbAddr, nil, g)
		require.NoError(t, err)
		c, r := memDial(t, n, lbAddr)
		_, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: web.test\r\n") // and never the end
		require.NoError(t, err)
		answered := readAnswer(r, time.Now())
		time.Sleep(4 * time.Second)
		notYet(t, answered, "close")
		time.Sleep(2 * time.Second)
		assert.Error(t, now(t, answered, "a slow header is cut").err)
	})
}

func TestHeaderAndBodyLimits(t *testing.T) {
	t.Parallel()
	seen := make(chan string, 10)
	be := backend(t, "echo", func(w http.ResponseWriter, r *http.Request) bool {
		n, err := io.Copy(io.Discard, r.Body)
		seen <- fmt.Sprintf("%s %d %v", r.URL.Path, n, err)
		fmt.Fprintf(w, "%d", n)
		return true
	})
	g, _ := proxyTo(t, addr(be))
	base := listenHTTP(t, newBalancer(t, lb.WithLimits(lb.Limits{MaxBodyBytes: 1000})), nil, g)
	c := newClient(t)

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/big-header", nil)
	require.NoError(t, err)
	req.Header.Set("X-Big", strings.Repeat("x", 70<<10)) // over 64 KiB + net/http's 4 KiB
	resp, err := c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode)
	req, err = http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/header-fits", nil)
	require.NoError(t, err)
	req.Header.Set("X-Big", strings.Repeat("x", 60<<10))
	resp, err = c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	status, body := do(t, c, http.MethodPost, base+"/fits", "", strings.NewReader(strings.Repeat("x", 1000)))
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "1000", body)
	status, _ = do(t, c, http.MethodPost, base+"/too-long", "", strings.NewReader(strings.Repeat("x", 1001)))
	assert.Equal(t, http.StatusRequestEntityTooLarge, status, "by Content-Length, before the target")
	// A chunked body is cut where it passes the limit.
	status, _ = do(t, c, http.MethodPost, base+"/too-long-chunked", "", io.MultiReader(strings.NewReader(strings.Repeat("x", 5000))))
	assert.Equal(t, http.StatusRequestEntityTooLarge, status)

	// The target saw the fitting requests and the cut chunked one; the
	// others were answered without it.
	var got []string
	for range 3 {
		select {
		case s := <-seen:
			got = append(got, s)
		case <-time.After(waitTimeout):
			t.Fatalf("the target saw only %q", got)
		}
	}
	assert.Equal(t, "/header-fits 0 <nil>", got[0])
	assert.Equal(t, "/fits 1000 <nil>", got[1])
	assert.True(t, strings.HasPrefix(got[2], "/too-long-chunked "), got[2])
	assert.NotContains(t, got[2], "<nil>", "the target's copy of the cut body ends broken")
	assert.Empty(t, seen)
}

func TestHTTPConnectionLimit(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		memBackend(t, n, "10.0.0.1:80", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
		g := memGroup(t, n, lb.HTTP, "10.0.0.1:80")
		l, err := memBalancer(t, n, lb.Limits{MaxConns: 2}).AddHTTPListener(lbAddr, nil, g)
		require.NoError(t, err)

		request := func(c net.Conn, r *bufio.Reader) answer {
			t.Helper()
			_, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: web.test\r\n\r\n")
			require.NoError(t, err)
			return <-readAnswer(r, time.Now())
		}
		c1, r1 := memDial(t, n, lbAddr)
		assert.Equal(t, "ok", request(c1, r1).body)
		c2, r2 := memDial(t, n, lbAddr)
		assert.Equal(t, "ok", request(c2, r2).body, "keep-alive connections stay open")
		synctest.Wait()
		assert.Equal(t, lb.ListenerStats{Active: 2}, l.Stats())

		_, r3 := memDial(t, n, lbAddr)
		got := <-readAnswer(r3, time.Now())
		assert.Equal(t, http.StatusServiceUnavailable, got.status)
		assert.Equal(t, "too many connections, try again later\n", got.body)
		assert.Equal(t, lb.ListenerStats{Active: 2, Refused: 1}, l.Stats())

		c1.Close()
		synctest.Wait()
		assert.Equal(t, lb.ListenerStats{Active: 1, Refused: 1}, l.Stats())
		c4, r4 := memDial(t, n, lbAddr)
		assert.Equal(t, "ok", request(c4, r4).body, "room again")
	})
}

// memEcho serves a line echo on addr of n.
func memEcho(t *testing.T, n *memNet, addr string) {
	t.Helper()
	memRawBackend(t, n, addr, func(c net.Conn, r *bufio.Reader) { _, _ = io.Copy(c, r) })
}

// echoes sends a line and reports whether it came back.
func echoes(c net.Conn, r *bufio.Reader, s string) bool {
	if _, err := io.WriteString(c, s+"\n"); err != nil {
		return false
	}
	line, err := r.ReadString('\n')
	return err == nil && line == s+"\n"
}

// closedCh reports, in the background, when the server closes c (r reads
// EOF or an error).
func closedCh(r *bufio.Reader, start time.Time) <-chan time.Duration {
	out := make(chan time.Duration, 1)
	go func() {
		_, _ = io.Copy(io.Discard, r)
		out <- time.Since(start)
	}()
	return out
}

func TestTCPConnectionLimit(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		memEcho(t, n, "10.0.0.1:5432")
		g := memGroup(t, n, lb.TCP, "10.0.0.1:5432")
		l, err := memBalancer(t, n, lb.Limits{MaxConns: 1}).AddTCPListener(lbAddr, g)
		require.NoError(t, err)

		c1, r1 := memDial(t, n, lbAddr)
		require.True(t, echoes(c1, r1, "one"))
		_, r2 := memDial(t, n, lbAddr)
		assert.Equal(t, time.Duration(0), now(t, closedCh(r2, time.Now()), "over the cap: closed at once"))
		assert.Equal(t, lb.ListenerStats{Active: 1, Refused: 1}, l.Stats())
		c1.Close()
		synctest.Wait()
		assert.Equal(t, lb.ListenerStats{Active: 0, Refused: 1}, l.Stats())
		c3, r3 := memDial(t, n, lbAddr)
		assert.True(t, echoes(c3, r3, "three"), "room again")
	})
}

func TestTCPIdleTimeout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		lim  lb.Limits
		idle time.Duration
	}{
		{"default, as NLB", lb.Limits{}, 350 * time.Second},
		{"configured", lb.Limits{TCPIdleTimeout: 10 * time.Second}, 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				n := newMemNet()
				memEcho(t, n, "10.0.0.1:5432")
				g := memGroup(t, n, lb.TCP, "10.0.0.1:5432")
				_, err := memBalancer(t, n, tt.lim).AddTCPListener(lbAddr, g)
				require.NoError(t, err)

				c, r := memDial(t, n, lbAddr)
				require.True(t, echoes(c, r, "hello"))
				// Traffic more often than the timeout keeps it open.
				for range 3 {
					time.Sleep(tt.idle - time.Second)
					require.True(t, echoes(c, r, "still here"))
				}
				start := time.Now()
				closed := closedCh(r, start)
				time.Sleep(tt.idle - time.Second)
				notYet(t, closed, "close")
				time.Sleep(2 * time.Second)
				assert.Equal(t, tt.idle, now(t, closed, "an idle connection is closed"))
				synctest.Wait()
				s, _ := g.Stats("t")
				assert.Equal(t, lb.TargetStats{Requests: 1}, s, "closed on both sides, not counted as an error")
			})
		})
	}
}

func TestUpgradedConnectionIdleTimeout(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		memRawBackend(t, n, "10.0.0.1:80", func(c net.Conn, r *bufio.Reader) {
			req, err := http.ReadRequest(r)
			if err != nil || req.Header.Get("Upgrade") != "websocket" {
				return
			}
			_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
			// Echoes lines; "push" gets three ticks, 50 s apart.
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if line == "push\n" {
					for range 3 {
						time.Sleep(50 * time.Second)
						if _, err := io.WriteString(c, "tick\n"); err != nil {
							return
						}
					}
					continue
				}
				if _, err := io.WriteString(c, line); err != nil {
					return
				}
			}
		})
		g := memGroup(t, n, lb.HTTP, "10.0.0.1:80")
		_, err := memBalancer(t, n, lb.Limits{}).AddHTTPListener(lbAddr, nil, g)
		require.NoError(t, err)

		c, r := memDial(t, n, lbAddr)
		_, err = io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: web.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
		require.NoError(t, err)
		resp, err := http.ReadResponse(r, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
		for range 3 {
			time.Sleep(59 * time.Second)
			require.True(t, echoes(c, r, "ping"), "traffic keeps the tunnel open")
		}
		// The target alone sending keeps it open too.
		_, err = io.WriteString(c, "push\n")
		require.NoError(t, err)
		for range 3 {
			line, err := r.ReadString('\n')
			require.NoError(t, err)
			require.Equal(t, "tick\n", line)
		}
		closed := closedCh(r, time.Now())
		time.Sleep(59 * time.Second)
		notYet(t, closed, "close")
		time.Sleep(2 * time.Second)
		assert.Equal(t, 60*time.Second, now(t, closed, "an idle tunnel is closed"))
		synctest.Wait()
		assert.Zero(t, g.Targets()[0].Stats.Active, "and released")
	})
}

func TestH2CUpgradeRefused(t *testing.T) {
	t.Parallel()
	// Takes up h2c when asked (as a target with an h2c server would),
	// otherwise says which Upgrade header it got.
	target := rawBackend(t, func(c net.Conn, r *bufio.Reader) {
		req, err := http.ReadRequest(r)
		if err != nil {
			return
		}
		if strings.Contains(strings.ToLower(req.Header.Get("Upgrade")), "h2c") {
			_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
			_, _ = io.Copy(io.Discard, r)
			return
		}
		body := fmt.Sprintf("upgrade=%q settings=%q", req.Header.Get("Upgrade"), req.Header.Get("Http2-Settings"))
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
	})
	g := newGroup(t, "web", lb.HTTP, lb.WithHealthCheck(lb.HealthCheck{Protocol: lb.TCP}))
	registerHealthy(t, g, "t", target)
	strict := strings.TrimPrefix(listenHTTP(t, newBalancer(t), nil, g), "http://")
	allowing := strings.TrimPrefix(listenHTTP(t, newBalancer(t, lb.WithLimits(lb.Limits{AllowH2CUpgrade: true})), nil, g), "http://")

	const h2cHeaders = "Connection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n"
	tests := []struct {
		name, addr, head string
		status           int
		body             string
	}{
		{"h2c stripped", strict, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\n" + h2cHeaders, 200, `upgrade="" settings=""`},
		{"h2c in any case and version", strict, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: H2C/1.0\r\n" + h2cHeaders, 200, `upgrade="" settings=""`},
		{"h2c in a second header line", strict, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: foo\r\nUpgrade: h2c\r\n" + h2cHeaders, 200, `upgrade="foo" settings=""`},
		{"other protocols kept", strict, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket, h2c\r\nConnection: Upgrade\r\n", 200, `upgrade="websocket" settings=""`},
		{"prior knowledge", strict, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, ""},
		{"h2c allowed", allowing, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\n" + h2cHeaders, 101, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.DialTimeout("tcp", tt.addr, waitTimeout)
			require.NoError(t, err)
			defer c.Close()
			require.NoError(t, c.SetDeadline(time.Now().Add(waitTimeout)))
			_, err = io.WriteString(c, tt.head+"\r\n")
			require.NoError(t, err)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			require.NoError(t, err)
			assert.Equal(t, tt.status, resp.StatusCode)
			if tt.status == http.StatusOK {
				body, err := io.ReadAll(resp.Body)
				require.NoError(t, err)
				assert.Equal(t, tt.body, string(body))
			}
		})
	}
}

func TestHTTPConnectionLimitOnLoopback(t *testing.T) {
	t.Parallel()
	g, _ := proxyTo(t, addr(backend(t, "ok", nil)))
	b := newBalancer(t, lb.WithLimits(lb.Limits{MaxConns: 1}))
	l, err := b.AddHTTPListener("127.0.0.1:0", nil, g)
	require.NoError(t, err)
	c := newClient(t)
	status, body := get(t, c, "http://"+l.Addr().String()+"/")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "ok", body) // its keep-alive connection stays open

	// A client that sends its request before reading still gets the
	// answer, not a reset.
	raw, err := net.DialTimeout("tcp", l.Addr().String(), waitTimeout)
	require.NoError(t, err)
	defer raw.Close()
	require.NoError(t, raw.SetDeadline(time.Now().Add(waitTimeout)))
	_, err = io.WriteString(raw, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(raw), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, "1", resp.Header.Get("Retry-After"))
	assert.Equal(t, lb.ListenerStats{Active: 1, Refused: 1}, l.Stats())
}

func TestRequestTargetForms(t *testing.T) {
	t.Parallel()
	g := newGroup(t, "web", lb.HTTP) // no target: a forwarded request gets 503
	h, err := lb.NewHandler(nil, g)
	require.NoError(t, err)
	tests := []struct {
		method, target string
		want           int
	}{
		{http.MethodGet, "/a?b=c", http.StatusServiceUnavailable},
		{http.MethodGet, "http://web.test/a", http.StatusServiceUnavailable},
		{http.MethodOptions, "*", http.StatusServiceUnavailable},
		{http.MethodGet, "*", http.StatusBadRequest},
		{http.MethodGet, "a:00", http.StatusBadRequest}, // would reach the target as "00"
		{http.MethodConnect, "web.test:443", http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(tt.method, tt.target, nil))
		assert.Equal(t, tt.want, w.Code, "%s %s", tt.method, tt.target)
	}
}
