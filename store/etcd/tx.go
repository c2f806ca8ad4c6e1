package etcd

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/stevedore-io/stevedore/store"
	txnguard "github.com/stevedore-io/stevedore/store/internal/txn"
)

// maxKeyCompares is how many keys of one kind an Update compares one by
// one; beyond it the commit compares the kind's guard instead, which is
// coarser (any write to the kind fails it) but keeps the transaction within
// etcd's --max-txn-ops.
const maxKeyCompares = 16

// readTx reads one snapshot of the mirror.
type readTx struct {
	snap *snapshot
}

func (tx *readTx) Revision() int64 { return tx.snap.rev }

func (tx *readTx) Get(kind, id string) (store.Object, error) {
	if err := store.ValidateKey(kind, id); err != nil {
		return nil, err
	}
	if obj := tx.snap.get(kind, id); obj != nil {
		return obj, nil
	}
	return nil, store.NotFoundError(kind, id)
}

func (tx *readTx) List(kind string) ([]store.Object, error) {
	if err := store.ValidateKind(kind); err != nil {
		return nil, err
	}
	return tx.snap.list(kind), nil
}

// decode turns stored bytes into an object. ModRevision is etcd's; the
// stored Meta keeps CreateRevision, or 0 when the write that stored these
// bytes created the object, which etcd's ModRevision then gives.
func (s *Store) decode(kind string, data []byte, modRev int64) (store.Object, error) {
	obj, err := s.codec.Unmarshal(kind, data)
	if err != nil {
		return nil, fmt.Errorf("etcd store: decode %s at revision %d: %w", kind, modRev, err)
	}
	m := obj.StoreMeta()
	m.ModRevision = modRev
	if m.CreateRevision == 0 {
		m.CreateRevision = modRev
	}
	return obj, nil
}

// decodeKey decodes the version of key at modRev, or takes the object this
// store committed as that version.
func (s *Store) decodeKey(key, kind string, data []byte, modRev int64) (store.Object, error) {
	if obj := s.decoded.take(key, modRev); obj != nil {
		return obj, nil
	}
	return s.decode(kind, data, modRev)
}

// encode encodes obj as written by a transaction whose provisional
// revision is prov (see writeTx).
func (s *Store) encode(obj store.Object, prov int64) ([]byte, error) {
	m := obj.StoreMeta()
	was := *m
	*m = store.Meta{}
	if was.CreateRevision != prov {
		m.CreateRevision = was.CreateRevision
	}
	data, err := s.codec.Marshal(obj)
	*m = was
	return data, err
}

// writeTx is one run of an Update's function. It reads one snapshot of the
// mirror, remembers what it read (to compare at commit) and keeps its
// writes until commit.
//
// Objects written get a provisional revision, the snapshot's plus one: no
// object of the snapshot has it, so compare-and-swap within the
// transaction works, and commit replaces it with the real one.
type writeTx struct {
	readTx
	s    *Store
	prov int64

	reads   map[string]*read // by key: what the transaction read
	listed  map[string]bool  // kinds listed
	perKind map[string]int   // keys read one by one, by kind
	writes  map[string]*write
	order   []string // keys in the order first written
	journal []journalOp
	// Guard keeps the Meta of every object given to Create or Update
	// before the transaction changed it, to give it back on rollback.
	txnguard.Guard
}

type read struct {
	kind string
	obj  store.Object // nil: absent
	mod  int64        // 0: absent
}

type write struct {
	kind, id string
	obj      store.Object // nil: deleted
	ops      int
}

func newWriteTx(s *Store, snap *snapshot) *writeTx {
	return &writeTx{
		readTx:  readTx{snap: snap},
		s:       s,
		prov:    snap.rev + 1,
		reads:   map[string]*read{},
		listed:  map[string]bool{},
		perKind: map[string]int{},
		writes:  map[string]*write{},
	}
}

func (tx *writeTx) Get(kind, id string) (store.Object, error) {
	if err := tx.Usable(); err != nil {
		return nil, err
	}
	if err := store.ValidateKey(kind, id); err != nil {
		return nil, err
	}
	obj, err := tx.lookup(kind, id)
	if err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, store.NotFoundError(kind, id)
	}
	return obj, nil
}

func (tx *writeTx) List(kind string) ([]store.Object, error) {
	if err := tx.Usable(); err != nil {
		return nil, err
	}
	if err := store.ValidateKind(kind); err != nil {
		return nil, err
	}
	tx.listed[kind] = true
	objs := tx.snap.list(kind)
	var mine map[string]*write // this transaction's writes of kind, by ID
	for _, w := range tx.writes {
		if w.kind == kind {
			if mine == nil {
				mine = map[string]*write{}
			}
			mine[w.id] = w
		}
	}
	if mine == nil {
		return objs, nil
	}
	out := make([]store.Object, 0, len(objs)+len(mine))
	for _, obj := range objs {
		if w := mine[obj.ObjectID()]; w != nil {
			if w.obj != nil {
				out = append(out, w.obj)
			}
			delete(mine, obj.ObjectID())
			continue
		}
		out = append(out, obj)
	}
	for _, w := range mine {
		if w.obj != nil {
			out = append(out, w.obj)
		}
	}
	slices.SortFunc(out, func(a, b store.Object) int { return strings.Compare(a.ObjectID(), b.ObjectID()) })
	return out, nil
}

// lookup returns kind/id as the transaction sees it, or nil.
func (tx *writeTx) lookup(kind, id string) (store.Object, error) {
	key := tx.s.keys.object(kind, id)
	if w := tx.writes[key]; w != nil {
		return w.obj, nil
	}
	r, err := tx.read(kind, id, key)
	if err != nil {
		return nil, err
	}
	return r.obj, nil
}

// read returns what the transaction read of key, reading it first if need
// be.
func (tx *writeTx) read(kind, id, key string) (*read, error) {
	if r := tx.reads[key]; r != nil {
		return r, nil
	}
	obj := tx.snap.get(kind, id)
	r := &read{kind: kind, obj: obj}
	if obj != nil {
		r.mod = obj.StoreMeta().ModRevision
	}
	tx.reads[key] = r
	tx.perKind[kind]++
	return r, nil
}

func (tx *writeTx) Create(obj store.Object) error {
	kind, id, meta, err := tx.Check(obj)
	if err != nil {
		return err
	}
	cur, err := tx.lookup(kind, id)
	if err != nil {
		return err
	}
	if cur != nil {
		return store.AlreadyExistsError(kind, id)
	}
	tx.SetMeta(meta, store.Meta{CreateRevision: tx.prov, ModRevision: tx.prov})
	tx.write(store.Created, kind, id, obj)
	return nil
}

func (tx *writeTx) Update(obj store.Object) error {
	kind, id, meta, err := tx.Check(obj)
	if err != nil {
		return err
	}
	cur, err := tx.lookup(kind, id)
	if err != nil {
		return err
	}
	if cur == nil {
		return store.NotFoundError(kind, id)
	}
	stored := cur.StoreMeta()
	if meta == stored {
		return fmt.Errorf("%w: %s/%s: Update was given the object read from the store itself; update a copy",
			store.ErrInvalid, kind, id)
	}
	if meta.ModRevision != stored.ModRevision {
		return &store.ConflictError{Kind: kind, ID: id, Expected: meta.ModRevision, Actual: stored.ModRevision}
	}
	tx.SetMeta(meta, store.Meta{CreateRevision: stored.CreateRevision, ModRevision: tx.prov})
	tx.write(store.Updated, kind, id, obj)
	return nil
}

func (tx *writeTx) Delete(kind, id string) error {
	if err := tx.Usable(); err != nil {
		return err
	}
	if err := store.ValidateKey(kind, id); err != nil {
		return err
	}
	cur, err := tx.lookup(kind, id)
	if err != nil {
		return err
	}
	if cur == nil {
		return store.NotFoundError(kind, id)
	}
	tx.write(store.Deleted, kind, id, nil)
	return nil
}

func (tx *writeTx) write(typ store.EventType, kind, id string, obj store.Object) {
	key := tx.s.keys.object(kind, id)
	w := tx.writes[key]
	if w == nil {
		w = &write{kind: kind, id: id}
		tx.writes[key] = w
		tx.order = append(tx.order, key)
	}
	w.obj = obj
	w.ops++
	tx.journal = append(tx.journal, journalOp{Type: typ, Kind: kind, ID: id, obj: obj})
}

func (tx *writeTx) rollback() { tx.Restore() }

func (tx *writeTx) wrote() bool { return len(tx.journal) > 0 }

// settle gives every object written the revision the transaction committed
// at in place of the provisional one.
func (tx *writeTx) settle(rev int64) {
	for _, c := range tx.Saved() {
		m := c.Meta
		if m.CreateRevision == tx.prov {
			m.CreateRevision = rev
		}
		if m.ModRevision == tx.prov {
			m.ModRevision = rev
		}
	}
}

// remember puts the objects the transaction committed at rev in the cache
// of decoded objects: they belong to the store now, and their Meta is
// what decoding them would give.
func (tx *writeTx) remember(rev int64) {
	if snap := tx.s.mirror.snap.Load(); snap != nil && snap.rev >= rev {
		return // the copy decoded them already
	}
	for key, w := range tx.writes {
		if w.obj != nil {
			tx.s.decoded.put(key, rev, w.obj)
		}
	}
}

// compares returns what the transaction's commit compares: every object
// read must still have the ModRevision it was read at (0: still absent),
// and every kind listed, or read one by one past maxKeyCompares objects,
// must not have been written since the snapshot.
func (tx *writeTx) compares() []clientv3.Cmp {
	guarded := map[string]bool{}
	for kind := range tx.listed {
		guarded[kind] = true
	}
	for kind, n := range tx.perKind {
		if n > maxKeyCompares {
			guarded[kind] = true
		}
	}
	var cmps []clientv3.Cmp
	for key, r := range tx.reads {
		if !guarded[r.kind] {
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(key), "=", r.mod))
		}
	}
	for kind := range guarded {
		// Every transaction writing kind writes its guard, at the
		// revision it writes the revision key: a guard written after
		// the snapshot means the kind changed since.
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(tx.s.keys.guard(kind)), "<", tx.snap.rev+1))
	}
	return cmps
}

// verify checks that what the transaction read is still current, in a
// transaction of comparisons only (which etcd serves as a linearizable
// read). When it is not, it returns the store's revision, which the mirror
// must reach before the function runs again.
func (tx *writeTx) verify(ctx context.Context) (current bool, behind int64, err error) {
	cmps := tx.compares()
	if len(cmps) == 0 {
		return true, 0, nil
	}
	s := tx.s
	resp, err := s.client.Txn(ctx).If(cmps...).Else(clientv3.OpGet(s.keys.revision, clientv3.WithKeysOnly())).Commit()
	if err != nil {
		return false, 0, s.rpcError(ctx, "check reads", err)
	}
	if resp.Succeeded {
		return true, 0, nil
	}
	return false, storeRevision(resp.Responses[0]), nil
}

// storeRevision returns the ModRevision of the revision key that resp read.
func storeRevision(resp *etcdserverpb.ResponseOp) int64 {
	if kvs := resp.GetResponseRange().GetKvs(); len(kvs) == 1 {
		return kvs[0].ModRevision
	}
	return 0
}

// commit sends the transaction to etcd. It returns the revision it
// committed at, or 0 and the store's current revision when a compared read
// had changed.
func (tx *writeTx) commit(ctx context.Context, g *Guard) (rev, behind int64, err error) {
	s := tx.s
	cmps := tx.compares()
	orElse := []clientv3.Op{clientv3.OpGet(s.keys.revision, clientv3.WithKeysOnly())}
	if g != nil {
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(g.Key), "=", g.CreateRevision))
		orElse = append(orElse, clientv3.OpGet(g.Key, clientv3.WithKeysOnly()))
	}

	ops := make([]clientv3.Op, 0, len(tx.order)+4)
	kinds := map[string]bool{}
	var kindOrder []string
	for _, key := range tx.order {
		w := tx.writes[key]
		if !kinds[w.kind] {
			kinds[w.kind] = true
			kindOrder = append(kindOrder, w.kind)
		}
		switch {
		case w.obj != nil:
			data, err := s.encode(w.obj, tx.prov)
			if err != nil {
				return 0, 0, err
			}
			ops = append(ops, clientv3.OpPut(key, string(data)))
		case tx.reads[key].obj != nil:
			ops = append(ops, clientv3.OpDelete(key))
		default:
			// Created and deleted again: etcd has nothing to do; the
			// journal keeps the events.
		}
	}
	for _, kind := range kindOrder {
		ops = append(ops, clientv3.OpPut(s.keys.guard(kind), ""))
	}
	journal, err := tx.encodeJournal()
	if err != nil {
		return 0, 0, err
	}
	mark := s.newMark()
	ops = append(ops, clientv3.OpPut(s.keys.revision, revisionValue(mark, journal)))
	s.mirror.expect(mark)
	defer s.mirror.forget(mark)

	resp, err := s.client.Txn(ctx).If(cmps...).Then(ops...).Else(orElse...).Commit()
	if err != nil && resendable(ctx, err) && len(ops) > len(kindOrder)+1 {
		resp, err = tx.resend(ctx, cmps, ops, orElse, err)
		if err == nil && !resp.Succeeded {
			// The comparisons fail now, and will ever after
			// (revisions only grow): the first commit either applied
			// already, and the mirror saw its mark, or it never will.
			if _, err := s.mirror.at(ctx, storeRevision(resp.Responses[0])); err != nil {
				return 0, 0, err
			}
			if rev := s.mirror.forget(mark); rev != 0 {
				return rev, 0, nil
			}
		}
	}
	if err != nil {
		return 0, 0, s.rpcError(ctx, "commit", err)
	}
	if resp.Succeeded {
		return resp.Header.Revision, 0, nil
	}
	if g != nil {
		var actual int64
		if kvs := resp.Responses[1].GetResponseRange().GetKvs(); len(kvs) == 1 {
			actual = kvs[0].CreateRevision
		}
		if actual != g.CreateRevision {
			return 0, 0, &FencedError{Key: g.Key, Expected: g.CreateRevision, Actual: actual}
		}
	}
	return 0, storeRevision(resp.Responses[0]), nil
}

// maxResends bounds how often commit sends a transaction again after an
// error that leaves it unknown whether etcd applied it.
const maxResends = 20

// resendable says whether a commit that failed with err may be sent
// again: etcd's leader failed or changed, or no member answered.
func resendable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	for _, e := range []error{rpctypes.ErrTimeout, rpctypes.ErrTimeoutDueToLeaderFail, rpctypes.ErrNoLeader,
		rpctypes.ErrLeaderChanged, rpctypes.ErrTimeoutDueToConnectionLost} {
		if errors.Is(err, e) {
			return true
		}
	}
	return status.Code(err) == codes.Unavailable
}

// resend sends a commit again after it failed with first, an error that
// leaves it unknown whether etcd applied it (its leader failed, say). Doing
// so is safe: the transaction writes keys it compares (an object it read,
// or the guard of its kind), so at most one of the two sends can apply.
func (tx *writeTx) resend(ctx context.Context, cmps []clientv3.Cmp, ops, orElse []clientv3.Op, first error) (*clientv3.TxnResponse, error) {
	s := tx.s
	err := first
	for range maxResends {
		s.log.Debug("etcd store: etcd failed a commit; sending it again", "error", err)
		select {
		case <-time.After(rewatchDelay):
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.closed:
			return nil, store.ErrClosed
		}
		resp, err := s.client.Txn(ctx).If(cmps...).Then(ops...).Else(orElse...).Commit()
		if err == nil || !resendable(ctx, err) {
			return resp, err
		}
	}
	return nil, err
}
