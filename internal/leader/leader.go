// Package leader elects one control-plane replica among several sharing an
// etcd store, and runs the loops that must be single (ARCHITECTURE.md,
// "Which components are singletons") on that replica only.
//
// An Elector takes part in one election: each term it grants itself a lease
// of Config.TTL, puts its key under the election prefix bound to that
// lease, and leads once its key is the oldest there (the recipe of etcd's
// clientv3/concurrency, with the waits bounded). While it leads, it runs
// Config.Lead with a store fenced by its key (etcd.GuardedStore): a write
// from a term that has ended, however late it comes, fails with
// etcd.ErrFenced and writes nothing. The term ends, and Lead's context
// with it, when
//
//   - etcd has not renewed the lease for most of its TTL (the replica is
//     cut off from etcd, or was paused): the replica stops acting before the
//     lease can run out on etcd and another replica take over;
//   - a write is fenced (the key was deleted under the leader);
//   - Lead returns;
//   - Run's context ends (the Orchestrator closes), and then the lease is
//     revoked so that another replica takes over at once.
//
// Each change of Status is logged and given to Config.Notify.
package leader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/etcd"
)

// MinTTL is the shortest lease TTL: etcd's lease granularity is a second,
// and a member refuses to keep a lease shorter than a few election timeouts.
const MinTTL = 2 * time.Second

// Config is what an Elector uses.
type Config struct {
	// Store is the replicas' shared store; the election uses its client.
	Store *etcd.Store
	// Key is the election's key prefix, the same on every replica and
	// outside the store's prefix.
	Key string
	// Name is this replica's value in the election, reported as the
	// Leader of Status by whoever sees it lead.
	Name string
	// TTL is the lease's time to live, in whole seconds (rounded up), at
	// least MinTTL.
	TTL time.Duration
	// Lead runs the leader's loops on s, which is fenced by this term's
	// election key, until ctx ends. It is called once per term.
	Lead func(ctx context.Context, s store.Store) error
	// Notify, when set, is called with every new Status, in order, from
	// the Elector's goroutine; it must not block.
	Notify func(Status)
	// Now is the clock of Status.Since (time.Now when nil).
	Now    func() time.Time
	Logger *slog.Logger
}

// Status is what a replica knows of the election.
type Status struct {
	// Leading is true while this replica runs the leader's loops.
	Leading bool
	// Leader is the Name of the replica last seen leading ("" before any
	// was seen); this replica's own name while Leading.
	Leader string
	// Term is the election key's create revision while Leading: the
	// fencing token every write of the term is checked against.
	Term int64
	// Since is when Leading last changed.
	Since time.Time
	// Reason says why Leading last changed ("elected", "lost etcd: ...").
	Reason string
}

// Elector takes part in the election and runs Lead while it wins it.
type Elector struct {
	cfg    Config
	ttl    int64 // seconds
	client *clientv3.Client
	prefix string // Key + "/"

	mu     sync.Mutex
	status Status
}

// New checks cfg and returns an Elector that does nothing until Run.
func New(cfg Config) (*Elector, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("leader: no store")
	case cfg.Key == "":
		return nil, errors.New("leader: no election key")
	case cfg.Name == "":
		return nil, errors.New("leader: no replica name")
	case cfg.TTL < MinTTL:
		return nil, fmt.Errorf("leader: lease TTL %v is below %v", cfg.TTL, MinTTL)
	case cfg.Lead == nil:
		return nil, errors.New("leader: no Lead function")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Elector{
		cfg:    cfg,
		ttl:    int64((cfg.TTL + time.Second - 1) / time.Second),
		client: cfg.Store.Client(),
		prefix: cfg.Key + "/",
		status: Status{Since: cfg.Now(), Reason: "not elected yet"},
	}, nil
}

// Status returns what the replica knows of the election now.
func (e *Elector) Status() Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.status
}

// setLeading records a change of Leading, logs it and notifies.
func (e *Elector) setLeading(leading bool, term int64, reason string) {
	e.mu.Lock()
	st := e.status
	st.Leading, st.Term, st.Since, st.Reason = leading, term, e.cfg.Now(), reason
	if leading {
		st.Leader = e.cfg.Name
	}
	e.status = st
	e.mu.Unlock()
	if leading {
		e.cfg.Logger.Info("leader election: this replica leads; starting the leader's loops",
			"replica", e.cfg.Name, "term", term)
	} else {
		e.cfg.Logger.Warn("leader election: this replica no longer leads; its leader's loops are stopped",
			"replica", e.cfg.Name, "reason", reason)
	}
	if e.cfg.Notify != nil {
		e.cfg.Notify(st)
	}
}

// seeLeader records the name of the replica seen leading.
func (e *Elector) seeLeader(name string) {
	e.mu.Lock()
	changed := e.status.Leader != name
	e.status.Leader = name
	st := e.status
	e.mu.Unlock()
	if changed && e.cfg.Notify != nil {
		e.cfg.Notify(st)
	}
}

// Run takes part in the election until ctx ends, one term after another.
// It returns nil when ctx ends, or the error that ended a term without
// leadership (etcd unreachable, say); running it again starts a new term.
func (e *Elector) Run(ctx context.Context) error {
	for {
		err := e.term(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// requestTimeout bounds one request to etcd outside the lease's own
// keep-alive: a replica cut off from etcd must not hang in it.
func (e *Elector) requestTimeout() time.Duration { return time.Duration(e.ttl) * time.Second }

// term is one lease: campaign with it, lead while it lasts, give it back.
func (e *Elector) term(ctx context.Context) error {
	// The lease is counted in real time, whatever Config.Now says.
	granted := time.Now()
	gctx, cancel := context.WithTimeout(ctx, e.requestTimeout())
	lease, err := e.client.Grant(gctx, e.ttl)
	cancel()
	if err != nil {
		return fmt.Errorf("leader election: grant a lease: %w", err)
	}
	tctx, endTerm := context.WithCancelCause(ctx)
	defer endTerm(nil)
	defer e.revoke(lease.ID)
	alive, err := e.client.KeepAlive(tctx, lease.ID)
	if err != nil {
		return fmt.Errorf("leader election: keep the lease alive: %w", err)
	}
	// The lease watchdog ends the term when etcd stops renewing the lease.
	ttl := time.Duration(lease.TTL) * time.Second
	watchdogDone := make(chan struct{})
	go func() {
		defer close(watchdogDone)
		e.watchLease(tctx, alive, granted, ttl, endTerm)
	}()
	defer func() { <-watchdogDone }()
	defer endTerm(nil) // runs before the wait above

	key, rev, err := e.campaign(tctx, lease.ID)
	if err != nil {
		if cause := context.Cause(tctx); tctx.Err() != nil && ctx.Err() == nil {
			return fmt.Errorf("leader election: campaign ended: %w", cause)
		}
		return fmt.Errorf("leader election: campaign: %w", err)
	}
	guarded, err := e.cfg.Store.WithGuard(etcd.Guard{Key: key, CreateRevision: rev})
	if err != nil {
		return err
	}
	e.setLeading(true, rev, "elected")
	elected := time.Now()
	fenced := &fencedStore{GuardedStore: guarded, fenced: func(err error) {
		endTerm(fmt.Errorf("a write was fenced: %w", err))
	}, committed: func() {
		// The failover's end as a user sees it: the new leader acts.
		e.cfg.Logger.Info("leader election: the leader's first write committed",
			"replica", e.cfg.Name, "term", rev, "after", time.Since(elected).Round(time.Millisecond))
	}}
	leadDone := make(chan error, 1)
	go func() { leadDone <- e.cfg.Lead(tctx, fenced) }()
	var reason string
	select {
	case err := <-leadDone:
		reason = fmt.Sprintf("the leader's loops ended: %v", err)
		if tctx.Err() != nil {
			reason = context.Cause(tctx).Error()
		}
	case <-tctx.Done():
		reason = context.Cause(tctx).Error()
		<-leadDone
	}
	endTerm(nil)
	if ctx.Err() != nil {
		reason = "closing"
	}
	e.setLeading(false, 0, reason)
	return nil
}

// errLeaseLost is the cause of a term ended by the watchdog.
var errLeaseLost = errors.New("lost etcd")

// watchLease ends the term (endTerm) when etcd has not renewed the lease
// for ttl minus a margin since the last renewal it answered (at first,
// since the grant was asked for): etcd counts the TTL from a renewal it
// received, which was before its answer arrived, so the margin keeps this
// replica from acting after etcd let the lease go. It also ends the term
// when the keep-alive ends (the lease expired or was revoked).
func (e *Elector) watchLease(ctx context.Context, alive <-chan *clientv3.LeaseKeepAliveResponse,
	last time.Time, ttl time.Duration, endTerm context.CancelCauseFunc) {
	margin := ttl / 5
	timer := time.NewTimer(time.Until(last.Add(ttl - margin)))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case resp, ok := <-alive:
			if !ok || resp.TTL <= 0 {
				endTerm(fmt.Errorf("%w: the lease expired or was revoked", errLeaseLost))
				return
			}
			last = time.Now()
			timer.Reset(time.Until(last.Add(ttl - margin)))
		case <-timer.C:
			endTerm(fmt.Errorf("%w: no renewal of the %v lease for %v", errLeaseLost, ttl, ttl-margin))
			return
		}
	}
}

// revoke gives the lease back, which deletes the election key and lets
// another replica lead at once. When etcd cannot be reached the lease runs
// out by itself.
func (e *Elector) revoke(id clientv3.LeaseID) {
	ctx, cancel := context.WithTimeout(context.Background(), revokeTimeout)
	defer cancel()
	if _, err := e.client.Revoke(ctx, id); err != nil {
		e.cfg.Logger.Debug("leader election: revoke the lease", "err", err)
	}
}

// revokeTimeout bounds the lease's revocation at the end of a term.
const revokeTimeout = 2 * time.Second

// campaign puts this replica's key under the election prefix, bound to
// the lease, and returns once it is the oldest key there: every replica
// that campaigned before has gone. It records the leader it sees on the way.
func (e *Elector) campaign(ctx context.Context, lease clientv3.LeaseID) (key string, rev int64, err error) {
	key = fmt.Sprintf("%s%x", e.prefix, int64(lease))
	put, err := e.client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, e.cfg.Name, clientv3.WithLease(lease))).
		Commit()
	if err != nil {
		return "", 0, err
	}
	if !put.Succeeded {
		return "", 0, fmt.Errorf("election key %q exists already", key)
	}
	rev = put.Header.Revision
	for {
		// The oldest key leads. Only keys older than this replica's can
		// keep it from leading, and once gone they never come back.
		first, err := e.client.Get(clientv3.WithRequireLeader(ctx), e.prefix, clientv3.WithFirstCreate()...)
		if err != nil {
			return "", 0, err
		}
		if len(first.Kvs) == 0 {
			return "", 0, fmt.Errorf("election key %q is gone", key)
		}
		e.seeLeader(string(first.Kvs[0].Value))
		if string(first.Kvs[0].Key) == key {
			return key, rev, nil
		}
		if err := e.waitChange(ctx, first.Header.Revision); err != nil {
			return "", 0, err
		}
	}
}

// waitChange waits for any change under the election prefix after rev.
func (e *Elector) waitChange(ctx context.Context, rev int64) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for resp := range e.client.Watch(wctx, e.prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1)) {
		if err := resp.Err(); err != nil {
			return err
		}
		if len(resp.Events) > 0 {
			return nil
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.New("the watch of the election ended")
}

// fencedStore is the leader's store: a GuardedStore that reports the first
// fenced write, which ends the term, and the term's first committed write.
type fencedStore struct {
	*etcd.GuardedStore
	fenced    func(error)
	committed func()
	wrote     atomic.Bool // a write of the term committed
}

// Update is the GuardedStore's, ending the term when it is fenced.
func (s *fencedStore) Update(ctx context.Context, fn func(tx store.Tx) error) error {
	if s.wrote.Load() {
		err := s.GuardedStore.Update(ctx, fn)
		if errors.Is(err, etcd.ErrFenced) {
			s.fenced(err)
		}
		return err
	}
	var wrote bool
	err := s.GuardedStore.Update(ctx, func(tx store.Tx) error {
		w := &writeSeen{Tx: tx}
		err := fn(w)
		wrote = w.wrote
		return err
	})
	if errors.Is(err, etcd.ErrFenced) {
		s.fenced(err)
	}
	if err == nil && wrote && s.wrote.CompareAndSwap(false, true) {
		s.committed()
	}
	return err
}

// writeSeen is a transaction that notes whether it was written to.
type writeSeen struct {
	store.Tx
	wrote bool
}

func (t *writeSeen) Create(obj store.Object) error {
	err := t.Tx.Create(obj)
	t.wrote = t.wrote || err == nil
	return err
}

func (t *writeSeen) Update(obj store.Object) error {
	err := t.Tx.Update(obj)
	t.wrote = t.wrote || err == nil
	return err
}

func (t *writeSeen) Delete(kind, id string) error {
	err := t.Tx.Delete(kind, id)
	t.wrote = t.wrote || err == nil
	return err
}
