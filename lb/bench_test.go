package lb_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stevedore-io/stevedore/lb"
)

// BenchmarkProxy compares, in the same run, requests through an HTTP
// listener to one target with requests sent straight to that target (an
// httptest server on loopback answering 256 bytes): a closed loop of
// `clients` Go HTTP clients, the two paths taking turns in 4 rounds. One op
// is one request on each path; ns/op is left out as meaningless. It reports
// the p50 latency and the throughput of both paths and their ratios (the
// targets: p50-ratio <= 1.2, rps-ratio >= 0.8).
//
// The target's service time varies: work=0s answers at once, which shows
// the proxy's raw cost (a second HTTP hop, on the same CPUs as the clients
// and the target); work=1ms stands for a task that does some work.
func BenchmarkProxy(b *testing.B) {
	for _, work := range []time.Duration{0, time.Millisecond} {
		for _, clients := range []int{1, 4, 8} {
			b.Run(fmt.Sprintf("work=%s/clients=%d", work, clients), func(b *testing.B) { benchmarkProxy(b, work, clients) })
		}
	}
}

const (
	benchRounds = 4
	benchBody   = 256
)

func benchmarkProxy(b *testing.B, work time.Duration, clients int) {
	body := make([]byte, benchBody)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if work > 0 && r.Header.Get("User-Agent") != "stevedore-lb-healthchecker/1.0" {
			time.Sleep(work)
		}
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	g, err := lb.NewTargetGroup("web", lb.HTTP)
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	if err := g.Register(lb.Target{ID: "task-1", Addr: addr(srv)}); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(b.Context(), waitTimeout)
	defer cancel()
	if _, err := g.WaitState(ctx, "task-1", lb.StateHealthy); err != nil {
		b.Fatal(err)
	}
	balancer, err := lb.New()
	if err != nil {
		b.Fatal(err)
	}
	defer balancer.Close()
	l, err := balancer.AddHTTPListener("127.0.0.1:0", nil, g)
	if err != nil {
		b.Fatal(err)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: waitTimeout}
	direct, viaLB := srv.URL+"/", "http://"+l.Addr().String()+"/"

	// Warm both paths up: connections, buffers.
	for _, url := range []string{direct, viaLB} {
		if _, _, err := loadPhase(client, url, 20*clients, clients); err != nil {
			b.Fatal(err)
		}
	}
	perRound := max(b.N/benchRounds, clients)
	var dLat, lLat []time.Duration
	var dTime, lTime time.Duration
	b.ResetTimer()
	for range benchRounds {
		lat, d, err := loadPhase(client, direct, perRound, clients)
		if err != nil {
			b.Fatal(err)
		}
		dLat, dTime = append(dLat, lat...), dTime+d
		lat, d, err = loadPhase(client, viaLB, perRound, clients)
		if err != nil {
			b.Fatal(err)
		}
		lLat, lTime = append(lLat, lat...), lTime+d
	}
	b.StopTimer()
	dP50, lP50 := percentile(dLat, 50), percentile(lLat, 50)
	dRPS := float64(len(dLat)) / dTime.Seconds()
	lRPS := float64(len(lLat)) / lTime.Seconds()
	b.ReportMetric(float64(dP50.Nanoseconds())/1e3, "direct-p50-µs")
	b.ReportMetric(float64(lP50.Nanoseconds())/1e3, "lb-p50-µs")
	b.ReportMetric(float64(lP50)/float64(dP50), "p50-ratio")
	b.ReportMetric(dRPS, "direct-req/s")
	b.ReportMetric(lRPS, "lb-req/s")
	b.ReportMetric(lRPS/dRPS, "rps-ratio")
	b.ReportMetric(0, "ns/op") // one op is two requests, run concurrently
}

// loadPhase sends n GET requests to url from clients clients and
// returns every latency and the phase's duration.
func loadPhase(c *http.Client, url string, n, clients int) ([]time.Duration, time.Duration, error) {
	var next atomic.Int64
	lats := make([][]time.Duration, clients)
	errs := make([]error, clients)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range clients {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				t0 := time.Now()
				resp, err := c.Get(url)
				if err != nil {
					errs[w] = err
					return
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK {
					errs[w] = fmt.Errorf("GET %s: %d %v", url, resp.StatusCode, err)
					return
				}
				lats[w] = append(lats[w], time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	for _, err := range errs {
		if err != nil {
			return nil, 0, err
		}
	}
	return slices.Concat(lats...), elapsed, nil
}

func percentile(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}
