package etcd

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/stevedore-io/stevedore/store"
)

// Defaults for Open and New.
const (
	// DefaultWatchBuffer is how many events a watcher may fall behind
	// before it is ended with store.ErrWatcherTooSlow.
	DefaultWatchBuffer = 1_000
	// DefaultDialTimeout bounds Open's first connection.
	DefaultDialTimeout = 5 * time.Second
)

// retryWarnEvery is how many runs of one Update make a warning that it
// keeps losing races.
const retryWarnEvery = 10

// Option configures a Store.
type Option func(*options) error

type options struct {
	codec       store.Codec
	prefix      string
	watchBuffer int
	compactKeep int64
	cacheSize   int
	logger      *slog.Logger

	// Connection options, for Open only.
	tls                *tls.Config
	username, password string
	dialTimeout        time.Duration
	dialTimeoutSet     bool
}

// WithCodec sets how objects are encoded. It is required.
func WithCodec(c store.Codec) Option {
	return func(o *options) error {
		if c == nil {
			return fmt.Errorf("%w: nil codec", store.ErrInvalid)
		}
		o.codec = c
		return nil
	}
}

// WithPrefix puts every key of the store under prefix (DefaultPrefix
// without it), so that several installations can share one etcd. A
// trailing '/' is ignored. Prefixes of installations sharing an etcd must
// not be nested: "/a" and "/a/objects" would see each other's keys.
func WithPrefix(prefix string) Option {
	return func(o *options) error {
		if _, err := newLayout(prefix); err != nil {
			return err
		}
		o.prefix = prefix
		return nil
	}
}

// WithWatchBuffer sets how many events a watcher may fall behind before it
// is ended with store.ErrWatcherTooSlow. A watcher that has only the newest
// transaction left to deliver is never ended, however large it is.
func WithWatchBuffer(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("%w: watch buffer %d, want at least 1", store.ErrInvalid, n)
		}
		o.watchBuffer = n
		return nil
	}
}

// WithCompaction makes the store compact etcd's history itself, keeping at
// least the last keep revisions: whenever a commit of this store finds
// etcd 2×keep revisions past the last compaction, it compacts etcd to its
// revision minus keep before Update returns. Watches from older revisions
// then fail with store.ErrCompacted.
//
// Compaction is cluster-wide in etcd, and the revisions counted are etcd's,
// which every installation sharing the etcd advances. Without this option
// the store never compacts: run etcd with --auto-compaction-mode and
// --auto-compaction-retention instead, which is the better choice when
// several installations or replicas share one etcd.
func WithCompaction(keep int64) Option {
	return func(o *options) error {
		if keep < 1 {
			return fmt.Errorf("%w: compaction keeping %d revisions, want at least 1", store.ErrInvalid, keep)
		}
		o.compactKeep = keep
		return nil
	}
}

// WithCacheSize sets how many objects written by the store's own commits
// it keeps until its copy of the store takes them in without decoding them
// (DefaultCacheSize without it; 0 keeps none, and the copy decodes every
// version). Reads always share the copy's objects, whatever the size.
func WithCacheSize(n int) Option {
	return func(o *options) error {
		if n < 0 {
			return fmt.Errorf("%w: cache size %d", store.ErrInvalid, n)
		}
		o.cacheSize = n
		return nil
	}
}

// WithLogger sets where the store logs (retried commits, compactions,
// re-established watches). Without it the store logs nothing.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		o.logger = l
		return nil
	}
}

// WithTLS dials etcd over TLS with cfg: its RootCAs to trust the servers,
// and its Certificates (or GetClientCertificate) as the client certificate
// when etcd runs with --client-cert-auth. For Open only.
func WithTLS(cfg *tls.Config) Option {
	return func(o *options) error {
		if cfg == nil {
			return fmt.Errorf("%w: nil TLS config", store.ErrInvalid)
		}
		o.tls = cfg.Clone()
		return nil
	}
}

// WithCredentials authenticates to etcd as user, for an etcd with
// authentication enabled. For Open only. The password is never logged.
func WithCredentials(user, password string) Option {
	return func(o *options) error {
		if user == "" {
			return fmt.Errorf("%w: empty etcd user name", store.ErrInvalid)
		}
		o.username, o.password = user, password
		return nil
	}
}

// WithDialTimeout bounds how long Open waits for a first connection
// (DefaultDialTimeout without it). For Open only.
func WithDialTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("%w: dial timeout %v", store.ErrInvalid, d)
		}
		o.dialTimeout, o.dialTimeoutSet = d, true
		return nil
	}
}

func buildOptions(opts []Option) (options, error) {
	o := options{
		prefix:      DefaultPrefix,
		watchBuffer: DefaultWatchBuffer,
		dialTimeout: DefaultDialTimeout,
		cacheSize:   DefaultCacheSize,
	}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return o, err
		}
	}
	if o.codec == nil {
		return o, fmt.Errorf("%w: the etcd store needs WithCodec", store.ErrInvalid)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// Store is the store.Store on etcd. Create it with Open or New; it is safe
// for concurrent use.
type Store struct {
	client    *clientv3.Client
	ownClient bool
	codec     store.Codec
	keys      layout
	opts      options
	log       *slog.Logger
	decoded   *decoded
	mirror    *mirror
	stop      context.CancelFunc // ends the mirror
	latest    latest

	// seen is the latest store revision this Store committed or read:
	// Views and Updates read a snapshot at least as recent.
	seen atomic.Int64

	// name and marks make the marks of commits (see revisionValue).
	name  string
	marks atomic.Uint64

	// compacted is the revision this store last compacted etcd to.
	compacted atomic.Int64

	mu       sync.Mutex
	cond     *sync.Cond // signalled when updates drops to 0
	updates  int        // running Updates
	isClosed bool
	closed   chan struct{}
	watchers sync.WaitGroup
}

var _ store.Store = (*Store)(nil)

// Open connects to the etcd cluster at endpoints ("https://10.0.0.1:2379",
// ...) and returns a Store that owns the connection: Close closes it. It
// fails when no endpoint answers within the dial timeout.
func Open(ctx context.Context, endpoints []string, opts ...Option) (*Store, error) {
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	if len(endpoints) == 0 {
		return nil, fmt.Errorf("%w: no etcd endpoints", store.ErrInvalid)
	}
	keys, err := newLayout(o.prefix)
	if err != nil {
		return nil, err
	}
	client, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: o.dialTimeout,
		// Pings find a member that stopped answering (paused, cut
		// off) on a connection that stays open; etcd refuses pings
		// more often than every 5 s.
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 5 * time.Second,
		TLS:                  o.tls,
		Username:             o.username,
		Password:             o.password,
		Context:              context.WithoutCancel(ctx),
		Logger:               zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("etcd store: connect to %v: %w", endpoints, err)
	}
	// clientv3.New does not wait for a connection; this first read does,
	// and proves the credentials work.
	dial, cancel := context.WithTimeout(ctx, o.dialTimeout)
	defer cancel()
	if _, err := client.Get(dial, keys.revision); err != nil {
		err = fmt.Errorf("etcd store: connect to %v: %w", endpoints, err)
		if cerr := client.Close(); cerr != nil && !errors.Is(cerr, context.Canceled) {
			err = errors.Join(err, cerr)
		}
		return nil, err
	}
	return newStore(client, true, o)
}

// New returns a Store on an existing client, for a program that also uses
// the client for other things (leader election, say). Close leaves the
// client open. The connection options (WithTLS, WithCredentials,
// WithDialTimeout) are refused: configure the client instead.
func New(client *clientv3.Client, opts ...Option) (*Store, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: nil etcd client", store.ErrInvalid)
	}
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	if o.tls != nil || o.username != "" || o.dialTimeoutSet {
		return nil, fmt.Errorf("%w: TLS, credentials and the dial timeout are settings of the client given to New", store.ErrInvalid)
	}
	return newStore(client, false, o)
}

func newStore(client *clientv3.Client, own bool, o options) (*Store, error) {
	keys, err := newLayout(o.prefix)
	if err != nil {
		return nil, err
	}
	s := &Store{
		client:    client,
		ownClient: own,
		codec:     o.codec,
		keys:      keys,
		opts:      o,
		log:       o.logger,
		decoded:   newDecoded(o.cacheSize),
		closed:    make(chan struct{}),
		name:      rand.Text()[:12],
	}
	s.cond = sync.NewCond(&s.mu)
	s.mirror = newMirror(s)
	ctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	s.latest.ctx = ctx
	go s.mirror.run(ctx)
	return s, nil
}

// newMark returns a mark no other commit has.
func (s *Store) newMark() string {
	return s.name + "." + strconv.FormatUint(s.marks.Add(1), 36)
}

// Client returns the etcd client the store uses.
func (s *Store) Client() *clientv3.Client { return s.client }

// Prefix returns the key prefix of the store's keys, with its trailing '/'.
func (s *Store) Prefix() string { return s.keys.prefix }

// base is where a transaction starts: etcd's revision and the store's.
type base struct {
	etcdRev  int64 // etcd's revision when the transaction began
	storeRev int64 // the revision of the store's last transaction, ≤ etcdRev
	firstRev int64 // the store's first transaction, 0 if none yet
}

// begin reads the revision key: its ModRevision is the store's revision,
// and the response header says where etcd is. Reading everything else at
// etcdRev then reads the same state as at storeRev, since every
// transaction of this store writes the revision key.
func (s *Store) begin(ctx context.Context) (base, error) {
	resp, err := s.client.Get(ctx, s.keys.revision)
	if err != nil {
		return base{}, s.rpcError(ctx, "read revision", err)
	}
	b := base{etcdRev: resp.Header.Revision}
	if len(resp.Kvs) == 1 {
		b.storeRev = resp.Kvs[0].ModRevision
		b.firstRev = resp.Kvs[0].CreateRevision
	}
	return b, nil
}

// View reads a snapshot of the mirror (the store's copy of its keys, kept
// by one etcd watch) at the store's latest revision: it asks etcd for that
// revision, which Views running together share, and waits until the mirror
// has it. Reading then costs no request to etcd and no decoding.
func (s *Store) View(ctx context.Context, fn func(tx store.ReadTx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.isClosing() {
		return store.ErrClosed
	}
	rev, err := s.latest.get(ctx, s)
	if err != nil {
		return err
	}
	snap, err := s.mirror.at(ctx, max(rev, s.seen.Load()))
	if err != nil {
		return err
	}
	s.observe(snap.rev)
	return fn(&readTx{snap: snap})
}

// observe records that this Store read or committed revision rev.
func (s *Store) observe(rev int64) {
	for {
		cur := s.seen.Load()
		if cur >= rev || s.seen.CompareAndSwap(cur, rev) {
			return
		}
	}
}

// Update runs fn on a snapshot of the mirror and commits its writes in one
// etcd transaction that compares the revisions of everything fn read. When
// one of them changed (the mirror was behind, or another writer was
// first), the commit fails and fn runs again once the mirror has caught
// up, until it commits, returns an error, or ctx is done.
func (s *Store) Update(ctx context.Context, fn func(tx store.Tx) error) error {
	return s.update(ctx, nil, fn)
}

func (s *Store) update(ctx context.Context, g *Guard, fn func(tx store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	want := s.seen.Load()
	for attempt := 1; ; attempt++ {
		if s.isClosing() {
			return store.ErrClosed
		}
		snap, err := s.mirror.at(ctx, want)
		if err != nil {
			return err
		}
		tx := newWriteTx(s, snap)
		done, behind, err := s.attempt(ctx, tx, g, fn)
		if done {
			return err
		}
		want = max(want, behind)
		level := slog.LevelDebug
		if attempt%retryWarnEvery == 0 {
			level = slog.LevelWarn
		}
		s.log.Log(ctx, level, "etcd store: a value read changed before commit; running the transaction again",
			"attempt", attempt, "revision", snap.rev, "latest", behind)
	}
}

// attempt runs fn once and tries to commit. When a compared read had
// changed it reports done false and the store's revision at the time, which
// the mirror must reach before fn runs again.
//
// fn's reads come from the mirror, which may be behind etcd. A commit
// compares them; when fn wrote nothing, or returned an error, which may be
// the fruit of a stale read (an object another replica created looks
// absent), a transaction of comparisons only checks them, so that the
// result stands as if fn had read etcd itself.
func (s *Store) attempt(ctx context.Context, tx *writeTx, g *Guard, fn func(tx store.Tx) error) (done bool, behind int64, err error) {
	committed := false
	defer func() {
		tx.Finished = true
		if !committed {
			tx.rollback()
		}
	}()
	if ferr := fn(tx); ferr != nil || !tx.wrote() {
		current, behind, err := tx.verify(ctx)
		switch {
		case err != nil && ferr != nil:
			s.log.Debug("etcd store: could not check the reads of a failed transaction", "error", err)
			return true, 0, ferr
		case err != nil:
			return true, 0, err
		case !current:
			return false, behind, nil
		}
		committed = ferr == nil
		return true, 0, ferr
	}
	rev, behind, err := tx.commit(ctx, g)
	if err != nil || rev == 0 {
		return err != nil, behind, err
	}
	committed = true
	tx.settle(rev)
	tx.remember(rev)
	s.observe(rev)
	s.maybeCompact(ctx, rev)
	return true, 0, nil
}

// maybeCompact compacts etcd when WithCompaction asks for it.
func (s *Store) maybeCompact(ctx context.Context, rev int64) {
	keep := s.opts.compactKeep
	last := s.compacted.Load()
	if keep == 0 || rev-last < 2*keep || !s.compacted.CompareAndSwap(last, rev-keep) {
		return
	}
	_, err := s.client.Compact(ctx, rev-keep)
	switch {
	case err == nil:
		s.log.Debug("etcd store: compacted", "revision", rev-keep)
	case errors.Is(err, rpctypes.ErrCompacted):
		// Another client compacted further already.
	default:
		s.compacted.CompareAndSwap(rev-keep, last)
		s.log.Warn("etcd store: compaction failed", "revision", rev-keep, "error", err)
	}
}

// Close ends every watch with store.ErrClosed, waits for running Updates
// and, for a store made by Open, closes the client.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.isClosed {
		s.mu.Unlock()
		return nil
	}
	s.isClosed = true
	close(s.closed)
	for s.updates > 0 {
		s.cond.Wait()
	}
	s.mu.Unlock()
	s.stop()
	<-s.mirror.done
	s.latest.close()
	s.watchers.Wait()
	if s.ownClient {
		if err := s.client.Close(); err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("etcd store: close client: %w", err)
		}
	}
	return nil
}

func (s *Store) enter() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.isClosed {
		return store.ErrClosed
	}
	s.updates++
	return nil
}

func (s *Store) leave() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.updates--
	if s.updates == 0 {
		s.cond.Broadcast()
	}
}

func (s *Store) isClosing() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

// rpcError turns an error of the etcd client into the store's vocabulary.
func (s *Store) rpcError(ctx context.Context, op string, err error) error {
	switch {
	case s.isClosing():
		return store.ErrClosed
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, rpctypes.ErrCompacted):
		return fmt.Errorf("%w: etcd store: %s: %w", store.ErrCompacted, op, err)
	case errors.Is(err, rpctypes.ErrTooManyOps), errors.Is(err, rpctypes.ErrRequestTooLarge):
		return fmt.Errorf("%w: etcd store: %s: the transaction is larger than etcd accepts (--max-txn-ops, --max-request-bytes): %w",
			store.ErrInvalid, op, err)
	}
	return fmt.Errorf("etcd store: %s: %w", op, err)
}
