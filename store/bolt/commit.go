package bolt

import (
	"errors"
	"fmt"
	"os"
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
	objs   []span    // where each event's object is in the record
	saved  txn.Saved // to give objects their Meta back if it fails

	done chan struct{} // closed once err is set
	err  error
}

// span is where an object is in a record: n bytes from at (none for a
// delete).
type span struct{ at, n int }

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
	p.objs = make([]span, len(tx.events))
	b := beginRecord((*p.record)[:0], tx.rev)
	for i, ev := range tx.events {
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
		p.objs[i] = span{at: at + 4, n: len(b) - at - 4}
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
	// afterEnqueue is called after every transaction queued;
	// beforeCheckpoint is called on a checkpoint's goroutine with its
	// revision before it is written, and an error from it fails the
	// checkpoint.
	beforeCommit     func(n int) error
	afterEnqueue     func()
	beforeCheckpoint func(to int64) error

	// Kept by run alone: the log, the transactions in it after the
	// checkpoint (oldest first, as the history ring keeps them), where
	// the objects they wrote are in the log, and the checkpoint's
	// revision.
	wal        *wal
	kept       []keptTxn
	keptEvents int
	logged     []logged
	checkpoint int64
	records    [][]byte // reused: the records of one batch
	// A checkpoint runs on a goroutine of its own, one at a time, while
	// commits go on: running is set until it reports on checkpointed,
	// and dropping is how many of the events after the checkpoint it
	// covers. compacted is a checkpoint the history ring has yet to
	// learn of; retryAt is how many events the log must hold after the
	// checkpoint before one is tried again after a failure.
	running      bool
	dropping     int
	checkpointed chan checkpointResult
	compacted    int64
	retryAt      int
}

type checkpointResult struct {
	to  int64
	err error
}

type objectKey struct{ kind, id string }

type keptTxn struct {
	rev    int64
	events int
}

// logged is an object version written to the log after the checkpoint:
// where its bytes are, for a checkpoint to read back (none for a delete).
type logged struct {
	rev      int64
	kind, id string
	seg      string
	at       int64
	n        int
}

func newCommitter(s *Store, st *loaded) *committer {
	c := &committer{
		s:            s,
		kick:         make(chan struct{}, 1),
		stopped:      make(chan struct{}),
		done:         make(chan struct{}),
		wal:          st.wal,
		kept:         st.kept,
		logged:       st.logged,
		checkpoint:   st.checkpoint,
		checkpointed: make(chan checkpointResult, 1),
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
		case r := <-c.checkpointed:
			c.checkpointDone(r)
			continue
		case <-c.stopped:
			for batch := c.take(); len(batch) > 0; batch = c.take() {
				c.commit(batch)
			}
			for c.running {
				c.checkpointDone(<-c.checkpointed)
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
// are queued as the last batch held, or until none came for batchGap. A
// lone writer (a last batch of one) never waits. Concurrent writers each
// wait for their commit before staging their next transaction, so a
// commit started as soon as one arrives would take the few staged during
// the last fsync; waiting for as many as last time keeps batches from
// shrinking, and every commit's fixed cost (a write and an fdatasync) is
// shared by more writers. Those writers stage their next transactions
// within microseconds of each other: once none came for batchGap, the
// rest are not coming soon (writers busy elsewhere, as a control plane's
// are), and the ones queued, often a client waiting on its request, are
// not held up for the whole window.
func (c *committer) gather(last int) {
	window := c.s.opts.batchWindow
	n := c.queued()
	if window <= 0 || last < 2 || n >= last {
		return
	}
	timer := time.NewTimer(window)
	defer timer.Stop()
	idle := min(batchGap, window)
	gap := time.NewTimer(idle)
	defer gap.Stop()
	for n < last {
		select {
		case <-c.kick:
			if m := c.queued(); m > n {
				n = m
				gap.Reset(idle)
			}
		case <-gap.C:
			return
		case <-timer.C:
			return
		case <-c.stopped:
			return
		}
	}
}

// batchGap is how long gather waits for the next transaction to come.
const batchGap = 200 * time.Microsecond

func (c *committer) queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue)
}

// commit appends batch to the log, then publishes it or fails it. It
// starts a checkpoint once the log holds enough events after the last
// one (see startCheckpoint).
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
		var seg string
		var at int64
		seg, at, err = c.wal.append(c.records, batch[0].rev, batch[len(batch)-1].rev)
		clear(c.records)
		if err == nil {
			c.log(batch, seg, at)
		}
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
	if c.running && c.keptEvents-c.dropping >= c.checkpointAt() {
		// The checkpoint before the one now due is still running:
		// wait for it, so that the history (in the log and in
		// memory) stays within its bound however slow checkpoints are.
		c.checkpointDone(<-c.checkpointed)
	}
	select {
	case r := <-c.checkpointed:
		c.checkpointDone(r)
	default:
	}
	compacted := c.compacted
	c.compacted = 0
	for _, p := range batch {
		c.s.snap.Store(p.snap)
		c.s.hist.Append(p.rev, p.events, compacted)
	}
	c.s.hist.Wake()
	for _, p := range batch {
		close(p.done)
	}
	c.startCheckpoint()
}

// log notes where the objects batch wrote are: its records were written
// to the segment seg from offset at.
func (c *committer) log(batch []*pending, seg string, at int64) {
	for _, p := range batch {
		for i, ev := range p.events {
			o := p.objs[i]
			c.logged = append(c.logged, logged{rev: p.rev, kind: ev.Kind, id: ev.ID, seg: seg, at: at + int64(o.at), n: o.n})
		}
		at += int64(len(*p.record))
	}
}

// startCheckpoint moves the checkpoint, on a goroutine of its own, once
// the log holds the history limit and as many again after it: to the
// newest revision that leaves at least the limit of events after it
// (whole transactions). Waiting for as many events as the limit writes
// each object once however often it changed meanwhile: rewriting an
// object's page of the objects bucket on every commit wrote 2.4 times the
// pages (format 1's BenchmarkConverge). Commits go on meanwhile,
// appending past what the checkpoint reads, and no segment is removed
// until it is done. If the
// next checkpoint is due before it is done, the commit that finds it so
// waits for it.
func (c *committer) startCheckpoint() {
	limit := c.s.opts.history
	if c.running || c.keptEvents < max(c.checkpointAt(), c.retryAt) {
		return
	}
	drop, dropped := 0, 0
	for c.keptEvents-dropped-c.kept[drop].events >= limit {
		dropped += c.kept[drop].events
		drop++
	}
	if drop == 0 {
		return
	}
	to := c.kept[drop-1].rev
	// Commits append to c.logged meanwhile, past what the checkpoint
	// reads; checkpointDone drops it.
	n := 0
	for n < len(c.logged) && c.logged[n].rev <= to {
		n++
	}
	objects := c.logged[:n:n]
	logEnd := c.wal.last()
	c.running, c.dropping = true, dropped
	go func() {
		var err error
		if c.beforeCheckpoint != nil {
			err = c.beforeCheckpoint(to)
		}
		if err == nil {
			err = c.writeCheckpoint(objects, to, logEnd)
		}
		c.checkpointed <- checkpointResult{to: to, err: err}
	}()
}

// checkpointDone takes the result of a checkpoint: the history after it
// drops what it wrote, the history ring learns of it with the next
// commit, the segments that hold nothing after it are removed, and the
// next checkpoint starts if the log already holds enough for one. A
// checkpoint that failed left the state as it was: the log still holds
// every transaction after the old one, and the next one is tried once as
// many events again came.
func (c *committer) checkpointDone(r checkpointResult) {
	c.running = false
	if r.err != nil {
		c.retryAt = c.keptEvents + checkpointSlack(c.s.opts.history)
		return
	}
	c.retryAt = 0
	c.checkpoint, c.compacted = r.to, r.to
	n, events := 0, 0
	for n < len(c.kept) && c.kept[n].rev <= r.to {
		events += c.kept[n].events
		n++
	}
	c.kept = c.kept[:copy(c.kept, c.kept[n:])]
	c.keptEvents -= events
	n = 0
	for n < len(c.logged) && c.logged[n].rev <= r.to {
		n++
	}
	c.logged = c.logged[:copy(c.logged, c.logged[n:])]
	// A segment left behind is removed by the next checkpoint, or
	// skipped at Open.
	_ = c.wal.removeThrough(r.to)
	c.startCheckpoint()
}

// noteLogEnd records, once the committer stopped, where the log ends, so
// that the next Open refuses a log that lost its last segments whole. It
// is best effort: a store that cannot write its file (a full disk) closes
// all the same, and Open then checks against what the last checkpoint
// noted.
func (c *committer) noteLogEnd() {
	if c.wal.broken != nil {
		return
	}
	_ = c.s.db.Update(func(btx *bbolt.Tx) error {
		meta := btx.Bucket(bucketMeta)
		if meta == nil {
			return errors.New("buckets missing")
		}
		return meta.Put(keyLogEnd, uint64Bytes(c.wal.last()))
	})
}

// checkpointSlack is how many events beyond its limit the log may hold
// after the checkpoint before the checkpoint moves.
func checkpointSlack(history int) int { return history }

// checkpointAt is how many events after the checkpoint start the next.
func (c *committer) checkpointAt() int {
	return c.s.opts.history + checkpointSlack(c.s.opts.history)
}

// writeCheckpoint brings the objects bucket up to revision to, in one
// bbolt transaction, from the objects written since the checkpoint up to
// there, and notes that the log reached revision logEnd, so that Open
// refuses a log that lost segments it held then. It reads the last
// version of each object back from the log's files, into one buffer,
// which bbolt needs until its transaction commits.
func (c *committer) writeCheckpoint(objects []logged, to, logEnd int64) error {
	latest := make(map[objectKey]int, len(objects))
	for i, o := range objects {
		latest[objectKey{o.kind, o.id}] = i
	}
	total := 0
	for _, i := range latest {
		total += objects[i].n
	}
	versions := make([]byte, 0, total)
	data := make(map[objectKey][]byte, len(latest))
	files := map[string]*os.File{}
	defer func() {
		for _, f := range files {
			_ = f.Close()
		}
	}()
	for k, i := range latest {
		o := objects[i]
		if o.n == 0 {
			data[k] = nil
			continue
		}
		f := files[o.seg]
		if f == nil {
			var err error
			if f, err = os.Open(o.seg); err != nil {
				return &FileError{Path: o.seg, Op: "checkpoint", Err: err}
			}
			files[o.seg] = f
		}
		at := len(versions)
		versions = versions[:at+o.n]
		if _, err := f.ReadAt(versions[at:], o.at); err != nil {
			return &FileError{Path: o.seg, Op: "checkpoint", Err: err}
		}
		data[k] = versions[at:]
	}
	err := c.s.db.Update(func(btx *bbolt.Tx) error {
		objects, meta := btx.Bucket(bucketObjects), btx.Bucket(bucketMeta)
		if objects == nil || meta == nil {
			return errors.New("buckets missing")
		}
		ow := objectWriter{objects: objects, kinds: map[string]*bbolt.Bucket{}}
		for k, v := range data {
			if err := ow.put(k.kind, k.id, v); err != nil {
				return err
			}
		}
		if err := meta.Put(keyLogEnd, uint64Bytes(logEnd)); err != nil {
			return err
		}
		return meta.Put(keyCheckpoint, uint64Bytes(to))
	})
	if err != nil {
		return &FileError{Path: c.s.path, Op: "checkpoint", Err: err}
	}
	return nil
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
