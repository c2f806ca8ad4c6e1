package lb_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/lb"
)

func TestHTTPRouting(t *testing.T) {
	t.Parallel()
	groups := map[string]*lb.TargetGroup{}
	for _, name := range []string{"api", "site", "admin", "web"} {
		g := newGroup(t, name, lb.HTTP)
		registerHealthy(t, g, name+"-1", addr(backend(t, name, nil)))
		groups[name] = g
	}
	b := newBalancer(t)
	l, err := b.AddHTTPListener("127.0.0.1:0", []lb.Rule{
		{PathPrefix: "/api/", TargetGroup: groups["api"]},
		{Host: "*.example.com", TargetGroup: groups["site"]},
		{Host: "admin.test", PathPrefix: "/admin", TargetGroup: groups["admin"]},
	}, groups["web"])
	require.NoError(t, err)
	assert.Equal(t, lb.HTTP, l.Protocol())
	base := "http://" + l.Addr().String()
	c := newClient(t)

	tests := []struct {
		path, host, want string
	}{
		{"/api/users", "", "api"},
		{"/api", "", "web"},
		{"/apix", "", "web"},
		{"/", "www.example.com", "site"},
		{"/x", "WWW.Example.COM:8080", "site"},
		{"/", "example.com", "web"},
		{"/api/users", "www.example.com", "api"}, // first rule wins
		{"/admin/panel", "admin.test", "admin"},
		{"/admin", "other.test", "web"},
		{"/other", "admin.test", "web"},
	}
	for _, tt := range tests {
		status, body := do(t, c, http.MethodGet, base+tt.path, tt.host, nil)
		assert.Equal(t, http.StatusOK, status)
		assert.Equal(t, tt.want, body, "%s %s", tt.host, tt.path)
	}

	require.NoError(t, l.SetRules([]lb.Rule{{PathPrefix: "/", TargetGroup: groups["admin"]}}, nil))
	_, body := get(t, c, base+"/api/users")
	assert.Equal(t, "admin", body)
	require.NoError(t, l.SetRules(nil, nil))
	status, _ := get(t, c, base+"/")
	assert.Equal(t, http.StatusNotFound, status, "no rule and no default group")
}

func TestRoundRobinAndCounts(t *testing.T) {
	t.Parallel()
	g := newGroup(t, "web", lb.HTTP)
	fail := func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/fail" {
			http.Error(w, "boom", http.StatusInternalServerError)
			return true
		}
		return false
	}
	for _, name := range []string{"a", "b", "c"} {
		registerHealthy(t, g, name, addr(backend(t, name, fail)))
	}
	b := newBalancer(t)
	base := listenHTTP(t, b, nil, g)
	c := newClient(t)

	seen := map[string]int{}
	for range 30 {
		status, body := get(t, c, base+"/")
		require.Equal(t, http.StatusOK, status)
		seen[body]++
	}
	assert.Equal(t, map[string]int{"a": 10, "b": 10, "c": 10}, seen)
	for range 6 {
		status, _ := get(t, c, base+"/fail")
		require.Equal(t, http.StatusInternalServerError, status, "the target's 5xx is passed on")
	}

	require.NoError(t, b.Shutdown(t.Context())) // waits until every request is accounted
	for _, d := range g.Targets() {
		assert.Equal(t, lb.TargetStats{Requests: 12, Errors: 2, Active: 0}, d.Stats, d.Target.ID)
		assert.Equal(t, lb.StateHealthy, d.Health.State)
	}
	s, ok := g.Stats("a")
	assert.True(t, ok)
	assert.EqualValues(t, 12, s.Requests)
}

func TestLeastOutstandingRequests(t *testing.T) {
	t.Parallel()
	tests := []struct {
		algorithm  lb.Algorithm
		wantOnBusy int // of 10 fast requests
	}{
		{lb.LeastOutstandingRequests, 0},
		{lb.RoundRobin, 5},
	}
	for _, tt := range tests {
		t.Run(string(tt.algorithm), func(t *testing.T) {
			t.Parallel()
			started := make(chan struct{}, 2)
			release := make(chan struct{})
			slow := func(w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path == "/slow" {
					started <- struct{}{}
					<-release
				}
				return false
			}
			g := newGroup(t, "web", lb.HTTP, lb.WithAlgorithm(tt.algorithm))
			registerHealthy(t, g, "busy", addr(backend(t, "busy", slow)))
			b := newBalancer(t)
			base := listenHTTP(t, b, nil, g)
			c := newClient(t)

			// Two slow requests hold the only target, then an idle one joins.
			done := make(chan int, 2)
			for range 2 {
				go func() {
					resp, err := c.Get(base + "/slow")
					if err != nil {
						done <- 0
						return
					}
					resp.Body.Close()
					done <- resp.StatusCode
				}()
			}
			<-started
			<-started
			registerHealthy(t, g, "idle", addr(backend(t, "idle", nil)))

			onBusy := 0
			for range 10 {
				status, body := get(t, c, base+"/fast")
				require.Equal(t, http.StatusOK, status)
				if body == "busy" {
					onBusy++
				}
			}
			close(release)
			assert.Equal(t, http.StatusOK, <-done)
			assert.Equal(t, http.StatusOK, <-done)
			assert.Equal(t, tt.wantOnBusy, onBusy)
		})
	}
}

func TestNoHealthyTarget(t *testing.T) {
	t.Parallel()
	empty := newGroup(t, "empty", lb.HTTP)
	sick := newGroup(t, "sick", lb.HTTP)
	// The health check gets 500, so the target never leaves initial.
	s := backend(t, "sick", func(w http.ResponseWriter, r *http.Request) bool {
		if r.Header.Get("User-Agent") == "stevedore-lb-healthchecker/1.0" {
			w.WriteHeader(http.StatusInternalServerError)
			return true
		}
		return false
	})
	require.NoError(t, sick.Register(lb.Target{ID: "sick-1", Addr: addr(s)}))
	b := newBalancer(t)
	base := listenHTTP(t, b, []lb.Rule{{PathPrefix: "/sick", TargetGroup: sick}}, empty)
	c := newClient(t)
	for _, path := range []string{"/", "/sick"} {
		status, _ := get(t, c, base+path)
		assert.Equal(t, http.StatusServiceUnavailable, status, path)
	}
	st, _ := sick.Stats("sick-1")
	assert.Zero(t, st.Requests)
}

func TestBadGatewayAndRetry(t *testing.T) {
	t.Parallel()
	g := newGroup(t, "web", lb.HTTP)
	registerHealthy(t, g, "live", addr(backend(t, "live", nil)))
	dead := backend(t, "dead", nil)
	registerHealthy(t, g, "dead", addr(dead))
	dead.Close() // still healthy until its next check, 30 s away
	b := newBalancer(t)
	base := listenHTTP(t, b, nil, g)
	c := newClient(t)

	for range 6 {
		status, body := get(t, c, base+"/")
		require.Equal(t, http.StatusOK, status, "GET is retried on another target")
		require.Equal(t, "live", body)
	}
	deadStats, _ := g.Stats("dead")
	assert.Positive(t, deadStats.Requests)
	assert.Equal(t, deadStats.Requests, deadStats.Errors, "every attempt on the dead target failed")

	var statuses []int
	for range 2 {
		status, _ := do(t, c, http.MethodPost, base+"/", "", strings.NewReader("payload"))
		statuses = append(statuses, status)
	}
	assert.ElementsMatch(t, []int{http.StatusOK, http.StatusBadGateway}, statuses, "a POST with a body is not retried")

	require.NoError(t, g.Deregister("live"))
	status, _ := get(t, c, base+"/")
	assert.Equal(t, http.StatusBadGateway, status, "no other target to try")
}

func TestForwardedHeaders(t *testing.T) {
	t.Parallel()
	g := newGroup(t, "web", lb.HTTP)
	echo := backend(t, "echo", func(w http.ResponseWriter, r *http.Request) bool {
		_ = json.NewEncoder(w).Encode(map[string]string{
			"host":  r.Host,
			"for":   r.Header.Get("X-Forwarded-For"),
			"proto": r.Header.Get("X-Forwarded-Proto"),
			"fhost": r.Header.Get("X-Forwarded-Host"),
			"port":  r.Header.Get("X-Forwarded-Port"),
		})
		return true
	})
	registerHealthy(t, g, "echo", addr(echo))
	b := newBalancer(t)
	l, err := b.AddHTTPListener("127.0.0.1:0", nil, g)
	require.NoError(t, err)
	c := newClient(t)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+l.Addr().String()+"/", nil)
	require.NoError(t, err)
	req.Host = "shop.example.com"
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var got map[string]string
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
	_, port, _ := strings.Cut(l.Addr().String(), ":")
	assert.Equal(t, map[string]string{
		"host": "shop.example.com", "for": "203.0.113.9, 127.0.0.1", "proto": "http",
		"fhost": "shop.example.com", "port": port,
	}, got)
}

func TestHTTPDraining(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	g := newGroup(t, "web", lb.HTTP) // default delay: 300 s
	old := backend(t, "old", func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/slow" {
			started <- struct{}{}
			<-release
			_, _ = w.Write([]byte("old, slowly"))
			return true
		}
		return false
	})
	registerHealthy(t, g, "old", addr(old))
	b := newBalancer(t)
	base := listenHTTP(t, b, nil, g)
	c := newClient(t)

	type result struct {
		status int
		body   string
	}
	inflight := make(chan result, 1)
	go func() {
		resp, err := c.Get(base + "/slow")
		if err != nil {
			inflight <- result{}
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		inflight <- result{resp.StatusCode, string(body)}
	}()
	<-started
	registerHealthy(t, g, "new", addr(backend(t, "new", nil)))
	require.NoError(t, g.Deregister("old"))
	assert.Equal(t, lb.StateDraining, g.Health("old").State)
	assert.Equal(t, lb.ReasonDeregistrationInProgress, g.Health("old").Reason)

	for range 4 {
		status, body := get(t, c, base+"/")
		require.Equal(t, http.StatusOK, status)
		assert.Equal(t, "new", body, "a draining target gets no new requests")
	}
	assert.Equal(t, lb.StateDraining, g.Health("old").State, "in flight: still draining")
	close(release)
	r := <-inflight
	assert.Equal(t, result{http.StatusOK, "old, slowly"}, r, "the in-flight request completes")
	waitState(t, g, "old", lb.StateUnused) // once idle, long before the 300 s delay
	require.Len(t, g.Targets(), 1)
}
