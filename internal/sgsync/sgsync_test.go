package sgsync_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/internal/sgsync"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/memory"
	"github.com/stevedore-io/stevedore/task"
)

func newTask(t *testing.T, id string, last task.Status, groups ...string) *state.Task {
	t.Helper()
	td, _, err := task.ParseDefinition([]byte(`{"family": "web", "networkMode": "awsvpc",
		"containerDefinitions": [{"name": "app", "image": "web", "memory": 16}]}`))
	require.NoError(t, err)
	tk, err := task.NewTask("arn:aws:ecs:local:0:task/test/"+id, td, nil, time.Now())
	require.NoError(t, err)
	tk.ClusterARN, tk.DesiredStatus, tk.LastStatus, tk.SecurityGroups = "test", task.Running, last, groups
	return &state.Task{Task: tk}
}

func withAddr(t *state.Task, addr string) *state.Task {
	t.Network = &network.Attachment{TaskID: t.ID(), Mode: network.ModeAWSVPC, Address: netip.MustParsePrefix(addr + "/16")}
	return t
}

func mustRule(t *testing.T, s string) network.IngressRule {
	t.Helper()
	r, err := network.ParseIngressRule(s)
	require.NoError(t, err)
	return r
}

// sourcesOf lists the sources of a policy's inbound rules, as strings.
func sourcesOf(p *network.IngressPolicy) []string {
	var out []string
	if p == nil {
		return nil
	}
	for _, r := range p.Rules {
		out = append(out, r.String())
	}
	return out
}

func TestMemberAddr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		task   *state.Task
		member bool
	}{
		{"no address yet", newTask(t, "a", task.Provisioning, "sg-1"), false},
		{"pending with an address", withAddr(newTask(t, "a", task.Pending, "sg-1"), "10.88.0.2"), true},
		{"deactivating", withAddr(newTask(t, "a", task.Deactivating, "sg-1"), "10.88.0.2"), true},
		{"deprovisioning", withAddr(newTask(t, "a", task.Deprovisioning, "sg-1"), "10.88.0.2"), false},
		{"stopped", withAddr(newTask(t, "a", task.Stopped, "sg-1"), "10.88.0.2"), false},
		{"in no group", withAddr(newTask(t, "a", task.Running), "10.88.0.2"), false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, ok := sgsync.MemberAddr(tt.task)
			assert.Equal(t, tt.member, ok)
		})
	}
}

func TestPolicyLetsRestrictedTasksReachTheirDNSServer(t *testing.T) {
	t.Parallel()
	dns := &network.DNSConfig{Servers: []netip.Addr{netip.MustParseAddr("10.88.0.1"), netip.MustParseAddr("fd00::1")}}
	server := netip.MustParseAddr("10.88.0.1")

	open := network.NewSecurityGroup("sg-1", "open", "")
	p := sgsync.Policy(nil, dns, open)
	require.NotNil(t, p)
	assert.Nil(t, p.Egress, "the default outbound rule stays unrestricted")

	closed := network.NewSecurityGroup("sg-2", "closed", "")
	require.NoError(t, closed.RevokeEgress([]network.EgressRule{network.DefaultEgressRule()}))
	p = sgsync.Policy(nil, dns, closed)
	require.NotNil(t, p.Egress)
	assert.True(t, p.AllowsOutbound(server, network.ProtocolUDP, 53))
	assert.True(t, p.AllowsOutbound(server, network.ProtocolTCP, 53))
	assert.False(t, p.AllowsOutbound(server, network.ProtocolTCP, 80))
	assert.False(t, p.AllowsOutbound(netip.MustParseAddr("10.88.0.9"), network.ProtocolUDP, 53))
	assert.Empty(t, p.Rules, "nothing inbound is added")
	require.NoError(t, p.Validate())

	p = sgsync.Policy(nil, nil, closed)
	assert.False(t, p.AllowsOutbound(server, network.ProtocolUDP, 53), "no DNS server given, none allowed")
	assert.Nil(t, sgsync.Policy(nil, dns), "no group, no filtering")
}

// world is a store with the loop following it.
type world struct {
	t   *testing.T
	ctx context.Context
	st  store.Store
}

func newWorld(t *testing.T) *world {
	t.Helper()
	st, err := memory.New()
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	s, err := sgsync.New(sgsync.Config{Store: st})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
	return &world{t: t, ctx: ctx, st: st}
}

func (w *world) write(objs ...store.Object) {
	w.t.Helper()
	require.NoError(w.t, w.st.Update(w.ctx, func(tx store.Tx) error {
		for _, o := range objs {
			cur, err := tx.Get(o.Kind(), o.ObjectID())
			if err != nil {
				if err := tx.Create(o); err != nil {
					return err
				}
				continue
			}
			// A new version of a task, as its agent would write it.
			o.(*state.Task).Meta = cur.(*state.Task).Meta
			if err := tx.Update(o); err != nil {
				return err
			}
		}
		return nil
	}))
	synctest.Wait()
}

func (w *world) task(id string) *state.Task {
	w.t.Helper()
	var out *state.Task
	require.NoError(w.t, w.st.View(w.ctx, func(tx store.ReadTx) error {
		var err error
		out, err = store.Get[*state.Task](tx, state.KindTasks, id)
		return err
	}))
	return out
}

func TestPoliciesFollowTheMembersOfReferencedGroups(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		app := network.NewSecurityGroup("sg-a", "app", "")
		db := network.NewSecurityGroup("sg-d", "db", "")
		require.NoError(t, db.AuthorizeIngress([]network.IngressRule{mustRule(t, "tcp:5432 from sg-a")}))
		other := network.NewSecurityGroup("sg-0", "other", "")
		require.NoError(t, other.AuthorizeIngress([]network.IngressRule{mustRule(t, "tcp:22 from 10.0.0.0/8")}))
		w.write(&state.SecurityGroup{SecurityGroup: *app}, &state.SecurityGroup{SecurityGroup: *db}, &state.SecurityGroup{SecurityGroup: *other})

		// The database starts before any member of app has an address:
		// its rule admits no one.
		dbTask := withAddr(newTask(t, "db", task.Running, "sg-d"), "10.88.0.2")
		dbTask.Ingress = sgsync.Policy(nil, nil, db) // as the launch makes it
		w.write(dbTask, newTask(t, "notdb", task.Running, "sg-0"))
		require.NotNil(t, w.task("db").Ingress)
		assert.Empty(t, sourcesOf(w.task("db").Ingress), "the rule admits no one")

		w.write(newTask(t, "a1", task.Provisioning, "sg-a"))
		assert.Empty(t, sourcesOf(w.task("db").Ingress), "a member without an address admits nothing")
		w.write(withAddr(newTask(t, "a1", task.Pending, "sg-a"), "10.88.0.3"))
		assert.Equal(t, []string{"tcp:5432 from 10.88.0.3/32"}, sourcesOf(w.task("db").Ingress), "admitted once it has an address")
		w.write(withAddr(newTask(t, "a2", task.Pending, "sg-a"), "10.88.0.4"))
		assert.Equal(t, []string{"tcp:5432 from 10.88.0.3/32,10.88.0.4/32"}, sourcesOf(w.task("db").Ingress))
		rev := w.task("notdb").ModRevision

		w.write(withAddr(newTask(t, "a1", task.Stopping, "sg-a"), "10.88.0.3"))
		assert.Equal(t, []string{"tcp:5432 from 10.88.0.3/32,10.88.0.4/32"}, sourcesOf(w.task("db").Ingress), "still a member while STOPPING")
		w.write(withAddr(newTask(t, "a1", task.Deprovisioning, "sg-a"), "10.88.0.3"))
		assert.Equal(t, []string{"tcp:5432 from 10.88.0.4/32"}, sourcesOf(w.task("db").Ingress), "gone at DEPROVISIONING: its address goes back to the pool")
		require.NoError(t, w.st.Update(w.ctx, func(tx store.Tx) error { return tx.Delete(state.KindTasks, "a2") }))
		synctest.Wait()
		assert.Empty(t, sourcesOf(w.task("db").Ingress), "a task deleted while a member is gone too")
		assert.Equal(t, rev, w.task("notdb").ModRevision, "a task whose groups name no changed group is not written")
	})
}

func TestTheLoopCatchesUpWhenItStarts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st, err := memory.New()
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, st.Close()) })
		app := network.NewSecurityGroup("sg-a", "app", "")
		db := network.NewSecurityGroup("sg-d", "db", "")
		require.NoError(t, db.AuthorizeIngress([]network.IngressRule{mustRule(t, "tcp:5432 from sg-a")}))
		dbTask := withAddr(newTask(t, "db", task.Running, "sg-d"), "10.88.0.2")
		dbTask.Ingress = sgsync.Policy(nil, nil, db) // made before the member came
		stopped := withAddr(newTask(t, "old", task.Stopped, "sg-d"), "10.88.0.9")
		require.NoError(t, st.Update(t.Context(), func(tx store.Tx) error {
			return errors.Join(tx.Create(&state.SecurityGroup{SecurityGroup: *app}), tx.Create(&state.SecurityGroup{SecurityGroup: *db}),
				tx.Create(dbTask), tx.Create(stopped), tx.Create(withAddr(newTask(t, "a1", task.Running, "sg-a"), "10.88.0.3")))
		}))

		// The member came while no loop ran; the loop's first pass
		// makes the policy again, and leaves the STOPPED task alone.
		w := &world{t: t, ctx: t.Context(), st: st}
		s, err := sgsync.New(sgsync.Config{Store: st})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
		synctest.Wait()
		assert.Equal(t, []string{"tcp:5432 from 10.88.0.3/32"}, sourcesOf(w.task("db").Ingress))
		assert.Nil(t, w.task("old").Ingress)
	})
}
