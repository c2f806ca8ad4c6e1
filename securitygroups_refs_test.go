package stevedore_test

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/discovery"
	"github.com/stevedore-io/stevedore/network"
	netfake "github.com/stevedore-io/stevedore/network/fake"
)

// runIn runs one web task in groups (none: unfiltered) and returns its ID.
func (e *env) runIn(groups ...string) string {
	e.t.Helper()
	in := stevedore.RunTaskInput{Cluster: "test", TaskDefinition: "web"}
	if len(groups) > 0 {
		in.NetworkConfiguration = inGroups(groups...)
	}
	out, err := e.o.RunTask(e.ctx, &in)
	require.NoError(e.t, err)
	require.Len(e.t, out.Tasks, 1)
	return out.Tasks[0].ID()
}

// settle lets the tasks started or stopped reach their next steady state.
func settle() {
	time.Sleep(time.Minute)
	synctest.Wait()
}

// addrOf returns a task's address on the fake network, on port.
func addrOf(t *testing.T, nw *netfake.Provider, taskID string, port uint16) netip.AddrPort {
	t.Helper()
	att, err := nw.Attachment(t.Context(), taskID)
	require.NoError(t, err, "task %s has a network", taskID)
	return netip.AddrPortFrom(att.Address.Addr(), port)
}

func parseEgress(t *testing.T, specs ...string) []network.EgressRule {
	t.Helper()
	out := make([]network.EgressRule, len(specs))
	for i, s := range specs {
		r, err := network.ParseEgressRule(s)
		require.NoError(t, err, s)
		out[i] = r
	}
	return out
}

func egressStrings(rules []network.EgressRule) []string {
	var out []string
	for _, r := range rules {
		out = append(out, r.String())
	}
	return out
}

// fromGroups is an inbound rule for tcp port from the tasks of groups
// (named as the caller likes: by ID or name).
func fromGroups(port uint16, groups ...string) network.IngressRule {
	return network.IngressRule{Protocol: network.ProtocolTCP, FromPort: port, SourceGroups: groups}
}

// toGroups is an outbound rule for tcp port to the tasks of groups.
func toGroups(port uint16, groups ...string) network.EgressRule {
	return network.EgressRule{Protocol: network.ProtocolTCP, FromPort: port, DestinationGroups: groups}
}

func TestSecurityGroupEgressThroughTheAPI(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, nw := sgEnv(t)
		e.register("v1")
		g := e.securityGroup("client")
		assert.Equal(t, []network.EgressRule{network.DefaultEgressRule()}, g.EgressRules, "a new group allows all outbound traffic, as in AWS")
		described, err := e.o.DescribeSecurityGroups(e.ctx, &stevedore.DescribeSecurityGroupsInput{GroupIDs: []string{"client"}})
		require.NoError(t, err)
		assert.Equal(t, g, described.SecurityGroups[0])

		server, client := e.runIn(), e.runIn("client")
		settle()
		srv := addrOf(t, nw, server, 443)
		outside := netip.MustParseAddrPort("192.0.2.1:443")
		require.NoError(t, nw.Check(client, network.ProtocolTCP, netip.AddrPortFrom(srv.Addr(), 80)))
		require.NoError(t, nw.Check(client, network.ProtocolUDP, outside))

		// A rule added beside the default one restricts nothing yet.
		out, err := e.o.AuthorizeSecurityGroupEgress(e.ctx, &stevedore.AuthorizeSecurityGroupEgressInput{GroupID: "client", Rules: parseEgress(t, "tcp:443 to "+srv.Addr().String())})
		require.NoError(t, err)
		assert.Len(t, out.SecurityGroup.EgressRules, 2)
		synctest.Wait()
		require.NoError(t, nw.Check(client, network.ProtocolTCP, netip.AddrPortFrom(srv.Addr(), 80)))

		revoked, err := e.o.RevokeSecurityGroupEgress(e.ctx, &stevedore.RevokeSecurityGroupEgressInput{GroupID: g.ID, Rules: []network.EgressRule{network.DefaultEgressRule()}})
		require.NoError(t, err)
		assert.Equal(t, []string{"tcp:443 to " + srv.Addr().String() + "/32"}, egressStrings(revoked.SecurityGroup.EgressRules))
		synctest.Wait()
		require.NoError(t, nw.Check(client, network.ProtocolTCP, srv), "the rule allows it")
		require.ErrorIs(t, nw.Check(client, network.ProtocolTCP, netip.AddrPortFrom(srv.Addr(), 80)), netfake.ErrDropped, "another port")
		require.ErrorIs(t, nw.Check(client, network.ProtocolUDP, srv), netfake.ErrDropped, "another protocol")
		require.ErrorIs(t, nw.Check(client, network.ProtocolTCP, outside), netfake.ErrDropped, "another address")
		require.NoError(t, nw.Check(server, network.ProtocolTCP, outside), "a task in no group is not filtered")

		// A rejected change changes nothing.
		_, err = e.o.RevokeSecurityGroupEgress(e.ctx, &stevedore.RevokeSecurityGroupEgressInput{GroupID: "client", Rules: parseEgress(t, "tcp:443 to 0.0.0.0/0")})
		require.ErrorIs(t, err, stevedore.ErrInvalid)
		assert.Equal(t, []string{"egressRules[0].destinations[0]"}, fieldsOf(err))
		_, err = e.o.AuthorizeSecurityGroupEgress(e.ctx, &stevedore.AuthorizeSecurityGroupEgressInput{GroupID: "client", Rules: []network.EgressRule{{Protocol: network.ProtocolTCP}}})
		require.ErrorIs(t, err, stevedore.ErrInvalid)
		require.NoError(t, nw.Check(client, network.ProtocolTCP, srv))

		revoked, err = e.o.RevokeSecurityGroupEgress(e.ctx, &stevedore.RevokeSecurityGroupEgressInput{GroupID: "client", Rules: parseEgress(t, "tcp:443 to "+srv.Addr().String())})
		require.NoError(t, err)
		assert.Empty(t, revoked.SecurityGroup.EgressRules)
		assert.NotNil(t, revoked.SecurityGroup.EgressRules, "an empty list, not the default rule")
		synctest.Wait()
		require.ErrorIs(t, nw.Check(client, network.ProtocolTCP, srv), netfake.ErrDropped, "no outbound rule left")
		p, ok := nw.Ingress(client)
		require.True(t, ok)
		require.NotNil(t, p.Egress)
		assert.Empty(t, p.Egress.Rules)

		_, err = e.o.AuthorizeSecurityGroupEgress(e.ctx, &stevedore.AuthorizeSecurityGroupEgressInput{GroupID: "client", Rules: []network.EgressRule{network.DefaultEgressRule()}})
		require.NoError(t, err)
		synctest.Wait()
		require.NoError(t, nw.Check(client, network.ProtocolTCP, outside), "the default rule is back")
		p, _ = nw.Ingress(client)
		assert.Nil(t, p.Egress, "and with it, unrestricted outbound traffic")
	})
}

func TestGroupReferencesAdmitTheGroupsMembers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, nw := sgEnv(t)
		e.register("v1")
		app := e.securityGroup("app")
		e.securityGroup("other")
		db, err := e.o.CreateSecurityGroup(e.ctx, &stevedore.CreateSecurityGroupInput{GroupName: "db",
			IngressRules: []network.IngressRule{fromGroups(5432, "app")}})
		require.NoError(t, err)
		assert.Equal(t, []string{app.ID}, db.SecurityGroup.Rules[0].SourceGroups, "named by name, stored by ID")

		dbTask, a1, outsider := e.runIn("db"), e.runIn("app"), e.runIn("other")
		settle()
		pg := addrOf(t, nw, dbTask, 5432)
		require.NoError(t, nw.Check(a1, network.ProtocolTCP, pg), "a member of app")
		require.ErrorIs(t, nw.Check(outsider, network.ProtocolTCP, pg), netfake.ErrDropped, "not a member")
		require.ErrorIs(t, nw.Check(a1, network.ProtocolTCP, netip.AddrPortFrom(pg.Addr(), 22)), netfake.ErrDropped, "another port")

		// A new member is admitted once it has an address.
		a2 := e.runIn("app")
		settle()
		require.NoError(t, nw.Check(a2, network.ProtocolTCP, pg))
		require.ErrorIs(t, nw.Check(outsider, network.ProtocolTCP, pg), netfake.ErrDropped)

		// A stopped member is not.
		a1Addr := addrOf(t, nw, a1, 0).Addr()
		_, err = e.o.StopTask(e.ctx, &stevedore.StopTaskInput{Cluster: "test", Task: a1})
		require.NoError(t, err)
		settle()
		p, ok := nw.Ingress(dbTask)
		require.True(t, ok)
		require.Len(t, p.Rules, 1)
		assert.Equal(t, "tcp:5432 from "+addrOf(t, nw, a2, 0).Addr().String()+"/32", p.Rules[0].String(),
			"only the member left (%s stopped)", a1Addr)

		// Outbound rules may name groups too: app's tasks reach db only.
		_, err = e.o.RevokeSecurityGroupEgress(e.ctx, &stevedore.RevokeSecurityGroupEgressInput{GroupID: "app", Rules: []network.EgressRule{network.DefaultEgressRule()}})
		require.NoError(t, err)
		g, err := e.o.AuthorizeSecurityGroupEgress(e.ctx, &stevedore.AuthorizeSecurityGroupEgressInput{GroupID: "app", Rules: []network.EgressRule{toGroups(5432, db.SecurityGroup.ID)}})
		require.NoError(t, err)
		assert.Equal(t, []string{db.SecurityGroup.ID}, g.SecurityGroup.EgressRules[0].DestinationGroups)
		synctest.Wait()
		require.NoError(t, nw.Check(a2, network.ProtocolTCP, pg))
		require.ErrorIs(t, nw.Check(a2, network.ProtocolTCP, addrOf(t, nw, outsider, 5432)), netfake.ErrDropped)

		// A new database task is reached by the app tasks already running.
		db2 := e.runIn("db")
		settle()
		require.NoError(t, nw.Check(a2, network.ProtocolTCP, addrOf(t, nw, db2, 5432)))
	})
}

func TestDeleteSecurityGroupReferencedByAnother(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, _ := sgEnv(t)
		app := e.securityGroup("app")
		db, err := e.o.CreateSecurityGroup(e.ctx, &stevedore.CreateSecurityGroupInput{GroupName: "db",
			IngressRules: []network.IngressRule{fromGroups(5432, app.ID)}})
		require.NoError(t, err)
		web := e.securityGroup("web")
		_, err = e.o.AuthorizeSecurityGroupEgress(e.ctx, &stevedore.AuthorizeSecurityGroupEgressInput{GroupID: "web", Rules: []network.EgressRule{toGroups(5432, "db")}})
		require.NoError(t, err)

		var inUse *stevedore.InUseError
		_, err = e.o.DeleteSecurityGroup(e.ctx, &stevedore.DeleteSecurityGroupInput{GroupID: "app"})
		require.ErrorIs(t, err, stevedore.ErrInUse)
		require.ErrorAs(t, err, &inUse)
		assert.Equal(t, []string{"security group " + db.SecurityGroup.ID + " (db)"}, inUse.UsedBy)
		_, err = e.o.DeleteSecurityGroup(e.ctx, &stevedore.DeleteSecurityGroupInput{GroupID: "db"})
		require.ErrorAs(t, err, &inUse)
		assert.Equal(t, []string{"security group " + web.ID + " (web)"}, inUse.UsedBy, "outbound rules count too")

		// A group that names only itself can go.
		mesh, err := e.o.CreateSecurityGroup(e.ctx, &stevedore.CreateSecurityGroupInput{GroupName: "mesh",
			IngressRules: []network.IngressRule{fromGroups(7000, "mesh")}})
		require.NoError(t, err)
		assert.Equal(t, []string{mesh.SecurityGroup.ID}, mesh.SecurityGroup.Rules[0].SourceGroups, "a new group may name itself")
		require.NoError(t, errOf(e.o.DeleteSecurityGroup(e.ctx, &stevedore.DeleteSecurityGroupInput{GroupID: "mesh"})))

		_, err = e.o.RevokeSecurityGroupIngress(e.ctx, &stevedore.RevokeSecurityGroupIngressInput{GroupID: "db", Rules: []network.IngressRule{fromGroups(5432, "app")}})
		require.NoError(t, err)
		require.NoError(t, errOf(e.o.DeleteSecurityGroup(e.ctx, &stevedore.DeleteSecurityGroupInput{GroupID: "app"})), "no rule names it any more")
	})
}

func TestUnknownGroupReferencesAreRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, _ := sgEnv(t)
		app := e.securityGroup("app")
		rules := []network.IngressRule{fromGroups(80, "app", "nope"), fromGroups(81, "sg-0123456789abcdef0")}
		want := []string{"ingressRules[0].sourceGroups[1]", "ingressRules[1].sourceGroups[0]"}

		_, err := e.o.CreateSecurityGroup(e.ctx, &stevedore.CreateSecurityGroupInput{GroupName: "x", IngressRules: rules})
		require.ErrorIs(t, err, stevedore.ErrInvalid)
		assert.Equal(t, want, fieldsOf(err))
		_, err = e.o.CreateSecurityGroup(e.ctx, &stevedore.CreateSecurityGroupInput{GroupName: "sg-x", IngressRules: rules[1:]})
		assert.Equal(t, []string{"groupName", "ingressRules[0].sourceGroups[0]"}, fieldsOf(err))
		_, err = e.o.AuthorizeSecurityGroupIngress(e.ctx, &stevedore.AuthorizeSecurityGroupIngressInput{GroupID: "app", Rules: rules})
		assert.Equal(t, want, fieldsOf(err))
		_, err = e.o.RevokeSecurityGroupIngress(e.ctx, &stevedore.RevokeSecurityGroupIngressInput{GroupID: "app", Rules: rules})
		assert.Equal(t, want, fieldsOf(err))

		egress := []network.EgressRule{toGroups(443, ""), toGroups(443, "app", "sg-0123456789abcdef0")}
		wantEgress := []string{"egressRules[0].destinationGroups[0]", "egressRules[1].destinationGroups[1]"}
		_, err = e.o.AuthorizeSecurityGroupEgress(e.ctx, &stevedore.AuthorizeSecurityGroupEgressInput{GroupID: "app", Rules: egress})
		require.ErrorIs(t, err, stevedore.ErrInvalid)
		assert.Equal(t, wantEgress, fieldsOf(err))
		_, err = e.o.RevokeSecurityGroupEgress(e.ctx, &stevedore.RevokeSecurityGroupEgressInput{GroupID: app.ID, Rules: egress})
		assert.Equal(t, wantEgress, fieldsOf(err))

		all, err := e.o.DescribeSecurityGroups(e.ctx, &stevedore.DescribeSecurityGroupsInput{})
		require.NoError(t, err)
		assert.Equal(t, []network.SecurityGroup{app}, all.SecurityGroups, "nothing was created or changed")
		assert.Equal(t, "app", rules[0].SourceGroups[0], "the caller's rules are left as they were")
	})
}

func TestRestrictedEgressStillReachesTheDNSServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The discovery server is given an address the host does not
		// have: it never binds (it retries, in the bubble's time), and the
		// tasks get it as their resolver all the same.
		cfg := discovery.DefaultConfig()
		cfg.Listen = "192.0.2.53:53"
		e, nw := sgEnv(t, stevedore.WithServiceDiscovery(cfg))
		e.register("v1")
		e.securityGroup("locked")
		_, err := e.o.RevokeSecurityGroupEgress(e.ctx, &stevedore.RevokeSecurityGroupEgressInput{GroupID: "locked", Rules: []network.EgressRule{network.DefaultEgressRule()}})
		require.NoError(t, err)
		e.securityGroup("open")
		locked, open := e.runIn("locked"), e.runIn("open")
		settle()

		resolver := netip.MustParseAddr("192.0.2.53")
		assert.Equal(t, []netip.Addr{resolver}, setupRequest(t, nw, locked).DNS.Servers)
		require.NoError(t, nw.Check(locked, network.ProtocolUDP, netip.AddrPortFrom(resolver, 53)), "AWS exempts its resolver")
		require.NoError(t, nw.Check(locked, network.ProtocolTCP, netip.AddrPortFrom(resolver, 53)))
		require.ErrorIs(t, nw.Check(locked, network.ProtocolTCP, netip.AddrPortFrom(resolver, 80)), netfake.ErrDropped, "only DNS")
		require.ErrorIs(t, nw.Check(locked, network.ProtocolUDP, netip.MustParseAddrPort("192.0.2.54:53")), netfake.ErrDropped, "only to its server")
		p, ok := nw.Ingress(open)
		require.True(t, ok)
		assert.Nil(t, p.Egress, "unrestricted egress stays unrestricted")

		// The exemption outlives changes of the rules.
		_, err = e.o.AuthorizeSecurityGroupEgress(e.ctx, &stevedore.AuthorizeSecurityGroupEgressInput{GroupID: "locked", Rules: parseEgress(t, "tcp:443 to 0.0.0.0/0")})
		require.NoError(t, err)
		synctest.Wait()
		require.NoError(t, nw.Check(locked, network.ProtocolUDP, netip.AddrPortFrom(resolver, 53)))
		require.NoError(t, nw.Check(locked, network.ProtocolTCP, netip.MustParseAddrPort("192.0.2.54:443")))
	})
}
