package stevedore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/state"
	netfake "github.com/stevedore-io/stevedore/network/fake"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/memory"
)

// TestCloseRacesRegistrations registers 300 instances, each with its agent,
// while Close runs: every registration either succeeds or fails with
// ErrClosed, and after Close every call, reads included, fails with
// ErrClosed. Run it with -race: agents started while the supervisor stops
// must not race with its wait.
func TestCloseRacesRegistrations(t *testing.T) {
	for _, own := range []bool{true, false} {
		t.Run(fmt.Sprintf("own store %t", own), func(t *testing.T) {
			t.Parallel()
			var opts []stevedore.Option
			var st store.Store // the test's own, when !own
			if !own {
				var err error
				st, err = memory.New()
				require.NoError(t, err)
				t.Cleanup(func() { require.NoError(t, st.Close()) })
				opts = append(opts, stevedore.WithStore(st))
			}
			o, err := stevedore.New(opts...)
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, o.Close()) })
			ctx := t.Context()
			_, err = o.CreateCluster(ctx, &stevedore.CreateClusterInput{ClusterName: "test"})
			require.NoError(t, err)
			rt := fake.New()
			t.Cleanup(rt.Close)
			nw := netfake.New()
			register := func(id string) error {
				_, err := o.RegisterContainerInstance(ctx, &stevedore.RegisterContainerInstanceInput{
					Cluster: "test", InstanceID: id, Runtime: rt, Network: nw,
					Resources: cluster.Resources{CPU: 1024, Memory: 1024, NetworkSlots: 4},
				})
				return err
			}

			const n = 300
			errs := make([]error, n)
			succeeded := make(chan struct{}, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					errs[i] = register(fmt.Sprintf("i-%03d", i))
					if errs[i] == nil {
						succeeded <- struct{}{}
					}
				})
			}
			for range n / 3 { // Close with registrations under way
				<-succeeded
			}
			require.NoError(t, o.Close())
			wg.Wait()

			ok := 0
			for i, err := range errs {
				if err == nil {
					ok++
					continue
				}
				assert.ErrorIs(t, err, stevedore.ErrClosed, "registration %d", i)
			}
			t.Logf("%d of %d registrations succeeded before Close", ok, n)

			calls := map[string]func() error{
				"RegisterContainerInstance": func() error { return register("i-late") },
				"DescribeClusters": func() error {
					_, err := o.DescribeClusters(ctx, &stevedore.DescribeClustersInput{Clusters: []string{"test"}})
					return err
				},
				"DescribeContainerInstances": func() error {
					_, err := o.DescribeContainerInstances(ctx, &stevedore.DescribeContainerInstancesInput{Cluster: "test"})
					return err
				},
				"ListTasks": func() error {
					_, err := o.ListTasks(ctx, &stevedore.ListTasksInput{Cluster: "test"})
					return err
				},
				"UpdateContainerInstancesState": func() error {
					_, err := o.UpdateContainerInstancesState(ctx, &stevedore.UpdateContainerInstancesStateInput{Cluster: "test", Status: cluster.StatusDraining, ContainerInstances: []string{"i-000"}})
					return err
				},
				"Subscribe": func() error {
					_, err := o.Subscribe(ctx)
					return err
				},
			}
			for name, call := range calls {
				assert.ErrorIs(t, call(), stevedore.ErrClosed, "%s after Close", name)
			}
			if st != nil {
				// Every agent that was started has ended, and said so; a
				// registration refused for Close left no agent marked
				// connected either.
				require.NoError(t, st.View(context.Background(), func(tx store.ReadTx) error {
					insts, err := store.List[*state.Instance](tx, state.KindInstances)
					for _, inst := range insts {
						assert.False(t, inst.AgentConnected, "instance %s: agent still marked connected", inst.ID)
					}
					return err
				}))
			}
		})
	}
}

// TestStoreAfterCloseFailsWithErrClosed: the store the Orchestrator hands
// out is closed for reading with it.
func TestStoreAfterCloseFailsWithErrClosed(t *testing.T) {
	t.Parallel()
	o, err := stevedore.New()
	require.NoError(t, err)
	require.NoError(t, o.Close())
	err = o.Store().View(context.Background(), func(store.ReadTx) error { return nil })
	assert.ErrorIs(t, err, stevedore.ErrClosed)
}
