package leader_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/stevedore-io/stevedore/internal/etcdtest"
	"github.com/stevedore-io/stevedore/internal/leader"
	"github.com/stevedore-io/stevedore/internal/testutil"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/etcd"
	"github.com/stevedore-io/stevedore/store/storetest"
)

func TestMain(m *testing.M) {
	if etcdtest.IsMember() { // a member process of TestElectionOnAThreeMemberCluster
		etcdtest.MemberMain()
		return
	}
	if endpoint := os.Getenv(replicaProcessEnv); endpoint != "" { // of TestPausedLeaderProcessIsFenced
		os.Exit(replicaProcess(endpoint))
	}
	goleak.VerifyTestMain(m)
}

// ttl is the shortest lease etcd keeps: failovers in these tests take a
// few seconds at most.
const ttl = leader.MinTTL

// waitLimit bounds every wait for the election: a few lease TTLs.
const waitLimit = 5 * ttl

const electionKey = "/leader-test-election"

// replica is one participant: its own client (through proxy when given),
// store and Elector, running until stop or the test's end.
type replica struct {
	name    string
	client  *clientv3.Client
	store   *etcd.Store
	elector *leader.Elector

	mu       sync.Mutex
	terms    int                 // how many times Lead was called
	leading  store.Store         // the store of the running term; nil between terms
	statuses []leader.Status     // every Notify
	log      testutil.SyncBuffer // what the elector logs

	stop func()
	done chan error
}

// lead is each replica's Lead: it records the term's store and holds it
// until the term ends.
func (r *replica) lead(ctx context.Context, s store.Store) error {
	r.mu.Lock()
	r.terms++
	r.leading = s
	r.mu.Unlock()
	<-ctx.Done()
	r.mu.Lock()
	r.leading = nil
	r.mu.Unlock()
	return nil
}

func (r *replica) term() store.Store {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.leading
}

func startReplica(t *testing.T, name string, endpoints ...string) *replica {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: endpoints, Logger: zap.NewNop(), DialTimeout: time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	s, err := etcd.New(c, etcd.WithCodec(codec()), etcd.WithPrefix("/leader-test"))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	r := &replica{name: name, client: c, store: s, done: make(chan error, 1)}
	r.elector, err = leader.New(leader.Config{Store: s, Key: electionKey, Name: name, TTL: ttl, Lead: r.lead,
		Logger: slog.New(slog.NewTextHandler(&r.log, nil)),
		Notify: func(st leader.Status) {
			r.mu.Lock()
			r.statuses = append(r.statuses, st)
			r.mu.Unlock()
		}})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-r.done:
				assert.NoError(t, err)
			case <-time.After(waitLimit):
				t.Errorf("replica %s did not stop within %v", name, waitLimit)
			}
		})
	}
	go func() {
		// As the supervisor does: a term that failed is tried again.
		for {
			err := r.elector.Run(ctx)
			if ctx.Err() != nil {
				r.done <- err
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(r.stop)
	return r
}

func codec() store.Codec {
	return store.NewJSONCodec(map[string]func() store.Object{
		storetest.KindA: func() store.Object { return new(storetest.Item) },
	})
}

// eventually polls cond every 20 ms for at most waitLimit.
func eventually(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	require.Eventually(t, cond, waitLimit, 20*time.Millisecond, msg)
}

// theLeader waits until exactly one of rs leads, and returns it.
func theLeader(t *testing.T, rs ...*replica) *replica {
	t.Helper()
	var l *replica
	eventually(t, func() bool {
		l = nil
		n := 0
		for _, r := range rs {
			if r.elector.Status().Leading {
				l = r
				n++
			}
		}
		return n == 1 && l.term() != nil
	}, "one replica leads")
	return l
}

func other(l *replica, rs ...*replica) *replica {
	for _, r := range rs {
		if r != l {
			return r
		}
	}
	return nil
}

func TestOneLeaderAndATakeOverWhenItStops(t *testing.T) {
	srv := etcdtest.Start(t)
	a := startReplica(t, "a", srv.Endpoints[0])
	b := startReplica(t, "b", srv.Endpoints[0])
	first := theLeader(t, a, b)
	second := other(first, a, b)
	assert.Eventually(t, func() bool { return second.elector.Status().Leader == first.name }, waitLimit, 20*time.Millisecond,
		"the follower sees who leads")
	st := first.elector.Status()
	assert.Positive(t, st.Term)
	assert.Equal(t, "elected", st.Reason)

	// Stopping the leader revokes its lease: the other takes over at once,
	// well before the lease would have run out.
	stopped := time.Now()
	first.stop()
	require.Equal(t, second, theLeader(t, a, b))
	assert.Less(t, second.elector.Status().Since.Sub(stopped), ttl, "the lease was revoked, not left to expire")
	assert.Greater(t, second.elector.Status().Term, st.Term, "a new term, a newer fencing token")
	st = first.elector.Status()
	assert.False(t, st.Leading)
	assert.Equal(t, "closing", st.Reason)
	assert.Nil(t, first.term(), "the stopped leader's Lead returned")
}

// TestDeposedLeaderIsFenced: a leader paused between its read and its
// commit loses its lease meanwhile (here revoked, as etcd does when it
// runs out); when it resumes, its write is refused and writes nothing, and
// its term ends.
func TestDeposedLeaderIsFenced(t *testing.T) {
	srv := etcdtest.Start(t)
	a := startReplica(t, "a", srv.Endpoints[0])
	old := theLeader(t, a)
	s := old.term()

	read := make(chan struct{})
	resume := make(chan struct{})
	written := make(chan error, 1)
	go func() {
		written <- s.Update(context.Background(), func(tx store.Tx) error {
			if _, err := tx.Get(storetest.KindA, "x"); !errors.Is(err, store.ErrNotFound) {
				return err
			}
			select {
			case <-read:
			default:
				close(read)
			}
			<-resume
			return tx.Create(&storetest.Item{Group: storetest.KindA, ID: "x", Value: 1})
		})
	}()
	<-read
	// The pause: the old leader's lease is gone, and another replica leads.
	keys, err := a.client.Get(t.Context(), electionKey+"/", clientv3.WithPrefix())
	require.NoError(t, err)
	require.Len(t, keys.Kvs, 1)
	b := startReplica(t, "b", srv.Endpoints[0])
	_, err = a.client.Revoke(t.Context(), clientv3.LeaseID(keys.Kvs[0].Lease))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return b.elector.Status().Leading }, waitLimit, 20*time.Millisecond)
	close(resume)

	select {
	case err := <-written:
		var fenced *etcd.FencedError
		require.ErrorAs(t, err, &fenced)
		assert.ErrorIs(t, err, etcd.ErrFenced)
	case <-time.After(waitLimit):
		t.Fatal("the paused write did not return")
	}
	err = b.store.View(t.Context(), func(tx store.ReadTx) error {
		_, err := tx.Get(storetest.KindA, "x")
		return err
	})
	assert.ErrorIs(t, err, store.ErrNotFound, "the fenced write wrote nothing")
	eventually(t, func() bool { return !a.elector.Status().Leading && a.term() == nil }, "the deposed leader stopped its loops")
	// A second term of the old replica would be a new Lead call: the
	// replica campaigns again behind b, and does not lead.
	assert.Equal(t, b, theLeader(t, a, b))
}

// TestLeaderCutOffFromEtcdStepsDown: a leader that can no longer reach
// etcd stops its loops within its lease TTL, says why, and the replica
// that still reaches etcd takes over.
func TestLeaderCutOffFromEtcdStepsDown(t *testing.T) {
	srv := etcdtest.Start(t)
	proxy := etcdtest.StartProxy(t, srv.Endpoints[0])
	a := startReplica(t, "a", proxy.Endpoint)
	theLeader(t, a)
	b := startReplica(t, "b", srv.Endpoints[0])
	eventually(t, func() bool { return b.elector.Status().Leader == "a" }, "b sees a lead")

	cut := time.Now()
	proxy.Cut()
	eventually(t, func() bool { return !a.elector.Status().Leading }, "a steps down")
	// Since is when a's loops had all returned.
	assert.Less(t, a.elector.Status().Since.Sub(cut), ttl, "a stops acting within its lease TTL")
	assert.Nil(t, a.term(), "a's loops have stopped")
	st := a.elector.Status()
	assert.Contains(t, st.Reason, "lost etcd")
	assert.Regexp(t, `level=WARN msg="leader election: this replica no longer leads.*reason="lost etcd`, a.log.String(), "a says so in its log")

	assert.Equal(t, b, theLeader(t, a, b))
	a.mu.Lock()
	statuses := append([]leader.Status(nil), a.statuses...)
	a.mu.Unlock()
	var changes []bool
	for _, s := range statuses {
		if len(changes) == 0 || changes[len(changes)-1] != s.Leading {
			changes = append(changes, s.Leading)
		}
	}
	assert.Equal(t, []bool{true, false}, changes[len(changes)-2:], "Notify told of the election and of the loss")

	// Back on etcd, a follows b.
	proxy.Restore()
	eventually(t, func() bool { return a.elector.Status().Leader == "b" }, "a sees b lead")
	assert.False(t, a.elector.Status().Leading)
}

func TestNewChecksTheConfig(t *testing.T) {
	s := &etcd.Store{}
	lead := func(context.Context, store.Store) error { return nil }
	for name, cfg := range map[string]leader.Config{
		"no store": {Key: "/k", Name: "a", TTL: ttl, Lead: lead},
		"no key":   {Store: s, Name: "a", TTL: ttl, Lead: lead},
		"no name":  {Store: s, Key: "/k", TTL: ttl, Lead: lead},
		"short":    {Store: s, Key: "/k", Name: "a", TTL: time.Second, Lead: lead},
		"no lead":  {Store: s, Key: "/k", Name: "a", TTL: ttl},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := leader.New(cfg)
			assert.Error(t, err)
		})
	}
}

// TestElectionOnAThreeMemberCluster: replicas dialling every member of a
// three-member cluster keep one leader, whose writes commit, while a member
// is killed and brought back.
func TestElectionOnAThreeMemberCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three etcd processes")
	}
	c := etcdtest.StartCluster(t, 3)
	a := startReplica(t, "a", c.Endpoints()...)
	b := startReplica(t, "b", c.Endpoints()...)
	write := func(id string) {
		t.Helper()
		eventually(t, func() bool {
			var s store.Store
			for _, r := range []*replica{a, b} {
				if r.elector.Status().Leading {
					s = r.term()
				}
			}
			if s == nil {
				return false
			}
			ctx, cancel := context.WithTimeout(t.Context(), ttl)
			defer cancel()
			err := s.Update(ctx, func(tx store.Tx) error {
				return tx.Create(&storetest.Item{Group: storetest.KindA, ID: id})
			})
			// A commit cut short by the kill may have been applied.
			return err == nil || errors.Is(err, store.ErrAlreadyExists)
		}, "the leader writes "+id)
	}
	write("before")
	c.Members[0].Kill(t)
	write("member-killed")
	c.Members[0].Restart(t)
	write("member-back")
	err := a.store.View(t.Context(), func(tx store.ReadTx) error {
		items, err := store.List[*storetest.Item](tx, storetest.KindA)
		require.Len(t, items, 3)
		return err
	})
	require.NoError(t, err)
}
