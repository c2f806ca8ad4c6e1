package stevedore_test

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/discovery"
	netfake "github.com/stevedore-io/stevedore/network/fake"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/stevedoretest"
	"github.com/stevedore-io/stevedore/task"
)

// TestServiceDiscovery runs in real time: the DNS server answers real UDP
// queries on loopback, which a synctest bubble cannot wait on.
func TestServiceDiscovery(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	cfg := discovery.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	o, err := stevedore.New(stevedore.WithServiceDiscovery(cfg))
	require.NoError(t, err)
	t.Cleanup(func() { o.Close() })
	_, err = o.CreateCluster(ctx, &stevedore.CreateClusterInput{ClusterName: "prod"})
	require.NoError(t, err)
	rt := fake.New()
	t.Cleanup(rt.Close)
	nw := netfake.New()
	_, err = o.RegisterContainerInstance(ctx, &stevedore.RegisterContainerInstanceInput{
		Cluster: "prod", Resources: cluster.Resources{CPU: 2048, Memory: 2048, NetworkSlots: 8}, Runtime: rt, Network: nw,
	})
	require.NoError(t, err)
	td, _, err := task.ParseDefinition([]byte(`{"family":"web","networkMode":"awsvpc","containerDefinitions":[
		{"name":"web","image":"web:1","memory":64,"command":["sleep","infinity"],"portMappings":[{"containerPort":8080}]}]}`))
	require.NoError(t, err)
	_, err = o.RegisterTaskDefinition(ctx, &stevedore.RegisterTaskDefinitionInput{TaskDefinition: *td})
	require.NoError(t, err)
	_, err = o.CreateService(ctx, &stevedore.CreateServiceInput{Cluster: "prod", ServiceName: "web", TaskDefinition: "web", DesiredCount: 2})
	require.NoError(t, err)

	var addrs []netip.Addr
	require.Eventually(t, func() bool {
		addrs, err = o.Resolver().LookupHost(ctx, "web.local")
		return err == nil && len(addrs) == 2
	}, 10*time.Second, 20*time.Millisecond, "two healthy tasks answer web.local")
	tasks, err := o.AllTaskArns(ctx, &stevedore.ListTasksInput{Cluster: "prod", ServiceName: "web"})
	require.NoError(t, err)
	described, err := stevedoretest.TasksOf(o.DescribeTasks(ctx, &stevedore.DescribeTasksInput{Cluster: "prod", Tasks: tasks}))
	require.NoError(t, err)
	var want []netip.Addr
	for _, tk := range described {
		want = append(want, netip.MustParseAddr(tk.PrivateIPv4Address()))
	}
	assert.ElementsMatch(t, want, addrs)

	// The same answers over DNS, from the server on loopback.
	var server netip.AddrPort
	require.Eventually(t, func() bool { var ok bool; server, ok = o.DNSServerAddr(); return ok }, 5*time.Second, 10*time.Millisecond)
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, server.String())
	}}
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	got, err := r.LookupHost(qctx, "web.prod.local")
	require.NoError(t, err)
	assert.Len(t, got, 2)

	// Tasks resolve through it: their resolv.conf names the server.
	for _, c := range nw.Calls() {
		if c.Req != nil {
			require.NotEmpty(t, c.Req.DNS.Servers)
			assert.Equal(t, "127.0.0.1", c.Req.DNS.Servers[0].String())
			assert.Contains(t, c.Req.DNS.Search, "prod.local")
		}
	}

	// Scaled in, a stopped task leaves the answers.
	_, err = o.UpdateService(ctx, &stevedore.UpdateServiceInput{Cluster: "prod", Service: "web", DesiredCount: ptr(1)})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		addrs, err = o.Resolver().LookupHost(ctx, "web.local")
		return err == nil && len(addrs) == 1
	}, 10*time.Second, 20*time.Millisecond)
}
