package etcd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/internal/history"
)

// maxEventChan caps the capacity of a watcher's channel. Events in the
// channel count as delivered; the watch buffer bounds the rest.
const maxEventChan = 64

// rewatchDelay is how long a watcher waits before it watches etcd again
// after etcd ended its watch without compaction (a member lost its
// leader, the connection broke).
const rewatchDelay = 100 * time.Millisecond

// Watch delivers every change after from. Watches are fed by the store's
// one etcd watch (see mirror): a watch from a revision the mirror's
// history holds reads it, and one from an older revision gets an etcd
// watch of its own, from etcd revision from+1 with previous values.
// Revisions between from and the store's first transaction hold nothing of
// this store, so a watch from before it starts there. Either way the
// watch fails with store.ErrCompacted when etcd compacted past that start.
func (s *Store) Watch(ctx context.Context, from int64, opts ...store.WatchOption) (store.Watcher, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if from < 0 {
		return nil, fmt.Errorf("%w: watch from negative revision %d", store.ErrInvalid, from)
	}
	if s.isClosing() {
		return nil, store.ErrClosed
	}
	// The history holds this store's own commits before the watch
	// starts: a transaction it committed before is never counted as
	// the watcher falling behind.
	gen, snap, err := s.mirror.current(ctx, s.seen.Load())
	switch {
	case err != nil && !permanent(err):
		return nil, err
	case err != nil || gen == nil:
		// The mirror cannot follow etcd: an etcd watch of its own
		// says why, or ends the same way.
		return s.watchEtcd(ctx, from, opts)
	}
	if snap.first > 0 {
		if start := max(from+1, snap.first); start <= snap.rev {
			// Reading at start fails exactly when a watch from it
			// would.
			_, err := s.client.Get(ctx, s.keys.revision, clientv3.WithRev(start), clientv3.WithCountOnly(), clientv3.WithSerializable())
			if err != nil {
				err = s.rpcError(ctx, fmt.Sprintf("watch from revision %d", from), err)
				if errors.Is(err, store.ErrCompacted) {
					return nil, fmt.Errorf("%w (%w)", store.CompactedError(from, start-1), err)
				}
				return nil, err
			}
		}
	}
	if from >= gen.floor {
		w, err := gen.hist.Watch(ctx, from, store.NewWatchFilter(opts...))
		if err == nil {
			return &mirrorWatcher{Watcher: w, gen: gen, s: s}, nil
		}
		if !errors.Is(err, store.ErrCompacted) && !errors.Is(err, store.ErrClosed) {
			return nil, err
		}
		// The history dropped from meanwhile, or a new generation
		// began: etcd still has it.
	}
	return s.watchEtcd(ctx, from, opts)
}

// mirrorWatcher is a watcher of the mirror's history. It ends with
// store.ErrCompacted when its generation broke.
type mirrorWatcher struct {
	store.Watcher
	gen *generation
	s   *Store
}

func (w *mirrorWatcher) Err() error {
	err := w.Watcher.Err()
	if errors.Is(err, store.ErrClosed) && w.gen.broken.Load() && !w.s.isClosing() {
		return fmt.Errorf("%w: etcd store: etcd compacted past the store's watch; read a snapshot and watch again",
			store.ErrCompacted)
	}
	return err
}

// watchEtcd is a watch of its own on etcd, for a revision older than the
// mirror's history.
func (s *Store) watchEtcd(ctx context.Context, from int64, opts []store.WatchOption) (store.Watcher, error) {
	b, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	start := from + 1
	floor := b.firstRev
	if floor == 0 {
		floor = b.etcdRev + 1
	}
	start = max(start, floor)
	if start <= b.etcdRev {
		// Reading at start fails exactly when a watch from it would.
		if _, err := s.client.Get(ctx, s.keys.revision, clientv3.WithRev(start), clientv3.WithCountOnly()); err != nil {
			err = s.rpcError(ctx, fmt.Sprintf("watch from revision %d", from), err)
			if errors.Is(err, store.ErrCompacted) {
				return nil, fmt.Errorf("%w (%w)", store.CompactedError(from, start-1), err)
			}
			return nil, err
		}
	}
	s.mu.Lock()
	if s.isClosed {
		s.mu.Unlock()
		return nil, store.ErrClosed
	}
	s.watchers.Add(1)
	s.mu.Unlock()
	wctx, cancel := context.WithCancel(ctx)
	w := &watcher{
		s:      s,
		ctx:    ctx,
		wctx:   wctx,
		cancel: cancel,
		filter: store.NewWatchFilter(opts...),
		head:   b.etcdRev,
		next:   start,
		Outlet: history.NewOutlet(min(s.opts.watchBuffer, maxEventChan)),
	}
	go w.run()
	return w, nil
}

// watcher turns one etcd watch into the store's events, from its own
// goroutine. It keeps what the consumer has not taken yet, transaction by
// transaction, and ends when that grows past the watch buffer.
type watcher struct {
	s      *Store
	ctx    context.Context // the caller's
	wctx   context.Context // the etcd watch's; cancel ends it
	cancel context.CancelFunc
	filter store.WatchFilter
	// head is etcd's revision when the watch began. Events up to it are
	// history, which etcd sends in bursts as fast as it reads them: they
	// never make a watcher too slow, as the memory store's history does
	// not. Only transactions committed after it are measured.
	head int64
	next int64 // the etcd revision to watch from if the watch must start again

	*history.Outlet
}

var _ store.Watcher = (*watcher)(nil)

func (w *watcher) run() {
	err := w.deliver()
	w.cancel()
	w.Finish(err)
	w.s.watchers.Done()
	w.Done()
}

func (w *watcher) watch() clientv3.WatchChan {
	return w.s.client.Watch(clientv3.WithRequireLeader(w.wctx), w.s.keys.objects,
		clientv3.WithRange(w.s.keys.watchEnd), clientv3.WithRev(w.next), clientv3.WithPrevKV())
}

// txn is the events of one transaction still to deliver.
type txn struct {
	rev    int64
	events []store.Event
}

// deliver runs the watch until it ends and says why.
func (w *watcher) deliver() error {
	wch := w.watch()
	var (
		queue   []txn // queue[0] is being delivered
		sent    int   // events of queue[0] already sent
		pending int   // events queued and not sent
		tooSlow bool
		retry   <-chan time.Time
	)
	for {
		var out chan<- store.Event
		var next store.Event
		if len(queue) > 0 {
			if sent == 0 && tooSlow {
				// Between two transactions: a safe point to end.
				return store.ErrWatcherTooSlow
			}
			out, next = w.Out, queue[0].events[sent]
		}
		in := wch
		if tooSlow || retry != nil {
			in = nil
		}
		select {
		case out <- next:
			sent++
			pending--
			if sent == len(queue[0].events) {
				queue[0] = txn{}
				queue, sent = queue[1:], 0
			}
		case resp, ok := <-in:
			if !ok || resp.Canceled || resp.Err() != nil {
				if err := w.ended(resp, ok); err != nil {
					return err
				}
				retry = time.After(rewatchDelay)
				continue
			}
			txns, err := w.s.translate(resp.Events, w.filter)
			if err != nil {
				return err
			}
			if len(resp.Events) > 0 {
				w.next = resp.Events[len(resp.Events)-1].Kv.ModRevision + 1
			}
			for _, t := range txns {
				// As the memory store does: too slow when more than
				// the buffer waits and some of it precedes the
				// transaction just arrived.
				if t.rev > w.head && pending > 0 && pending+len(t.events) > w.s.opts.watchBuffer {
					tooSlow = true
				}
				queue = append(queue, t)
				pending += len(t.events)
			}
		case <-retry:
			retry = nil
			wch = w.watch()
		case <-w.ctx.Done():
			return w.ctx.Err()
		case <-w.Stopped():
			return nil
		case <-w.s.closed:
			return store.ErrClosed
		}
	}
}

// ended says whether an etcd watch that ended ends the store's watch too,
// and with what error; nil means watch again.
func (w *watcher) ended(resp clientv3.WatchResponse, ok bool) error {
	switch {
	case w.s.isClosing():
		return store.ErrClosed
	case w.ctx.Err() != nil:
		return w.ctx.Err()
	case ok && resp.CompactRevision != 0:
		return store.CompactedError(w.next-1, resp.CompactRevision-1)
	}
	if err := resp.Err(); err != nil && strings.Contains(err.Error(), rpctypes.ErrPermissionDenied.Error()) {
		// Watching again would be refused again. etcd gives the reason
		// only as text in the watch's cancel reason.
		return fmt.Errorf("etcd store: watch from revision %d: %w", w.next, rpctypes.ErrPermissionDenied)
	}
	select {
	case <-w.Stopped():
		return nil
	default:
	}
	w.s.log.Warn("etcd store: etcd ended a watch; watching again", "revision", w.next, "error", resp.Err())
	return nil
}

// translate turns etcd's events into the store's, transaction by
// transaction, keeping those filter matches. etcd never splits the events
// of one revision across watch responses (without WithFragment).
func (s *Store) translate(evs []*clientv3.Event, filter store.WatchFilter) ([]txn, error) {
	var out []txn
	for i := 0; i < len(evs); {
		rev := evs[i].Kv.ModRevision
		j := i
		for j < len(evs) && evs[j].Kv.ModRevision == rev {
			j++
		}
		events, err := s.revisionEvents(rev, evs[i:j], s.prevKV)
		if err != nil {
			return nil, err
		}
		kept := events[:0]
		for _, ev := range events {
			if filter.Match(ev) {
				kept = append(kept, ev)
			}
		}
		if len(kept) > 0 {
			out = append(out, txn{rev: rev, events: kept})
		}
		i = j
	}
	return out, nil
}

// prevFunc returns the version of key (kind/id) before the transaction
// whose etcd event for the key is ev (nil when etcd has none): from ev's
// previous value for a watch of etcd, from the mirror's trees for the
// mirror.
type prevFunc func(key, kind, id string, ev *clientv3.Event) (store.Object, error)

// prevKV is the prevFunc of a watch made with clientv3.WithPrevKV.
func (s *Store) prevKV(key, kind, _ string, ev *clientv3.Event) (store.Object, error) {
	if ev == nil || ev.PrevKv == nil {
		return nil, nil
	}
	return s.decodeKey(key, kind, ev.PrevKv.Value, ev.PrevKv.ModRevision)
}

// revisionEvents returns the store events of the transaction at rev.
func (s *Store) revisionEvents(rev int64, evs []*clientv3.Event, prevOf prevFunc) ([]store.Event, error) {
	var journalData []byte
	byKey := make(map[string]*clientv3.Event, len(evs))
	for _, ev := range evs {
		key := string(ev.Kv.Key)
		if key == s.keys.revision {
			_, journalData = splitRevisionValue(ev.Kv.Value)
			continue
		}
		byKey[key] = ev
	}
	if len(journalData) > 0 {
		return s.replay(rev, journalData, byKey, prevOf)
	}
	out := make([]store.Event, 0, len(evs))
	for _, ev := range evs {
		key := string(ev.Kv.Key)
		kind, id, ok := s.keys.parseObject(key)
		if !ok {
			continue
		}
		sev := store.Event{Kind: kind, ID: id, Revision: rev}
		var err error
		if sev.Prev, err = prevOf(key, kind, id, ev); err != nil {
			return nil, err
		}
		switch {
		case ev.Type == mvccpb.DELETE:
			if sev.Prev == nil {
				continue // nothing the store knew of
			}
			sev.Type = store.Deleted
		case sev.Prev == nil:
			sev.Type = store.Created
		default:
			sev.Type = store.Updated
		}
		if ev.Type == mvccpb.PUT {
			if sev.Object, err = s.decodeKey(key, kind, ev.Kv.Value, rev); err != nil {
				return nil, err
			}
		}
		out = append(out, sev)
	}
	return out, nil
}

// replay returns the events of a transaction that kept a journal.
func (s *Store) replay(rev int64, data []byte, byKey map[string]*clientv3.Event, prevOf prevFunc) ([]store.Event, error) {
	j, err := decodeJournal(data)
	if err != nil {
		return nil, fmt.Errorf("revision %d: %w", rev, err)
	}
	current := map[string]store.Object{} // each key's version so far
	started := map[string]bool{}
	out := make([]store.Event, 0, len(j.Ops))
	for _, op := range j.Ops {
		key := s.keys.object(op.Kind, op.ID)
		ev := byKey[key]
		if !started[key] {
			started[key] = true
			prev, err := prevOf(key, op.Kind, op.ID, ev)
			if err != nil {
				return nil, err
			}
			if prev != nil {
				current[key] = prev
			}
		}
		sev := store.Event{Type: op.Type, Kind: op.Kind, ID: op.ID, Revision: rev, Prev: current[key]}
		switch {
		case op.Type == store.Deleted:
		case len(op.Value) > 0:
			if sev.Object, err = s.decode(op.Kind, op.Value, rev); err != nil {
				return nil, err
			}
		case ev != nil && ev.Type == mvccpb.PUT:
			if sev.Object, err = s.decodeKey(key, op.Kind, ev.Kv.Value, rev); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("%w: etcd store: revision %d: the journal's last write of %s/%s has no value in etcd",
				store.ErrInvalid, rev, op.Kind, op.ID)
		}
		current[key] = sev.Object
		out = append(out, sev)
	}
	return out, nil
}
