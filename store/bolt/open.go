package bolt

import (
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
		segmentSize: defaultSegmentSize,
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
	// The ring keeps WithHistory events, as store/memory's does; the log
	// keeps everything after the checkpoint, up to about twice that, and
	// a restart puts all of it in the ring (see doc.go, History).
	s.hist = history.New(history.Config{
		Limit:       o.history,
		WatchBuffer: o.watchBuffer,
		StoreClosed: s.closed,
		Compacted:   st.checkpoint,
		Txns:        st.txns,
	})
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
		if _, err := btx.CreateBucket(bucketObjects); err != nil {
			return err
		}
		meta, err := btx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		if err := meta.Put(keyFormat, uint64Bytes(formatVersion)); err != nil {
			return err
		}
		if err := meta.Put(keyNoLog, []byte{1}); err != nil {
			return err
		}
		return meta.Put(keyCheckpoint, uint64Bytes(0))
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	// Link fails if path appeared meanwhile (another Open won the race):
	// then that file is the store, and the log it found is its own.
	if err := os.Link(tmp, path); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return syncDir(dir)
}

// newLog makes the empty log of a new state file at path, holding its
// lock: a state file is created without its log (marked meta/nolog), so
// that two Opens racing to create it never touch a log the other uses. A
// log found there (left by a crash before the mark was cleared) is
// replaced if it holds no record; one that holds records is refused: it
// belongs to a state file that was lost.
func newLog(path string) error {
	dir := walDir(path)
	segs, _, err := listSegments(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	default:
		for _, seg := range segs {
			data, err := os.ReadFile(seg.path)
			if err != nil {
				return err
			}
			if !allZero(data[min(len(data), segmentHeaderSize):]) {
				return fmt.Errorf("%w: the log %s holds records, but the state file is new (the one the log belongs to was lost): restore it, or remove the log to start empty",
					ErrCorrupt, seg.path)
			}
		}
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	w, err := createWAL(dir, 0, defaultSegmentSize)
	if err != nil {
		return err
	}
	return w.close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// loaded is the state read from a file and its log.
type loaded struct {
	snap       *snapshot
	checkpoint int64
	logEnd     int64         // the log reached it when the checkpoint was written
	txns       []history.Txn // the history, oldest first
	kept       []keptTxn     // the same, as the committer counts it
	logged     []logged      // where the objects they wrote are in the log
	wal        *wal
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
		InitialMmapSize: initialMmapSize(),
		OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
			f, err := os.OpenFile(name, flag, perm)
			file = f
			return f, err
		},
	})
	if err != nil {
		return nil, nil, &FileError{Path: path, Op: "open", Err: classify(err)}
	}
	// Grow the file by what a checkpoint needs, no more: with the
	// mapping larger than AllocSize, bbolt would grow it by AllocSize (16
	// MiB) beyond that.
	db.AllocSize = 0
	st, err = load(db, path, o)
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

// load reads every object at the checkpoint and replays the log after
// it. A file of format 1 is converted first.
func load(db *bbolt.DB, path string, o options) (*loaded, error) {
	format, err := readFormat(db, path)
	if err != nil {
		return nil, err
	}
	if format == 1 {
		if err := migrate(db, path, o); err != nil {
			return nil, err
		}
	} else if format == formatVersion {
		if err := ensureLog(db, path); err != nil {
			return nil, err
		}
	} else {
		return nil, &FileError{Path: path, Op: "load", Err: fmt.Errorf(
			"file format %d, this build reads formats 1 and %d (written by a newer release?)", format, formatVersion)}
	}
	st := &loaded{snap: emptySnapshot()}
	err = db.View(func(btx *bbolt.Tx) error {
		meta, objects := btx.Bucket(bucketMeta), btx.Bucket(bucketObjects)
		if meta == nil || objects == nil {
			return corruptf(path, "not a store file: buckets missing")
		}
		var ok bool
		if st.checkpoint, ok = readUint64(meta.Get(keyCheckpoint)); !ok {
			return corruptf(path, "bad checkpoint revision")
		}
		if v := meta.Get(keyLogEnd); v != nil {
			if st.logEnd, ok = readUint64(v); !ok {
				return corruptf(path, "bad log end revision")
			}
		}
		return loadObjects(path, o.codec, objects, st.checkpoint, st.snap)
	})
	if err != nil {
		return nil, err
	}
	var evs []walEvent
	var last int64
	st.wal, last, err = openWAL(path, st.checkpoint, st.logEnd, o.segmentSize, func(seg string, rev int64, payload []byte, at int64) error {
		var err error
		if _, evs, err = decodeRecord(payload, evs[:0]); err != nil {
			return err
		}
		if err := st.replay(seg, o.codec, rev, evs); err != nil {
			return err
		}
		for i, de := range evs {
			ev := st.txns[len(st.txns)-1].Events[i]
			st.logged = append(st.logged, logged{rev: rev, kind: ev.Kind, id: ev.ID, seg: seg, at: at + int64(de.at), n: len(de.obj)})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The last segment may be named after a revision above its last
	// record (or the last one before it): a commit that failed took its
	// revision, and the next one started the segment, then crashed before
	// its record was written. Its revisions must not be taken again: the
	// segment holds none below its name.
	tail := st.wal.segs[len(st.wal.segs)-1]
	st.snap.rev = max(st.checkpoint, last, tail.first-1)
	return st, nil
}

// ensureLog makes the log of a state file created without one (marked
// meta/nolog), then clears the mark.
func ensureLog(db *bbolt.DB, path string) error {
	var noLog bool
	if err := db.View(func(btx *bbolt.Tx) error {
		noLog = btx.Bucket(bucketMeta).Get(keyNoLog) != nil
		return nil
	}); err != nil || !noLog {
		return err
	}
	if err := newLog(path); err != nil {
		return &FileError{Path: walDir(path), Op: "create", Err: err}
	}
	err := db.Update(func(btx *bbolt.Tx) error { return btx.Bucket(bucketMeta).Delete(keyNoLog) })
	if err != nil {
		return &FileError{Path: path, Op: "create", Err: err}
	}
	return nil
}

// readFormat reads the file's format version.
func readFormat(db *bbolt.DB, path string) (int64, error) {
	var format int64
	err := db.View(func(btx *bbolt.Tx) error {
		meta := btx.Bucket(bucketMeta)
		if meta == nil {
			return corruptf(path, "not a store file: buckets missing")
		}
		var ok bool
		if format, ok = readUint64(meta.Get(keyFormat)); !ok {
			return corruptf(path, "not a store file: no format version")
		}
		return nil
	})
	return format, err
}

// replay applies the transaction at rev, read from the segment seg, to the
// state loaded, and adds it to the history. Each event's previous version
// is the one it replaces in the state, which the history shares with it.
func (st *loaded) replay(seg string, codec store.Codec, rev int64, evs []walEvent) error {
	txn := history.Txn{Rev: rev, Events: make([]store.Event, 0, len(evs))}
	for _, de := range evs {
		if store.ValidateKey(de.kind, de.id) != nil {
			return fmt.Errorf("bad key %q/%q", de.kind, de.id)
		}
		if err := knownKind(seg, codec, de.kind); err != nil {
			return err
		}
		ev := store.Event{Type: store.EventType(de.typ), Kind: de.kind, ID: de.id, Revision: rev}
		t := st.snap.tree(de.kind)
		if t == nil {
			t = btree.NewG(btreeDegree, lessRecord)
			st.snap.setTree(de.kind, t)
		}
		old, exists := t.Get(&record{id: de.id})
		switch {
		case exists && ev.Type == store.Created:
			return fmt.Errorf("creates %s/%s, which exists", de.kind, de.id)
		case !exists && ev.Type != store.Created:
			return fmt.Errorf("changes %s/%s, which does not exist", de.kind, de.id)
		case exists:
			ev.Prev = old.obj
		}
		if de.obj == nil {
			t.Delete(old)
		} else {
			obj, err := codec.Unmarshal(de.kind, de.obj)
			if err != nil {
				return decodeError(seg, fmt.Sprintf("revision %d, %s/%s", rev, de.kind, de.id), err)
			}
			if obj.ObjectID() != de.id {
				return fmt.Errorf("%s/%s holds an object with ID %q", de.kind, de.id, obj.ObjectID())
			}
			if m := obj.StoreMeta(); m.ModRevision != rev || m.CreateRevision < 1 || m.CreateRevision > rev {
				return fmt.Errorf("%s/%s has revisions %+v", de.kind, de.id, *m)
			}
			ev.Object = obj
			t.ReplaceOrInsert(&record{id: de.id, obj: obj})
		}
		txn.Events = append(txn.Events, ev)
	}
	st.txns = append(st.txns, txn)
	st.kept = append(st.kept, keptTxn{rev: rev, events: len(txn.Events)})
	return nil
}

func readUint64(v []byte) (int64, bool) {
	if len(v) != 8 {
		return 0, false
	}
	n := binary.BigEndian.Uint64(v)
	return int64(n), n <= 1<<62
}

// loadObjects reads the objects bucket, the state at revision checkpoint,
// into snap.
func loadObjects(path string, codec store.Codec, objects *bbolt.Bucket, checkpoint int64, snap *snapshot) error {
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
			if m.CreateRevision < 1 || m.ModRevision < m.CreateRevision || m.ModRevision > checkpoint {
				return corruptf(path, "%s/%s has revisions %+v, checkpoint at revision %d", kind, id, *m, checkpoint)
			}
			t.ReplaceOrInsert(&record{id: id, obj: obj})
			return nil
		})
		if err != nil {
			return err
		}
		snap.setTree(kind, t)
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
