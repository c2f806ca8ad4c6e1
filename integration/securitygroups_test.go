package integration

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/task"
)

// TestSecurityGroupReferencesFollowMembers runs security groups whose
// rules name each other on the real kernel: db admits tcp 8080 from the
// members of app, and app's tasks may open connections only to db's
// members on 8080. A member of app reaches db, a task in no group does
// not; app's member reaches nothing else; and a task that joins app later
// reaches db as soon as it runs (the Orchestrator re-resolves db's rule
// when the new member reports its address, and db's agent applies it).
func TestSecurityGroupReferencesFollowMembers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	def := e.registerPeer("sgref")
	app, err := e.orc.CreateSecurityGroup(e.ctx, &stevedore.CreateSecurityGroupInput{GroupName: "app-" + e.name})
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = e.orc.DeleteSecurityGroup(context.Background(), &stevedore.DeleteSecurityGroupInput{GroupID: app.SecurityGroup.ID})
	})
	db, err := e.orc.CreateSecurityGroup(e.ctx, &stevedore.CreateSecurityGroupInput{
		GroupName:    "db-" + e.name,
		IngressRules: []network.IngressRule{{Protocol: network.ProtocolTCP, FromPort: 8080, SourceGroups: []string{app.SecurityGroup.Name}}},
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = e.orc.DeleteSecurityGroup(context.Background(), &stevedore.DeleteSecurityGroupInput{GroupID: db.SecurityGroup.ID})
	})
	toDB := network.EgressRule{Protocol: network.ProtocolTCP, FromPort: 8080, DestinationGroups: []string{db.SecurityGroup.ID}}
	t.Cleanup(func() {
		_, _ = e.orc.RevokeSecurityGroupEgress(context.Background(), &stevedore.RevokeSecurityGroupEgressInput{GroupID: app.SecurityGroup.ID, Rules: []network.EgressRule{toDB}})
	})

	run := func(groups ...string) *task.Task {
		in := stevedore.RunTaskInput{Cluster: e.cluster, TaskDefinition: def.Ref()}
		if len(groups) > 0 {
			in.NetworkConfiguration = &task.NetworkConfiguration{AwsvpcConfiguration: &task.AwsvpcConfiguration{SecurityGroups: groups}}
		}
		out, err := e.orc.RunTask(e.ctx, &in)
		require.NoError(t, err)
		require.Empty(t, out.Failures)
		tk := e.waitRunning(out.Tasks[0].ID(), 30*time.Second)
		t.Cleanup(func() {
			_, _ = e.orc.StopTask(context.Background(), &stevedore.StopTaskInput{Cluster: e.cluster, Task: tk.ID(), Reason: "test over"})
		})
		return tk
	}
	server, client, outsider := run(db.SecurityGroup.ID), run(app.SecurityGroup.ID), run()
	ipServer, ipOutsider := taskIP(t, server), taskIP(t, outsider)
	idClient, idOutsider := runtimeID(t, client, "peer"), runtimeID(t, outsider, "peer")
	e.eventuallyExec(runtimeID(t, server, "peer"), "timeout 5 wget -q -O - http://"+ipServer+":8080/", "peer "+ipServer, 10*time.Second)

	e.eventuallyExec(idClient, "timeout 5 wget -q -O - http://"+ipServer+":8080/", "peer "+ipServer, 10*time.Second)
	out := e.exec(idOutsider, "sh", "-c", "timeout 5 wget -q -O - http://"+ipServer+":8080/")
	assert.NotEqual(t, 0, out.ExitCode, "a task in no group is not a member of app: %s", out.Output)
	out = e.exec(idClient, "sh", "-c", "echo | timeout 5 nc -w 2 "+ipServer+" 9090")
	assert.NotEqual(t, 0, out.ExitCode, "9090 is not allowed: %s", out.Output)
	e.eventuallyExec(idClient, "echo | timeout 5 nc -w 2 "+ipOutsider+" 9090", "nc "+ipOutsider, 10*time.Second)

	// app's tasks may reach db's members on 8080 and nothing else.
	_, err = e.orc.RevokeSecurityGroupEgress(e.ctx, &stevedore.RevokeSecurityGroupEgressInput{GroupID: app.SecurityGroup.ID, Rules: []network.EgressRule{network.DefaultEgressRule()}})
	require.NoError(t, err)
	_, err = e.orc.AuthorizeSecurityGroupEgress(e.ctx, &stevedore.AuthorizeSecurityGroupEgressInput{GroupID: app.SecurityGroup.ID, Rules: []network.EgressRule{toDB}})
	require.NoError(t, err)
	e.eventuallyExec(idClient, "timeout 3 nc -w 2 -z "+ipOutsider+" 9090 || echo blocked", "blocked", 10*time.Second)
	out = e.exec(idClient, "sh", "-c", "timeout 5 wget -q -O - http://"+ipServer+":8080/")
	require.Equal(t, 0, out.ExitCode, "db is still reached: %s", out.Output)

	// A new member of app reaches db once it runs.
	client2 := run(app.SecurityGroup.Name)
	e.eventuallyExec(runtimeID(t, client2, "peer"), "timeout 5 wget -q -O - http://"+ipServer+":8080/", "peer "+ipServer, 10*time.Second)

	for _, tk := range []*task.Task{client, client2, outsider, server} {
		e.stopTask(tk.ID())
	}
}
