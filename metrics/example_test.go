package metrics_test

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/metrics"
	netfake "github.com/stevedore-io/stevedore/network/fake"
	"github.com/stevedore-io/stevedore/runtime/fake"
)

// Register the collector on a registry and serve it on /metrics.
func Example() {
	ctx := context.Background()
	o, err := stevedore.New()
	if err != nil {
		log.Fatal(err)
	}
	defer o.Close()
	if _, err := o.CreateCluster(ctx, &stevedore.CreateClusterInput{ClusterName: "prod"}); err != nil {
		log.Fatal(err)
	}
	rt := fake.New()
	defer rt.Close()
	if _, err := o.RegisterContainerInstance(ctx, &stevedore.RegisterContainerInstanceInput{
		Cluster: "prod", InstanceID: "i-1", Runtime: rt, Network: netfake.New(),
		Resources: cluster.Resources{CPU: 2048, Memory: 4096},
	}); err != nil {
		log.Fatal(err)
	}

	c, err := metrics.NewCollector(o)
	if err != nil {
		log.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	// Count events too, until the context ends.
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := c.Run(ctx); err != nil {
			log.Print(err)
		}
	}()
	defer func() { cancel(); <-done }()

	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := httptest.NewServer(mux) // in production: http.ListenAndServe(":9100", mux)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	for lines.Scan() {
		if l := lines.Text(); strings.HasPrefix(l, "stevedore_container_instance") {
			fmt.Println(l)
		}
	}
	// Output:
	// stevedore_container_instance_agent_connected{cluster="prod",instance="i-1"} 1
	// stevedore_container_instance_cpu_registered_units{cluster="prod",instance="i-1"} 2048
	// stevedore_container_instance_cpu_remaining_units{cluster="prod",instance="i-1"} 2048
	// stevedore_container_instance_memory_registered_bytes{cluster="prod",instance="i-1"} 4.294967296e+09
	// stevedore_container_instance_memory_remaining_bytes{cluster="prod",instance="i-1"} 4.294967296e+09
	// stevedore_container_instances{cluster="prod",status="ACTIVE"} 1
	// stevedore_container_instances{cluster="prod",status="DRAINING"} 0
	// stevedore_container_instances{cluster="prod",status="REGISTERING"} 0
}
