package lb_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/lb"
)

// memBackend serves h on addr of n until the test ends. Inside a synctest
// bubble the whole request path runs on fake time.
func memBackend(t *testing.T, n *memNet, addr string, h http.HandlerFunc) {
	t.Helper()
	s := &http.Server{Handler: h}
	l := n.listen(addr)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Serve(l)
	}()
	t.Cleanup(func() {
		_ = s.Close()
		<-done
	})
}

// serve sends a request through h and returns the recorded response.
func serve(h http.Handler, path string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "http://web.test"+path, nil))
	return w
}

func TestDeregistrationDelay(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		delay     time.Duration // 0: the default
		finishAt  time.Duration // when the in-flight request ends; 0: never
		wantGone  time.Duration // when the target is removed
		wantCode  int           // of the in-flight request
		wantFinal string
	}{
		{name: "idle before the delay", finishAt: 42 * time.Second, wantGone: 42 * time.Second, wantCode: http.StatusOK, wantFinal: "old done"},
		{name: "default delay cuts", wantGone: 300 * time.Second, wantCode: http.StatusBadGateway},
		{name: "configured delay cuts", delay: 20 * time.Second, wantGone: 20 * time.Second, wantCode: http.StatusBadGateway},
		{name: "zero delay cuts at once", delay: -1, wantGone: 0, wantCode: http.StatusBadGateway},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				n := newMemNet()
				started := make(chan struct{})
				memBackend(t, n, "10.0.0.1:80", func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path != "/slow" {
						_, _ = io.WriteString(w, "old")
						return
					}
					close(started)
					if tt.finishAt == 0 {
						<-r.Context().Done()
						return
					}
					time.Sleep(tt.finishAt)
					_, _ = io.WriteString(w, "old done")
				})
				memBackend(t, n, "10.0.0.2:80", func(w http.ResponseWriter, r *http.Request) {
					_, _ = io.WriteString(w, "new")
				})
				opts := []lb.GroupOption{lb.WithDialer(n.dial)}
				switch {
				case tt.delay > 0:
					opts = append(opts, lb.WithDeregistrationDelay(tt.delay))
				case tt.delay < 0:
					opts = append(opts, lb.WithDeregistrationDelay(0))
				}
				g, err := lb.NewTargetGroup("web", lb.HTTP, opts...)
				require.NoError(t, err)
				defer g.Close()
				// The in-flight request outlasts the default target timeout.
				h, err := lb.NewHandler(nil, g, lb.WithLimits(lb.Limits{TargetTimeout: time.Hour}))
				require.NoError(t, err)

				require.NoError(t, g.Register(lb.Target{ID: "old", Addr: "10.0.0.1:80"}))
				synctest.Wait()
				inflight := make(chan *httptest.ResponseRecorder)
				go func() { inflight <- serve(h, "/slow") }()
				<-started
				require.NoError(t, g.Register(lb.Target{ID: "new", Addr: "10.0.0.2:80"}))
				synctest.Wait()
				require.Equal(t, lb.StateHealthy, g.Health("new").State)

				start := time.Now()
				var goneAt time.Duration
				go func() {
					_, _ = g.WaitState(t.Context(), "old", lb.StateUnused)
					goneAt = time.Since(start)
				}()
				require.NoError(t, g.Deregister("old"))
				synctest.Wait()
				if tt.wantGone > 0 {
					assert.Equal(t, lb.StateDraining, g.Health("old").State)
					for range 3 {
						assert.Equal(t, "new", serve(h, "/").Body.String(), "new requests avoid the draining target")
					}
				}
				w := <-inflight
				synctest.Wait()
				assert.Equal(t, tt.wantGone, goneAt)
				assert.Equal(t, lb.StateUnused, g.Health("old").State)
				assert.Equal(t, tt.wantCode, w.Code)
				assert.Equal(t, tt.wantFinal, w.Body.String())
			})
		})
	}
}

func TestReregisterCancelsDraining(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		release := make(chan struct{})
		memBackend(t, n, "10.0.0.1:80", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				<-release
			}
			_, _ = io.WriteString(w, "a")
		})
		g, err := lb.NewTargetGroup("web", lb.HTTP, lb.WithDialer(n.dial))
		require.NoError(t, err)
		defer g.Close()
		// The in-flight request outlasts the default target timeout.
		h, err := lb.NewHandler(nil, g, lb.WithLimits(lb.Limits{TargetTimeout: 2 * time.Hour}))
		require.NoError(t, err)
		target := lb.Target{ID: "a", Addr: "10.0.0.1:80"}
		require.NoError(t, g.Register(target))
		synctest.Wait()
		done := make(chan int)
		go func() { done <- serve(h, "/slow").Code }()
		synctest.Wait()
		require.NoError(t, g.Deregister("a"))
		require.NoError(t, g.Deregister("a"), "deregistering twice is a no-op")
		assert.Equal(t, lb.StateDraining, g.Health("a").State)

		require.NoError(t, g.Register(target))
		synctest.Wait()
		assert.Equal(t, lb.StateHealthy, g.Health("a").State)
		time.Sleep(time.Hour) // past the delay: nothing happens
		close(release)
		assert.Equal(t, http.StatusOK, <-done)
		synctest.Wait()
		assert.Equal(t, lb.StateHealthy, g.Health("a").State)
		assert.Equal(t, "a", serve(h, "/").Body.String())
		s, _ := g.Stats("a")
		assert.Equal(t, lb.TargetStats{Requests: 2}, s)
	})
}

func TestFailOpen(t *testing.T) {
	t.Parallel()
	for _, failOpen := range []bool{false, true} {
		t.Run(map[bool]string{false: "closed", true: "open"}[failOpen], func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				n := newMemNet()
				memBackend(t, n, "10.0.0.1:80", func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/health" {
						w.WriteHeader(http.StatusServiceUnavailable)
						return
					}
					_, _ = io.WriteString(w, "sick but serving")
				})
				opts := []lb.GroupOption{lb.WithDialer(n.dial), lb.WithHealthCheck(lb.HealthCheck{Path: "/health"})}
				if failOpen {
					opts = append(opts, lb.WithFailOpen())
				}
				g, err := lb.NewTargetGroup("web", lb.HTTP, opts...)
				require.NoError(t, err)
				defer g.Close()
				h, err := lb.NewHandler(nil, g)
				require.NoError(t, err)
				require.NoError(t, g.Register(lb.Target{ID: "a", Addr: "10.0.0.1:80"}))
				_, err = g.WaitState(t.Context(), "a", lb.StateUnhealthy)
				require.NoError(t, err)
				w := serve(h, "/")
				if failOpen {
					assert.Equal(t, http.StatusOK, w.Code)
					assert.Equal(t, "sick but serving", w.Body.String())
				} else {
					assert.Equal(t, http.StatusServiceUnavailable, w.Code)
				}
			})
		})
	}
}
