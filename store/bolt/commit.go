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
	writes []fileWrite // the final version of every object it wrote
	hist   [][]byte    // its events, encoded for the history bucket
	saved  txn.Saved   // to give objects their Meta back if it fails

	done chan struct{} // closed once err is set
	err  error
}

// fileWrite puts data at kind/id, or deletes kind/id when data is nil.
type fileWrite struct {
	kind, id string
	data     []byte
}

// stage encodes tx and turns it into the next snapshot, still private to
// the writer. The caller holds the writer slot.
//
// Each version written is encoded once, into the writer's scratch buffer,
// and copied once, into its history event; the record keeps the bytes
// within the event rather than a copy of its own.
func (s *Store) stage(tx *writeTx) (*pending, error) {
	p := &pending{rev: tx.rev, events: tx.events, saved: tx.Saved(), done: make(chan struct{})}
	p.hist = make([][]byte, len(tx.events))
	for i, ev := range tx.events {
		if len(ev.Kind) > bbolt.MaxKeySize || len(ev.ID) > bbolt.MaxKeySize {
			// Refused here rather than by bbolt at commit, where it
			// would fail every transaction sharing the commit.
			return nil, fmt.Errorf("%w: %s/%.64s...: kind or ID longer than %d bytes",
				store.ErrInvalid, ev.Kind, ev.ID, bbolt.MaxKeySize)
		}
		ch := tx.changes[i]
		var objData, prevData []byte
		if ch.rec != nil {
			var err error
			if s.scratch, err = s.marshal(s.scratch[:0], ch.rec.obj); err != nil {
				return nil, err
			}
			objData = s.scratch
		}
		if ch.old != nil {
			// Every version the store holds was encoded when it was
			// staged or loaded, and one this transaction wrote
			// earlier, above.
			if prevData = ch.old.data; prevData == nil {
				return nil, fmt.Errorf("bolt: %s/%s: previous version not encoded", ev.Kind, ev.ID)
			}
		}
		p.hist[i], objData = encodeEvent(ev.Type, ev.Kind, ev.ID, objData, prevData)
		if ch.rec != nil {
			ch.rec.data = objData
		}
	}
	p.writes = finalWrites(tx)

	kinds := make([]kindTree, len(tx.base.kinds), len(tx.base.kinds)+len(tx.work))
	copy(kinds, tx.base.kinds)
	for _, w := range tx.work {
		kinds = withTree(kinds, w.kind, w.tree)
	}
	p.snap = &snapshot{rev: tx.rev, kinds: kinds}
	return p, nil
}

// smallTxn is the most events finalWrites searches without a map.
const smallTxn = 8

// finalWrites returns the final version of every object tx wrote, in the
// order first written: the bytes of the last record it put in the object's
// tree, or nil for one it deleted last.
func finalWrites(tx *writeTx) []fileWrite {
	writes := make([]fileWrite, 0, len(tx.events))
	// Most transactions write a few objects: search those rather than
	// allocate a map.
	var at map[objectKey]int
	if len(tx.events) > smallTxn {
		at = make(map[objectKey]int, len(tx.events))
	}
	for i, ev := range tx.events {
		j := -1
		if at != nil {
			k := objectKey{ev.Kind, ev.ID}
			var ok bool
			if j, ok = at[k]; !ok {
				j = -1
				at[k] = len(writes)
			}
		} else {
			for w := range writes {
				if writes[w].id == ev.ID && writes[w].kind == ev.Kind {
					j = w
					break
				}
			}
		}
		if j < 0 {
			j = len(writes)
			writes = append(writes, fileWrite{kind: ev.Kind, id: ev.ID})
		}
		writes[j].data = nil
		if r := tx.changes[i].rec; r != nil {
			writes[j].data = r.data
		}
	}
	return writes
}

// committer writes staged transactions to the file in order, as many as
// are waiting in one bbolt transaction: writers that stage while a commit
// is being fsynced share the next one.
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

	// Kept by run alone: the transactions whose events are in the
	// history bucket, oldest first, as the history ring keeps them.
	kept       []keptTxn
	keptEvents int
	// checkpoint is the revision the objects bucket is up to date with;
	// dirty holds the newest encoding of every object written since (nil
	// for one deleted), which the next checkpoint writes there.
	checkpoint int64
	dirty      map[objectKey][]byte
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
		kept:       st.kept,
		checkpoint: st.checkpoint,
		dirty:      st.dirty,
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
// cost (two fsyncs, the meta page, the root and the freelist) is shared
// by more writers.
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

// commit writes batch in one bbolt transaction, then publishes it or fails
// it.
//
// A commit appends the batch's events to the history, which holds every
// object written, and leaves the objects bucket as it was: rewriting a
// random leaf page of it per object written, and fsyncing it, cost three
// times the pages of appending. The history is the log; the objects
// bucket, a checkpoint of the state at an earlier revision, is brought up
// to date only when the history is about to drop events after it, from
// the newest version of each object written since (written once, however
// often it changed). Open reads the checkpoint and replays the history
// after it.
func (c *committer) commit(batch []*pending) {
	kept, keptEvents, compacted := c.trim(batch)
	checkpoint := compacted > c.checkpoint
	var err error
	if c.beforeCommit != nil {
		err = c.beforeCommit(len(batch))
	}
	if err == nil {
		err = c.s.db.Update(func(btx *bbolt.Tx) error { return c.write(btx, batch, compacted, checkpoint) })
	}
	if err != nil {
		c.fail(batch, &FileError{Path: c.s.path, Op: "commit", Err: err})
		return
	}
	c.kept, c.keptEvents = kept, keptEvents
	if checkpoint {
		c.checkpoint = batch[len(batch)-1].rev
		clear(c.dirty)
	} else {
		for _, p := range batch {
			for _, w := range p.writes {
				c.dirty[objectKey{w.kind, w.id}] = w.data
			}
		}
	}
	for _, p := range batch {
		c.s.snap.Store(p.snap)
		c.s.hist.Append(p.rev, p.events, compacted)
	}
	c.s.hist.Wake()
	for _, p := range batch {
		close(p.done)
	}
}

// trim works out which transactions the history keeps once batch is in:
// at least the history limit of events, dropping whole transactions,
// oldest first, once there are at least compactionSlack events to drop.
// compacted is the newest revision dropped, or 0 if none is this time
// (the history ring keeps its own).
func (c *committer) trim(batch []*pending) (kept []keptTxn, events int, compacted int64) {
	kept, events = c.kept, c.keptEvents
	for _, p := range batch {
		kept = append(kept, keptTxn{rev: p.rev, events: len(p.events)})
		events += len(p.events)
	}
	drop, dropped := 0, 0
	for events-dropped-kept[drop].events >= c.s.opts.history {
		dropped += kept[drop].events
		compacted = kept[drop].rev
		drop++
	}
	if dropped < compactionSlack(c.s.opts.history) {
		// Deleting from the history rewrites its oldest leaf and the
		// branches above it, on top of the newest ones every commit
		// rewrites: do it once per slack's worth of events rather than
		// in every commit.
		return kept, events, 0
	}
	return kept[drop:], events - dropped, compacted
}

// compactionSlack is how many events beyond its limit the history may
// keep before dropping the oldest (it keeps at least the limit).
func compactionSlack(history int) int { return history / 16 }

// write puts batch into the file, and with checkpoint, brings the objects
// bucket up to date with it.
func (c *committer) write(btx *bbolt.Tx, batch []*pending, compacted int64, checkpoint bool) error {
	objects, hist, meta := btx.Bucket(bucketObjects), btx.Bucket(bucketHistory), btx.Bucket(bucketMeta)
	if objects == nil || hist == nil || meta == nil {
		return errors.New("buckets missing")
	}
	last := batch[len(batch)-1].rev
	if checkpoint {
		// The batch's own writes go after the older ones they
		// supersede; bbolt writes only the last Put of a key.
		ow := objectWriter{objects: objects, kinds: map[string]*bbolt.Bucket{}}
		for k, data := range c.dirty {
			if err := ow.put(k.kind, k.id, data); err != nil {
				return err
			}
		}
		for _, p := range batch {
			for _, w := range p.writes {
				if err := ow.put(w.kind, w.id, w.data); err != nil {
					return err
				}
			}
		}
		if err := meta.Put(keyCheckpoint, uint64Bytes(last)); err != nil {
			return err
		}
	}
	// History keys only ever grow: pack its pages rather than leave
	// half of each free for inserts that never come.
	hist.FillPercent = 0.9
	// bbolt copies every key it is given (not the values, which must
	// outlive the transaction and do, in the batch): one buffer serves.
	var key [12]byte
	for _, p := range batch {
		for i, ev := range p.hist {
			if err := hist.Put(appendHistoryKey(key[:0], p.rev, i), ev); err != nil {
				return fmt.Errorf("history at revision %d: %w", p.rev, err)
			}
		}
	}
	if err := meta.Put(keyRevision, uint64Bytes(last)); err != nil {
		return err
	}
	if compacted == 0 {
		return nil
	}
	if err := meta.Put(keyCompacted, uint64Bytes(compacted)); err != nil {
		return err
	}
	var drop [][]byte
	cur := hist.Cursor()
	for k, _ := cur.First(); k != nil && historyRevision(k) <= compacted; k, _ = cur.Next() {
		drop = append(drop, k)
	}
	for _, k := range drop {
		if err := hist.Delete(k); err != nil {
			return err
		}
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
// of the failed transactions are not used again: an I/O error can leave
// the outcome of a commit unknown (its meta page may have reached the
// disk), and a restart right after it would then find them in the file.
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
		if i < len(batch) {
			p.err = err
		} else {
			p.err = fmt.Errorf("built on a transaction that failed to commit: %w", err)
		}
		close(p.done)
	}
}
