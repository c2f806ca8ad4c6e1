package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/google/btree"
	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/internal/history"
)

// Open opens the store kept in the file at path, creating it if it does not
// exist (its directory must). It fails with a *FileError that wraps
// ErrLocked when another Store has the file open, ErrCorrupt when the file
// is damaged, and a *store.SchemaError when the file holds objects written
// by a newer release; a file it refuses is left as it was. Options that are
// not valid give errors wrapping store.ErrInvalid; WithCodec is required.
//
//	s, err := bolt.Open(filepath.Join(dir, "state.db"), bolt.WithCodec(state.Codec()))
//	if err != nil {
//		return err
//	}
//	defer s.Close()
func Open(path string, opts ...Option) (*Store, error) {
	o := options{
		history:     DefaultHistory,
		watchBuffer: DefaultWatchBuffer,
		lockTimeout: DefaultLockTimeout,
		maxBatch:    DefaultMaxBatch,
		batchWindow: DefaultBatchWindow,
	}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if o.codec == nil {
		return nil, fmt.Errorf("%w: bolt.Open needs WithCodec", store.ErrInvalid)
	}
	if o.history <= o.watchBuffer {
		return nil, fmt.Errorf("%w: history %d must be larger than the watch buffer %d",
			store.ErrInvalid, o.history, o.watchBuffer)
	}
	if path == "" {
		return nil, fmt.Errorf("%w: empty path", store.ErrInvalid)
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	if err := ensureFile(path); err != nil {
		return nil, err
	}
	db, st, err := openFile(path, o)
	if err != nil {
		return nil, err
	}
	s := &Store{
		path:   path,
		opts:   o,
		db:     db,
		writer: make(chan struct{}, 1),
		staged: st.snap,
		closed: make(chan struct{}),
	}
	s.marshal = appendMarshal(o.codec)
	s.snap.Store(st.snap)
	s.hist = history.New(history.Config{WatchBuffer: o.watchBuffer, StoreClosed: s.closed, Compacted: st.compacted, Txns: st.txns})
	s.c = newCommitter(s, st)
	return s, nil
}

// appendMarshal returns the codec's AppendMarshal when it has one (as
// store.JSONCodec does), and otherwise appends what Marshal returns.
func appendMarshal(codec store.Codec) func(dst []byte, obj store.Object) ([]byte, error) {
	if a, ok := codec.(interface {
		AppendMarshal(dst []byte, obj store.Object) ([]byte, error)
	}); ok {
		return a.AppendMarshal
	}
	return func(dst []byte, obj store.Object) ([]byte, error) {
		data, err := codec.Marshal(obj)
		return append(dst, data...), err
	}
}

// ensureFile creates the file at path if there is none. A new file is
// initialized under a temporary name and linked into place, so a file at
// path is always complete: an empty one was truncated, not freshly made.
func ensureFile(path string) error {
	info, err := os.Stat(path)
	switch {
	case err == nil && !info.Mode().IsRegular():
		return &FileError{Path: path, Op: "open", Err: errors.New("not a regular file")}
	case err == nil && info.Size() == 0:
		return &FileError{Path: path, Op: "open", Err: fmt.Errorf(
			"%w: the file is empty (a new file is never left empty: it was truncated)", ErrCorrupt)}
	case err == nil:
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return &FileError{Path: path, Op: "open", Err: err}
	}
	if err := create(path); err != nil {
		return &FileError{Path: path, Op: "create", Err: err}
	}
	return nil
}

func create(path string) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".new-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Close(); err != nil {
		return err
	}
	db, err := bbolt.Open(tmp, 0o600, &bbolt.Options{Timeout: DefaultLockTimeout, PageSize: pageSize})
	if err != nil {
		return err
	}
	err = db.Update(func(btx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketObjects, bucketHistory} {
			if _, err := btx.CreateBucket(name); err != nil {
				return err
			}
		}
		meta, err := btx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		if err := meta.Put(keyFormat, uint64Bytes(formatVersion)); err != nil {
			return err
		}
		if err := meta.Put(keyCheckpoint, uint64Bytes(0)); err != nil {
			return err
		}
		return meta.Put(keyRevision, uint64Bytes(0))
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	// Link fails if path appeared meanwhile (another Open won the race):
	// then that file is the store.
	if err := os.Link(tmp, path); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// loaded is the state read from a file.
type loaded struct {
	snap       *snapshot
	compacted  int64
	checkpoint int64
	txns       []history.Txn // the history, oldest first
	kept       []keptTxn     // the same, as the committer counts it
	// dirty holds the newest encoding of every object written after the
	// checkpoint (nil: deleted), for the committer's next checkpoint.
	dirty map[objectKey][]byte
}

// openFile opens the bbolt file and reads it whole. bbolt panics on some
// damaged pages, and touching a page past the end of a truncated file
// faults: both are turned into ErrCorrupt rather than crashing the process.
func openFile(path string, o options) (db *bbolt.DB, st *loaded, err error) {
	var file *os.File // bbolt's, to close if bbolt.Open panics
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = &FileError{Path: path, Op: "load", Err: fmt.Errorf("%w: %v", ErrCorrupt, r)}
			if db != nil {
				_ = db.Close()
			} else if file != nil {
				// bbolt's mapping of the file still holds the
				// lock: checkFile rules out the damage known to
				// panic in bbolt.Open, so this is the last resort.
				_ = file.Close()
			}
			db, st = nil, nil
		}
	}()
	if err := checkFile(path, o.lockTimeout); err != nil {
		return nil, nil, err
	}
	db, err = bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout: o.lockTimeout,
		// The freelist is kept in the file (NoFreelistSync false), and
		// read at Open: rebuilding it instead walks every page on a
		// goroutine of bbolt's own, where a damaged page would crash
		// the process.
		PreLoadFreelist: true,
		FreelistType:    bbolt.FreelistMapType,
		OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
			f, err := os.OpenFile(name, flag, perm)
			file = f
			return f, err
		},
	})
	if err != nil {
		return nil, nil, &FileError{Path: path, Op: "open", Err: classify(err)}
	}
	st, err = load(db, path, o.codec)
	if err != nil {
		_ = db.Close()
		return nil, nil, err
	}
	return db, st, nil
}

// classify marks the errors of bbolt.Open that mean a damaged file or a
// file held by someone else.
func classify(err error) error {
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return fmt.Errorf("%w (waited for its lock: %v)", ErrLocked, err)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum),
		errors.Is(err, berrors.ErrVersionMismatch), strings.Contains(err.Error(), "too small"):
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return err
}

func corruptf(path, format string, args ...any) error {
	return &FileError{Path: path, Op: "load", Err: fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))}
}

// load reads every object and the history.
func load(db *bbolt.DB, path string, codec store.Codec) (*loaded, error) {
	st := &loaded{snap: emptySnapshot(), dirty: map[objectKey][]byte{}}
	err := db.View(func(btx *bbolt.Tx) error {
		meta, objects, hist := btx.Bucket(bucketMeta), btx.Bucket(bucketObjects), btx.Bucket(bucketHistory)
		if meta == nil || objects == nil || hist == nil {
			return corruptf(path, "not a store file: buckets missing")
		}
		format, ok := readUint64(meta.Get(keyFormat))
		if !ok {
			return corruptf(path, "not a store file: no format version")
		}
		if format != formatVersion {
			return &FileError{Path: path, Op: "load", Err: fmt.Errorf(
				"file format %d, this build reads format %d (written by a newer release?)", format, formatVersion)}
		}
		rev, ok := readUint64(meta.Get(keyRevision))
		if !ok {
			return corruptf(path, "no revision")
		}
		st.snap.rev = rev
		if st.checkpoint, ok = readUint64(meta.Get(keyCheckpoint)); !ok || st.checkpoint > rev {
			return corruptf(path, "bad checkpoint revision")
		}
		if v := meta.Get(keyCompacted); v != nil {
			if st.compacted, ok = readUint64(v); !ok || st.compacted > st.checkpoint {
				return corruptf(path, "bad compacted revision")
			}
		}
		if err := loadObjects(path, codec, objects, st); err != nil {
			return err
		}
		if err := loadHistory(path, codec, hist, st); err != nil {
			return err
		}
		if n := len(st.txns); rev > st.checkpoint && (n == 0 || st.txns[n-1].Rev != rev) {
			return corruptf(path, "the history does not reach revision %d", rev)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

func readUint64(v []byte) (int64, bool) {
	if len(v) != 8 {
		return 0, false
	}
	n := binary.BigEndian.Uint64(v)
	return int64(n), n <= 1<<62
}

func loadObjects(path string, codec store.Codec, objects *bbolt.Bucket, st *loaded) error {
	return objects.ForEach(func(kindKey, v []byte) error {
		kind := string(kindKey)
		b := objects.Bucket(kindKey)
		if v != nil || b == nil || store.ValidateKind(kind) != nil {
			return corruptf(path, "objects bucket holds %q, not a kind", kind)
		}
		if err := knownKind(path, codec, kind); err != nil {
			return err
		}
		t := btree.NewG(btreeDegree, lessRecord)
		err := b.ForEach(func(k, v []byte) error {
			id := string(k)
			if v == nil {
				return corruptf(path, "%s/%s is a bucket", kind, id)
			}
			obj, err := codec.Unmarshal(kind, v)
			switch {
			case err != nil:
				return decodeError(path, kind+"/"+id, err)
			case obj.ObjectID() != id:
				return corruptf(path, "%s/%s holds an object with ID %q", kind, id, obj.ObjectID())
			}
			m := obj.StoreMeta()
			if m.CreateRevision < 1 || m.ModRevision < m.CreateRevision || m.ModRevision > st.checkpoint {
				return corruptf(path, "%s/%s has revisions %+v, checkpoint at revision %d", kind, id, *m, st.checkpoint)
			}
			t.ReplaceOrInsert(&record{id: id, obj: obj, data: bytes.Clone(v)})
			return nil
		})
		if err != nil {
			return err
		}
		st.snap.setTree(kind, t)
		return nil
	})
}

// knownKind refuses a kind the codec does not know: the file was written
// by a newer release, not damaged.
func knownKind(path string, codec store.Codec, kind string) error {
	if known, ok := codec.(interface{ Version(string) (int, bool) }); ok {
		if _, ok := known.Version(kind); !ok {
			return &FileError{Path: path, Op: "load", Err: fmt.Errorf(
				"the file holds objects of kind %q, which this build does not know (written by a newer release?)", kind)}
		}
	}
	return nil
}

// decodeError is the error of an object that did not decode: a
// *store.SchemaError for one written by a newer release, ErrCorrupt for
// anything else.
func decodeError(path, what string, err error) error {
	var schemaErr *store.SchemaError
	if errors.As(err, &schemaErr) {
		return &FileError{Path: path, Op: "load", Err: fmt.Errorf("%s: %w", what, err)}
	}
	return corruptf(path, "%s: %v", what, err)
}

// loadHistory decodes the history and replays the events after the
// checkpoint on the objects loaded. An event's version of an object that
// is also the current one, or the one an earlier event carried, is shared
// rather than decoded again, as it was before the restart.
func loadHistory(path string, codec store.Codec, hist *bbolt.Bucket, st *loaded) error {
	last := map[objectKey]*record{}
	decode := func(kind, id string, data []byte) (store.Object, error) {
		if r, ok := last[objectKey{kind, id}]; ok && bytes.Equal(r.data, data) {
			return r.obj, nil
		}
		if r, ok := find(st.snap.tree(kind), id); ok && bytes.Equal(r.data, data) {
			return r.obj, nil
		}
		obj, err := codec.Unmarshal(kind, data)
		if err != nil {
			return nil, err
		}
		if obj.ObjectID() != id {
			return nil, fmt.Errorf("holds an object with ID %q", obj.ObjectID())
		}
		return obj, nil
	}
	c := hist.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		rev := historyRevision(k)
		if rev <= st.compacted || rev > st.snap.rev || v == nil {
			return corruptf(path, "history key %x out of place (revisions %d to %d kept)", k, st.compacted, st.snap.rev)
		}
		de, err := decodeEvent(v)
		if err != nil {
			return corruptf(path, "history at revision %d: %v", rev, err)
		}
		if store.ValidateKey(de.kind, de.id) != nil {
			return corruptf(path, "history at revision %d: bad key %q/%q", rev, de.kind, de.id)
		}
		if err := knownKind(path, codec, de.kind); err != nil {
			return err
		}
		key := objectKey{de.kind, de.id}
		ev := store.Event{Type: de.typ, Kind: de.kind, ID: de.id, Revision: rev}
		var r *record
		if len(de.obj) > 0 {
			if ev.Object, err = decode(de.kind, de.id, de.obj); err != nil {
				return decodeError(path, fmt.Sprintf("history at revision %d, %s/%s", rev, de.kind, de.id), err)
			}
			r = &record{id: de.id, obj: ev.Object, data: bytes.Clone(de.obj)}
			last[key] = r
		}
		if len(de.prev) > 0 {
			if ev.Prev, err = decode(de.kind, de.id, de.prev); err != nil {
				return decodeError(path, fmt.Sprintf("history at revision %d, %s/%s", rev, de.kind, de.id), err)
			}
		}
		if rev > st.checkpoint {
			replay(st, key, r)
		}
		if n := len(st.txns); n > 0 && st.txns[n-1].Rev == rev {
			st.txns[n-1].Events = append(st.txns[n-1].Events, ev)
			st.kept[n-1].events++
			continue
		} else if n > 0 && st.txns[n-1].Rev > rev {
			return corruptf(path, "history out of order at revision %d", rev)
		}
		st.txns = append(st.txns, history.Txn{Rev: rev, Events: []store.Event{ev}})
		st.kept = append(st.kept, keptTxn{rev: rev, events: 1})
	}
	return nil
}

// replay applies an event after the checkpoint to the state loaded: r is
// the object's new version, or nil if it was deleted.
func replay(st *loaded, key objectKey, r *record) {
	t := st.snap.tree(key.kind)
	if t == nil {
		t = btree.NewG(btreeDegree, lessRecord)
		st.snap.setTree(key.kind, t)
	}
	if r == nil {
		t.Delete(&record{id: key.id})
		st.dirty[key] = nil
		return
	}
	t.ReplaceOrInsert(r)
	st.dirty[key] = r.data
}
