package metrics_test

import (
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/metrics"
	netfake "github.com/stevedore-io/stevedore/network/fake"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/task"
)

const batchDef = `{
  "family": "batch",
  "networkMode": "none",
  "containerDefinitions": [{"name": "job", "image": "job:v1", "memory": 16, "cpu": 8, "command": ["sleep", "infinity"]}]
}`

// BenchmarkCollect measures one scrape of a cluster of 4 instances with n
// standalone tasks: its cost grows with the tasks, not its number of calls.
func BenchmarkCollect(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("tasks=%d", n), func(b *testing.B) {
			o, err := stevedore.New(stevedore.WithSeed(1))
			require.NoError(b, err)
			b.Cleanup(func() { o.Close() })
			ctx := b.Context()
			_, err = o.CreateCluster(ctx, &stevedore.CreateClusterInput{ClusterName: "bench"})
			require.NoError(b, err)
			for i := range 4 {
				rt := fake.New()
				b.Cleanup(rt.Close)
				_, err := o.RegisterContainerInstance(ctx, &stevedore.RegisterContainerInstanceInput{
					Cluster: "bench", InstanceID: fmt.Sprintf("i-%d", i), Runtime: rt, Network: netfake.New(),
					Resources: cluster.Resources{CPU: 1 << 16, Memory: 1 << 20},
				})
				require.NoError(b, err)
			}
			td, _, err := task.ParseDefinition([]byte(batchDef))
			require.NoError(b, err)
			_, err = o.RegisterTaskDefinition(ctx, &stevedore.RegisterTaskDefinitionInput{TaskDefinition: *td})
			require.NoError(b, err)
			for range n / stevedore.MaxRunTaskCount {
				out, err := o.RunTask(ctx, &stevedore.RunTaskInput{Cluster: "bench", TaskDefinition: "batch", Count: stevedore.MaxRunTaskCount})
				require.NoError(b, err)
				require.Empty(b, out.Failures)
			}
			c, err := metrics.NewCollector(o)
			require.NoError(b, err)

			ch := make(chan prometheus.Metric, 1024)
			done := make(chan struct{})
			go func() {
				defer close(done)
				for range ch {
				}
			}()
			for b.Loop() {
				c.Collect(ch)
			}
			b.StopTimer()
			close(ch)
			<-done
		})
	}
}
