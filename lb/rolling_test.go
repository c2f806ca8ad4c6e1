package lb_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/lb"
)

// TestZeroFailedRequestsWhileRolling replaces every target several times,
// the way a rolling deployment does (register the new task, wait until it
// is healthy, deregister an old one, wait until it is drained, stop it),
// while a bounded stream of GET and POST requests flows. Not one request
// may fail.
func TestZeroFailedRequestsWhileRolling(t *testing.T) {
	t.Parallel()
	const (
		workers      = 4
		maxPerWorker = 3000 // bounds the stream if rolling is slow
		minPerWorker = 10
		perRound     = 40 // requests completed after each step of a roll
		rounds       = 6
		startTargets = 2
		slowEveryNth = 10 // some requests are in flight for a while
		slowRequest  = 2 * time.Millisecond
	)
	for _, algorithm := range []lb.Algorithm{lb.RoundRobin, lb.LeastOutstandingRequests} {
		t.Run(string(algorithm), func(t *testing.T) {
			t.Parallel()
			g := newGroup(t, "web", lb.HTTP, lb.WithAlgorithm(algorithm))
			b := newBalancer(t)
			base := listenHTTP(t, b, nil, g)

			type task struct {
				id  string
				srv *httptest.Server
			}
			var live []task
			start := func(i int) {
				id := fmt.Sprintf("task-%d", i)
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Query().Get("slow") != "" {
						time.Sleep(slowRequest) // work that keeps the request in flight
					}
					body, _ := io.ReadAll(r.Body)
					_, _ = fmt.Fprintf(w, "%s:%d", id, len(body))
				}))
				t.Cleanup(srv.Close)
				registerHealthy(t, g, id, addr(srv))
				live = append(live, task{id, srv})
			}
			for i := range startTargets {
				start(i)
			}

			var stop atomic.Bool
			var sent, failed atomic.Int64
			var failures sync.Map
			var wg sync.WaitGroup
			progress := make(chan struct{}, 1)
			workersDone := make(chan struct{})
			// await lets k more requests complete.
			await := func(k int64) {
				t.Helper()
				for want := sent.Load() + k; sent.Load() < want; {
					select {
					case <-progress:
					case <-workersDone:
						t.Fatal("the request stream ended before the rolls")
					}
				}
			}
			c := newClient(t)
			for w := range workers {
				wg.Go(func() {
					for n := range maxPerWorker {
						if stop.Load() && n >= minPerWorker {
							return
						}
						url := base + "/"
						if n%slowEveryNth == 0 {
							url += "?slow=1"
						}
						var resp *http.Response
						var err error
						if (w+n)%2 == 0 {
							resp, err = c.Get(url)
						} else {
							resp, err = c.Post(url, "text/plain", strings.NewReader("hello"))
						}
						sent.Add(1)
						select {
						case progress <- struct{}{}:
						default:
						}
						if err != nil {
							failed.Add(1)
							failures.Store(err.Error(), true)
							continue
						}
						body, err := io.ReadAll(resp.Body)
						resp.Body.Close()
						if err != nil || resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "task-") {
							failed.Add(1)
							failures.Store(fmt.Sprintf("%d %q %v", resp.StatusCode, body, err), true)
						}
					}
				})
			}
			go func() {
				wg.Wait()
				close(workersDone)
			}()

			rollStart := time.Now()
			for i := range rounds {
				start(startTargets + i)
				await(perRound)
				old := live[0]
				live = live[1:]
				require.NoError(t, g.Deregister(old.id))
				await(perRound)
				waitState(t, g, old.id, lb.StateUnused)
				old.srv.Close() // the task stops only once drained
			}
			stop.Store(true)
			wg.Wait()

			failures.Range(func(k, _ any) bool { t.Log("failure:", k); return true })
			assert.Zero(t, failed.Load(), "failed requests out of %d", sent.Load())
			assert.GreaterOrEqual(t, sent.Load(), int64(workers*minPerWorker))
			ids := []string{}
			for _, d := range g.Targets() {
				ids = append(ids, d.Target.ID)
			}
			assert.Equal(t, []string{fmt.Sprintf("task-%d", rounds), fmt.Sprintf("task-%d", rounds+1)}, ids)
			t.Logf("%d requests in %s, %d rolls, %d failed", sent.Load(), time.Since(rollStart).Round(time.Millisecond), rounds, failed.Load())
		})
	}
}
