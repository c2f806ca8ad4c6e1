package stevedore_test

import (
	"errors"
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
	"github.com/stevedore-io/stevedore/stevedoretest"
	"github.com/stevedore-io/stevedore/task"
)

func TestCreateServiceRefusesDesiredCountOfDaemon(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, 1)
		e.register("v1")
		_, err := e.o.CreateService(e.ctx, &stevedore.CreateServiceInput{
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
			created, err := e.o.CreateService(e.ctx, &stevedore.CreateServiceInput{
				Cluster: "test", ServiceName: tc.name, TaskDefinition: "web", DesiredCount: tc.desired,
				SchedulingStrategy: tc.strategy,
			})
			require.NoError(t, err, tc.name)
			updated, err := e.o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: tc.name, ForceNewDeployment: true})
			require.NoError(t, err, tc.name)
			described := e.service(tc.name)
			for what, s := range map[string]*service.Service{"created": &created.Service, "updated": &updated.Service, "described": &described} {
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
		rt := e.addInstanceWith(stevedore.RegisterContainerInstanceInput{InstanceID: "i-verify", VerifyImageAccess: true})
		e.register("v1")
		for range 2 {
			_, err := e.o.RunTask(e.ctx, &stevedore.RunTaskInput{Cluster: "test", TaskDefinition: "web"})
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
		_, err = o.RunTask(e.ctx, &stevedore.RunTaskInput{TaskDefinition: "web"})
		require.ErrorIs(t, err, stevedore.ErrNotFound)

		// The first instance registered without a cluster creates it.
		rt := fake.New()
		t.Cleanup(rt.Close)
		_, err = o.RegisterContainerInstance(e.ctx, &stevedore.RegisterContainerInstanceInput{
			InstanceID: "i-1", Resources: cluster.Resources{CPU: 1024, Memory: 2048, NetworkSlots: 4},
			Runtime: rt, Network: netfake.New(),
		})
		require.NoError(t, err)
		run, err := o.RunTask(e.ctx, &stevedore.RunTaskInput{TaskDefinition: "web"})
		require.NoError(t, err)
		require.Len(t, run.Tasks, 1)
		assert.Equal(t, stevedore.DefaultCluster, run.Tasks[0].ClusterName())
		_, err = o.CreateService(e.ctx, &stevedore.CreateServiceInput{ServiceName: "svc", TaskDefinition: "web", DesiredCount: 1})
		require.NoError(t, err)

		// A cluster named by its ARN is the same cluster.
		svcs, err := stevedoretest.ServicesOf(o.DescribeServices(e.ctx, &stevedore.DescribeServicesInput{Cluster: "arn:aws:ecs:us-east-1:123456789012:cluster/default", Services: []string{"svc"}}))
		require.NoError(t, err)
		require.Len(t, svcs, 1)
		assert.Equal(t, stevedore.DefaultCluster, svcs[0].Cluster)

		// CreateCluster without a name returns the default cluster.
		c, err := o.CreateCluster(e.ctx, &stevedore.CreateClusterInput{})
		require.NoError(t, err)
		assert.Equal(t, stevedore.DefaultCluster, c.Cluster.Name)
	})
}

func TestDescribeCallsReportMissingObjectsAsFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, 1)
		e.register("v1")
		_, err := e.o.CreateService(e.ctx, &stevedore.CreateServiceInput{Cluster: "test", ServiceName: "web", TaskDefinition: "web", DesiredCount: 1})
		require.NoError(t, err)
		run, err := e.o.RunTask(e.ctx, &stevedore.RunTaskInput{Cluster: "test", TaskDefinition: "web"})
		require.NoError(t, err)
		id := run.Tasks[0].ID()

		clusters, err := e.o.DescribeClusters(e.ctx, &stevedore.DescribeClustersInput{Clusters: []string{"test", "nope"}})
		require.NoError(t, err)
		require.Len(t, clusters.Clusters, 1)
		assert.Equal(t, "test", clusters.Clusters[0].Name)
		assert.Equal(t, []stevedore.Failure{{Arn: e.o.ClusterARN("nope"), Reason: "MISSING"}}, clusters.Failures)

		services, err := e.o.DescribeServices(e.ctx, &stevedore.DescribeServicesInput{Cluster: "test", Services: []string{"gone", e.o.ServiceARN("test", "web")}})
		require.NoError(t, err)
		require.Len(t, services.Services, 1)
		assert.Equal(t, "web", services.Services[0].Name)
		assert.Equal(t, []stevedore.Failure{{Arn: e.o.ServiceARN("test", "gone"), Reason: "MISSING"}}, services.Failures)

		tasks, err := e.o.DescribeTasks(e.ctx, &stevedore.DescribeTasksInput{Cluster: "test", Tasks: []string{id, "0123"}})
		require.NoError(t, err)
		require.Len(t, tasks.Tasks, 1)
		assert.Equal(t, id, tasks.Tasks[0].ID())
		assert.Equal(t, []stevedore.Failure{{Arn: e.o.TaskARN("test", "0123"), Reason: "MISSING"}}, tasks.Failures)

		insts, err := e.o.DescribeContainerInstances(e.ctx, &stevedore.DescribeContainerInstancesInput{Cluster: "test", ContainerInstances: []string{"i-0", "i-9"}})
		require.NoError(t, err)
		require.Len(t, insts.ContainerInstances, 1)
		assert.Equal(t, []stevedore.Failure{{Arn: e.o.ContainerInstanceARN("test", "i-9"), Reason: "MISSING"}}, insts.Failures)

		// A missing cluster is still an error, as ECS's ClusterNotFoundException.
		_, err = e.o.DescribeServices(e.ctx, &stevedore.DescribeServicesInput{Cluster: "nope", Services: []string{"web"}})
		assert.ErrorIs(t, err, stevedore.ErrNotFound)
		_, err = e.o.DescribeTasks(e.ctx, &stevedore.DescribeTasksInput{Cluster: "test"})
		assert.ErrorIs(t, err, stevedore.ErrInvalid)
	})
}

func TestListClustersAndServicesPage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, 1)
		e.register("v1")
		for _, name := range []string{"c", "a", "b"} {
			_, err := e.o.CreateCluster(e.ctx, &stevedore.CreateClusterInput{ClusterName: name})
			require.NoError(t, err)
			_, err = e.o.CreateService(e.ctx, &stevedore.CreateServiceInput{Cluster: "test", ServiceName: "s-" + name, TaskDefinition: "web"})
			require.NoError(t, err)
		}
		var got []string
		in := stevedore.ListClustersInput{MaxResults: 3}
		for pages := 0; ; pages++ {
			require.Less(t, pages, 3)
			out, err := e.o.ListClusters(e.ctx, &in)
			require.NoError(t, err)
			got = append(got, out.ClusterArns...)
			if out.NextToken == "" {
				break
			}
			in.NextToken = out.NextToken
		}
		want := []string{e.o.ClusterARN("a"), e.o.ClusterARN("b"), e.o.ClusterARN("c"), e.o.ClusterARN("test")}
		assert.Equal(t, want, got)

		first, err := e.o.ListServices(e.ctx, &stevedore.ListServicesInput{Cluster: "test", MaxResults: 2})
		require.NoError(t, err)
		assert.Equal(t, []string{e.o.ServiceARN("test", "s-a"), e.o.ServiceARN("test", "s-b")}, first.ServiceArns)
		second, err := e.o.ListServices(e.ctx, &stevedore.ListServicesInput{Cluster: "test", MaxResults: 2, NextToken: first.NextToken})
		require.NoError(t, err)
		assert.Equal(t, []string{e.o.ServiceARN("test", "s-c")}, second.ServiceArns)
		assert.Empty(t, second.NextToken)

		_, err = e.o.ListServices(e.ctx, &stevedore.ListServicesInput{Cluster: "test", NextToken: "!"})
		assert.ErrorIs(t, err, stevedore.ErrInvalid)
		_, err = e.o.ListClusters(e.ctx, &stevedore.ListClustersInput{MaxResults: 101})
		assert.ErrorIs(t, err, stevedore.ErrInvalid)
	})
}

func TestARNsAreConsistentAndConfigurable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o, err := stevedore.New(stevedore.WithSeed(1), stevedore.WithARNs("aws", "eu-west-1", "123456789012"))
		require.NoError(t, err)
		e := envFor(t, o, 1)
		ref := e.register("v1")
		const prefix = "arn:aws:ecs:eu-west-1:123456789012:"

		byARN, err := o.DescribeTaskDefinition(e.ctx, &stevedore.DescribeTaskDefinitionInput{TaskDefinition: prefix + "task-definition/" + ref})
		require.NoError(t, err)
		td := byARN.TaskDefinition
		assert.Equal(t, prefix+"task-definition/web:1", td.TaskDefinitionARN)

		run, err := o.RunTask(e.ctx, &stevedore.RunTaskInput{Cluster: prefix + "cluster/test", TaskDefinition: td.TaskDefinitionARN})
		require.NoError(t, err)
		require.Len(t, run.Tasks, 1)
		tk := run.Tasks[0]
		assert.Equal(t, prefix+"task/test/"+tk.ID(), tk.TaskARN)
		assert.Equal(t, prefix+"cluster/test", tk.ClusterARN)
		assert.Equal(t, prefix+"container-instance/test/i-0", tk.ContainerInstanceARN)
		assert.Equal(t, prefix+"task-definition/web:1", tk.TaskDefinitionARN)
		assert.Equal(t, "test", tk.ClusterName())

		described, err := o.DescribeTasks(e.ctx, &stevedore.DescribeTasksInput{Cluster: "test", Tasks: []string{tk.TaskARN}})
		require.NoError(t, err)
		require.Len(t, described.Tasks, 1)
		assert.Equal(t, tk.TaskARN, described.Tasks[0].TaskARN)
		stopped, err := o.StopTask(e.ctx, &stevedore.StopTaskInput{Cluster: prefix + "cluster/test", Task: tk.TaskARN})
		require.NoError(t, err)
		assert.Equal(t, tk.TaskARN, stopped.Task.TaskARN)

		_, err = stevedore.New(stevedore.WithARNs("aws", "eu:west", "1"))
		assert.ErrorIs(t, err, stevedore.ErrInvalid)
		assert.ErrorContains(t, err, "WithARNs.region")
	})
}

func TestListTaskDefinitionsAndFamilies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, 0)
		for range 11 {
			e.register("v")
		}
		other, _, err := task.ParseDefinition([]byte(`{"family": "worker", "containerDefinitions": [{"name": "w", "image": "w", "memory": 64}]}`))
		require.NoError(t, err)
		_, err = e.o.RegisterTaskDefinition(e.ctx, &stevedore.RegisterTaskDefinitionInput{TaskDefinition: *other})
		require.NoError(t, err)
		_, err = e.o.DeregisterTaskDefinition(e.ctx, &stevedore.DeregisterTaskDefinitionInput{TaskDefinition: "worker:1"})
		require.NoError(t, err)

		// Revisions in numeric order across pages (web:10 after web:9).
		var got []string
		in := stevedore.ListTaskDefinitionsInput{FamilyPrefix: "web", MaxResults: 4}
		for pages := 0; ; pages++ {
			require.Less(t, pages, 4)
			out, err := e.o.ListTaskDefinitions(e.ctx, &in)
			require.NoError(t, err)
			got = append(got, out.TaskDefinitionArns...)
			if out.NextToken == "" {
				break
			}
			in.NextToken = out.NextToken
		}
		require.Len(t, got, 11)
		assert.Equal(t, e.o.TaskDefinitionARN("web:9"), got[8])
		assert.Equal(t, e.o.TaskDefinitionARN("web:10"), got[9])

		desc, err := e.o.ListTaskDefinitions(e.ctx, &stevedore.ListTaskDefinitionsInput{Sort: "DESC", MaxResults: 2})
		require.NoError(t, err)
		assert.Equal(t, []string{e.o.TaskDefinitionARN("web:11"), e.o.TaskDefinitionARN("web:10")}, desc.TaskDefinitionArns)
		inactive, err := e.o.ListTaskDefinitions(e.ctx, &stevedore.ListTaskDefinitionsInput{Status: task.DefinitionInactive})
		require.NoError(t, err)
		assert.Equal(t, []string{e.o.TaskDefinitionARN("worker:1")}, inactive.TaskDefinitionArns)

		for status, want := range map[task.DefinitionStatus][]string{
			"": {"web", "worker"}, task.DefinitionActive: {"web"}, task.DefinitionInactive: {"worker"},
		} {
			out, err := e.o.ListTaskDefinitionFamilies(e.ctx, &stevedore.ListTaskDefinitionFamiliesInput{Status: status})
			require.NoError(t, err)
			assert.Equal(t, want, out.Families, "status %q", status)
		}
		out, err := e.o.ListTaskDefinitionFamilies(e.ctx, &stevedore.ListTaskDefinitionFamiliesInput{FamilyPrefix: "wo"})
		require.NoError(t, err)
		assert.Equal(t, []string{"worker"}, out.Families)
		_, err = e.o.ListTaskDefinitions(e.ctx, &stevedore.ListTaskDefinitionsInput{Sort: "UP"})
		assert.ErrorIs(t, err, stevedore.ErrInvalid)
	})
}

func TestInstanceAndClusterCallsAnswerWithTheirObjects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, 2)
		drained, err := e.o.UpdateContainerInstancesState(e.ctx, &stevedore.UpdateContainerInstancesStateInput{
			Cluster: "test", Status: cluster.StatusDraining, ContainerInstances: []string{"i-0", e.o.ContainerInstanceARN("test", "i-7")},
		})
		require.NoError(t, err)
		require.Len(t, drained.ContainerInstances, 1)
		assert.Equal(t, cluster.StatusDraining, drained.ContainerInstances[0].Status)
		assert.Equal(t, []stevedore.Failure{{Arn: e.o.ContainerInstanceARN("test", "i-7"), Reason: "MISSING"}}, drained.Failures)

		_, err = e.o.DeleteCluster(e.ctx, &stevedore.DeleteClusterInput{Cluster: "test"})
		assert.ErrorIs(t, err, stevedore.ErrInUse)
		for _, id := range []string{"i-0", "i-1"} {
			out, err := e.o.DeregisterContainerInstance(e.ctx, &stevedore.DeregisterContainerInstanceInput{Cluster: "test", ContainerInstance: id})
			require.NoError(t, err)
			assert.Equal(t, cluster.StatusInactive, out.ContainerInstance.Status)
		}
		deleted, err := e.o.DeleteCluster(e.ctx, &stevedore.DeleteClusterInput{Cluster: e.o.ClusterARN("test")})
		require.NoError(t, err)
		assert.Equal(t, cluster.ClusterInactive, deleted.Cluster.Status)
		assert.Equal(t, 0, deleted.Cluster.RegisteredContainerInstancesCount)
	})
}

func TestListTasksPages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, 2)
		e.register("v1")
		var started []string
		for range 3 {
			run, err := e.o.RunTask(e.ctx, &stevedore.RunTaskInput{Cluster: "test", TaskDefinition: "web", Count: 2, StartedBy: "pager"})
			require.NoError(t, err)
			for _, tk := range run.Tasks {
				started = append(started, tk.TaskARN)
			}
		}
		var pages [][]string
		for p := stevedore.NewListTasksPaginator(e.o, &stevedore.ListTasksInput{Cluster: "test", StartedBy: "pager", MaxResults: 4}); p.HasMorePages(); {
			page, err := p.NextPage(e.ctx)
			require.NoError(t, err)
			pages = append(pages, page.TaskArns)
		}
		require.Len(t, pages, 2)
		assert.Len(t, pages[0], 4)
		assert.ElementsMatch(t, started, append(pages[0], pages[1]...))

		all, err := e.o.AllTaskArns(e.ctx, &stevedore.ListTasksInput{Cluster: "test", ContainerInstance: e.o.ContainerInstanceARN("test", "i-0")})
		require.NoError(t, err)
		for _, arn := range all {
			out, err := e.o.DescribeTasks(e.ctx, &stevedore.DescribeTasksInput{Cluster: "test", Tasks: []string{arn}})
			require.NoError(t, err)
			assert.Equal(t, "i-0", out.Tasks[0].ContainerInstanceID())
		}
		_, err = e.o.ListTasks(e.ctx, &stevedore.ListTasksInput{Cluster: "test", DesiredStatus: task.Pending})
		assert.ErrorIs(t, err, stevedore.ErrInvalid)
	})
}

func TestWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, 2)
		e.register("v1")
		_, err := e.o.CreateService(e.ctx, &stevedore.CreateServiceInput{Cluster: "test", ServiceName: "web", TaskDefinition: "web", DesiredCount: 2})
		require.NoError(t, err)
		stable := stevedore.NewServicesStableWaiter(e.o)
		require.NoError(t, stable.Wait(e.ctx, &stevedore.DescribeServicesInput{Cluster: "test", Services: []string{"web"}}, 5*time.Minute))
		assert.Equal(t, 2, e.service("web").RunningCount)

		err = stable.Wait(e.ctx, &stevedore.DescribeServicesInput{Cluster: "test", Services: []string{"web", "gone"}}, 5*time.Minute)
		assert.ErrorIs(t, err, stevedore.ErrWaiterFailure)

		run, err := e.o.RunTask(e.ctx, &stevedore.RunTaskInput{Cluster: "test", TaskDefinition: "web"})
		require.NoError(t, err)
		in := stevedore.DescribeTasksInput{Cluster: "test", Tasks: []string{run.Tasks[0].TaskARN}}
		require.NoError(t, stevedore.NewTasksRunningWaiter(e.o).Wait(e.ctx, &in, 5*time.Minute))
		_, err = e.o.StopTask(e.ctx, &stevedore.StopTaskInput{Cluster: "test", Task: run.Tasks[0].TaskARN})
		require.NoError(t, err)
		require.NoError(t, stevedore.NewTasksStoppedWaiter(e.o, func(o *stevedore.WaiterOptions) { o.MaxDelay = 2 * time.Second }).Wait(e.ctx, &in, 5*time.Minute))
		err = stevedore.NewTasksRunningWaiter(e.o).Wait(e.ctx, &in, 5*time.Minute)
		assert.ErrorIs(t, err, stevedore.ErrWaiterFailure, "a STOPPED task never runs")

		// A service that cannot become stable: its image never starts.
		e.register("v2")
		for _, rt := range e.runtimes {
			rt.Script("web:v2", fake.Behavior{StartError: errors.New("no such binary")})
		}
		_, err = e.o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", TaskDefinition: ptr("web:2")})
		require.NoError(t, err)
		err = stable.Wait(e.ctx, &stevedore.DescribeServicesInput{Cluster: "test", Services: []string{"web"}}, time.Minute)
		assert.ErrorIs(t, err, stevedore.ErrWaitTimeout)
	})
}

func TestUpdateServiceRefusesAServiceBeingDeleted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, 1)
		e.register("v1")
		_, err := e.o.CreateService(e.ctx, &stevedore.CreateServiceInput{Cluster: "test", ServiceName: "web", TaskDefinition: "web", DesiredCount: 1})
		require.NoError(t, err)
		deleted, err := e.o.DeleteService(e.ctx, &stevedore.DeleteServiceInput{Cluster: "test", Service: e.o.ServiceARN("test", "web"), Force: true})
		require.NoError(t, err)
		assert.Equal(t, service.StatusDraining, deleted.Service.Status)
		_, err = e.o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", DesiredCount: ptr(2)})
		assert.ErrorIs(t, err, stevedore.ErrServiceNotActive)
		_, err = e.o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "nope", DesiredCount: ptr(2)})
		assert.ErrorIs(t, err, stevedore.ErrNotFound)
	})
}
