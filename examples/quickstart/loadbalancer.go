package main

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/stevedore-io/stevedore/lb"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/task"
)

// targetGroupName is the target group the service's tasks join.
const targetGroupName = "webapp-tg"

// The target group's settings: checks as often as ALB allows, healthy
// after two passes, and a short deregistration delay so that a roll-out
// does not wait ALB's default 300 s per old task.
var (
	targetHealthCheck = lb.HealthCheck{
		Path:               "/",
		Interval:           lb.MinHealthCheckInterval,
		Timeout:            lb.MinHealthCheckTimeout,
		HealthyThreshold:   2,
		UnhealthyThreshold: 2,
		Matcher:            "200",
	}
	deregistrationDelay = 5 * time.Second
)

// streamEvery is the pace of the request stream sent through the load
// balancer during the roll-out.
const streamEvery = 25 * time.Millisecond

// startLoadBalancer creates the target group and an HTTP listener on
// cfg.Listen that forwards to it.
func (d *demo) startLoadBalancer() error {
	tg, err := lb.NewTargetGroup(targetGroupName, lb.HTTP,
		lb.WithHealthCheck(targetHealthCheck),
		lb.WithDeregistrationDelay(deregistrationDelay),
		lb.WithGroupLogger(d.cfg.Logger))
	if err != nil {
		return fmt.Errorf("target group: %w", err)
	}
	d.targets = tg
	d.balancer, err = lb.New(lb.WithLogger(d.cfg.Logger))
	if err != nil {
		return fmt.Errorf("load balancer: %w", err)
	}
	d.listener, err = d.balancer.AddHTTPListener(d.cfg.Listen, nil, tg)
	if err != nil {
		return fmt.Errorf("load balancer listener on %s: %w", d.cfg.Listen, err)
	}
	fmt.Fprintf(d.out, "   load balancer: HTTP listener on %s -> target group %s (health check GET %s every %s, healthy after %d, deregistration delay %s)\n",
		d.listener.Addr(), tg.Name(), targetHealthCheck.Path, targetHealthCheck.Interval, targetHealthCheck.HealthyThreshold, deregistrationDelay)
	return nil
}

// lbURL is the load balancer's address for the demo's requests.
func (d *demo) lbURL() string { return "http://" + d.listener.Addr().String() + "/" }

// serviceLoadBalancers ties the service's web container to the target group.
func serviceLoadBalancers() []service.LoadBalancer {
	return []service.LoadBalancer{{TargetGroup: targetGroupName, ContainerName: "web", ContainerPort: webappPort}}
}

// throughLoadBalancer sends cfg.Requests requests per task through the
// listener, prints who answered, and checks that every task of version
// answered some (round robin) and nothing else did.
func (d *demo) throughLoadBalancer(ctx context.Context, tasks []*task.Task, version string) error {
	client := &http.Client{Timeout: requestTimeout, Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()
	n := d.cfg.Requests * len(tasks)
	fmt.Fprintf(d.out, "   load balancing: %d requests to %s\n", n, d.lbURL())
	want := "webapp " + version + " on "
	answered := map[string]int{}
	for range n {
		answer, err := get(ctx, client, d.lbURL())
		if err != nil {
			return fmt.Errorf("GET %s: %w", d.lbURL(), err)
		}
		if !strings.HasPrefix(answer, want) {
			return fmt.Errorf("the load balancer answered %q, want an answer from %s", answer, version)
		}
		answered[answer]++
	}
	for _, a := range slices.Sorted(maps.Keys(answered)) {
		fmt.Fprintf(d.out, "   via LB   %3d x %q\n", answered[a], a)
	}
	if len(answered) != len(tasks) {
		return fmt.Errorf("%d tasks answered through the load balancer, want all %d", len(answered), len(tasks))
	}
	d.printTargets()
	return nil
}

// printTargets shows the target group as the load balancer sees it.
func (d *demo) printTargets() {
	tw := tabwriter.NewWriter(d.out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "   TARGET (%s)\tADDRESS\tSTATE\tREQUESTS\tERRORS\n", d.targets.Name())
	for _, t := range d.targets.Targets() {
		fmt.Fprintf(tw, "   %s\t%s\t%s\t%d\t%d\n", t.Target.ID, t.Target.Addr, t.Health.State, t.Stats.Requests, t.Stats.Errors)
	}
	tw.Flush()
}

// stream is a steady, bounded flow of requests through the load balancer,
// counting the answers by version and the failures.
type stream struct {
	mu       sync.Mutex
	versions map[string]int // "v1" -> answers
	failed   int
	firstErr error
	cancel   context.CancelFunc
	done     chan struct{}
}

// startStream sends a request every streamEvery until stopped, at most
// max requests.
func (d *demo) startStream(ctx context.Context, max int) *stream {
	ctx, cancel := context.WithCancel(ctx)
	s := &stream{versions: map[string]int{}, cancel: cancel, done: make(chan struct{})}
	client := &http.Client{Timeout: requestTimeout, Transport: &http.Transport{Proxy: nil}}
	go func() {
		defer close(s.done)
		defer client.CloseIdleConnections()
		tick := time.NewTicker(streamEvery)
		defer tick.Stop()
		for range max {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			answer, err := get(ctx, client, d.lbURL())
			if ctx.Err() != nil {
				return // stopped mid-request: not the service's failure
			}
			s.record(answer, err)
		}
	}()
	return s
}

func (s *stream) record(answer string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.failed++
		if s.firstErr == nil {
			s.firstErr = err
		}
		return
	}
	version := "other"
	if f := strings.Fields(answer); len(f) >= 2 && f[0] == "webapp" {
		version = f[1]
	}
	s.versions[version]++
}

// stop ends the stream and returns its counts.
func (s *stream) stop() (versions map[string]int, failed int, firstErr error) {
	s.cancel()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.versions), s.failed, s.firstErr
}

// summary formats the stream's counts, as "v1 120, v2 340, failed 0".
func (s *stream) summary() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var parts []string
	total := s.failed
	for _, v := range slices.Sorted(maps.Keys(s.versions)) {
		parts = append(parts, fmt.Sprintf("%s %d", v, s.versions[v]))
		total += s.versions[v]
	}
	parts = append(parts, fmt.Sprintf("failed %d", s.failed))
	return fmt.Sprintf("%d requests: %s", total, strings.Join(parts, ", "))
}

// closeLoadBalancer stops the listener and the target group's checks.
func (d *demo) closeLoadBalancer() error {
	var err error
	if d.balancer != nil {
		err = d.balancer.Close()
	}
	if d.targets != nil {
		if cerr := d.targets.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
