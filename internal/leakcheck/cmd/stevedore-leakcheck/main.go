// Command stevedore-leakcheck lists what Stevedore left behind on this
// host (see package leakcheck) and exits 1 when something is left, 2 when
// it could not look. Run it as root once tests are done, while their
// containerd still runs:
//
//	stevedore-leakcheck -address "$STEVEDORE_CONTAINERD_ADDRESS"
//
// Flags:
//
//	-address     containerd's socket (default $STEVEDORE_CONTAINERD_ADDRESS;
//	             empty skips containerd)
//	-namespace   prefix of the containerd namespaces to inspect ("stevedore")
//	-prefix      comma-separated name prefixes of network namespaces, veths,
//	             bridges and nftables tables ("stvd,stvi")
//	-no-labels   do not look for namespaces and veths labelled stevedore-task=
//	-netns-dir   where named network namespaces live ("/var/run/netns")
//	-fifo-dirs   comma-separated FIFO directories ("/run/stevedore/fifo")
//	-agent-dirs  comma-separated agent state directories ($TMPDIR/stevedore-agent)
//	-timeout     bound of the whole check (30s)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/stevedore-io/stevedore/internal/leakcheck"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("stevedore-leakcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg leakcheck.Config
	var prefixes, fifoDirs, agentDirs string
	fs.StringVar(&cfg.ContainerdAddress, "address", os.Getenv("STEVEDORE_CONTAINERD_ADDRESS"), "containerd socket (empty: skip containerd)")
	fs.StringVar(&cfg.ContainerdNamespacePrefix, "namespace", leakcheck.DefaultContainerdNamespacePrefix, "prefix of the containerd namespaces to inspect")
	fs.StringVar(&prefixes, "prefix", strings.Join(leakcheck.DefaultNamePrefixes, ","), "comma-separated name prefixes of network objects")
	fs.BoolVar(&cfg.NoLabels, "no-labels", false, "do not look for namespaces and veths labelled "+leakcheck.TaskLabel)
	fs.StringVar(&cfg.NetNSDir, "netns-dir", leakcheck.DefaultNetNSDir, "where named network namespaces live")
	fs.StringVar(&fifoDirs, "fifo-dirs", strings.Join(leakcheck.DefaultFIFODirs, ","), "comma-separated FIFO directories")
	fs.StringVar(&agentDirs, "agent-dirs", "", "comma-separated agent state directories (default $TMPDIR/stevedore-agent)")
	fs.DurationVar(&cfg.Timeout, "timeout", leakcheck.DefaultTimeout, "bound of the whole check")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg.NamePrefixes = split(prefixes)
	cfg.FIFODirs = split(fifoDirs)
	if agentDirs != "" {
		cfg.AgentStateDirs = split(agentDirs)
	}
	leaks, err := leakcheck.Find(context.Background(), cfg)
	for _, l := range leaks {
		fmt.Fprintln(stdout, l)
	}
	switch {
	case err != nil && errors.Is(err, leakcheck.ErrUnsupported):
		fmt.Fprintln(stderr, "stevedore-leakcheck:", err)
		return 2
	case err != nil:
		fmt.Fprintln(stderr, "stevedore-leakcheck: could not look everywhere:", err)
		return 2
	case len(leaks) > 0:
		fmt.Fprintf(stderr, "stevedore-leakcheck: %d left behind\n", len(leaks))
		return 1
	}
	fmt.Fprintln(stderr, "stevedore-leakcheck: nothing left behind")
	return 0
}

// split splits a comma-separated list, dropping empty items; an empty
// list is empty, not nil, so that it turns a default off.
func split(s string) []string {
	out := []string{}
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
