package lb_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/lb"
)

// waitTimeout bounds every wait on real (loopback) traffic.
const waitTimeout = 10 * time.Second

// backend starts an HTTP server on loopback that answers every request
// with its name, unless h handles it (h returns true).
func backend(t *testing.T, name string, h func(w http.ResponseWriter, r *http.Request) bool) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h != nil && h(w, r) {
			return
		}
		_, _ = io.WriteString(w, name)
	}))
	t.Cleanup(s.Close)
	return s
}

func addr(s *httptest.Server) string { return strings.TrimPrefix(s.URL, "http://") }

func newGroup(t *testing.T, name string, p lb.Protocol, opts ...lb.GroupOption) *lb.TargetGroup {
	t.Helper()
	g, err := lb.NewTargetGroup(name, p, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { g.Close() })
	return g
}

// registerHealthy registers a target and waits for its first passed check.
func registerHealthy(t *testing.T, g *lb.TargetGroup, id, addr string) {
	t.Helper()
	require.NoError(t, g.Register(lb.Target{ID: id, Addr: addr}))
	waitState(t, g, id, lb.StateHealthy)
}

func waitState(t *testing.T, g *lb.TargetGroup, id string, s lb.TargetState) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	_, err := g.WaitState(ctx, id, s)
	require.NoError(t, err)
}

func newBalancer(t *testing.T, opts ...lb.Option) *lb.LoadBalancer {
	t.Helper()
	b, err := lb.New(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	return b
}

// listenHTTP adds an HTTP listener and returns its base URL.
func listenHTTP(t *testing.T, b *lb.LoadBalancer, rules []lb.Rule, def *lb.TargetGroup) string {
	t.Helper()
	l, err := b.AddHTTPListener("127.0.0.1:0", rules, def)
	require.NoError(t, err)
	return "http://" + l.Addr().String()
}

func newClient(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: waitTimeout}
}

// do sends a request and returns the status and body.
func do(t *testing.T, c *http.Client, method, url, host string, body io.Reader) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, body)
	require.NoError(t, err)
	if host != "" {
		req.Host = host
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	return do(t, c, http.MethodGet, url, "", nil)
}
