package bolt

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/btree"
	bbolt "go.etcd.io/bbolt"

	"github.com/stevedore-io/stevedore/store"
)

// migrate converts a file of format 1, whose history is in the file, to
// format 2. It reads the file whole first, as the format 1 code did, and
// refuses it as that code did if anything is wrong, leaving it as it was.
// Then it writes the history's transactions to a new log, synced, and in
// one bbolt transaction sets the objects bucket to the state at the
// history's compacted revision (the state undone, event by event, from
// the newest back), makes that the checkpoint, deletes the history bucket
// and sets the format. A crash before that transaction leaves a file of
// format 1; the log it finds beside one is the leftover of such a crash,
// and is replaced.
func migrate(db *bbolt.DB, path string, o options) error {
	var v1 v1File
	if err := db.View(func(btx *bbolt.Tx) error { return v1.read(btx, path, o.codec) }); err != nil {
		return err
	}
	dir := walDir(path)
	if err := os.RemoveAll(dir); err != nil {
		return &FileError{Path: dir, Op: "migrate", Err: err}
	}
	if err := v1.writeLog(dir, o.segmentSize); err != nil {
		return err
	}
	err := db.Update(func(btx *bbolt.Tx) error {
		objects, meta := btx.Bucket(bucketObjects), btx.Bucket(bucketMeta)
		ow := objectWriter{objects: objects, kinds: map[string]*bbolt.Bucket{}}
		for k, data := range v1.atCompacted {
			if err := ow.put(k.kind, k.id, data); err != nil {
				return err
			}
		}
		if err := btx.DeleteBucket(bucketHistory); err != nil {
			return err
		}
		for _, k := range [][]byte{keyRevision, keyCompacted} {
			if err := meta.Delete(k); err != nil {
				return err
			}
		}
		if err := meta.Put(keyCheckpoint, uint64Bytes(v1.compacted)); err != nil {
			return err
		}
		return meta.Put(keyFormat, uint64Bytes(formatVersion))
	})
	if err != nil {
		return &FileError{Path: path, Op: "migrate", Err: err}
	}
	return nil
}

// v1File is what migrate reads from a file of format 1.
type v1File struct {
	compacted int64
	txns      []v1Txn // the history, oldest first
	// atCompacted holds the version at the compacted revision of every
	// object the history changes (nil: it did not exist then).
	atCompacted map[objectKey][]byte
}

type v1Txn struct {
	rev    int64
	events []diskEvent
}

// read reads and checks a file of format 1: its objects (the state at its
// checkpoint) and its history (every event after its compacted revision,
// each with its object's previous version), which it replays on the
// objects after the checkpoint.
func (v *v1File) read(btx *bbolt.Tx, path string, codec store.Codec) error {
	meta, objects, hist := btx.Bucket(bucketMeta), btx.Bucket(bucketObjects), btx.Bucket(bucketHistory)
	if meta == nil || objects == nil || hist == nil {
		return corruptf(path, "not a store file: buckets missing")
	}
	rev, ok := readUint64(meta.Get(keyRevision))
	if !ok {
		return corruptf(path, "no revision")
	}
	checkpoint, ok := readUint64(meta.Get(keyCheckpoint))
	if !ok || checkpoint > rev {
		return corruptf(path, "bad checkpoint revision")
	}
	if b := meta.Get(keyCompacted); b != nil {
		if v.compacted, ok = readUint64(b); !ok || v.compacted > checkpoint {
			return corruptf(path, "bad compacted revision")
		}
	}
	snap := emptySnapshot()
	if err := loadObjects(path, codec, objects, checkpoint, snap); err != nil {
		return err
	}
	v.atCompacted = map[objectKey][]byte{}
	c := hist.Cursor()
	for k, val := c.First(); k != nil; k, val = c.Next() {
		r := historyRevision(k)
		if r <= v.compacted || r > rev || val == nil {
			return corruptf(path, "history key %x out of place (revisions %d to %d kept)", k, v.compacted, rev)
		}
		de, err := decodeEvent(val)
		if err != nil {
			return corruptf(path, "history at revision %d: %v", r, err)
		}
		// bbolt's bytes are valid in this transaction only.
		de.obj, de.prev = bytes.Clone(de.obj), bytes.Clone(de.prev)
		if store.ValidateKey(de.kind, de.id) != nil {
			return corruptf(path, "history at revision %d: bad key %q/%q", r, de.kind, de.id)
		}
		if err := knownKind(path, codec, de.kind); err != nil {
			return err
		}
		key := objectKey{de.kind, de.id}
		var obj store.Object
		for _, data := range [][]byte{de.prev, de.obj} {
			if len(data) == 0 {
				continue
			}
			if obj, err = codec.Unmarshal(de.kind, data); err != nil {
				return decodeError(path, fmt.Sprintf("history at revision %d, %s/%s", r, de.kind, de.id), err)
			}
			if obj.ObjectID() != de.id {
				return corruptf(path, "history at revision %d, %s/%s: holds an object with ID %q", r, de.kind, de.id, obj.ObjectID())
			}
		}
		if r > checkpoint {
			t := snap.tree(de.kind)
			if t == nil {
				t = btree.NewG(btreeDegree, lessRecord)
				snap.setTree(de.kind, t)
			}
			if len(de.obj) == 0 {
				t.Delete(&record{id: de.id})
			} else {
				t.ReplaceOrInsert(&record{id: de.id, obj: obj})
			}
		}
		if _, ok := v.atCompacted[key]; !ok {
			v.atCompacted[key] = de.prev
		}
		if n := len(v.txns); n > 0 && v.txns[n-1].rev == r {
			v.txns[n-1].events = append(v.txns[n-1].events, de)
			continue
		} else if n > 0 && v.txns[n-1].rev > r {
			return corruptf(path, "history out of order at revision %d", r)
		}
		v.txns = append(v.txns, v1Txn{rev: r, events: []diskEvent{de}})
	}
	if n := len(v.txns); rev > checkpoint && (n == 0 || v.txns[n-1].rev != rev) {
		return corruptf(path, "the history does not reach revision %d", rev)
	}
	for k, data := range v.atCompacted {
		if len(data) == 0 {
			v.atCompacted[k] = nil
		}
	}
	return nil
}

// writeLog writes the history's transactions as the log dir, after the
// compacted revision, about a MiB per write, and syncs it.
func (v *v1File) writeLog(dir string, segmentSize int64) error {
	w, err := createWAL(dir, v.compacted, segmentSize)
	if err != nil {
		return err
	}
	var records [][]byte
	var first int64
	size := 0
	flush := func(last int64) error {
		if len(records) == 0 {
			return nil
		}
		_, _, err := w.append(records, first, last)
		records, size = records[:0], 0
		return err
	}
	for _, t := range v.txns {
		if len(records) == 0 {
			first = t.rev
		}
		b := beginRecord(nil, t.rev)
		for _, ev := range t.events {
			b = appendEventHead(b, byte(ev.typ), ev.kind, ev.id)
			at := len(b) - 4
			b = append(b, ev.obj...)
			endEvent(b, at)
		}
		finishRecord(b, 0)
		records = append(records, b)
		if size += len(b); size >= 1<<20 {
			if err := flush(t.rev); err != nil {
				_ = w.close()
				return err
			}
		}
	}
	if n := len(v.txns); n > 0 {
		err = flush(v.txns[n-1].rev)
	}
	if cerr := w.close(); err == nil && cerr != nil {
		err = &FileError{Path: dir, Op: "migrate", Err: cerr}
	}
	if err != nil {
		return err
	}
	if err := syncDir(filepath.Dir(dir)); err != nil {
		return &FileError{Path: dir, Op: "migrate", Err: err}
	}
	return nil
}
