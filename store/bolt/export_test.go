package bolt

import (
	"os"
	"time"

	bbolt "go.etcd.io/bbolt"
)

// Hooks are called by the committer; tests use them to hold commits and
// to see transactions queued.
type Hooks struct {
	// BeforeCommit is called with every batch's size before it is
	// written, on the committer's goroutine. An error from it fails the
	// batch as a failed write would.
	BeforeCommit func(n int) error
	// AfterEnqueue is called after every transaction is queued, on the
	// writer's goroutine.
	AfterEnqueue func()
	// BeforeCheckpoint is called with a checkpoint's revision before it
	// is written, on the checkpoint's goroutine. An error from it fails
	// the checkpoint.
	BeforeCheckpoint func(to int64) error
	// SyncDir, if set, is called instead of syncing the log's
	// directory when the log starts or removes segments, on the
	// committer's goroutine.
	SyncDir func(dir string) error
}

// OpenHooked opens path like Open, with hooks set.
func OpenHooked(path string, hooks Hooks, opts ...Option) (*Store, error) {
	s, err := Open(path, opts...)
	if err != nil {
		return nil, err
	}
	// Nothing is staged yet: neither hook can be running. The lock
	// orders these writes before the first enqueue.
	s.c.mu.Lock()
	s.c.beforeCommit, s.c.afterEnqueue = hooks.BeforeCommit, hooks.AfterEnqueue
	s.c.beforeCheckpoint = hooks.BeforeCheckpoint
	s.c.wal.syncDirHook = hooks.SyncDir
	s.c.mu.Unlock()
	return s, nil
}

// WithSegmentSize sets the size past which the log starts a new segment.
func WithSegmentSize(n int64) Option {
	return func(o *options) error {
		o.segmentSize = n
		return nil
	}
}

// ResetLog replaces the log of the state file at path with an empty one
// that follows revision after (the file's checkpoint).
func ResetLog(path string, after int64) error {
	dir := walDir(path)
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	w, err := createWAL(dir, after, defaultSegmentSize)
	if err != nil {
		return err
	}
	return w.close()
}

// LogEvents counts the events of a closed store's history: those in its
// log after its checkpoint.
func LogEvents(path string) (int, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return 0, err
	}
	var checkpoint int64
	err = db.View(func(tx *bbolt.Tx) error {
		checkpoint, _ = readUint64(tx.Bucket(bucketMeta).Get(keyCheckpoint))
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	segs, _, err := listSegments(walDir(path))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, seg := range segs {
		data, err := os.ReadFile(seg.path)
		if err != nil {
			return 0, err
		}
		_, _, err = scanSegment(data, func(rev int64, payload []byte, _ int) error {
			_, evs, err := decodeRecord(payload, nil)
			if rev > checkpoint {
				n += len(evs)
			}
			return err
		})
		if err != nil {
			return 0, err
		}
	}
	return n, nil
}

// LogSegments lists the segment files of the log of the state file at
// path.
func LogSegments(path string) ([]string, error) {
	segs, _, err := listSegments(walDir(path))
	var paths []string
	for _, seg := range segs {
		paths = append(paths, seg.path)
	}
	return paths, err
}

// SegmentEnd returns where the records of the segment at path end.
func SegmentEnd(path string) (int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	_, end, err := scanSegment(data, func(int64, []byte, int) error { return nil })
	return int64(end), err
}

// SegmentHeader returns the header of a segment that follows revision
// prevLast.
func SegmentHeader(prevLast int64) []byte { return segmentHeader(prevLast) }
