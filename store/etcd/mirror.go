package etcd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/btree"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/internal/history"
)

// btreeDegree sets the fan-out of the mirror's per-kind trees, as in
// store/memory.
const btreeDegree = 16

// loadPage is how many keys one request of the mirror's first read asks
// for, to keep each response small.
const loadPage = 2_000

// minHistory is how many events the mirror's history keeps at least, for
// watches that start a little in the past.
const minHistory = 10_000

// reloadDelay bounds how long the mirror waits before it reads etcd again
// after a failed first read.
const reloadDelay = 2 * time.Second

// mirror is the store's copy of its objects, kept by one etcd watch of the
// store's keys: every event is decoded once, applied to copy-on-write trees
// and published as an immutable snapshot, and its store events are appended
// to a history that every watcher of the store reads. Views and Updates
// read the snapshots; nothing but the mirror's own goroutine writes them.
//
// This is Kubernetes' watch cache, on the store's keys.
type mirror struct {
	s *Store

	// snap is the latest snapshot, nil until the first read of etcd.
	snap atomic.Pointer[snapshot]
	// trees are the run goroutine's own handles on each kind's tree;
	// published snapshots hold clones.
	trees map[string]*btree.BTreeG[*record]

	mu     sync.Mutex
	notify chan struct{} // closed when snap advances or err changes; nil if nobody waits
	err    error         // why the mirror cannot follow etcd now; readers fail with it
	gen    *generation   // the history watchers read
	done   chan struct{} // closed when run returns

	marksMu sync.Mutex
	marks   map[string]int64 // commits in doubt, by mark: the revision they applied at, or 0
}

// generation is the history of one unbroken run of the mirror's etcd
// watch. When etcd compacts past the watch's next revision the mirror reads
// etcd afresh; the events in between are lost, so the watchers of the
// generation end (with store.ErrCompacted) and a new generation starts.
type generation struct {
	hist   *history.History
	floor  int64         // the first watchable revision: watches from below it go to etcd
	closed chan struct{} // closed when the generation ends
	broken atomic.Bool   // it ended because etcd compacted past the mirror
}

// record is one object in a kind's tree, ordered by ID. Records are never
// changed once in a tree.
type record struct {
	id  string
	obj store.Object
}

func lessRecord(a, b *record) bool { return a.id < b.id }

// snapshot is the store's state at one revision. It never changes.
type snapshot struct {
	rev   int64 // the store's revision (the revision key's ModRevision), 0 if none
	first int64 // the store's first transaction (the revision key's CreateRevision), 0 if none
	kinds []kindSnap
}

type kindSnap struct {
	kind string
	tree btree.BTreeG[*record]
}

// tree returns the tree of kind, or nil.
func (s *snapshot) tree(kind string) *btree.BTreeG[*record] {
	for i := range s.kinds {
		if s.kinds[i].kind == kind {
			return &s.kinds[i].tree
		}
	}
	return nil
}

// get returns kind/id, or nil.
func (s *snapshot) get(kind, id string) store.Object {
	t := s.tree(kind)
	if t == nil {
		return nil
	}
	r, ok := t.Get(&record{id: id})
	if !ok {
		return nil
	}
	return r.obj
}

// list returns the objects of kind, ordered by ID.
func (s *snapshot) list(kind string) []store.Object {
	t := s.tree(kind)
	if t == nil {
		return nil
	}
	out := make([]store.Object, 0, t.Len())
	t.Ascend(func(r *record) bool {
		out = append(out, r.obj)
		return true
	})
	return out
}

func newMirror(s *Store) *mirror {
	return &mirror{s: s, done: make(chan struct{}), marks: map[string]int64{}}
}

// at returns a snapshot at revision rev or later, waiting for the mirror to
// get there.
func (m *mirror) at(ctx context.Context, rev int64) (*snapshot, error) {
	for {
		if snap := m.snap.Load(); snap != nil && snap.rev >= rev {
			return snap, nil
		}
		m.mu.Lock()
		if snap := m.snap.Load(); snap != nil && snap.rev >= rev {
			m.mu.Unlock()
			return snap, nil
		}
		if m.err != nil {
			err := m.err
			m.mu.Unlock()
			return nil, err
		}
		if m.notify == nil {
			m.notify = make(chan struct{})
		}
		wait := m.notify
		m.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-m.s.closed:
			return nil, store.ErrClosed
		}
	}
}

// current returns the generation watchers read and a snapshot at rev or
// later, which the generation's history reaches.
func (m *mirror) current(ctx context.Context, rev int64) (*generation, *snapshot, error) {
	snap, err := m.at(ctx, rev)
	if err != nil {
		return nil, nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.gen, snap, nil
}

// wake wakes the readers waiting in at; m.mu is held.
func (m *mirror) wake() {
	if m.notify != nil {
		close(m.notify)
		m.notify = nil
	}
}

func (m *mirror) setErr(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err == nil && m.err == nil {
		return
	}
	m.err = err
	m.wake()
}

// run keeps the mirror until ctx ends.
func (m *mirror) run(ctx context.Context) {
	defer close(m.done)
	delay := rewatchDelay
	for ctx.Err() == nil {
		next, err := m.load(ctx)
		if err == nil {
			m.setErr(nil)
			delay = rewatchDelay
			err = m.follow(ctx, next)
		}
		if ctx.Err() != nil {
			break
		}
		if err != nil {
			if permanent(err) {
				// Readers fail at once rather than wait for a
				// mirror that cannot be kept.
				m.setErr(err)
			}
			m.s.log.Warn("etcd store: cannot follow etcd; reading it again", "error", err)
			select {
			case <-time.After(delay):
			case <-ctx.Done():
			}
			delay = min(2*delay, reloadDelay)
		}
	}
	m.mu.Lock()
	gen := m.gen
	m.gen = nil
	m.mu.Unlock()
	if gen != nil {
		close(gen.closed)
		gen.hist.Close()
	}
}

// permanent says whether err will come back however often the mirror tries:
// a permission etcd refuses, a value the codec cannot decode.
func permanent(err error) bool {
	return errors.Is(err, store.ErrInvalid) || errors.Is(err, rpctypes.ErrPermissionDenied) ||
		strings.Contains(err.Error(), rpctypes.ErrPermissionDenied.Error())
}

// load reads every key of the store at one etcd revision into a new
// snapshot and starts a new generation of the history. It returns the etcd
// revision to watch from.
func (m *mirror) load(ctx context.Context) (int64, error) {
	keys := m.s.keys
	trees := map[string]*btree.BTreeG[*record]{}
	snap := &snapshot{}
	var etcdRev int64
	from := keys.objects
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(keys.watchEnd), clientv3.WithLimit(loadPage)}
		if etcdRev != 0 {
			opts = append(opts, clientv3.WithRev(etcdRev))
		}
		resp, err := m.s.client.Get(ctx, from, opts...)
		if err != nil {
			return 0, m.s.rpcError(ctx, "read the store", err)
		}
		if etcdRev == 0 {
			etcdRev = resp.Header.Revision
		}
		for _, kv := range resp.Kvs {
			key := string(kv.Key)
			if key == keys.revision {
				snap.rev, snap.first = kv.ModRevision, kv.CreateRevision
				continue
			}
			kind, id, ok := keys.parseObject(key)
			if !ok {
				continue
			}
			obj, err := m.s.decodeKey(key, kind, kv.Value, kv.ModRevision)
			if err != nil {
				return 0, err
			}
			t := trees[kind]
			if t == nil {
				t = btree.NewG(btreeDegree, lessRecord)
				trees[kind] = t
			}
			t.ReplaceOrInsert(&record{id: id, obj: obj})
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	for kind, t := range trees {
		snap.kinds = append(snap.kinds, kindSnap{kind: kind, tree: *t})
	}
	gen := &generation{
		floor:  snap.rev,
		closed: make(chan struct{}),
	}
	gen.hist = history.New(history.Config{
		Limit:       max(minHistory, 4*m.s.opts.watchBuffer),
		WatchBuffer: m.s.opts.watchBuffer,
		StoreClosed: gen.closed,
		Compacted:   snap.rev,
	})

	m.mu.Lock()
	old := m.gen
	if cur := m.snap.Load(); cur != nil && cur.rev > snap.rev {
		// etcd answered from a member behind the one that gave the
		// last snapshot; never go back.
		m.mu.Unlock()
		return 0, fmt.Errorf("etcd store: read the store at revision %d, behind the revision %d already seen", snap.rev, cur.rev)
	}
	m.trees = trees
	m.gen = gen
	m.snap.Store(snap)
	m.wake()
	m.mu.Unlock()
	if old != nil {
		// The mirror missed events: the old generation's watchers
		// cannot go on without a gap.
		old.broken.Store(true)
		close(old.closed)
		old.hist.Close()
	}
	return etcdRev + 1, nil
}

// errMirrorCompacted ends follow when etcd compacted past the mirror's
// next revision: the mirror must read etcd afresh.
var errMirrorCompacted = errors.New("etcd compacted past the store's watch")

// follow applies etcd's events from revision next on, watching again when
// etcd ends the watch, until ctx ends or the watch cannot go on.
func (m *mirror) follow(ctx context.Context, next int64) error {
	keys := m.s.keys
	for {
		wctx, cancel := context.WithCancel(ctx)
		wch := m.s.client.Watch(clientv3.WithRequireLeader(wctx), keys.objects,
			clientv3.WithRange(keys.watchEnd), clientv3.WithRev(next))
		var ended error
		for resp := range wch {
			if resp.CompactRevision != 0 {
				ended = errMirrorCompacted
				break
			}
			if err := resp.Err(); err != nil || resp.Canceled {
				ended = err
				break
			}
			if len(resp.Events) == 0 {
				continue
			}
			if err := m.apply(resp.Events); err != nil {
				cancel()
				return err
			}
			next = resp.Events[len(resp.Events)-1].Kv.ModRevision + 1
		}
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case ended == errMirrorCompacted:
			m.s.log.Warn("etcd store: etcd compacted past the store's watch; reading the store again", "revision", next)
			return ended
		case ended != nil && strings.Contains(ended.Error(), rpctypes.ErrPermissionDenied.Error()):
			return fmt.Errorf("etcd store: watch from revision %d: %w", next, rpctypes.ErrPermissionDenied)
		}
		m.s.log.Warn("etcd store: etcd ended the store's watch; watching again", "revision", next, "error", ended)
		select {
		case <-time.After(rewatchDelay):
		case <-ctx.Done():
			return nil
		}
	}
}

// apply turns one watch response into store events, applies them to new
// copies of the trees they touch, appends the events to the history and
// publishes the next snapshot.
func (m *mirror) apply(evs []*clientv3.Event) error {
	base := m.snap.Load()
	next := &snapshot{rev: base.rev, first: base.first}
	work := map[string]*btree.BTreeG[*record]{}
	writable := func(kind string) *btree.BTreeG[*record] {
		if t := work[kind]; t != nil {
			return t
		}
		var t *btree.BTreeG[*record]
		if mine := m.trees[kind]; mine != nil {
			t = mine.Clone()
		} else {
			t = btree.NewG(btreeDegree, lessRecord)
		}
		work[kind] = t
		return t
	}
	current := func(key, kind, id string, _ *clientv3.Event) (store.Object, error) {
		t := work[kind]
		if t == nil {
			t = m.trees[kind]
		}
		if t == nil {
			return nil, nil
		}
		if r, ok := t.Get(&record{id: id}); ok {
			return r.obj, nil
		}
		return nil, nil
	}
	var txns []history.Txn
	for i := 0; i < len(evs); {
		rev := evs[i].Kv.ModRevision
		j := i
		for j < len(evs) && evs[j].Kv.ModRevision == rev {
			if kv := evs[j].Kv; string(kv.Key) == m.s.keys.revision {
				next.rev = rev
				if next.first == 0 {
					next.first = kv.CreateRevision
				}
				if mark, _ := splitRevisionValue(kv.Value); mark != "" {
					m.marked(mark, rev)
				}
			}
			j++
		}
		events, err := m.s.revisionEvents(rev, evs[i:j], current)
		if err != nil {
			return err
		}
		for _, ev := range events {
			t := writable(ev.Kind)
			if ev.Type == store.Deleted {
				t.Delete(&record{id: ev.ID})
			} else {
				t.ReplaceOrInsert(&record{id: ev.ID, obj: ev.Object})
			}
		}
		if len(events) > 0 {
			txns = append(txns, history.Txn{Rev: rev, Events: events})
		}
		i = j
	}

	next.kinds = make([]kindSnap, len(base.kinds), len(base.kinds)+len(work))
	copy(next.kinds, base.kinds)
	for kind, t := range work {
		published := false
		for i := range next.kinds {
			if next.kinds[i].kind == kind {
				next.kinds[i].tree = *t
				published = true
			}
		}
		if !published {
			next.kinds = append(next.kinds, kindSnap{kind: kind, tree: *t})
		}
		m.trees[kind] = t
	}
	// The history first: a snapshot at a revision promises its
	// transactions to watches started after it (see Store.Watch).
	m.mu.Lock()
	gen := m.gen
	m.mu.Unlock()
	for _, t := range txns {
		gen.hist.Append(t.Rev, t.Events, 0)
	}
	m.mu.Lock()
	m.snap.Store(next)
	m.wake()
	m.mu.Unlock()
	gen.hist.Wake()
	return nil
}

// expect asks the mirror to note the revision at which the commit with
// mark applies, if it does.
func (m *mirror) expect(mark string) {
	m.marksMu.Lock()
	defer m.marksMu.Unlock()
	m.marks[mark] = 0
}

// forget ends what expect began. It returns the revision the commit with
// mark applied at, or 0 if the mirror has not seen it.
func (m *mirror) forget(mark string) int64 {
	m.marksMu.Lock()
	defer m.marksMu.Unlock()
	rev := m.marks[mark]
	delete(m.marks, mark)
	return rev
}

// marked notes that the commit with mark applied at rev.
func (m *mirror) marked(mark string, rev int64) {
	m.marksMu.Lock()
	defer m.marksMu.Unlock()
	if _, ok := m.marks[mark]; ok {
		m.marks[mark] = rev
	}
}
