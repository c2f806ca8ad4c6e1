package lb_test

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain fails the run when goroutines outlive the tests: first it waits
// for the package's own (health checkers, proxy loops, connection copiers),
// which take a moment to end once their connections close, then goleak
// checks every goroutine, the standard library's and dependencies' too.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaks := leakedGoroutines(5 * time.Second); leaks != "" {
			fmt.Fprintf(os.Stderr, "goroutines of package lb still running after the tests:\n%s\n", leaks)
			code = 1
		} else if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: goroutines still running after the tests: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// leakedGoroutines waits up to wait for the package's goroutines to end
// (closing connections takes a moment) and returns the stacks of those left.
func leakedGoroutines(wait time.Duration) string {
	deadline := time.Now().Add(wait)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var leaks []string
		for g := range strings.SplitSeq(string(buf), "\n\n") {
			if strings.Contains(g, "stevedore/lb.") && !strings.Contains(g, "leakedGoroutines") {
				leaks = append(leaks, g)
			}
		}
		if len(leaks) == 0 || time.Now().After(deadline) {
			return strings.Join(leaks, "\n\n")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
