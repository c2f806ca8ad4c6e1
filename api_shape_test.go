package stevedore_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
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
