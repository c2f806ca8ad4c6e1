package etcd_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/etcd"
	"github.com/stevedore-io/stevedore/store/storetest"
)

// replica is one control-plane replica: its own client, its own session
// and a store on the shared prefix.
type replica struct {
	store   *etcd.Store
	session *concurrency.Session
	elect   *concurrency.Election
}

func newReplica(t *testing.T, prefix, election string) *replica {
	t.Helper()
	c := client(t, shared.Endpoints)
	s, err := etcd.New(c, etcd.WithCodec(itemCodec()), etcd.WithPrefix(prefix))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	sess, err := concurrency.NewSession(c, concurrency.WithTTL(60))
	require.NoError(t, err)
	t.Cleanup(func() { sess.Close() })
	return &replica{store: s, session: sess, elect: concurrency.NewElection(sess, election)}
}

// lead campaigns until r leads, and returns the store its leader loops
// would get.
func (r *replica) lead(t *testing.T) *etcd.GuardedStore {
	t.Helper()
	require.NoError(t, r.elect.Campaign(t.Context(), "replica"))
	gs, err := r.store.WithGuard(etcd.ElectionGuard(r.elect))
	require.NoError(t, err)
	return gs
}

// depose ends r's leadership the way a lease running out does: etcd
// deletes its election key.
func (r *replica) depose(t *testing.T) {
	t.Helper()
	_, err := r.store.Client().Revoke(t.Context(), r.session.Lease())
	require.NoError(t, err)
}

// TestGuardFencesDeposedLeader shows a deposed leader's writes refused: one
// attempted after it lost the election, and one whose transaction was
// under way when it lost it (a leader paused between its read and its
// commit). The new leader's writes go through.
func TestGuardFencesDeposedLeader(t *testing.T) {
	t.Parallel()
	prefix := uniquePrefix(t)
	election := prefix + "-election"
	old, successor := newReplica(t, prefix, election), newReplica(t, prefix, election)

	oldLeader := old.lead(t)
	createItems(t, oldLeader, item(storetest.KindA, "counter", 0))
	storetest.Increment(t, oldLeader, storetest.KindA, "counter")
	guard := oldLeader.Guard()

	// Paused between read and commit: the lease runs out and the
	// successor takes over before the old leader commits.
	runs := 0
	late := item(storetest.KindA, "late", 0)
	err := oldLeader.Update(t.Context(), func(tx store.Tx) error {
		runs++
		cur, err := store.Get[*storetest.Item](tx, storetest.KindA, "counter")
		if err != nil {
			return err
		}
		if runs == 1 {
			old.depose(t)
			successor.lead(t)
		}
		next := cur.Clone()
		next.Value = 100
		if err := tx.Update(next); err != nil {
			return err
		}
		return tx.Create(late)
	})
	require.ErrorIs(t, err, etcd.ErrFenced)
	var fenced *etcd.FencedError
	require.ErrorAs(t, err, &fenced)
	assert.Equal(t, etcd.FencedError{Key: guard.Key, Expected: guard.CreateRevision, Actual: 0}, *fenced)
	assert.Equal(t, 1, runs, "a fenced commit is not retried")
	assert.Zero(t, late.Meta, "the refused Create gives the object its Meta back")

	// Woken up later, it tries again: refused again.
	err = oldLeader.Update(t.Context(), func(tx store.Tx) error {
		return tx.Create(item(storetest.KindA, "later", 0))
	})
	require.ErrorIs(t, err, etcd.ErrFenced)

	assert.Equal(t, 1, getItem(t, old.store, storetest.KindA, "counter").Value, "nothing of the deposed leader's was written")
	assert.Len(t, listItems(t, old.store, storetest.KindA), 1)

	newLeader, err := successor.store.WithGuard(etcd.ElectionGuard(successor.elect))
	require.NoError(t, err)
	storetest.Increment(t, newLeader, storetest.KindA, "counter")
	assert.Equal(t, 2, getItem(t, successor.store, storetest.KindA, "counter").Value)
	require.NoError(t, newLeader.Close())
	storetest.Increment(t, successor.store, storetest.KindA, "counter") // closing the guarded store left the store open
}

// TestGuardOnAKeyRecreated refuses a guard whose key exists again with a
// later create revision: a leader that lost and regained the same key is
// a different term.
func TestGuardOnAKeyRecreated(t *testing.T) {
	t.Parallel()
	s := open(t, shared.Endpoints, etcd.WithPrefix(uniquePrefix(t)))
	key := s.Prefix() + "-term"
	resp, err := s.Client().Put(t.Context(), key, "1")
	require.NoError(t, err)
	first := resp.Header.Revision
	_, err = s.Client().Delete(t.Context(), key)
	require.NoError(t, err)
	resp, err = s.Client().Put(t.Context(), key, "2")
	require.NoError(t, err)

	stale, err := s.WithGuard(etcd.Guard{Key: key, CreateRevision: first})
	require.NoError(t, err)
	err = stale.Update(t.Context(), func(tx store.Tx) error { return tx.Create(item(storetest.KindA, "x", 0)) })
	var fenced *etcd.FencedError
	require.ErrorAs(t, err, &fenced)
	assert.Equal(t, resp.Header.Revision, fenced.Actual)

	_, err = s.WithGuard(etcd.Guard{Key: key})
	require.ErrorIs(t, err, store.ErrInvalid)
}
