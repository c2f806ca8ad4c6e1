package probe_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/stevedore-io/stevedore/health"
	"github.com/stevedore-io/stevedore/health/probe"
)

func ExampleNewNet() {
	for _, command := range [][]string{
		{"HTTP", "http://localhost:8080/healthz", "200-299"},
		{"TCP", "5432"},
		{"HTTP", "https://localhost/"},
	} {
		c, err := health.ParseCheck(command)
		if err != nil {
			fmt.Println(err)
			continue
		}
		p, err := probe.NewNet(c) // add probe.WithDialer to dial into a task
		if err != nil {
			fmt.Println(err)
			continue
		}
		switch p := p.(type) {
		case *probe.HTTP:
			fmt.Println(c.Kind, p.URL(), c.ExpectedStatus)
		case *probe.TCP:
			fmt.Println(c.Kind, p.Addr())
		}
	}
	// Output:
	// HTTP http://localhost:8080/healthz 200-299
	// TCP 127.0.0.1:5432
	// health: invalid command: "https://localhost/": the scheme must be http
}

// A Monitor per checked container, reporting status changes. (Not run: it
// runs on the real clock; the monitor's tests run it under testing/synctest.)
func ExampleNewMonitor() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	prober, err := probe.NewHTTP(8080, "/healthz", probe.WithExpectedStatus("200-299"))
	if err != nil {
		log.Fatal(err)
	}
	m, err := probe.NewMonitor(health.DefaultConfig(), prober, time.Now(),
		probe.OnStatusChange(func(prev, next health.State) {
			fmt.Printf("web: %s -> %s\n", prev.Status, next.Status)
		}))
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = m.Run(ctx) }()
}
