package stevedore_test

import (
	"context"
	"fmt"
	"os"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/internal/etcdtest"
)

// Three replicas of one control plane on one etcd: each serves the API,
// one leads, and when it closes another takes over.
func ExampleWithEtcd() {
	ctx := context.Background()
	// An etcd member in this process, on loopback; a real installation
	// dials its etcd cluster.
	dir, err := os.MkdirTemp("", "stevedore-example-etcd-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	srv, err := etcdtest.New(dir)
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	var replicas []*stevedore.Orchestrator
	for _, name := range []string{"cp-1", "cp-2", "cp-3"} {
		client, err := clientv3.New(clientv3.Config{Endpoints: srv.Endpoints, Logger: zap.NewNop()})
		if err != nil {
			panic(err)
		}
		defer client.Close()
		o, err := stevedore.New(stevedore.WithEtcd(client, stevedore.EtcdConfig{
			Prefix: "/example", Name: name, LeaseTTL: stevedore.MinLeaseTTL,
		}))
		if err != nil {
			panic(err)
		}
		defer o.Close()
		replicas = append(replicas, o)
	}
	first := leaderOf(replicas)

	// Any replica serves the API, and every one reads the same state.
	if _, err := replicas[2].CreateCluster(ctx, &stevedore.CreateClusterInput{ClusterName: "prod"}); err != nil {
		panic(err)
	}
	out, err := replicas[0].DescribeClusters(ctx, &stevedore.DescribeClustersInput{Clusters: []string{"prod"}})
	if err != nil {
		panic(err)
	}
	fmt.Println("cluster seen by another replica:", out.Clusters[0].Name)

	// Closing the leader hands the leadership over at once.
	if err := first.Close(); err != nil {
		panic(err)
	}
	var rest []*stevedore.Orchestrator
	for _, o := range replicas {
		if o != first {
			rest = append(rest, o)
		}
	}
	next := leaderOf(rest)
	fmt.Println("a new leader:", next.LeaderStatus().Leader != first.LeaderStatus().Leader)
	fmt.Println("the old one leads:", first.LeaderStatus().Leading)
	// Output:
	// cluster seen by another replica: prod
	// a new leader: true
	// the old one leads: false
}

// leaderOf waits until exactly one of replicas leads, for 30 s at most.
func leaderOf(replicas []*stevedore.Orchestrator) *stevedore.Orchestrator {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var leaders []*stevedore.Orchestrator
		for _, o := range replicas {
			if o.LeaderStatus().Leading {
				leaders = append(leaders, o)
			}
		}
		if len(leaders) == 1 {
			return leaders[0]
		}
	}
	panic("no single leader within 30 s")
}
