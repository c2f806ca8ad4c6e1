package etcd

import (
	"context"
	"fmt"
	"slices"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/stevedore-io/stevedore/store"
	txnguard "github.com/stevedore-io/stevedore/store/internal/txn"
)

// maxKeyCompares is how many keys of one kind an Update compares one by
// one; beyond it the commit compares the kind's guard instead, which is
// coarser (any write to the kind fails it) but keeps the transaction within
// etcd's --max-txn-ops.
const maxKeyCompares = 16

// readTx reads at one etcd revision.
type readTx struct {
	s    *Store
	ctx  context.Context
	base base
}

func (tx *readTx) Revision() int64 { return tx.base.storeRev }

func (tx *readTx) Get(kind, id string) (store.Object, error) {
	if err := store.ValidateKey(kind, id); err != nil {
		return nil, err
	}
	obj, _, err := tx.fetch(kind, id)
	if err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, store.NotFoundError(kind, id)
	}
	return obj, nil
}

func (tx *readTx) List(kind string) ([]store.Object, error) {
	if err := store.ValidateKind(kind); err != nil {
		return nil, err
	}
	kvs, err := tx.fetchKind(kind)
	if err != nil {
		return nil, err
	}
	out := make([]store.Object, len(kvs))
	for i, kv := range kvs {
		if out[i], err = tx.s.decodeKey(kv.Key, kind, kv.Value, kv.ModRevision); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// fetch reads kind/id at the transaction's revision. It returns a nil
// object and a zero revision when there is none.
func (tx *readTx) fetch(kind, id string) (store.Object, int64, error) {
	if tx.s.isClosing() {
		return nil, 0, store.ErrClosed
	}
	resp, err := tx.s.client.Get(tx.ctx, tx.s.keys.object(kind, id), clientv3.WithRev(tx.base.etcdRev))
	if err != nil {
		return nil, 0, tx.s.rpcError(tx.ctx, "get "+kind+"/"+id, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, 0, nil
	}
	kv := resp.Kvs[0]
	obj, err := tx.s.decodeKey(string(kv.Key), kind, kv.Value, kv.ModRevision)
	return obj, kv.ModRevision, err
}

// fetchKind reads every object of kind at the transaction's revision,
// ordered by ID.
func (tx *readTx) fetchKind(kind string) ([]*kvPair, error) {
	if tx.s.isClosing() {
		return nil, store.ErrClosed
	}
	resp, err := tx.s.client.Get(tx.ctx, tx.s.keys.kind(kind), clientv3.WithPrefix(), clientv3.WithRev(tx.base.etcdRev))
	if err != nil {
		return nil, tx.s.rpcError(tx.ctx, "list "+kind, err)
	}
	out := make([]*kvPair, len(resp.Kvs))
	for i, kv := range resp.Kvs {
		out[i] = &kvPair{Key: string(kv.Key), Value: kv.Value, ModRevision: kv.ModRevision}
	}
	return out, nil
}

type kvPair struct {
	Key         string
	Value       []byte
	ModRevision int64
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

// decodeKey decodes the version of key at modRev, or returns it from the
// cache of decoded objects.
func (s *Store) decodeKey(key, kind string, data []byte, modRev int64) (store.Object, error) {
	if obj := s.decoded.get(key, modRev); obj != nil {
		return obj, nil
	}
	obj, err := s.decode(kind, data, modRev)
	if err != nil {
		return nil, err
	}
	s.decoded.put(key, modRev, obj)
	return obj, nil
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

// writeTx is one run of an Update's function. It reads at the revision it
// began at, remembers what it read (to compare at commit) and keeps its
// writes until commit.
//
// Objects written get a provisional revision, etcd's revision at begin plus
// one: no stored object has it, so compare-and-swap within the transaction
// works, and commit replaces it with the real one.
type writeTx struct {
	readTx
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
	kind, id string
	obj      store.Object // nil: absent
	mod      int64        // 0: absent
	listed   bool         // read by List: the kind guard covers it
}

type write struct {
	kind, id string
	obj      store.Object // nil: deleted
	ops      int
}

func newWriteTx(s *Store, ctx context.Context, b base) *writeTx {
	return &writeTx{
		readTx:  readTx{s: s, ctx: ctx, base: b},
		prov:    b.etcdRev + 1,
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
	if !tx.listed[kind] {
		kvs, err := tx.fetchKind(kind)
		if err != nil {
			return nil, err
		}
		for _, kv := range kvs {
			_, id, _ := tx.s.keys.parseObject(kv.Key)
			if r := tx.reads[kv.Key]; r != nil {
				r.listed = true
				continue
			}
			obj, err := tx.s.decodeKey(kv.Key, kind, kv.Value, kv.ModRevision)
			if err != nil {
				return nil, err
			}
			tx.reads[kv.Key] = &read{kind: kind, id: id, obj: obj, mod: kv.ModRevision, listed: true}
		}
		tx.listed[kind] = true
	}
	byID := map[string]store.Object{}
	for _, r := range tx.reads {
		if r.kind == kind && r.obj != nil {
			byID[r.id] = r.obj
		}
	}
	for _, w := range tx.writes {
		if w.kind != kind {
			continue
		}
		if w.obj == nil {
			delete(byID, w.id)
		} else {
			byID[w.id] = w.obj
		}
	}
	ids := make([]string, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]store.Object, len(ids))
	for i, id := range ids {
		out[i] = byID[id]
	}
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
	if tx.listed[kind] {
		// The list read every object of the kind: key is absent.
		r := &read{kind: kind, id: id, listed: true}
		tx.reads[key] = r
		return r, nil
	}
	obj, mod, err := tx.fetch(kind, id)
	if err != nil {
		return nil, err
	}
	r := &read{kind: kind, id: id, obj: obj, mod: mod}
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
	for key, w := range tx.writes {
		if w.obj != nil {
			tx.s.decoded.put(key, rev, w.obj)
		}
	}
}

// commit sends the transaction to etcd. It returns the revision it
// committed at, or 0 when a compared read had changed.
func (tx *writeTx) commit(ctx context.Context, g *Guard) (int64, error) {
	s := tx.s
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
		if !r.listed && !guarded[r.kind] {
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(key), "=", r.mod))
		}
	}
	for kind := range guarded {
		// A guard written after etcdRev means the kind changed since
		// the transaction read it.
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(s.keys.guard(kind)), "<", tx.base.etcdRev+1))
	}
	var orElse []clientv3.Op
	if g != nil {
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(g.Key), "=", g.CreateRevision))
		orElse = append(orElse, clientv3.OpGet(g.Key))
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
				return 0, err
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
		return 0, err
	}
	ops = append(ops, clientv3.OpPut(s.keys.revision, string(journal)))

	resp, err := s.client.Txn(ctx).If(cmps...).Then(ops...).Else(orElse...).Commit()
	if err != nil {
		return 0, s.rpcError(ctx, "commit", err)
	}
	if resp.Succeeded {
		return resp.Header.Revision, nil
	}
	if g != nil {
		var actual int64
		if kvs := resp.Responses[0].GetResponseRange().GetKvs(); len(kvs) == 1 {
			actual = kvs[0].CreateRevision
		}
		if actual != g.CreateRevision {
			return 0, &FencedError{Key: g.Key, Expected: g.CreateRevision, Actual: actual}
		}
	}
	return 0, nil
}
