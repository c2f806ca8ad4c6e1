package bolt

import (
	"errors"
	"fmt"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/internal/txn"
)

// pending is a staged transaction on its way to the file.
type pending struct {
	rev    int64
	snap   *snapshot // the state after it
	events []store.Event
	record *[]byte   // its record of the log, from recordPool
	saved  txn.Saved // to give objects their Meta back if it fails

	done chan struct{} // closed once err is set
	err  error
}

// recordPool holds the buffers records are encoded into: one per staged
// transaction, given back once the commit wrote it.
var recordPool = sync.Pool{New: func() any { return new([]byte) }}

// stage encodes tx and turns it into the next snapshot, still private to
// the writer. The caller holds the writer slot.
//
// Each version written is encoded once, straight into the transaction's
// record of the log; nothing of it is kept once the record is written.
func (s *Store) stage(tx *writeTx) (*pending, error) {
	p := &pending{rev: tx.rev, events: tx.events, saved: tx.Saved(), done: make(chan struct{})}
	p.record = recordPool.Get().(*[]byte)
	b := beginRecord((*p.record)[:0], tx.rev)
	for _, ev := range tx.events {
		if len(ev.Kind) > bbolt.MaxKeySize || len(ev.ID) > bbolt.MaxKeySize {
			// Refused here rather than by bbolt at the checkpoint,
			// where it would fail every checkpoint after it.
			recordPool.Put(p.record)
			return nil, fmt.Errorf("%w: %s/%.64s...: kind or ID longer than %d bytes",
				store.ErrInvalid, ev.Kind, ev.ID, bbolt.MaxKeySize)
		}
		b = appendEventHead(b, byte(ev.Type), ev.Kind, ev.ID)
		at := len(b) - 4
		if ev.Object != nil {
			var err error
			if b, err = s.marshal(b, ev.Object); err != nil {
				*p.record = b
				recordPool.Put(p.record)
				return nil, err
			}
		}
		endEvent(b, at)
	}
	finishRecord(b, 0)
	*p.record = b

	kinds := make([]kindTree, len(tx.base.kinds), len(tx.base.kinds)+len(tx.work))
	copy(kinds, tx.base.kinds)
	for _, w := range tx.work {
		kinds = withTree(kinds, w.kind, w.tree)
	}
	p.snap = &snapshot{rev: tx.rev, kinds: kinds}
	return p, nil
}

// committer writes staged transactions to the log in order, as many as
// are waiting in one write and one fdatasync: writers that stage while a
// commit is being synced share the next one.
type committer struct {
	s *Store

	mu      sync.Mutex
	queue   []*pending
	kick    chan struct{} // holds a value when the queue may be non-empty
	stopped chan struct{} // closed by stop
	done    chan struct{} // closed when run returns

	// Set by tests only: beforeCommit is called with every batch's size
	// before it is written, and an error from it fails the batch;
	// afterEnqueue is called after every transaction queued.
	beforeCommit func(n int) error
	afterEnqueue func()

	// Kept by run alone: the log, the transactions in it after the
	// checkpoint (oldest first, as the history ring keeps them) and
	// the checkpoint's revision.
	wal        *wal
	kept       []keptTxn
	keptEvents int
	checkpoint int64
	records    [][]byte // reused: the records of one batch
}

type objectKey struct{ kind, id string }

type keptTxn struct {
	rev    int64
	events int
}

func newCommitter(s *Store, st *loaded) *committer {
	c := &committer{
		s:          s,
		kick:       make(chan struct{}, 1),
		stopped:    make(chan struct{}),
		done:       make(chan struct{}),
		wal:        st.wal,
		kept:       st.kept,
		checkpoint: st.checkpoint,
	}
	for _, k := range st.kept {
		c.keptEvents += k.events
	}
	go c.run()
	return c
}

// enqueue hands p to the committer. The caller holds the writer slot, so
// transactions are queued in revision order.
func (c *committer) enqueue(p *pending) {
	c.mu.Lock()
	c.queue = append(c.queue, p)
	c.mu.Unlock()
	if c.afterEnqueue != nil {
		c.afterEnqueue()
	}
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// stop writes what is queued and ends run. No transaction is staged any
// more when it is called.
func (c *committer) stop() {
	close(c.stopped)
	<-c.done
}

func (c *committer) take() []*pending {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := min(len(c.queue), c.s.opts.maxBatch)
	batch := c.queue[:n:n]
	c.queue = c.queue[n:]
	if len(c.queue) == 0 {
		c.queue = nil
	} else {
		select {
		case c.kick <- struct{}{}:
		default:
		}
	}
	return batch
}

func (c *committer) run() {
	defer close(c.done)
	last := 0 // the size of the last batch committed
	for {
		select {
		case <-c.kick:
		case <-c.stopped:
			for batch := c.take(); len(batch) > 0; batch = c.take() {
				c.commit(batch)
			}
			return
		}
		c.gather(last)
		if batch := c.take(); len(batch) > 0 {
			c.commit(batch)
			last = len(batch)
		}
	}
}

// gather waits, for the batch window at most, until as many transactions
// are queued as the last batch held. A lone writer (a last batch of one)
// never waits. Concurrent writers each wait for their commit before
// staging their next transaction, so a commit started as soon as one
// arrives would take the few staged during the last fsync; waiting for as
// many as last time keeps batches from shrinking, and every commit's fixed
// cost (a write and an fdatasync) is shared by more writers.
func (c *committer) gather(last int) {
	window := c.s.opts.batchWindow
	if window <= 0 || last < 2 || c.queued() >= last {
		return
	}
	timer := time.NewTimer(window)
	defer timer.Stop()
	for c.queued() < last {
		select {
		case <-c.kick:
		case <-timer.C:
			return
		case <-c.stopped:
			return
		}
	}
}

func (c *committer) queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue)
}

// commit appends batch to the log, then publishes it or fails it. Once
// the log holds enough events after the checkpoint, it moves the
// checkpoint first (see moveCheckpoint), so that the history the batch is
// published with is the one the files hold.
func (c *committer) commit(batch []*pending) {
	var err error
	if c.beforeCommit != nil {
		if err = c.beforeCommit(len(batch)); err != nil {
			err = &FileError{Path: c.s.path, Op: "commit", Err: err}
		}
	}
	if err == nil {
		c.records = c.records[:0]
		for _, p := range batch {
			c.records = append(c.records, *p.record)
		}
		err = c.wal.append(c.records, batch[0].rev, batch[len(batch)-1].rev)
		clear(c.records)
	}
	for _, p := range batch {
		recordPool.Put(p.record)
		p.record = nil
	}
	if err != nil {
		c.fail(batch, err)
		return
	}
	for _, p := range batch {
		c.kept = append(c.kept, keptTxn{rev: p.rev, events: len(p.events)})
		c.keptEvents += len(p.events)
	}
	compacted := c.moveCheckpoint()
	for _, p := range batch {
		c.s.snap.Store(p.snap)
		c.s.hist.Append(p.rev, p.events, compacted)
	}
	c.s.hist.Wake()
	for _, p := range batch {
		close(p.done)
	}
}

// moveCheckpoint moves the checkpoint once the log holds the history limit and
// as many again after it: to the newest revision that leaves at least the
// limit of events after it (whole transactions). It reads the records up
// to there back from the log's files, and writes the last version of each
// object they wrote to the objects bucket, with the new checkpoint, in one
// bbolt transaction; then it removes the segments that hold nothing after
// it. Waiting for as many events as the limit writes each object once
// however often it changed meanwhile: rewriting an object's page of the
// objects bucket on every commit wrote 2.4 times the pages (format 1's
// BenchmarkConverge). It returns the new checkpoint, or 0 if it did not
// move.
//
// A checkpoint that fails leaves the state as it was: the log still holds
// every transaction after the old one, and the next commit tries again.
func (c *committer) moveCheckpoint() int64 {
	limit := c.s.opts.history
	if c.keptEvents < limit+checkpointSlack(limit) {
		return 0
	}
	drop, dropped := 0, 0
	for c.keptEvents-dropped-c.kept[drop].events >= limit {
		dropped += c.kept[drop].events
		drop++
	}
	if drop == 0 {
		return 0
	}
	to := c.kept[drop-1].rev
	if err := c.writeCheckpoint(to); err != nil {
		return 0
	}
	c.checkpoint = to
	c.kept = c.kept[:copy(c.kept, c.kept[drop:])]
	c.keptEvents -= dropped
	// Segments left behind are removed by the next checkpoint, or
	// skipped at Open.
	_ = c.wal.removeThrough(to)
	return to
}

// checkpointSlack is how many events beyond its limit the log may hold
// after the checkpoint before the checkpoint moves.
func checkpointSlack(history int) int { return history }

// writeCheckpoint brings the objects bucket from the checkpoint up to
// revision to, from the log.
func (c *committer) writeCheckpoint(to int64) error {
	latest := map[objectKey][]byte{}
	var evs []walEvent
	err := c.wal.read(c.checkpoint, to, func(_ int64, payload []byte) error {
		var err error
		if _, evs, err = decodeRecord(payload, evs[:0]); err != nil {
			return err
		}
		for _, ev := range evs {
			latest[objectKey{ev.kind, ev.id}] = ev.obj
		}
		return nil
	})
	if err != nil {
		return err
	}
	return c.s.db.Update(func(btx *bbolt.Tx) error {
		objects, meta := btx.Bucket(bucketObjects), btx.Bucket(bucketMeta)
		if objects == nil || meta == nil {
			return errors.New("buckets missing")
		}
		ow := objectWriter{objects: objects, kinds: map[string]*bbolt.Bucket{}}
		for k, data := range latest {
			if err := ow.put(k.kind, k.id, data); err != nil {
				return err
			}
		}
		return meta.Put(keyCheckpoint, uint64Bytes(to))
	})
}

// objectWriter writes objects to the objects bucket during a checkpoint,
// which writes up to the history limit of them. It looks each kind's
// bucket up once (bbolt's CreateBucketIfNotExists copies the name and
// searches for it every time), and passes IDs in one reused buffer, which
// bbolt copies.
type objectWriter struct {
	objects *bbolt.Bucket
	kinds   map[string]*bbolt.Bucket
	key     []byte
}

// put puts data at kind/id in the objects bucket, or deletes kind/id when
// data is nil.
func (w *objectWriter) put(kind, id string, data []byte) error {
	b := w.kinds[kind]
	if b == nil {
		var err error
		if b, err = w.objects.CreateBucketIfNotExists([]byte(kind)); err != nil {
			return fmt.Errorf("bucket of kind %q: %w", kind, err)
		}
		w.kinds[kind] = b
	}
	w.key = append(w.key[:0], id...)
	var err error
	if data == nil {
		err = b.Delete(w.key)
	} else {
		err = b.Put(w.key, data)
	}
	if err != nil {
		return fmt.Errorf("%s/%s: %w", kind, id, err)
	}
	return nil
}

// fail fails batch and every transaction staged after it (each was built
// on the state batch left), gives their objects their Meta back, and
// resets the staged state to the newest durable snapshot. The revisions
// of the failed transactions are not used again while the store is open:
// the log cut the failed write off, but a later transaction at the same
// revision would still confuse a watcher that saw the revision fail.
func (c *committer) fail(batch []*pending, err error) {
	c.s.writer <- struct{}{}
	c.mu.Lock()
	later := c.queue
	c.queue = nil
	c.mu.Unlock()
	all := append(batch, later...)
	durable := c.s.snap.Load()
	c.s.staged = &snapshot{rev: all[len(all)-1].rev, kinds: durable.kinds}
	c.s.lastPending = nil
	<-c.s.writer

	for i := len(all) - 1; i >= 0; i-- {
		p := all[i]
		p.saved.Restore()
		if p.record != nil {
			recordPool.Put(p.record)
			p.record = nil
		}
		if i < len(batch) {
			p.err = err
		} else {
			p.err = fmt.Errorf("built on a transaction that failed to commit: %w", err)
		}
		close(p.done)
	}
}
