package stevedore_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/cluster"
	netfake "github.com/stevedore-io/stevedore/network/fake"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/service"
)

func TestCreateServiceRefusesDesiredCountOfDaemon(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, 1)
		e.register("v1")
		_, err := e.o.CreateService(e.ctx, stevedore.CreateServiceInput{
			Cluster: "test", ServiceName: "d", TaskDefinition: "web", DesiredCount: 2,
			SchedulingStrategy: service.Daemon,
		})
		require.Error(t, err)
		assert.ErrorIs(t, err, stevedore.ErrInvalid)
		assert.ErrorContains(t, err, "desiredCount")
	})
}

func TestServicesShowTheDeploymentConfigurationInForce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, 1)
		e.register("v1")
		for _, tc := range []struct {
			name     string
			strategy service.SchedulingStrategy
			desired  int
			min, max int
		}{
			{"replica", service.Replica, 1, 100, 200},
			{"daemon", service.Daemon, 0, 0, 100},
		} {
			created, err := e.o.CreateService(e.ctx, stevedore.CreateServiceInput{
				Cluster: "test", ServiceName: tc.name, TaskDefinition: "web", DesiredCount: tc.desired,
				SchedulingStrategy: tc.strategy,
			})
			require.NoError(t, err, tc.name)
			updated, err := e.o.UpdateService(e.ctx, stevedore.UpdateServiceInput{Cluster: "test", Service: tc.name, ForceNewDeployment: true})
			require.NoError(t, err, tc.name)
			described := e.service(tc.name)
			for what, s := range map[string]*service.Service{"created": created, "updated": updated, "described": &described} {
				dc := s.DeploymentConfiguration
				require.NotNil(t, dc.MinimumHealthyPercent, "%s %s", tc.name, what)
				require.NotNil(t, dc.MaximumPercent, "%s %s", tc.name, what)
				assert.Equal(t, tc.min, *dc.MinimumHealthyPercent, "%s %s", tc.name, what)
				assert.Equal(t, tc.max, *dc.MaximumPercent, "%s %s", tc.name, what)
			}
		}
	})
}

func TestRegisterContainerInstanceVerifiesImageAccess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, 0)
		rt := e.addInstanceWith(stevedore.RegisterInstanceInput{InstanceID: "i-verify", VerifyImageAccess: true})
		e.register("v1")
		for range 2 {
			_, err := e.o.RunTask(e.ctx, stevedore.RunTaskInput{Cluster: "test", TaskDefinition: "web"})
			require.NoError(t, err)
			time.Sleep(time.Minute)
			synctest.Wait()
		}
		// The second task finds the image on the host and asks whether it
		// may use it.
		assert.NotEmpty(t, rt.CallsTo(fake.MethodVerifyImageAccess))
	})
}

func TestDefaultClusterWhenNoneIsNamed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o, err := stevedore.New(stevedore.WithSeed(1))
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, o.Close()) })
		e := &env{t: t, o: o, ctx: t.Context(), runtimes: map[string]*fake.Runtime{}}
		e.register("v1")

		// Before anything creates it, the default cluster is not found.
		_, err = o.RunTask(e.ctx, stevedore.RunTaskInput{TaskDefinition: "web"})
		require.ErrorIs(t, err, stevedore.ErrNotFound)

		// The first instance registered without a cluster creates it.
		rt := fake.New()
		t.Cleanup(rt.Close)
		_, err = o.RegisterContainerInstance(e.ctx, stevedore.RegisterInstanceInput{
			InstanceID: "i-1", Resources: cluster.Resources{CPU: 1024, Memory: 2048, NetworkSlots: 4},
			Runtime: rt, Network: netfake.New(),
		})
		require.NoError(t, err)
		run, err := o.RunTask(e.ctx, stevedore.RunTaskInput{TaskDefinition: "web"})
		require.NoError(t, err)
		require.Len(t, run.Tasks, 1)
		assert.Equal(t, stevedore.DefaultCluster, run.Tasks[0].ClusterName())
		_, err = o.CreateService(e.ctx, stevedore.CreateServiceInput{ServiceName: "svc", TaskDefinition: "web", DesiredCount: 1})
		require.NoError(t, err)

		// A cluster named by its ARN is the same cluster.
		svcs, err := o.DescribeServices(e.ctx, "arn:aws:ecs:us-east-1:123456789012:cluster/default", "svc")
		require.NoError(t, err)
		require.Len(t, svcs, 1)
		assert.Equal(t, stevedore.DefaultCluster, svcs[0].Cluster)

		// CreateCluster without a name returns the default cluster.
		c, err := o.CreateCluster(e.ctx, stevedore.CreateClusterInput{})
		require.NoError(t, err)
		assert.Equal(t, stevedore.DefaultCluster, c.Name)
	})
}
