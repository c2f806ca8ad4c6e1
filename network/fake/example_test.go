package fake_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/network/fake"
)

func Example() {
	ctx := context.Background()
	p := fake.New(fake.WithSubnet(netip.MustParsePrefix("10.0.0.0/24")))
	att, err := p.Setup(ctx, network.Request{
		TaskID:       "web-1",
		Mode:         network.ModeBridge,
		PortMappings: []network.PortMapping{{ContainerPort: 80}},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(att.Address, att.Gateway, att.PortBindings[0].HostPort)
	_ = p.Teardown(ctx, "web-1")
	for _, c := range p.Calls() {
		fmt.Println(c.Op, c.TaskID, c.Err)
	}
	// Output:
	// 10.0.0.2/24 10.0.0.1 49153
	// Setup web-1 <nil>
	// Teardown web-1 <nil>
}
