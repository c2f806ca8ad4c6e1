package bolt_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bbolt "go.etcd.io/bbolt"

	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/bolt"
	"github.com/stevedore-io/stevedore/store/storetest"
)

// TestMigrateFormat1 opens testdata/format1.db, written by the format 1
// code (commit db74018) with a history of 8: ten creates of alpha/0 to
// alpha/9 (revisions 1 to 10), updates of alpha/0 to alpha/4 to 10 to 14,
// deletes of alpha/5 and alpha/6, and a create of beta/x (revision 18).
// Open converts it: the objects, the revisions and the history, with each
// event's previous version, are as they were, before and after a restart;
// the file is of format 2 and has no history bucket. A log left beside a
// file of format 1 (a conversion cut short) is replaced.
func TestMigrateFormat1(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("testdata", "format1.db"))
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "state.db")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	stale := filepath.Join(path+".wal", fmt.Sprintf("%016x.wal", 1))
	require.NoError(t, os.MkdirAll(filepath.Dir(stale), 0o700))
	require.NoError(t, os.WriteFile(stale, []byte("left by a conversion cut short"), 0o600))

	check := func(t *testing.T, s store.Store) {
		t.Helper()
		assert.Equal(t, int64(18), revision(t, s))
		a := items(t, s, storetest.KindA)
		require.Len(t, a, 8)
		for i := range 10 {
			id := fmt.Sprint(i)
			switch {
			case i < 5:
				assert.Equal(t, 10+i, a[id].Value, id)
				assert.Equal(t, store.Meta{CreateRevision: int64(i + 1), ModRevision: int64(11 + i)}, a[id].Meta, id)
			case i < 7:
				assert.NotContains(t, a, id)
			default:
				assert.Equal(t, i, a[id].Value, id)
				assert.Equal(t, store.Meta{CreateRevision: int64(i + 1), ModRevision: int64(i + 1)}, a[id].Meta, id)
			}
		}
		assert.Equal(t, 7, items(t, s, storetest.KindB)["x"].Value)

		_, err := s.Watch(t.Context(), 9)
		require.ErrorIs(t, err, store.ErrCompacted, "the history kept 8 events")
		w, err := s.Watch(t.Context(), 10)
		require.NoError(t, err)
		defer w.Close()
		evs := recvAll(t, w, 8)
		for i, ev := range evs[:5] {
			assert.Equal(t, store.Updated, ev.Type)
			assert.Equal(t, int64(11+i), ev.Revision)
			assert.Equal(t, 10+i, ev.Object.(*storetest.Item).Value)
			assert.Equal(t, i, ev.Prev.(*storetest.Item).Value)
		}
		for i, ev := range evs[5:7] {
			assert.Equal(t, store.Deleted, ev.Type)
			assert.Equal(t, fmt.Sprint(5+i), ev.ID)
			assert.Nil(t, ev.Object)
			assert.Equal(t, 5+i, ev.Prev.(*storetest.Item).Value)
		}
		assert.Equal(t, store.Created, evs[7].Type)
		assert.Equal(t, int64(18), evs[7].Revision)
		assert.Nil(t, evs[7].Prev)
	}

	s := open(t, path)
	check(t, s)
	require.NoError(t, s.Close())

	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	require.NoError(t, err)
	require.NoError(t, db.View(func(tx *bbolt.Tx) error {
		assert.Equal(t, []byte{0, 0, 0, 0, 0, 0, 0, 2}, tx.Bucket([]byte("meta")).Get([]byte("format")))
		assert.Nil(t, tx.Bucket([]byte("history")))
		return nil
	}))
	require.NoError(t, db.Close())
	assert.Equal(t, 8, countHistory(t, path))

	s = open(t, path)
	check(t, s)
	assert.Equal(t, int64(19), create(t, s, item(storetest.KindB, "y", 8)), "the revisions go on")
}

// TestTornTailIsCut writes the start of a record after the last one in
// the log, as a crash during a write leaves it: Open cuts it off, and
// every commit is there. Zeros after the last record are room to write
// in, and are left.
func TestTornTailIsCut(t *testing.T) {
	t.Parallel()
	for name, tail := range map[string][]byte{
		"CutShort":             []byte{0, 0, 1, 0, 1, 2, 3, 4, 5, 6},
		"HeaderCutShort":       []byte{0, 0, 0},
		"BadChecksum":          []byte{0, 0, 0, 4, 1, 2, 3, 4, 5, 6, 7, 8},
		"BadChecksumThenZeros": append([]byte{0, 0, 0, 4, 1, 2, 3, 4, 5, 6, 7, 8}, make([]byte, 100)...),
		"Zeros":                make([]byte, 4096),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "state.db")
			s := open(t, path)
			want := createNumbered(t, s, 10)
			require.NoError(t, s.Close())
			segs, err := bolt.LogSegments(path)
			require.NoError(t, err)
			last := segs[len(segs)-1]
			end, err := bolt.SegmentEnd(last)
			require.NoError(t, err)
			good, err := os.ReadFile(last)
			require.NoError(t, err)
			f, err := os.OpenFile(last, os.O_WRONLY, 0)
			require.NoError(t, err)
			_, err = f.WriteAt(tail, end)
			require.NoError(t, err)
			require.NoError(t, f.Close())
			torn, err := os.ReadFile(last)
			require.NoError(t, err)

			s = open(t, path)
			checkNumbered(t, s, want)
			after, err := os.ReadFile(last)
			require.NoError(t, err)
			if allZero(tail) {
				assert.Equal(t, torn, after, "zeros are left")
			} else {
				assert.Equal(t, good[:end], after, "the torn tail is cut off")
			}
			assert.Equal(t, want[9]+1, create(t, s, item(storetest.KindA, "next", 0)))
		})
	}
}

// TestPowerLossDuringCommit: a power loss while a commit is written may
// keep some of its sectors and lose others before them. Open takes such a
// commit for torn, whatever part of it survived, cuts it off, and finds
// every commit before it.
func TestPowerLossDuringCommit(t *testing.T) {
	t.Parallel()
	const sector = 512
	for name, lose := range map[string]func(start, end int64) (from, to int64){
		"HeaderLost":      func(start, end int64) (int64, int64) { return start, (start/sector + 1) * sector },
		"MiddleLost":      func(start, end int64) (int64, int64) { return (start/sector + 1) * sector, (start/sector + 2) * sector },
		"AllButLastLost":  func(start, end int64) (int64, int64) { return start, (end - 1) / sector * sector },
		"OnlyFirstKept":   func(start, end int64) (int64, int64) { return (start/sector + 1) * sector, end },
		"LastSectorsLost": func(start, end int64) (int64, int64) { return (start/sector + 2) * sector, end },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "state.db")
			s := open(t, path)
			want := createNumbered(t, s, 5)
			segs, err := bolt.LogSegments(path)
			require.NoError(t, err)
			last := segs[len(segs)-1]
			start, err := bolt.SegmentEnd(last)
			require.NoError(t, err)
			// One commit over several sectors: a transaction of
			// four objects of 600 bytes.
			var big []store.Object
			for i := range 4 {
				big = append(big, item(storetest.KindA, fmt.Sprintf("big-%d-%s", i, strings.Repeat("x", 600)), 100+i))
			}
			create(t, s, big...)
			require.NoError(t, s.Close())
			end, err := bolt.SegmentEnd(last)
			require.NoError(t, err)
			require.Greater(t, end-start, int64(4*sector))

			crashed(t, path) // the machine died
			from, to := lose(start, end)
			require.Less(t, from, to)
			f, err := os.OpenFile(last, os.O_WRONLY, 0)
			require.NoError(t, err)
			_, err = f.WriteAt(make([]byte, to-from), from)
			require.NoError(t, err)
			require.NoError(t, f.Close())

			s = open(t, path)
			checkNumbered(t, s, want) // the torn commit is gone, the ones before are there
			after, err := bolt.SegmentEnd(last)
			require.NoError(t, err)
			assert.Equal(t, start, after, "the torn commit is cut off")
			assert.Equal(t, want[4]+1, create(t, s, item(storetest.KindA, "next", 0)))
		})
	}
}

// createNumbered creates the items 0 to n-1 of KindA, each with its
// number for value, one transaction each, and returns their revisions.
func createNumbered(t *testing.T, s *bolt.Store, n int) []int64 {
	t.Helper()
	var revs []int64
	for i := range n {
		revs = append(revs, create(t, s, item(storetest.KindA, fmt.Sprint(i), i)))
	}
	return revs
}

// checkNumbered checks that s holds exactly the items createNumbered
// created, at the revisions it returned.
func checkNumbered(t *testing.T, s *bolt.Store, revs []int64) {
	t.Helper()
	got := items(t, s, storetest.KindA)
	require.Len(t, got, len(revs))
	for i, rev := range revs {
		assert.Equal(t, rev, got[fmt.Sprint(i)].ModRevision)
	}
}

// crashed makes the state file at path, closed, look as a crash leaves
// it: without the end of the log that Close notes.
func crashed(t *testing.T, path string) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bbolt.Tx) error { return tx.Bucket([]byte("meta")).Delete([]byte("logend")) }))
	require.NoError(t, db.Close())
}

func allZero(b []byte) bool { return !bytes.ContainsFunc(b, func(r rune) bool { return r != 0 }) }

// TestDamagedLogIsRefused damages the log of a store whose history spans
// several segments: anything but a torn tail is refused with ErrCorrupt,
// naming the segment (or the log's directory), and no file is changed.
func TestDamagedLogIsRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		damage func(t *testing.T, segs []string) (named string)
	}{
		{"MiddleRecordOfLastSegment", func(t *testing.T, segs []string) string {
			last := segs[len(segs)-1]
			flip(t, last, 40) // in the first record; more follow
			return last
		}},
		{"EarlierSegmentFlipped", func(t *testing.T, segs []string) string {
			flip(t, segs[1], -5)
			return segs[1]
		}},
		{"EarlierSegmentCut", func(t *testing.T, segs []string) string {
			end, err := bolt.SegmentEnd(segs[1])
			require.NoError(t, err)
			require.NoError(t, os.Truncate(segs[1], end-5))
			return segs[1]
		}},
		{"EarlierSegmentHeader", func(t *testing.T, segs []string) string {
			flip(t, segs[1], 3)
			return segs[1]
		}},
		{"SegmentMissing", func(t *testing.T, segs []string) string {
			require.NoError(t, os.Remove(segs[1]))
			return segs[2]
		}},
		{"FirstSegmentMissing", func(t *testing.T, segs []string) string {
			require.NoError(t, os.Remove(segs[0]))
			return segs[1]
		}},
		{"LogEndsBeforeCheckpointWithTornTail", func(t *testing.T, segs []string) string {
			// A checkpoint after the end of the log, a torn commit
			// at its end and an unfinished segment: refused, and
			// neither cut off nor removed.
			last := segs[len(segs)-1]
			path := strings.TrimSuffix(filepath.Dir(last), ".wal")
			db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
			require.NoError(t, err)
			require.NoError(t, db.Update(func(tx *bbolt.Tx) error {
				return tx.Bucket([]byte("meta")).Put([]byte("checkpoint"), []byte{0, 0, 0, 0, 0, 0, 0, 100})
			}))
			require.NoError(t, db.Close())
			end, err := bolt.SegmentEnd(last)
			require.NoError(t, err)
			f, err := os.OpenFile(last, os.O_WRONLY, 0)
			require.NoError(t, err)
			_, err = f.WriteAt([]byte{0, 0, 1, 0, 1, 2, 3}, end)
			require.NoError(t, err)
			require.NoError(t, f.Close())
			require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(last), "next.wal.tmp"), make([]byte, 100), 0o600))
			return last
		}},
		{"LogMissing", func(t *testing.T, segs []string) string {
			dir := filepath.Dir(segs[0])
			require.NoError(t, os.RemoveAll(dir))
			return dir
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "state.db")
			opts := []bolt.Option{bolt.WithSegmentSize(1 << 10), bolt.WithHistory(20), bolt.WithWatchBuffer(5)}
			s := open(t, path, opts...)
			for i := range 30 {
				create(t, s, item(storetest.KindA, fmt.Sprint(i), i))
			}
			require.NoError(t, s.Close())
			segs, err := bolt.LogSegments(path)
			require.NoError(t, err)
			require.GreaterOrEqual(t, len(segs), 3)
			named := tt.damage(t, segs)
			before := logFiles(t, path)

			_, err = bolt.Open(path, append(opts, bolt.WithCodec(itemCodec()))...)
			t.Log(err)
			require.ErrorIs(t, err, bolt.ErrCorrupt)
			var fileErr *bolt.FileError
			require.ErrorAs(t, err, &fileErr)
			assert.Equal(t, named, fileErr.Path)
			assert.Equal(t, before, logFiles(t, path), "the log is left as it was")
		})
	}
}

// TestLogSegmentsAreRemoved writes many times the history through small
// segments: the log keeps a bounded number of them, and after a restart
// the history holds at least its bound of events, each with the previous
// version of its object.
func TestLogSegmentsAreRemoved(t *testing.T) {
	t.Parallel()
	const history = 50
	path := filepath.Join(t.TempDir(), "state.db")
	opts := []bolt.Option{bolt.WithSegmentSize(2 << 10), bolt.WithHistory(history), bolt.WithWatchBuffer(10)}
	s := open(t, path, opts...)
	for i := range 7 {
		create(t, s, item(storetest.KindA, fmt.Sprint(i), i))
	}
	most := 0
	for i := 7; i < 40*history; i++ {
		set(t, s, storetest.KindA, fmt.Sprint(i%7), i)
		if i%history == 0 {
			segs, err := bolt.LogSegments(path)
			require.NoError(t, err)
			most = max(most, len(segs))
		}
	}
	require.NoError(t, s.Close())
	t.Logf("at most %d segments", most)
	segs, err := bolt.LogSegments(path)
	require.NoError(t, err)
	// 2 * history events of about 100 bytes each, in 2 KiB segments.
	assert.Less(t, most, 15)
	assert.Less(t, len(segs), 15)
	n := countHistory(t, path)
	assert.GreaterOrEqual(t, n, history)
	assert.Less(t, n, 2*history)

	s = open(t, path, opts...)
	rev := revision(t, s)
	w, err := s.Watch(t.Context(), rev-history)
	require.NoError(t, err)
	defer w.Close()
	for _, ev := range recvAll(t, w, history) {
		obj, prev := ev.Object.(*storetest.Item), ev.Prev.(*storetest.Item)
		assert.Equal(t, prev.Value+7, obj.Value, "event at revision %d", ev.Revision)
		assert.Equal(t, ev.Revision, obj.ModRevision)
	}
}

func flip(t *testing.T, path string, at int) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	if at < 0 {
		at += len(data)
	}
	data[at] ^= 0x40
	require.NoError(t, os.WriteFile(path, data, 0o600))
}

// logFiles returns the contents of the files of a store's log.
func logFiles(t *testing.T, path string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	entries, err := os.ReadDir(path + ".wal")
	if os.IsNotExist(err) {
		return files
	}
	require.NoError(t, err)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(path+".wal", e.Name()))
		require.NoError(t, err)
		files[e.Name()] = data
	}
	return files
}

// TestNewFileGetsItsLogAtOpen: a new state file is made without its log,
// which the Open holding its lock makes. A crash in between leaves the
// file marked: the next Open makes the log (replacing one that holds no
// record), and refuses to replace a log that holds records, which belongs
// to a state file that was lost.
func TestNewFileGetsItsLogAtOpen(t *testing.T) {
	t.Parallel()
	mark := func(t *testing.T, path string) {
		t.Helper()
		db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
		require.NoError(t, err)
		require.NoError(t, db.Update(func(tx *bbolt.Tx) error {
			return tx.Bucket([]byte("meta")).Put([]byte("nolog"), []byte{1})
		}))
		require.NoError(t, db.Close())
	}
	t.Run("NoLog", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "state.db")
		require.NoError(t, open(t, path).Close())
		mark(t, path)
		require.NoError(t, os.RemoveAll(path+".wal"))
		s := open(t, path)
		create(t, s, item(storetest.KindA, "a", 1))
		require.NoError(t, s.Close())
		assert.Equal(t, 1, countHistory(t, path))
	})
	t.Run("LogWithRecords", func(t *testing.T) {
		t.Parallel()
		path := fileWith(t, item(storetest.KindA, "a", 1))
		mark(t, path)
		before := logFiles(t, path)
		_, err := bolt.Open(path, bolt.WithCodec(itemCodec()))
		t.Log(err)
		require.ErrorIs(t, err, bolt.ErrCorrupt)
		assert.Contains(t, err.Error(), path+".wal")
		assert.Equal(t, before, logFiles(t, path), "the log is left as it was")
	})
}

// TestRandomLogDamage damages a segment of a real store's log at random
// (bytes changed, inserted or cut out; STEVEDORE_DAMAGE_ITERATIONS logs,
// 200 by default, from a printed seed) and opens the store: Open returns,
// never panics; it either reads the store, which then holds only what was
// written, or refuses it with a *FileError.
func TestRandomLogDamage(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))

	path := filepath.Join(t.TempDir(), "state.db")
	opts := []bolt.Option{bolt.WithCodec(itemCodec()), bolt.WithHistory(20), bolt.WithWatchBuffer(5), bolt.WithSegmentSize(1 << 10)}
	s, err := bolt.Open(path, opts...)
	require.NoError(t, err)
	for i := range 30 {
		create(t, s, item(storetest.KindA, fmt.Sprint(i), i))
	}
	require.NoError(t, s.Close())
	state, err := os.ReadFile(path)
	require.NoError(t, err)
	segs, err := bolt.LogSegments(path)
	require.NoError(t, err)

	for i := range envInt("STEVEDORE_DAMAGE_ITERATIONS", 200) {
		dir := t.TempDir()
		damaged := filepath.Join(dir, "state.db")
		require.NoError(t, os.WriteFile(damaged, state, 0o600))
		require.NoError(t, os.CopyFS(damaged+".wal", os.DirFS(path+".wal")))
		seg := filepath.Join(damaged+".wal", filepath.Base(segs[rng.IntN(len(segs))]))
		data, err := os.ReadFile(seg)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(seg, damage(rng, data), 0o600))
		s, err := bolt.Open(damaged, opts...)
		if err != nil {
			var fileErr *bolt.FileError
			require.ErrorAs(t, err, &fileErr, "seed %d log %d", seed, i)
			continue
		}
		got := items(t, s, storetest.KindA)
		for id, it := range got {
			assert.Equal(t, id, fmt.Sprint(it.Value), "seed %d log %d", seed, i)
		}
		require.NoError(t, s.Close())
	}
}

// TestSegmentAfterFailedCommitAndCrash: a commit that fails takes its
// revision for good while the store is open, so the next segment may be
// named after a revision above the last one in the log. A crash after
// that segment is made and before its first record is written leaves it
// empty at the end of the log; the store opened again must not write a
// revision below the segment's name into it, which the next Open would
// refuse as out of order.
func TestSegmentAfterFailedCommitAndCrash(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	opts := []bolt.Option{bolt.WithCodec(itemCodec()), bolt.WithSegmentSize(1 << 10)}
	var failing atomic.Bool
	s, err := bolt.OpenHooked(path, bolt.Hooks{BeforeCommit: func(int) error {
		if failing.Load() {
			return errors.New("injected")
		}
		return nil
	}}, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	big := strings.Repeat("x", 600) // two do not fit in a segment
	create(t, s, item(storetest.KindA, "a"+big, 1))
	failing.Store(true)
	require.Error(t, s.Update(t.Context(), func(tx store.Tx) error {
		return tx.Create(item(storetest.KindA, "failed", 2))
	}))
	failing.Store(false)
	create(t, s, item(storetest.KindA, "b"+big, 3))
	require.NoError(t, s.Close())

	// The crash: the last segment was made, its record not written.
	crashed(t, path)
	segs, err := bolt.LogSegments(path)
	require.NoError(t, err)
	require.Len(t, segs, 2)
	end, err := bolt.SegmentEnd(segs[1])
	require.NoError(t, err)
	require.NoError(t, os.Truncate(segs[1], 20)) // its header alone
	require.Greater(t, end, int64(20))

	s2 := reopen(t, path, bolt.Hooks{}, opts...)
	c := create(t, s2, item(storetest.KindA, "c", 4))
	require.NoError(t, s2.Close())
	s3, err := bolt.Open(path, opts...)
	require.NoError(t, err, "the log written after the crash opens")
	t.Cleanup(func() { _ = s3.Close() })
	got := items(t, s3, storetest.KindA)
	assert.Contains(t, got, "a"+big)
	assert.NotContains(t, got, "b"+big)
	assert.Equal(t, c, got["c"].ModRevision)
}

// TestSegmentStartFailsAfterRename fails the sync of the log's directory
// once a new segment's file was renamed into place: the commit that
// needed the segment fails, and the next commit, small enough to fit in
// the last segment, must not go there, behind the segment already in
// place: the log would then hold a segment that follows the wrong
// revision, and the next Open refuse it.
func TestSegmentStartFailsAfterRename(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	opts := []bolt.Option{bolt.WithCodec(itemCodec()), bolt.WithSegmentSize(2 << 10)}
	var failing atomic.Bool
	errSync := errors.New("injected: sync of the log's directory")
	s, err := bolt.OpenHooked(path, bolt.Hooks{SyncDir: func(string) error {
		if failing.Load() {
			return errSync
		}
		return nil
	}}, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	big := strings.Repeat("x", 600) // two do not fit in a segment, one and a small one do
	create(t, s, item(storetest.KindA, "a"+big, 1))
	failing.Store(true)
	err = s.Update(t.Context(), func(tx store.Tx) error {
		return tx.Create(item(storetest.KindA, "b"+big, 2))
	})
	require.ErrorIs(t, err, errSync)
	failing.Store(false)
	c := create(t, s, item(storetest.KindA, "c", 3)) // fits in the first segment
	require.NoError(t, s.Close())

	s2, err := bolt.Open(path, opts...)
	require.NoError(t, err, "the log opens")
	t.Cleanup(func() { _ = s2.Close() })
	got := items(t, s2, storetest.KindA)
	assert.Contains(t, got, "a"+big)
	assert.NotContains(t, got, "b"+big)
	assert.Equal(t, c, got["c"].ModRevision)
}

// TestSegmentStartCutShort leaves the log as a kill leaves it while the
// next segment is made ahead or started: Open accepts it, with every
// commit, removes what was never finished, and the log goes on (and
// opens again).
func TestSegmentStartCutShort(t *testing.T) {
	t.Parallel()
	for name, leave := range map[string]func(t *testing.T, dir string, last int64){
		"PreparingHalfMade": func(t *testing.T, dir string, _ int64) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "next.wal.tmp"), make([]byte, 3000), 0o600))
		},
		"PreparedWithHeader": func(t *testing.T, dir string, last int64) {
			data := append(bolt.SegmentHeader(last), make([]byte, 4<<10)...)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "next.wal.tmp"), data, 0o600))
		},
		"StartedEmpty": func(t *testing.T, dir string, last int64) {
			data := append(bolt.SegmentHeader(last), make([]byte, 4<<10)...)
			require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("%016x.wal", last+1)), data, 0o600))
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "state.db")
			opts := []bolt.Option{bolt.WithSegmentSize(4 << 10), bolt.WithHistory(20), bolt.WithWatchBuffer(5)}
			s, err := bolt.Open(path, append(opts, bolt.WithCodec(itemCodec()))...)
			require.NoError(t, err)
			want := map[string]int64{}
			for i := range 30 {
				want[fmt.Sprint(i)] = create(t, s, item(storetest.KindA, fmt.Sprint(i), i))
			}
			last := revision(t, s)
			require.NoError(t, s.Close())
			leave(t, path+".wal", last)

			for round := range 2 {
				s, err := bolt.Open(path, append(opts, bolt.WithCodec(itemCodec()))...)
				require.NoError(t, err, "round %d", round)
				got := items(t, s, storetest.KindA)
				require.Len(t, got, len(want))
				for id, rev := range want {
					assert.Equal(t, rev, got[id].ModRevision, id)
				}
				checkHistory(t, s, revision(t, s)-20, 20)
				for i := range 30 {
					id := fmt.Sprintf("%d-%d", round, i)
					want[id] = create(t, s, item(storetest.KindA, id, i))
				}
				require.NoError(t, s.Close())
				_, err = os.Stat(filepath.Join(path+".wal", "next.wal.tmp"))
				assert.ErrorIs(t, err, os.ErrNotExist, "nothing unfinished is left")
			}
		})
	}
}

// TestLastSegmentMissingIsRefused removes the last segment of a log whose
// segment before it ends at a commit's end: the commits it held are lost,
// and Open refuses the log, from where Close noted the log ended. (After
// a crash, only segments the last checkpoint saw are known: see the
// package documentation.)
func TestLastSegmentMissingIsRefused(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	opts := []bolt.Option{bolt.WithCodec(itemCodec()), bolt.WithSegmentSize(1 << 10), bolt.WithHistory(20), bolt.WithWatchBuffer(5)}
	s, err := bolt.Open(path, opts...)
	require.NoError(t, err)
	for i := range 30 {
		create(t, s, item(storetest.KindA, fmt.Sprint(i), i))
	}
	require.NoError(t, s.Close())
	segs, err := bolt.LogSegments(path)
	require.NoError(t, err)
	require.NoError(t, os.Remove(segs[len(segs)-1]))
	s, err = bolt.Open(path, opts...)
	if err == nil {
		t.Cleanup(func() { _ = s.Close() })
		t.Fatalf("opened with %d of 30 commits", len(items(t, s, storetest.KindA)))
	}
	require.ErrorIs(t, err, bolt.ErrCorrupt)
}

// TestCloseWhilePreparingSegment closes the store right after the commit
// that starts making the next segment ahead: Close waits for it and
// removes its file, and the store opens again with the commit.
func TestCloseWhilePreparingSegment(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	opts := []bolt.Option{bolt.WithCodec(itemCodec()), bolt.WithSegmentSize(8 << 20)}
	for round := range 3 {
		s, err := bolt.Open(path, opts...)
		require.NoError(t, err)
		// Past half the segment: the next one is made ahead.
		var objs []store.Object
		for i := range 80 {
			objs = append(objs, item(storetest.KindA, fmt.Sprintf("%d-%d-%s", round, i, strings.Repeat("x", 30_000)), i))
		}
		id := objs[0].ObjectID()
		rev := create(t, s, objs...)
		require.NoError(t, s.Close())
		entries, err := os.ReadDir(path + ".wal")
		require.NoError(t, err)
		for _, e := range entries {
			assert.NotContains(t, e.Name(), ".tmp", "Close left the segment made ahead")
		}
		s, err = bolt.Open(path, opts...)
		require.NoError(t, err)
		assert.Equal(t, rev, items(t, s, storetest.KindA)[id].ModRevision)
		require.NoError(t, s.Close())
	}
}
