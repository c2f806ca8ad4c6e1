package lb_test

import (
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/errdefs"
	"github.com/stevedore-io/stevedore/lb"
)

// blueGreenGroups returns two groups, each with one healthy target that
// answers with the group's name.
func blueGreenGroups(t *testing.T) (blue, green *lb.TargetGroup) {
	t.Helper()
	blue, green = newGroup(t, "blue", lb.HTTP), newGroup(t, "green", lb.HTTP)
	registerHealthy(t, blue, "b1", addr(backend(t, "blue", nil)))
	registerHealthy(t, green, "g1", addr(backend(t, "green", nil)))
	return blue, green
}

func newForward(t *testing.T, blue, green *lb.TargetGroup, wb, wg int) *lb.ForwardAction {
	t.Helper()
	f, err := lb.NewForwardAction("prod", lb.WeightedTargetGroup{TargetGroup: blue, Weight: wb}, lb.WeightedTargetGroup{TargetGroup: green, Weight: wg})
	require.NoError(t, err)
	return f
}

// count sends n requests from each of workers goroutines and counts the
// answers by body; every request must succeed.
func count(t *testing.T, url string, workers, n int) map[string]int {
	t.Helper()
	c := newClient(t)
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range n {
				// assert, not require: this is not the test's goroutine.
				resp, err := c.Get(url)
				if !assert.NoError(t, err) {
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				body := string(b)
				if !assert.NoError(t, err) || !assert.Equal(t, http.StatusOK, resp.StatusCode, body) {
					return
				}
				mu.Lock()
				seen[body]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return seen
}

func TestForwardActionSplitsByWeight(t *testing.T) {
	t.Parallel()
	blue, green := blueGreenGroups(t)
	f := newForward(t, blue, green, 900, 100)
	b := newBalancer(t)
	url := listenHTTP(t, b, []lb.Rule{{PathPrefix: "/", Forward: f}}, nil)

	seen := count(t, url, 1, 500)
	assert.InDelta(t, 50, seen["green"], 3, "10%% of 500 requests, give or take the sequence's discrepancy: %v", seen)

	// Concurrent requests share the sequence: the split holds.
	require.NoError(t, f.SetWeights(map[string]int{"blue": 300, "green": 700}))
	seen = count(t, url, 8, 100)
	assert.Equal(t, 800, seen["blue"]+seen["green"])
	assert.InDelta(t, 560, seen["green"], 10, "70%% of 800: %v", seen)

	// Weight 0 sends nothing.
	require.NoError(t, f.SetWeights(map[string]int{"blue": 0, "green": 1000}))
	assert.Equal(t, map[string]int{"green": 100}, count(t, url, 2, 50))
	assert.Equal(t, map[string]int{"blue": 0, "green": 1000}, f.Weights())
}

func TestForwardActionSkipsGroupsWithoutHealthyTargets(t *testing.T) {
	t.Parallel()
	blue, green := blueGreenGroups(t)
	empty := newGroup(t, "empty", lb.HTTP)
	f, err := lb.NewForwardAction("prod",
		lb.WeightedTargetGroup{TargetGroup: blue, Weight: 1},
		lb.WeightedTargetGroup{TargetGroup: empty, Weight: 999},
		lb.WeightedTargetGroup{TargetGroup: green, Weight: 0})
	require.NoError(t, err)
	b := newBalancer(t)
	url := listenHTTP(t, b, []lb.Rule{{PathPrefix: "/", Forward: f}}, nil)
	assert.Equal(t, map[string]int{"blue": 50}, count(t, url, 1, 50), "the empty group gets nothing while blue can serve")

	// Nothing can serve: the weights decide, and the empty group says 503.
	require.NoError(t, blue.Deregister("b1"))
	waitState(t, blue, "b1", lb.StateUnused)
	status, _ := get(t, newClient(t), url)
	assert.Equal(t, http.StatusServiceUnavailable, status)

	require.NoError(t, f.SetWeights(map[string]int{"blue": 0, "empty": 0}))
	status, body := get(t, newClient(t), url)
	assert.Equal(t, http.StatusServiceUnavailable, status, "every weight 0")
	assert.Contains(t, body, "no target group has a weight")
}

func TestForwardActionAsListenerDefault(t *testing.T) {
	t.Parallel()
	blue, green := blueGreenGroups(t)
	f := newForward(t, blue, green, 0, 1)
	b := newBalancer(t)
	l, err := b.AddHTTPListener("127.0.0.1:0", []lb.Rule{{PathPrefix: "/blue", TargetGroup: blue}}, blue)
	require.NoError(t, err)
	url := "http://" + l.Addr().String()
	c := newClient(t)
	_, body := get(t, c, url+"/x")
	assert.Equal(t, "blue", body)

	require.NoError(t, l.SetDefaultForward(f))
	_, body = get(t, c, url+"/x")
	assert.Equal(t, "green", body, "the default forward action replaces the default group")
	_, body = get(t, c, url+"/blue")
	assert.Equal(t, "blue", body, "rules still come first")
	// New rules keep the default forward action.
	require.NoError(t, l.SetRules(nil, blue))
	_, body = get(t, c, url+"/blue")
	assert.Equal(t, "green", body)

	require.NoError(t, l.SetDefaultForward(nil))
	_, body = get(t, c, url+"/x")
	assert.Equal(t, "blue", body)

	tcp := newGroup(t, "tcp", lb.TCP)
	tl, err := b.AddTCPListener("127.0.0.1:0", tcp)
	require.NoError(t, err)
	require.ErrorIs(t, tl.SetDefaultForward(f), lb.ErrInvalid)
}

func TestForwardActionValidation(t *testing.T) {
	t.Parallel()
	blue, green := newGroup(t, "blue", lb.HTTP), newGroup(t, "green", lb.HTTP)
	tcp := newGroup(t, "tcp", lb.TCP)
	w := func(g *lb.TargetGroup, n int) lb.WeightedTargetGroup {
		return lb.WeightedTargetGroup{TargetGroup: g, Weight: n}
	}
	tests := []struct {
		name   string
		action string
		groups []lb.WeightedTargetGroup
		field  string
	}{
		{"no name", "", []lb.WeightedTargetGroup{w(blue, 1)}, "forward.name"},
		{"no group", "f", nil, "forward.targetGroups"},
		{"too many groups", "f", []lb.WeightedTargetGroup{w(blue, 1), w(green, 1), w(tcp, 1), w(blue, 1), w(green, 1), w(tcp, 1)}, "forward.targetGroups"},
		{"nil group", "f", []lb.WeightedTargetGroup{{Weight: 1}}, "forward.targetGroups[0].targetGroup"},
		{"mixed protocols", "f", []lb.WeightedTargetGroup{w(blue, 1), w(tcp, 1)}, "forward.targetGroups[1].targetGroup"},
		{"twice", "f", []lb.WeightedTargetGroup{w(blue, 1), w(blue, 2)}, "forward.targetGroups[1].targetGroup"},
		{"weight too large", "f", []lb.WeightedTargetGroup{w(blue, lb.MaxWeight+1)}, "forward.targetGroups[0].weight"},
		{"negative weight", "f", []lb.WeightedTargetGroup{w(blue, -1)}, "forward.targetGroups[0].weight"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := lb.NewForwardAction(tt.action, tt.groups...)
			var fe *errdefs.FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tt.field, fe.Path)
		})
	}

	f := newForward(t, blue, green, 1, 0)
	for _, bad := range []map[string]int{{"nope": 1}, {"blue": 0, "green": 1001}} {
		require.ErrorIs(t, f.SetWeights(bad), lb.ErrInvalid)
		assert.Equal(t, map[string]int{"blue": 1, "green": 0}, f.Weights(), "a rejected change changes nothing")
	}
	_, err := lb.NewHandler([]lb.Rule{{PathPrefix: "/", TargetGroup: blue, Forward: f}}, nil)
	var fe *errdefs.FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "rules[0].forward", fe.Path)

	// An action forwards to one protocol: TCP actions serve TCP listeners.
	tcpAction, err := lb.NewForwardAction("t", w(tcp, 1))
	require.NoError(t, err)
	_, err = lb.NewHandler([]lb.Rule{{PathPrefix: "/", Forward: tcpAction}}, nil)
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "rules[0].forward", fe.Path)
	b := newBalancer(t)
	httpL, err := b.AddHTTPListener("127.0.0.1:0", nil, blue)
	require.NoError(t, err)
	require.ErrorAs(t, httpL.SetDefaultForward(tcpAction), &fe)
	assert.Equal(t, "defaultForward", fe.Path)
	tcpL, err := b.AddTCPListener("127.0.0.1:0", tcp)
	require.NoError(t, err)
	require.ErrorAs(t, tcpL.SetDefaultForward(f), &fe)
	assert.Equal(t, "defaultForward", fe.Path)
}

// TestForwardActionOnATCPListener shifts a TCP listener's connections
// from one group to the other with the weights.
func TestForwardActionOnATCPListener(t *testing.T) {
	t.Parallel()
	blue, green := newGroup(t, "blue", lb.TCP), newGroup(t, "green", lb.TCP)
	registerHealthy(t, blue, "b", tcpBackend(t, "blue"))
	registerHealthy(t, green, "g", tcpBackend(t, "green"))
	f, err := lb.NewForwardAction("db", lb.WeightedTargetGroup{TargetGroup: blue, Weight: 1000}, lb.WeightedTargetGroup{TargetGroup: green})
	require.NoError(t, err)
	assert.Equal(t, lb.TCP, f.Protocol())
	b := newBalancer(t)
	l, err := b.AddTCPListener("127.0.0.1:0", blue)
	require.NoError(t, err)
	require.NoError(t, l.SetDefaultForward(f))
	served := func() map[string]int {
		seen := map[string]int{}
		for range 10 {
			c := dialTCP(t, l.Addr().String())
			seen[c.line(t)]++
			c.Close()
		}
		return seen
	}
	assert.Equal(t, map[string]int{"blue": 10}, served())
	require.NoError(t, f.SetWeights(map[string]int{"blue": 500, "green": 500}))
	half := served()
	assert.InDelta(t, 5, half["green"], 2, "about half to green: %v", half)
	require.NoError(t, f.SetWeights(map[string]int{"blue": 0, "green": 1000}))
	assert.Equal(t, map[string]int{"green": 10}, served())
	require.NoError(t, l.SetDefaultForward(nil))
	assert.Equal(t, map[string]int{"blue": 10}, served(), "back to the listener's group")
}

// TestForwardActionWeightsChangeUnderLoad shifts the weights while
// requests flow: every request succeeds.
func TestForwardActionWeightsChangeUnderLoad(t *testing.T) {
	t.Parallel()
	blue, green := blueGreenGroups(t)
	f := newForward(t, blue, green, 1000, 0)
	b := newBalancer(t)
	url := listenHTTP(t, b, []lb.Rule{{PathPrefix: "/", Forward: f}}, nil)
	done := make(chan map[string]int)
	go func() { done <- count(t, url, 4, 200) }()
	for pct := 0; pct <= 1000; pct += 10 {
		require.NoError(t, f.SetWeights(map[string]int{"blue": 1000 - pct, "green": pct}))
	}
	seen := <-done
	assert.Equal(t, 800, seen["blue"]+seen["green"])
}
