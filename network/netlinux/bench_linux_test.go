package netlinux

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stevedore-io/stevedore/network"
)

// BenchmarkSetupTeardown measures one task's Setup followed by its
// Teardown, per mode, against the real kernel. Besides ns/op it reports
// the two halves (setup-us/op, teardown-us/op). Teardown returns once the
// namespace is unmounted; the kernel finishes destroying it (and its veth)
// in the background.
func BenchmarkSetupTeardown(b *testing.B) {
	cases := []struct {
		name string
		req  func(id string) network.Request
	}{
		{"awsvpc", awsvpc},
		{"awsvpc-ingress", func(id string) network.Request {
			r := awsvpc(id)
			r.Ingress = &network.IngressPolicy{Rules: []network.IngressRule{
				allowFrom(network.ProtocolTCP, 80, "10.0.0.0/8"), allowFrom(network.ProtocolTCP, 443, "0.0.0.0/0"),
			}}
			return r
		}},
		{"bridge-1port", func(id string) network.Request {
			return network.Request{TaskID: id, Mode: network.ModeBridge, PortMappings: []network.PortMapping{{ContainerPort: 80}}}
		}},
		{"none", func(id string) network.Request { return network.Request{TaskID: id, Mode: network.ModeNone} }},
		{"host", func(id string) network.Request { return network.Request{TaskID: id, Mode: network.ModeHost} }},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			p := newTestProvider(b, testConfig(b))
			ctx := context.Background()
			// The first Setup creates the bridge and the host table; keep it
			// out of the measurement.
			if _, err := p.Setup(ctx, bc.req("warm-up")); err != nil {
				b.Fatal(err)
			}
			if err := p.Teardown(ctx, "warm-up"); err != nil {
				b.Fatal(err)
			}
			var setup, teardown time.Duration
			i := 0
			for b.Loop() {
				id := fmt.Sprint("bench-", i)
				i++
				t0 := time.Now()
				if _, err := p.Setup(ctx, bc.req(id)); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if err := p.Teardown(ctx, id); err != nil {
					b.Fatal(err)
				}
				setup += t1.Sub(t0)
				teardown += time.Since(t1)
			}
			b.ReportMetric(float64(setup.Microseconds())/float64(i), "setup-us/op")
			b.ReportMetric(float64(teardown.Microseconds())/float64(i), "teardown-us/op")
		})
	}
}
