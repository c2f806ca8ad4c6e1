// Command etcdmember runs one etcd member on etcd's embed package, for
// tests and chaos scenarios that need etcd as separate processes on this
// machine:
//
//	etcdmember -name m0 -data-dir /tmp/m0 \
//		-client http://127.0.0.1:23790 -peer http://127.0.0.1:23800 \
//		-initial-cluster m0=http://127.0.0.1:23800,m1=...,m2=...
//
// It prints "etcd member ready" once it serves clients, and stops on
// SIGTERM or SIGINT.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/stevedore-io/stevedore/internal/etcdtest"
)

func main() {
	var c etcdtest.MemberConfig
	flag.StringVar(&c.Name, "name", "m0", "member name")
	flag.StringVar(&c.Dir, "data-dir", "", "data directory (required)")
	flag.StringVar(&c.ClientURL, "client", "http://127.0.0.1:2379", "client URL to listen on and advertise")
	flag.StringVar(&c.PeerURL, "peer", "http://127.0.0.1:2380", "peer URL to listen on and advertise")
	flag.StringVar(&c.InitialCluster, "initial-cluster", "", "name=peerURL,... of every member (default: this member alone)")
	flag.Parse()
	if c.Dir == "" {
		fmt.Fprintln(os.Stderr, "etcdmember: -data-dir is required")
		os.Exit(2)
	}
	if c.InitialCluster == "" {
		c.InitialCluster = c.Name + "=" + c.PeerURL
	}
	if err := etcdtest.RunMember(c); err != nil {
		fmt.Fprintf(os.Stderr, "etcdmember: %v\n", err)
		os.Exit(1)
	}
}
