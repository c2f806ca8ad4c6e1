package probe_test

import (
	"fmt"

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
