package stevedore_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/network"
	netfake "github.com/stevedore-io/stevedore/network/fake"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/stevedoretest"
	"github.com/stevedore-io/stevedore/task"
)

// sgEnv is an env with one instance whose network provider the test keeps,
// to read the requests the agent made; opts are the Orchestrator's.
func sgEnv(t *testing.T, opts ...stevedore.Option) (*env, *netfake.Provider) {
	t.Helper()
	o, err := stevedore.New(append([]stevedore.Option{stevedore.WithSeed(1)}, opts...)...)
	require.NoError(t, err)
	e := envFor(t, o, 0)
	rt := fake.New()
	t.Cleanup(rt.Close)
	nw := netfake.New()
	_, err = o.RegisterContainerInstance(e.ctx, &stevedore.RegisterContainerInstanceInput{
		Cluster: "test", InstanceID: "i-0", Resources: cluster.Resources{CPU: 4096, Memory: 8192, NetworkSlots: 10},
		Attributes: map[string]string{cluster.AttributeAvailabilityZone: "zone-a"}, Runtime: rt, Network: nw,
	})
	require.NoError(t, err)
	return e, nw
}

func (e *env) securityGroup(name string, specs ...string) network.SecurityGroup {
	e.t.Helper()
	g, err := e.o.CreateSecurityGroup(e.ctx, &stevedore.CreateSecurityGroupInput{GroupName: name, IngressRules: parseRules(e.t, specs...)})
	require.NoError(e.t, err)
	return g.SecurityGroup
}

func parseRules(t *testing.T, specs ...string) []network.IngressRule {
	t.Helper()
	out := make([]network.IngressRule, len(specs))
	for i, s := range specs {
		r, err := network.ParseIngressRule(s)
		require.NoError(t, err, s)
		out[i] = r
	}
	return out
}

func inGroups(groups ...string) *task.NetworkConfiguration {
	return &task.NetworkConfiguration{AwsvpcConfiguration: &task.AwsvpcConfiguration{SecurityGroups: groups}}
}

// fieldsOf lists the fields of the *stevedore.FieldError values in err.
func fieldsOf(err error) []string {
	var out []string
	for _, fe := range stevedore.FieldErrors(err) {
		out = append(out, fe.Path)
	}
	return out
}

// setupRequest returns the network request the agent made for a task.
func setupRequest(t *testing.T, nw *netfake.Provider, taskID string) *network.Request {
	t.Helper()
	for _, c := range nw.Calls() {
		if c.Op == netfake.OpSetup && c.TaskID == taskID {
			return c.Req
		}
	}
	t.Fatalf("no network set-up for task %s", taskID)
	return nil
}

func TestSecurityGroupLifecycle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, _ := sgEnv(t)
		web := e.securityGroup("web", "tcp:80 from 10.0.0.0/8")
		assert.Regexp(t, `^sg-[0-9a-f]{17}$`, web.ID)

		_, err := e.o.CreateSecurityGroup(e.ctx, &stevedore.CreateSecurityGroupInput{GroupName: "web"})
		require.ErrorIs(t, err, stevedore.ErrAlreadyExists)
		_, err = e.o.CreateSecurityGroup(e.ctx, &stevedore.CreateSecurityGroupInput{GroupName: "sg-nope",
			IngressRules: []network.IngressRule{{Protocol: network.ProtocolTCP}}})
		require.ErrorIs(t, err, stevedore.ErrInvalid)
		assert.Equal(t, []string{"groupName", "ingressRules[0].fromPort", "ingressRules[0].sources"}, fieldsOf(err))

		got, err := e.o.DescribeSecurityGroups(e.ctx, &stevedore.DescribeSecurityGroupsInput{GroupIDs: []string{"web", web.ID}})
		require.NoError(t, err)
		require.Len(t, got.SecurityGroups, 2)
		assert.Equal(t, web, got.SecurityGroups[0])
		assert.Equal(t, web, got.SecurityGroups[1])
		all, err := e.o.DescribeSecurityGroups(e.ctx, &stevedore.DescribeSecurityGroupsInput{})
		require.NoError(t, err)
		assert.Len(t, all.SecurityGroups, 1, "the rejected groups were not created")
		_, err = e.o.DescribeSecurityGroups(e.ctx, &stevedore.DescribeSecurityGroupsInput{GroupIDs: []string{"sg-00000000000000000"}})
		require.ErrorIs(t, err, stevedore.ErrNotFound)

		g, err := e.o.AuthorizeSecurityGroupIngress(e.ctx, &stevedore.AuthorizeSecurityGroupIngressInput{GroupID: "web", Rules: parseRules(t, "tcp:80 from 192.168.0.0/16", "udp:53 from 0.0.0.0/0")})
		require.NoError(t, err)
		assert.Equal(t, "tcp:80 from 10.0.0.0/8,192.168.0.0/16", g.SecurityGroup.Rules[0].String())
		assert.Equal(t, 3, g.SecurityGroup.Permissions())

		// Rejected calls change nothing.
		_, err = e.o.AuthorizeSecurityGroupIngress(e.ctx, &stevedore.AuthorizeSecurityGroupIngressInput{GroupID: "web", Rules: parseRules(t, "tcp:443 from 0.0.0.0/0", "udp:53 from 0.0.0.0/0")})
		require.ErrorIs(t, err, stevedore.ErrInvalid)
		assert.Equal(t, []string{"ingressRules[1].sources[0]"}, fieldsOf(err))
		_, err = e.o.RevokeSecurityGroupIngress(e.ctx, &stevedore.RevokeSecurityGroupIngressInput{GroupID: web.ID, Rules: parseRules(t, "udp:53 from 0.0.0.0/0", "tcp:22 from 10.0.0.0/8")})
		require.ErrorIs(t, err, stevedore.ErrInvalid)
		assert.Equal(t, []string{"ingressRules[1].sources[0]"}, fieldsOf(err))
		now, err := e.o.DescribeSecurityGroups(e.ctx, &stevedore.DescribeSecurityGroupsInput{GroupIDs: []string{"web"}})
		require.NoError(t, err)
		assert.Equal(t, g.SecurityGroup, now.SecurityGroups[0])

		revoked, err := e.o.RevokeSecurityGroupIngress(e.ctx, &stevedore.RevokeSecurityGroupIngressInput{GroupID: web.ID, Rules: parseRules(t, "udp:53 from 0.0.0.0/0", "tcp:80 from 10.0.0.0/8")})
		require.NoError(t, err)
		assert.Equal(t, []network.IngressRule{parseRules(t, "tcp:80 from 192.168.0.0/16")[0]}, revoked.SecurityGroup.Rules)

		require.NoError(t, errOf(e.o.DeleteSecurityGroup(e.ctx, &stevedore.DeleteSecurityGroupInput{GroupID: "web"})))
		require.ErrorIs(t, errOf(e.o.DeleteSecurityGroup(e.ctx, &stevedore.DeleteSecurityGroupInput{GroupID: "web"})), stevedore.ErrNotFound)
	})
}

func TestTaskGetsTheUnionOfItsGroupsRules(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, nw := sgEnv(t)
		e.register("v1")
		web := e.securityGroup("web", "tcp:80 from 10.0.0.0/8", "icmp from 0.0.0.0/0")
		dns := e.securityGroup("dns", "tcp:80 from 10.0.0.0/8,192.168.0.0/16", "udp:53 from 10.0.0.0/8")
		closed := e.securityGroup("closed")

		out, err := e.o.RunTask(e.ctx, &stevedore.RunTaskInput{Cluster: "test", TaskDefinition: "web", NetworkConfiguration: inGroups("web", dns.ID)})
		require.NoError(t, err)
		require.Len(t, out.Tasks, 1)
		filtered := out.Tasks[0].ID()
		assert.Equal(t, []string{web.ID, dns.ID}, out.Tasks[0].SecurityGroups, "by ID, in the order given")
		out, err = e.o.RunTask(e.ctx, &stevedore.RunTaskInput{Cluster: "test", TaskDefinition: "web", NetworkConfiguration: inGroups("closed")})
		require.NoError(t, err)
		isolated := out.Tasks[0].ID()
		started, err := e.o.StartTask(e.ctx, &stevedore.StartTaskInput{Cluster: "test", TaskDefinition: "web", ContainerInstances: []string{"i-0"}})
		require.NoError(t, err)
		open := started.Tasks[0].ID()
		time.Sleep(time.Minute)
		synctest.Wait()

		req := setupRequest(t, nw, filtered)
		require.NotNil(t, req.Ingress)
		var got []string
		for _, r := range req.Ingress.Rules {
			got = append(got, r.String())
		}
		assert.Equal(t, []string{"tcp:80 from 10.0.0.0/8,192.168.0.0/16", "icmp from 0.0.0.0/0", "udp:53 from 10.0.0.0/8"}, got)

		req = setupRequest(t, nw, isolated)
		require.NotNil(t, req.Ingress, "a group without rules denies all inbound traffic")
		assert.Empty(t, req.Ingress.Rules)
		assert.Nil(t, setupRequest(t, nw, open).Ingress, "a task in no group is not filtered")

		tasks, err := stevedoretest.TasksOf(e.o.DescribeTasks(e.ctx, &stevedore.DescribeTasksInput{Cluster: "test", Tasks: []string{filtered, isolated, open}}))
		require.NoError(t, err)
		assert.Equal(t, task.Running, tasks[0].LastStatus)
		assert.Equal(t, []string{web.ID, dns.ID}, tasks[0].SecurityGroups)
		assert.Equal(t, []string{closed.ID}, tasks[1].SecurityGroups)
		assert.Empty(t, tasks[2].SecurityGroups)
	})
}

func TestNetworkConfigurationIsValidated(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, _ := sgEnv(t)
		e.register("v1")
		bridge, _, err := task.ParseDefinition([]byte(`{"family":"br","networkMode":"bridge","containerDefinitions":[{"name":"a","image":"x","memory":16}]}`))
		require.NoError(t, err)
		_, err = e.o.RegisterTaskDefinition(e.ctx, &stevedore.RegisterTaskDefinitionInput{TaskDefinition: *bridge})
		require.NoError(t, err)
		web := e.securityGroup("web", "tcp:80 from 10.0.0.0/8")
		const field = "networkConfiguration.awsvpcConfiguration.securityGroups"
		tests := []struct {
			name       string
			def        string
			nc         *task.NetworkConfiguration
			wantFields []string
		}{
			{"unknown groups", "web", inGroups("web", "nope", "sg-0123456789abcdef0"), []string{field + "[1]", field + "[2]"}},
			{"a group twice", "web", inGroups("web", web.ID), []string{field + "[1]"}},
			{"empty name", "web", inGroups(""), []string{field + "[0]"}},
			{"six groups", "web", inGroups("web", "web", "web", "web", "web", "web"), []string{field}},
			{"bridge mode", "br", inGroups("web"), []string{"networkConfiguration.awsvpcConfiguration"}},
		}
		for _, tt := range tests { // no t.Run inside a synctest bubble
			_, err := e.o.RunTask(e.ctx, &stevedore.RunTaskInput{Cluster: "test", TaskDefinition: tt.def, NetworkConfiguration: tt.nc})
			require.ErrorIs(t, err, stevedore.ErrInvalid, tt.name)
			assert.Equal(t, tt.wantFields, fieldsOf(err), "%s: RunTask: %v", tt.name, err)
			_, err = e.o.StartTask(e.ctx, &stevedore.StartTaskInput{Cluster: "test", TaskDefinition: tt.def, ContainerInstances: []string{"i-0"}, NetworkConfiguration: tt.nc})
			assert.Equal(t, tt.wantFields, fieldsOf(err), "%s: StartTask: %v", tt.name, err)
			_, err = e.o.CreateService(e.ctx, &stevedore.CreateServiceInput{Cluster: "test", ServiceName: "svc", TaskDefinition: tt.def, DesiredCount: 1, NetworkConfiguration: tt.nc})
			assert.Equal(t, tt.wantFields, fieldsOf(err), "%s: CreateService: %v", tt.name, err)
		}
		assert.Empty(t, e.tasks(stevedore.ListTasksInput{}), "no rejected call started a task")
		services, err := stevedoretest.ServicesOf(e.o.DescribeServices(e.ctx, &stevedore.DescribeServicesInput{Cluster: "test"}))
		require.NoError(t, err)
		assert.Empty(t, services, "no rejected call created a service")

		// A configuration without awsvpcConfiguration puts tasks in no
		// group, whatever the network mode.
		out, err := e.o.RunTask(e.ctx, &stevedore.RunTaskInput{Cluster: "test", TaskDefinition: "br", NetworkConfiguration: &task.NetworkConfiguration{}})
		require.NoError(t, err)
		assert.Empty(t, out.Tasks[0].SecurityGroups)
	})
}

func TestDeleteSecurityGroupInUse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, _ := sgEnv(t)
		e.register("v1")
		byTask := e.securityGroup("by-task")
		byService := e.securityGroup("by-service")
		out, err := e.o.RunTask(e.ctx, &stevedore.RunTaskInput{Cluster: "test", TaskDefinition: "web", NetworkConfiguration: inGroups("by-task")})
		require.NoError(t, err)
		_, err = e.o.CreateService(e.ctx, &stevedore.CreateServiceInput{Cluster: "test", ServiceName: "svc", TaskDefinition: "web",
			DesiredCount: 1, NetworkConfiguration: inGroups("by-service")})
		require.NoError(t, err)
		e.waitSteady("svc", 5*time.Minute)

		_, err = e.o.DeleteSecurityGroup(e.ctx, &stevedore.DeleteSecurityGroupInput{GroupID: "by-task"})
		require.ErrorIs(t, err, stevedore.ErrInUse)
		var inUse *stevedore.InUseError
		require.ErrorAs(t, err, &inUse)
		assert.Equal(t, []string{"task " + out.Tasks[0].ID()}, inUse.UsedBy)
		_, err = e.o.DeleteSecurityGroup(e.ctx, &stevedore.DeleteSecurityGroupInput{GroupID: byService.ID})
		require.ErrorAs(t, err, &inUse)
		assert.Contains(t, inUse.UsedBy, "service test/svc")
		assert.Len(t, inUse.UsedBy, 2, "the service and its task: %v", inUse.UsedBy)

		_, err = e.o.StopTask(e.ctx, &stevedore.StopTaskInput{Cluster: "test", Task: out.Tasks[0].ID()})
		require.NoError(t, err)
		_, err = e.o.DeleteService(e.ctx, &stevedore.DeleteServiceInput{Cluster: "test", Service: "svc", Force: true})
		require.NoError(t, err)
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		require.NoError(t, errOf(e.o.DeleteSecurityGroup(e.ctx, &stevedore.DeleteSecurityGroupInput{GroupID: byTask.ID})), "its task is STOPPED")
		require.NoError(t, errOf(e.o.DeleteSecurityGroup(e.ctx, &stevedore.DeleteSecurityGroupInput{GroupID: "by-service"})), "its service is INACTIVE")
	})
}

func TestServiceNetworkConfigurationChangeStartsADeployment(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, nw := sgEnv(t)
		e.register("v1")
		a := e.securityGroup("a", "tcp:80 from 10.0.0.0/8")
		b := e.securityGroup("b", "tcp:8080 from 10.0.0.0/8")
		c := e.securityGroup("c", "udp:53 from 10.0.0.0/8")
		_, err := e.o.CreateService(e.ctx, &stevedore.CreateServiceInput{Cluster: "test", ServiceName: "svc", TaskDefinition: "web",
			DesiredCount: 2, NetworkConfiguration: inGroups("a")})
		require.NoError(t, err)
		s := e.waitSteady("svc", 5*time.Minute)
		assert.Equal(t, inGroups(a.ID), s.NetworkConfiguration)
		require.Len(t, s.Deployments, 1)
		assert.Equal(t, inGroups(a.ID), s.Deployments[0].NetworkConfiguration)
		first := s.Deployments[0].ID

		// The same groups (by ID now) change nothing.
		_, err = e.o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "svc", NetworkConfiguration: inGroups(a.ID)})
		require.NoError(t, err)
		assert.Equal(t, first, e.service("svc").Deployments[0].ID)

		// A rejected update changes nothing.
		_, err = e.o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "svc",
			DesiredCount: ptr(3), NetworkConfiguration: inGroups("b", "nope")})
		require.ErrorIs(t, err, stevedore.ErrInvalid)
		assert.Equal(t, []string{"networkConfiguration.awsvpcConfiguration.securityGroups[1]"}, fieldsOf(err))
		after := e.service("svc")
		assert.Equal(t, s.Deployments, after.Deployments)
		assert.Equal(t, 2, after.DesiredCount)
		assert.Equal(t, inGroups(a.ID), after.NetworkConfiguration)

		// New groups roll the tasks over to them.
		_, err = e.o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "svc", NetworkConfiguration: inGroups("c", "b")})
		require.NoError(t, err)
		s = e.service("svc")
		require.Len(t, s.Deployments, 2, "a new deployment")
		assert.Equal(t, inGroups(c.ID, b.ID), s.Deployments[0].NetworkConfiguration)
		assert.Equal(t, inGroups(a.ID), s.Deployments[1].NetworkConfiguration)
		s = e.waitSteady("svc", 10*time.Minute)
		assert.Equal(t, service.RolloutCompleted, s.Deployments[0].RolloutState)
		tasks := e.tasks(stevedore.ListTasksInput{ServiceName: "svc"})
		require.Len(t, tasks, 2)
		for _, tk := range tasks {
			assert.Equal(t, []string{c.ID, b.ID}, tk.SecurityGroups)
			var got []string
			for _, r := range setupRequest(t, nw, tk.ID()).Ingress.Rules {
				got = append(got, r.String())
			}
			assert.Equal(t, []string{"udp:53 from 10.0.0.0/8", "tcp:8080 from 10.0.0.0/8"}, got)
		}
		require.NoError(t, errOf(e.o.DeleteSecurityGroup(e.ctx, &stevedore.DeleteSecurityGroupInput{GroupID: "a"})), "no deployment uses a any more")

		// Leaving every group is a change too; the tasks are unfiltered.
		_, err = e.o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "svc", NetworkConfiguration: &task.NetworkConfiguration{}})
		require.NoError(t, err)
		s = e.waitSteady("svc", 10*time.Minute)
		assert.Nil(t, s.NetworkConfiguration)
		for _, tk := range e.tasks(stevedore.ListTasksInput{ServiceName: "svc"}) {
			assert.Empty(t, tk.SecurityGroups)
			assert.Nil(t, setupRequest(t, nw, tk.ID()).Ingress)
		}
	})
}

func TestRuleChangesReachRunningTasks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, nw := sgEnv(t)
		e.register("v1")
		e.securityGroup("web", "tcp:80 from 10.0.0.0/8")
		e.securityGroup("other", "tcp:22 from 10.0.0.0/8")
		run := func(group string) string {
			out, err := e.o.RunTask(e.ctx, &stevedore.RunTaskInput{Cluster: "test", TaskDefinition: "web", NetworkConfiguration: inGroups(group, "other")})
			require.NoError(t, err)
			return out.Tasks[0].ID()
		}
		inWeb, stopped := run("web"), run("web")
		out, err := e.o.RunTask(e.ctx, &stevedore.RunTaskInput{Cluster: "test", TaskDefinition: "web", NetworkConfiguration: inGroups("other")})
		require.NoError(t, err)
		notInWeb := out.Tasks[0].ID()
		time.Sleep(time.Minute)
		_, err = e.o.StopTask(e.ctx, &stevedore.StopTaskInput{Cluster: "test", Task: stopped})
		require.NoError(t, err)
		time.Sleep(time.Minute)
		synctest.Wait()
		rulesOf := func(id string) []string {
			p, ok := nw.Ingress(id)
			require.True(t, ok, "task %s has a network", id)
			require.NotNil(t, p)
			var out []string
			for _, r := range p.Rules {
				out = append(out, r.String())
			}
			return out
		}
		assert.Equal(t, []string{"tcp:80 from 10.0.0.0/8", "tcp:22 from 10.0.0.0/8"}, rulesOf(inWeb))

		_, err = e.o.AuthorizeSecurityGroupIngress(e.ctx, &stevedore.AuthorizeSecurityGroupIngressInput{GroupID: "web", Rules: parseRules(t, "tcp:443 from 0.0.0.0/0")})
		require.NoError(t, err)
		synctest.Wait()
		assert.Equal(t, []string{"tcp:80 from 10.0.0.0/8", "tcp:443 from 0.0.0.0/0", "tcp:22 from 10.0.0.0/8"}, rulesOf(inWeb))
		_, err = e.o.RevokeSecurityGroupIngress(e.ctx, &stevedore.RevokeSecurityGroupIngressInput{GroupID: "web", Rules: parseRules(t, "tcp:80 from 10.0.0.0/8")})
		require.NoError(t, err)
		synctest.Wait()
		assert.Equal(t, []string{"tcp:443 from 0.0.0.0/0", "tcp:22 from 10.0.0.0/8"}, rulesOf(inWeb), "the running task has the new rules")
		assert.Equal(t, []string{"tcp:22 from 10.0.0.0/8"}, rulesOf(notInWeb))

		updates := map[string]int{}
		for _, c := range nw.Calls() {
			if c.Op == netfake.OpUpdateIngress {
				require.NoError(t, c.Err)
				updates[c.TaskID]++
			}
		}
		assert.Equal(t, map[string]int{inWeb: 2}, updates, "one update per change, for the tasks in the group only")

		// A task started now gets the rules as they are.
		later := run("web")
		time.Sleep(time.Minute)
		synctest.Wait()
		assert.Equal(t, []string{"tcp:443 from 0.0.0.0/0", "tcp:22 from 10.0.0.0/8"}, rulesOf(later))
	})
}

func TestRollbackRestoresTheSecurityGroups(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, 3, fake.WithImage("web:v2", fake.Behavior{Exec: fake.ExecCodes(1)}))
		v1 := e.register("v1")
		old := e.securityGroup("old", "tcp:8080 from 10.0.0.0/8")
		next := e.securityGroup("new", "tcp:8080 from 0.0.0.0/0")
		_, err := e.o.CreateService(e.ctx, &stevedore.CreateServiceInput{
			Cluster: "test", ServiceName: "web", TaskDefinition: "web", DesiredCount: 2,
			DeploymentConfiguration: service.DeploymentConfiguration{
				CircuitBreaker: &service.CircuitBreaker{Enable: true, Rollback: true}},
			NetworkConfiguration: inGroups("old"),
		})
		require.NoError(t, err)
		e.waitSteady("web", 10*time.Minute)
		v2 := e.register("v2")
		_, err = e.o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", TaskDefinition: &v2,
			NetworkConfiguration: inGroups("new")})
		require.NoError(t, err)
		assert.Equal(t, inGroups(next.ID), e.service("web").NetworkConfiguration)

		s := e.waitSteady("web", 30*time.Minute)
		assert.Equal(t, v1, s.TaskDefinition, "rolled back")
		assert.Equal(t, inGroups(old.ID), s.Deployments[0].NetworkConfiguration, "with the groups of the deployment rolled back to")
		assert.Equal(t, inGroups(old.ID), s.NetworkConfiguration)
		for _, tk := range e.tasks(stevedore.ListTasksInput{ServiceName: "web"}) {
			assert.Equal(t, []string{old.ID}, tk.SecurityGroups)
		}
		require.NoError(t, errOf(e.o.DeleteSecurityGroup(e.ctx, &stevedore.DeleteSecurityGroupInput{GroupID: "new"})), "nothing uses the new group any more")
	})
}

func TestAdoptedTaskGetsTheRulesItMissed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		w := newRestartWorld(t)
		o1 := w.open()
		_, err := o1.CreateSecurityGroup(ctx, &stevedore.CreateSecurityGroupInput{GroupName: "web", IngressRules: parseRules(t, "tcp:80 from 10.0.0.0/8")})
		require.NoError(t, err)
		w.register(o1)
		_, err = o1.RunTask(ctx, &stevedore.RunTaskInput{Cluster: "test", TaskDefinition: "web"}) // unfiltered
		require.NoError(t, err)
		out, err := o1.RunTask(ctx, &stevedore.RunTaskInput{Cluster: "test", TaskDefinition: "web", NetworkConfiguration: inGroups("web")})
		require.NoError(t, err)
		id := out.Tasks[0].ID()
		time.Sleep(time.Minute)
		synctest.Wait()
		require.NoError(t, o1.Close())

		// The rule changes while no agent runs.
		o2 := w.open()
		defer o2.Close()
		_, err = o2.AuthorizeSecurityGroupIngress(ctx, &stevedore.AuthorizeSecurityGroupIngressInput{GroupID: "web", Rules: parseRules(t, "tcp:443 from 0.0.0.0/0")})
		require.NoError(t, err)
		w.register(o2)
		time.Sleep(time.Minute)
		synctest.Wait()
		p, ok := w.nw.Ingress(id)
		require.True(t, ok)
		require.Len(t, p.Rules, 2, "the adopted task has the rule added while no agent ran")
		assert.Equal(t, "tcp:443 from 0.0.0.0/0", p.Rules[1].String())
		var updates []string
		for _, c := range w.nw.Calls() {
			if c.Op == netfake.OpUpdateIngress {
				updates = append(updates, c.TaskID)
			}
		}
		assert.Equal(t, []string{id}, updates, "one update, for the filtered task only")
	})
}
