package lb_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/stevedore-io/stevedore/lb"
)

// Example puts a load balancer in front of two tasks, sends requests
// through it, and drains one task the way a deployment stops it.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// Two tasks answering HTTP on loopback.
	var tasks []*httptest.Server
	for _, name := range []string{"task-a", "task-b"} {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "hello from %s", name)
		}))
		defer s.Close()
		tasks = append(tasks, s)
	}

	web, err := lb.NewTargetGroup("web", lb.HTTP,
		lb.WithHealthCheck(lb.HealthCheck{Path: "/", Matcher: "200-299"}),
		lb.WithDeregistrationDelay(30*time.Second))
	if err != nil {
		panic(err)
	}
	defer web.Close()
	for i, s := range tasks {
		id := fmt.Sprintf("task-%c", 'a'+i)
		if err := web.Register(lb.Target{ID: id, Addr: strings.TrimPrefix(s.URL, "http://")}); err != nil {
			panic(err)
		}
		h, err := web.WaitState(ctx, id, lb.StateHealthy, lb.StateUnhealthy)
		if err != nil {
			panic(err)
		}
		fmt.Println(id, h.State)
	}

	balancer, err := lb.New()
	if err != nil {
		panic(err)
	}
	defer balancer.Close()
	l, err := balancer.AddHTTPListener("127.0.0.1:0", nil, web)
	if err != nil {
		panic(err)
	}
	get := func() string {
		resp, err := http.Get("http://" + l.Addr().String() + "/")
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	fmt.Println(get())
	fmt.Println(get())

	// Stop task-a: no new requests, then gone once idle.
	if err := web.Deregister("task-a"); err != nil {
		panic(err)
	}
	h, _ := web.WaitState(ctx, "task-a", lb.StateUnused)
	fmt.Println("task-a", h.State, h.Reason)
	fmt.Println(get())

	for _, d := range web.Targets() {
		fmt.Printf("%s: %d requests, %d errors\n", d.Target.ID, d.Stats.Requests, d.Stats.Errors)
	}
	if err := balancer.Shutdown(ctx); err != nil {
		panic(err)
	}
	// Output:
	// task-a healthy
	// task-b healthy
	// hello from task-a
	// hello from task-b
	// task-a unused Target.NotRegistered
	// hello from task-b
	// task-b: 2 requests, 0 errors
}
