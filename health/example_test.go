package health_test

import (
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/stevedore-io/stevedore/health"
)

// Feeding check results through the state machine: the first failure falls
// in the start period and does not count, two counted failures make the
// container UNHEALTHY, one success makes it HEALTHY again.
func Example() {
	cfg := health.Config{Interval: 10 * time.Second, Timeout: 2 * time.Second, Retries: 2, StartPeriod: 15 * time.Second}
	if err := cfg.Validate(); err != nil {
		log.Fatal(err)
	}
	started := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := health.NewState(started)

	for _, r := range []health.Result{
		{ExitCode: 1, Output: "connection refused"},
		{ExitCode: 1, Output: "connection refused"},
		{OK: true, TimedOut: true},
		{OK: true, Output: "ok"},
	} {
		now := s.NextCheck(cfg, started)
		r.Time = now
		s = s.Observe(cfg, r, now)
		last, _ := s.Last()
		fmt.Printf("%-3s passed=%-5t counted=%-5t -> %-9s failures=%d\n",
			now.Sub(started), last.Passed, last.Counted, s.Status, s.Failures)
	}
	// Output:
	// 10s passed=false counted=false -> UNKNOWN   failures=0
	// 20s passed=false counted=true  -> UNKNOWN   failures=1
	// 30s passed=false counted=true  -> UNHEALTHY failures=2
	// 40s passed=true  counted=true  -> HEALTHY   failures=0
}

func ExampleConfig_Validate() {
	cfg := health.DefaultConfig()
	cfg.Interval = 2 * time.Second
	cfg.Retries = 20
	err := cfg.Validate()
	fmt.Println(errors.Is(err, health.ErrInvalidConfig))
	var rangeErr *health.RangeError
	if errors.As(err, &rangeErr) {
		fmt.Println("first bad field:", rangeErr.Field)
	}
	fmt.Println(err)
	// Output:
	// true
	// first bad field: interval
	// health: invalid config: interval 2s out of range [5s, 5m0s]
	// health: invalid config: retries 20 out of range [1, 10]
}

func ExampleParseCommand() {
	for _, command := range [][]string{
		{"CMD", "pg_isready", "-q"},
		{"CMD-SHELL", "curl -f http://localhost/ || exit 1"},
		{"HTTP", "http://localhost:8080/healthz"},
		{"NONE"},
	} {
		kind, argv, err := health.ParseCommand(command)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%s %q\n", kind, argv)
	}
	// Output:
	// CMD ["pg_isready" "-q"]
	// CMD-SHELL ["/bin/sh" "-c" "curl -f http://localhost/ || exit 1"]
	// HTTP []
	// health: invalid command: "NONE": must be "CMD", "CMD-SHELL", "HTTP" or "TCP"
}

func ExampleParseCheck() {
	for _, command := range [][]string{
		{"HTTP", "http://localhost:8080/healthz", "200-299"},
		{"TCP", "5432"},
		{"HTTP", "https://localhost/"},
	} {
		c, err := health.ParseCheck(command) // probe.NewNet makes its prober
		if err != nil {
			fmt.Println(err)
			continue
		}
		switch c.Kind {
		case health.CommandHTTP:
			fmt.Println(c.Kind, c.Host, c.Port, c.Path, c.ExpectedStatus)
		case health.CommandTCP:
			fmt.Println(c.Kind, c.Host, c.Port)
		}
	}
	// Output:
	// HTTP localhost 8080 /healthz 200-299
	// TCP 127.0.0.1 5432
	// health: invalid command: "https://localhost/": the scheme must be http
}

func ExampleTaskStatus() {
	status := health.TaskStatus(
		health.ContainerStatus{Name: "web", Essential: true, Checked: true, Status: health.Healthy},
		health.ContainerStatus{Name: "db", Essential: true, Checked: true, Status: health.Unknown},
		health.ContainerStatus{Name: "debug", Essential: false, Checked: true, Status: health.Unhealthy},
		health.ContainerStatus{Name: "logs", Essential: true, Checked: false},
	)
	fmt.Println(status)
	// Output:
	// UNKNOWN
}
