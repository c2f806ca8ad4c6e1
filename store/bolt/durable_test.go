package bolt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bbolt "go.etcd.io/bbolt"

	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/bolt"
	"github.com/stevedore-io/stevedore/store/storetest"
)

func item(kind, id string, value int) *storetest.Item {
	return &storetest.Item{Group: kind, ID: id, Value: value}
}

func create(t testing.TB, s store.Store, objs ...store.Object) int64 {
	t.Helper()
	require.NoError(t, s.Update(context.Background(), func(tx store.Tx) error {
		for _, obj := range objs {
			if err := tx.Create(obj); err != nil {
				return err
			}
		}
		return nil
	}))
	return objs[len(objs)-1].StoreMeta().ModRevision
}

func set(t testing.TB, s store.Store, kind, id string, value int) int64 {
	t.Helper()
	var rev int64
	require.NoError(t, s.Update(context.Background(), func(tx store.Tx) error {
		cur, err := store.Get[*storetest.Item](tx, kind, id)
		if err != nil {
			return err
		}
		next := cur.Clone()
		next.Value = value
		if err := tx.Update(next); err != nil {
			return err
		}
		rev = next.ModRevision
		return nil
	}))
	return rev
}

func revision(t testing.TB, s store.Store) int64 {
	t.Helper()
	var rev int64
	require.NoError(t, s.View(context.Background(), func(tx store.ReadTx) error {
		rev = tx.Revision()
		return nil
	}))
	return rev
}

func items(t testing.TB, s store.Store, kind string) map[string]storetest.Item {
	t.Helper()
	out := map[string]storetest.Item{}
	require.NoError(t, s.View(context.Background(), func(tx store.ReadTx) error {
		all, err := store.List[*storetest.Item](tx, kind)
		for _, it := range all {
			out[it.ID] = *it
		}
		return err
	}))
	return out
}

// recvAll reads n events, failing if the watch ends first.
func recvAll(t testing.TB, w store.Watcher, n int) []store.Event {
	t.Helper()
	var evs []store.Event
	for range n {
		select {
		case ev, ok := <-w.Events():
			require.True(t, ok, "watch ended: %v", w.Err())
			evs = append(evs, ev)
		case <-time.After(30 * time.Second):
			require.FailNow(t, "no watch event")
		}
	}
	return evs
}

func TestRestart(t *testing.T) {
	t.Parallel()
	storetest.RunRestart(t, func(t *testing.T, limits storetest.Limits) (store.Store, func(t *testing.T) store.Store) {
		path := filepath.Join(t.TempDir(), "state.db")
		reopen := func(t *testing.T) store.Store { return open(t, path, limitOpts(limits)...) }
		return reopen(t), reopen
	})
}

// TestHistoryAfterRestart checks what the log holds after the checkpoint:
// only the bounded history (at least 8 events, fewer than 16), and after a
// restart the history's events share the current versions with the
// snapshot, as they did before it, and have their previous versions.
func TestHistoryAfterRestart(t *testing.T) {
	t.Parallel()
	const history = 8
	path := filepath.Join(t.TempDir(), "state.db")
	opts := []bolt.Option{bolt.WithHistory(history), bolt.WithWatchBuffer(4)}
	s := open(t, path, opts...)
	for i := range 5*history - 1 {
		create(t, s, item(storetest.KindA, fmt.Sprintf("%03d", i), i))
	}
	set(t, s, storetest.KindA, "000", 100)
	require.NoError(t, s.Close())
	n := countHistory(t, path)
	assert.GreaterOrEqual(t, n, history, "the log keeps the history")
	assert.Less(t, n, 2*history, "and the bounded history only")

	s = open(t, path, opts...)
	w, err := s.Watch(t.Context(), revision(t, s)-1)
	require.NoError(t, err)
	t.Cleanup(w.Close)
	ev := recvAll(t, w, 1)[0]
	assert.Same(t, mustGet(t, s, storetest.KindA, "000"), ev.Object)
	assert.Equal(t, 0, ev.Prev.(*storetest.Item).Value)
}

// fileWith returns the path of a closed store file holding objs.
func fileWith(t *testing.T, objs ...store.Object) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := bolt.Open(path, bolt.WithCodec(itemCodec()))
	require.NoError(t, err)
	create(t, s, objs...)
	require.NoError(t, s.Close())
	return path
}

func mustGet(t testing.TB, s store.Store, kind, id string) store.Object {
	t.Helper()
	var obj store.Object
	require.NoError(t, s.View(context.Background(), func(tx store.ReadTx) error {
		var err error
		obj, err = tx.Get(kind, id)
		return err
	}))
	return obj
}

// countHistory counts the events of a closed store's history, in its log.
func countHistory(t *testing.T, path string) int {
	t.Helper()
	n, err := bolt.LogEvents(path)
	require.NoError(t, err)
	return n
}

func TestSecondOpenIsRefused(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	s := open(t, path)
	create(t, s, item(storetest.KindA, "a", 1))

	start := time.Now()
	_, err := bolt.Open(path, bolt.WithCodec(itemCodec()), bolt.WithLockTimeout(50*time.Millisecond))
	require.ErrorIs(t, err, bolt.ErrLocked)
	assert.Contains(t, err.Error(), path)
	assert.Less(t, time.Since(start), 10*time.Second, "no hang")

	// The first store is unharmed.
	create(t, s, item(storetest.KindA, "b", 1))
}

// TestSecondProcessIsRefused opens the file in a child process while this
// one holds it.
func TestSecondProcessIsRefused(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	open(t, path)
	out, err := child(t, childOpen, path).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "locked: true")
	assert.Contains(t, string(out), path)
}

func TestDamagedFileIsRefused(t *testing.T) {
	t.Parallel()
	// good writes a store with some history, and objects in the file
	// (a checkpoint), and returns its bytes, how far its pages reach (the
	// rest of the file is room to grow) and its page size.
	good := func(t *testing.T) (string, []byte, int, int) {
		path := filepath.Join(t.TempDir(), "state.db")
		s, err := bolt.Open(path, bolt.WithCodec(itemCodec()), bolt.WithHistory(50), bolt.WithWatchBuffer(10))
		require.NoError(t, err)
		for i := range 20 {
			var objs []store.Object
			for j := range 10 {
				objs = append(objs, item(storetest.KindA, fmt.Sprintf("%d-%d", i, j), i))
			}
			create(t, s, objs...)
		}
		require.NoError(t, s.Close())
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
		require.NoError(t, err)
		defer db.Close()
		var used int64
		require.NoError(t, db.View(func(tx *bbolt.Tx) error { used = tx.Size(); return nil }))
		return path, data, int(used), db.Info().PageSize
	}
	tests := []struct {
		name   string
		damage func(data []byte, used, page int) []byte
	}{
		{"Empty", func([]byte, int, int) []byte { return nil }},
		{"ShorterThanMetaPages", func(data []byte, _, _ int) []byte { return data[:100] }},
		{"TruncatedToHalf", func(data []byte, used, page int) []byte { return data[:used/2/page*page] }},
		{"LastUsedPageCut", func(data []byte, used, page int) []byte { return data[:used-page] }},
		{"MetaPagesOverwritten", func(data []byte, _, page int) []byte {
			copy(data, make([]byte, 2*page))
			return data
		}},
		{"DataPagesOverwritten", func(data []byte, _, page int) []byte {
			for i := 2 * page; i < len(data); i++ {
				data[i] = byte(i * 7)
			}
			return data
		}},
		{"ObjectBytesChanged", func(data []byte, _, _ int) []byte {
			return bytes.ReplaceAll(data, []byte(`{"schema":0,`), []byte(`{"schema":#,`))
		}},
		{"DataPagesZeroed", func(data []byte, _, page int) []byte {
			clear(data[2*page:])
			return data
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path, data, used, page := good(t)
			damaged := tt.damage(data, used, page)
			require.NoError(t, os.WriteFile(path, damaged, 0o600))

			_, err := bolt.Open(path, bolt.WithCodec(itemCodec()))
			t.Log(err)
			require.ErrorIs(t, err, bolt.ErrCorrupt)
			var fileErr *bolt.FileError
			require.ErrorAs(t, err, &fileErr)
			assert.Equal(t, path, fileErr.Path)
			assert.Contains(t, err.Error(), path)

			after, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.True(t, bytes.Equal(damaged, after), "the file is left as it was, never emptied")

			// The refusal let go of the file: the next Open reads it
			// (and refuses it) rather than finding it locked.
			_, err = bolt.Open(path, bolt.WithCodec(itemCodec()), bolt.WithLockTimeout(50*time.Millisecond))
			require.ErrorIs(t, err, bolt.ErrCorrupt)
		})
	}
}

// TestSchemaMigrationOnOpen writes a file at schema version 0 and opens it
// with a build at version 1: objects and history come back migrated, and
// the old build then refuses the file once version 1 was written to it.
func TestSchemaMigrationOnOpen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	v0, v1 := storetest.SchemaCodecs()
	s, err := bolt.Open(path, bolt.WithCodec(v0))
	require.NoError(t, err)
	r1 := create(t, s, &storetest.ItemV0{Group: storetest.KindA, ID: "a", Val: 7})
	require.NoError(t, s.Update(t.Context(), func(tx store.Tx) error {
		cur, err := store.Get[*storetest.ItemV0](tx, storetest.KindA, "a")
		if err != nil {
			return err
		}
		next := *cur
		next.Val = 8
		return tx.Update(&next)
	}))
	require.NoError(t, s.Close())

	s, err = bolt.Open(path, bolt.WithCodec(v1))
	require.NoError(t, err)
	got := items(t, s, storetest.KindA)["a"]
	assert.Equal(t, 8, got.Value, "the object is migrated when read")
	assert.Equal(t, r1, got.CreateRevision)
	w, err := s.Watch(t.Context(), 0)
	require.NoError(t, err)
	evs := recvAll(t, w, 2)
	w.Close()
	assert.Equal(t, 7, evs[0].Object.(*storetest.Item).Value, "history is migrated too")
	assert.Equal(t, 7, evs[1].Prev.(*storetest.Item).Value)
	set(t, s, storetest.KindA, "a", 9) // written at version 1
	require.NoError(t, s.Close())

	_, err = bolt.Open(path, bolt.WithCodec(v0))
	var schemaErr *store.SchemaError
	require.ErrorAs(t, err, &schemaErr, "an older build refuses a newer file")
	assert.Equal(t, 1, schemaErr.Version)
	assert.Contains(t, err.Error(), path)
	assert.NotErrorIs(t, err, bolt.ErrCorrupt)
}

// TestLoneWriterDoesNotWaitForTheBatchWindow: with a batch window of an
// hour, a writer alone still has each Update committed at once (the
// window applies only once concurrent writers shared a commit).
func TestLoneWriterDoesNotWaitForTheBatchWindow(t *testing.T) {
	t.Parallel()
	s := open(t, filepath.Join(t.TempDir(), "state.db"), bolt.WithBatchWindow(time.Hour))
	for i := range 20 {
		require.NoError(t, s.Update(t.Context(), func(tx store.Tx) error {
			return tx.Create(item(storetest.KindA, fmt.Sprint(i), i))
		}))
	}
	assert.Len(t, items(t, s, storetest.KindA), 20)
}

// TestStragglerDoesNotWaitForTheBatchWindow: once two writers shared a
// commit, the next commit waits for as many, within the batch window (an
// hour here), but only while they keep coming: a writer alone then (a
// client's request among a control plane's writes) is committed once no
// other transaction came for a moment, not after the window. In a synctest
// bubble, time moves only while every goroutine waits.
func TestStragglerDoesNotWaitForTheBatchWindow(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "state.db")
		held, release := make(chan struct{}), make(chan struct{})
		queued := make(chan struct{}, 8)
		var once sync.Once
		s, err := bolt.OpenHooked(path, bolt.Hooks{
			BeforeCommit: func(int) error {
				once.Do(func() {
					close(held)
					<-release
				})
				return nil
			},
			AfterEnqueue: func() { queued <- struct{}{} },
		}, bolt.WithCodec(itemCodec()), bolt.WithBatchWindow(time.Hour))
		require.NoError(t, err)
		defer s.Close()
		write := func(id string) error {
			return s.Update(t.Context(), func(tx store.Tx) error { return tx.Create(item(storetest.KindA, id, 1)) })
		}

		// The first commit is held while two more writers queue: they
		// share the next one.
		done := make(chan error, 3)
		go func() { done <- write("a") }()
		<-held
		<-queued
		go func() { done <- write("b") }()
		go func() { done <- write("c") }()
		<-queued
		<-queued
		close(release)
		for range 3 {
			require.NoError(t, <-done)
		}

		start := time.Now()
		require.NoError(t, write("alone"))
		<-queued
		assert.Less(t, time.Since(start), time.Second, "the lone writer waited for the window")
		assert.Len(t, items(t, s, storetest.KindA), 4)
	})
}

// TestGroupCommit holds the first commit until many writers have staged,
// and checks that they then share one commit, each Update returning only
// once its transaction is in the file.
func TestGroupCommit(t *testing.T) {
	t.Parallel()
	const writers = 32
	path := filepath.Join(t.TempDir(), "state.db")
	release := make(chan struct{})
	var mu sync.Mutex
	var batches []int
	queued := make(chan struct{}, writers)
	s, err := bolt.OpenHooked(path, bolt.Hooks{
		BeforeCommit: func(n int) error {
			mu.Lock()
			batches = append(batches, n)
			first := len(batches) == 1
			mu.Unlock()
			if first {
				<-release
			}
			return nil
		},
		AfterEnqueue: func() { queued <- struct{}{} },
	}, bolt.WithCodec(itemCodec()))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })

	returned := make(chan int, writers)
	for i := range writers {
		go func() {
			assert.NoError(t, s.Update(t.Context(), func(tx store.Tx) error {
				return tx.Create(item(storetest.KindA, fmt.Sprint(i), i))
			}))
			returned <- i
		}()
	}
	// Staging never waits for the file: every writer gets through to the
	// queue while the first commit is held.
	for range writers {
		select {
		case <-queued:
		case i := <-returned:
			require.FailNow(t, "an Update returned before its commit", "writer %d", i)
		}
	}
	select {
	case i := <-returned:
		require.FailNow(t, "an Update returned before its commit", "writer %d", i)
	default:
	}
	close(release)
	for range writers {
		<-returned
	}
	mu.Lock()
	// The first commit took what was queued when it started (one
	// transaction or more); every other writer staged while it was held,
	// and all of them share the second.
	require.LessOrEqual(t, len(batches), 2, "batches %v", batches)
	sum := 0
	for _, n := range batches {
		sum += n
	}
	assert.Equal(t, writers, sum)
	mu.Unlock()
	require.NoError(t, s.Close())

	s = open(t, path)
	assert.Len(t, items(t, s, storetest.KindA), writers)
}

func TestOpenOptions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name string
		path string
		opts []bolt.Option
	}{
		{"NoCodec", "a.db", nil},
		{"NilCodec", "b.db", []bolt.Option{bolt.WithCodec(nil)}},
		{"ZeroHistory", "c.db", []bolt.Option{bolt.WithCodec(itemCodec()), bolt.WithHistory(0)}},
		{"HistoryNotAboveBuffer", "d.db", []bolt.Option{bolt.WithCodec(itemCodec()), bolt.WithHistory(5), bolt.WithWatchBuffer(5)}},
		{"ZeroLockTimeout", "e.db", []bolt.Option{bolt.WithCodec(itemCodec()), bolt.WithLockTimeout(0)}},
		{"ZeroBatch", "f.db", []bolt.Option{bolt.WithCodec(itemCodec()), bolt.WithMaxBatch(0)}},
		{"NegativeBatchWindow", "g.db", []bolt.Option{bolt.WithCodec(itemCodec()), bolt.WithBatchWindow(-time.Second)}},
		{"EmptyPath", "", []bolt.Option{bolt.WithCodec(itemCodec())}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := ""
			if tt.path != "" {
				path = filepath.Join(dir, tt.path)
			}
			_, err := bolt.Open(path, tt.opts...)
			require.ErrorIs(t, err, store.ErrInvalid)
			if path != "" {
				_, err = os.Stat(path)
				require.ErrorIs(t, err, os.ErrNotExist, "no file is made for invalid options")
			}
		})
	}
}

func TestOpenMissingDirectory(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "missing", "state.db")
	_, err := bolt.Open(path, bolt.WithCodec(itemCodec()))
	var fileErr *bolt.FileError
	require.ErrorAs(t, err, &fileErr)
	assert.Contains(t, err.Error(), path)
}

func TestOpenUnknownKind(t *testing.T) {
	t.Parallel()
	path := fileWith(t, item(storetest.KindB, "b", 1))
	_, v1 := storetest.SchemaCodecs()
	_, err := bolt.Open(path, bolt.WithCodec(v1))
	require.Error(t, err)
	assert.NotErrorIs(t, err, bolt.ErrCorrupt, "a kind of a newer release is not damage")
	assert.Contains(t, err.Error(), `kind "beta"`)
	assert.Contains(t, err.Error(), path)
}

// TestFailedCommitFailsWhatWasBuiltOnIt fails a commit while a second
// transaction, built on the first one's write, waits behind it: both fail,
// their objects get their Meta back, nothing of either is visible, their
// revisions are not used again, and the store goes on.
func TestFailedCommitFailsWhatWasBuiltOnIt(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	errDisk := errors.New("disk on fire")
	held, release := make(chan struct{}), make(chan error)
	queued := make(chan struct{}, 2)
	var once sync.Once
	s, err := bolt.OpenHooked(path, bolt.Hooks{
		BeforeCommit: func(int) error {
			var err error
			once.Do(func() {
				close(held)
				err = <-release
			})
			return err
		},
		AfterEnqueue: func() { queued <- struct{}{} },
	}, bolt.WithCodec(itemCodec()))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })

	first := item(storetest.KindA, "a", 1)
	firstDone := make(chan error, 1)
	go func() {
		firstDone <- s.Update(t.Context(), func(tx store.Tx) error { return tx.Create(first) })
	}()
	<-held
	<-queued
	var second *storetest.Item
	secondDone := make(chan error, 1)
	go func() {
		secondDone <- s.Update(t.Context(), func(tx store.Tx) error {
			cur, err := store.Get[*storetest.Item](tx, storetest.KindA, "a") // the first's write, not yet durable
			if err != nil {
				return err
			}
			second = cur.Clone()
			second.Value = 2
			return tx.Update(second)
		})
	}()
	<-queued
	assert.Equal(t, int64(0), revision(t, s), "readers see only what is durable")
	release <- errDisk

	require.ErrorIs(t, <-firstDone, errDisk)
	err = <-secondDone
	require.ErrorIs(t, err, errDisk)
	assert.Contains(t, err.Error(), "built on a transaction that failed")
	var fileErr *bolt.FileError
	require.ErrorAs(t, err, &fileErr)
	assert.Equal(t, path, fileErr.Path)
	assert.Zero(t, first.Meta, "the failed Create gave the object its Meta back")
	assert.Equal(t, store.Meta{CreateRevision: 1, ModRevision: 1}, second.Meta, "and the failed Update its Meta as read")
	assert.Empty(t, items(t, s, storetest.KindA))

	rev := create(t, s, item(storetest.KindA, "b", 3))
	assert.Greater(t, rev, int64(2), "the failed revisions are not used again")
	require.NoError(t, s.Close())
	s = open(t, path)
	got := items(t, s, storetest.KindA)
	assert.Len(t, got, 1)
	assert.Equal(t, rev, got["b"].ModRevision)
}

// TestCloseDuringWrites closes the store under many writers: every Update
// either succeeds, and its object is in the file, or fails with
// ErrClosed; none hangs.
func TestCloseDuringWrites(t *testing.T) {
	t.Parallel()
	const writers = 16
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := bolt.Open(path, bolt.WithCodec(itemCodec()))
	require.NoError(t, err)

	var mu sync.Mutex
	acked := map[string]int64{}
	started := make(chan struct{}, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := 0; ; i++ {
				obj := item(storetest.KindA, fmt.Sprintf("%d-%d", w, i), i)
				err := s.Update(context.Background(), func(tx store.Tx) error { return tx.Create(obj) })
				if i == 0 {
					started <- struct{}{}
				}
				if errors.Is(err, store.ErrClosed) {
					return
				}
				if !assert.NoError(t, err) {
					return
				}
				mu.Lock()
				acked[obj.ID] = obj.ModRevision
				mu.Unlock()
			}
		})
	}
	for range writers {
		<-started
	}
	require.NoError(t, s.Close())
	wg.Wait()

	s = open(t, path)
	got := items(t, s, storetest.KindA)
	require.NotEmpty(t, acked)
	for id, rev := range acked {
		require.Contains(t, got, id, "an Update that returned nil before Close is in the file")
		assert.Equal(t, rev, got[id].ModRevision)
	}
}

// TestReadOnlyUpdateWaitsForWhatItRead checks that an Update that writes
// nothing, but read a write still on its way to the file, returns only
// once that write is durable. synctest.Wait returns once every goroutine
// of the test is blocked: the committer on the held commit, the reader on
// that commit, unless it returned early.
func TestReadOnlyUpdateWaitsForWhatItRead(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "state.db")
		held, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		s, err := bolt.OpenHooked(path, bolt.Hooks{BeforeCommit: func(int) error {
			once.Do(func() {
				close(held)
				<-release
			})
			return nil
		}}, bolt.WithCodec(itemCodec()))
		require.NoError(t, err)
		defer s.Close()

		wrote := make(chan error, 1)
		go func() {
			wrote <- s.Update(t.Context(), func(tx store.Tx) error { return tx.Create(item(storetest.KindA, "a", 1)) })
		}()
		<-held
		read := make(chan error, 1)
		go func() {
			read <- s.Update(t.Context(), func(tx store.Tx) error {
				_, err := tx.Get(storetest.KindA, "a")
				return err
			})
		}()
		synctest.Wait()
		select {
		case err := <-read:
			require.FailNow(t, "the read-only Update returned before the write it read was durable", "%v", err)
		default:
		}
		close(release)
		require.NoError(t, <-wrote)
		require.NoError(t, <-read)
		assert.Contains(t, items(t, s, storetest.KindA), "a")
	})
}

// TestUnencodableObjectFailsUpdate checks that an object the codec cannot
// encode (here, of a kind it does not know) fails its Update with
// ErrInvalid before anything is staged.
func TestUnencodableObjectFailsUpdate(t *testing.T) {
	t.Parallel()
	s := open(t, filepath.Join(t.TempDir(), "state.db"))
	before := revision(t, s)
	obj := item("nosuchkind", "x", 1)
	err := s.Update(t.Context(), func(tx store.Tx) error {
		if err := tx.Create(item(storetest.KindA, "a", 1)); err != nil {
			return err
		}
		return tx.Create(obj)
	})
	require.ErrorIs(t, err, store.ErrInvalid)
	assert.Contains(t, err.Error(), "nosuchkind")
	assert.Zero(t, obj.Meta)
	assert.Equal(t, before, revision(t, s))
	assert.Empty(t, items(t, s, storetest.KindA), "the transaction is all or nothing")
	assert.Greater(t, create(t, s, item(storetest.KindA, "b", 1)), before)
}

// TestKeyTooLong checks that an ID longer than the file takes fails its own
// Update, and no other.
func TestKeyTooLong(t *testing.T) {
	t.Parallel()
	s := open(t, filepath.Join(t.TempDir(), "state.db"))
	long := item(storetest.KindA, strings.Repeat("x", bbolt.MaxKeySize+1), 1)
	err := s.Update(t.Context(), func(tx store.Tx) error { return tx.Create(long) })
	require.ErrorIs(t, err, store.ErrInvalid)
	assert.Zero(t, long.Meta)
	create(t, s, item(storetest.KindA, strings.Repeat("x", bbolt.MaxKeySize), 1))
}

// TestNewerFileFormatIsRefused checks that a file whose layout is newer
// than this build's is refused, saying so, and left alone.
func TestNewerFileFormatIsRefused(t *testing.T) {
	t.Parallel()
	path := fileWith(t, item(storetest.KindA, "a", 1))
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("format"), []byte{0, 0, 0, 0, 0, 0, 0, 3})
	}))
	require.NoError(t, db.Close())
	before, err := os.ReadFile(path)
	require.NoError(t, err)

	_, err = bolt.Open(path, bolt.WithCodec(itemCodec()))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "file format 3")
	assert.Contains(t, err.Error(), "newer release")
	assert.NotErrorIs(t, err, bolt.ErrCorrupt)
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(before, after))
}

// TestSmallerHistoryOnReopen reopens a file with a smaller history bound:
// the next commit starts a checkpoint that trims the log to it (which
// Close waits for).
func TestSmallerHistoryOnReopen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	s := open(t, path, bolt.WithHistory(100), bolt.WithWatchBuffer(10))
	for i := range 50 {
		create(t, s, item(storetest.KindA, fmt.Sprint(i), i))
	}
	require.NoError(t, s.Close())

	s = open(t, path, bolt.WithHistory(10), bolt.WithWatchBuffer(5))
	w, err := s.Watch(t.Context(), 0)
	require.NoError(t, err, "until the next commit, the whole history is there")
	recvAll(t, w, 50)
	w.Close()
	create(t, s, item(storetest.KindA, "last", 50))
	require.NoError(t, s.Close())
	assert.Equal(t, 10, countHistory(t, path))

	s = open(t, path, bolt.WithHistory(10), bolt.WithWatchBuffer(5))
	_, err = s.Watch(t.Context(), 0)
	require.ErrorIs(t, err, store.ErrCompacted)
	w, err = s.Watch(t.Context(), 41)
	require.NoError(t, err)
	recvAll(t, w, 10)
	w.Close()
}

// TestCheckpointAndReplay covers the two halves of the state in the file,
// the objects bucket (a checkpoint) and the history after it (replayed at
// Open), across restarts: a delete and an update made after the
// checkpoint are replayed, and still hold after the next checkpoint,
// written by a store that learned of them only from the replay.
func TestCheckpointAndReplay(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	small := []bolt.Option{bolt.WithHistory(4), bolt.WithWatchBuffer(2)}     // a checkpoint every few commits
	large := []bolt.Option{bolt.WithHistory(1000), bolt.WithWatchBuffer(10)} // no checkpoint

	s := open(t, path, small...)
	create(t, s, item(storetest.KindA, "gone", 1), item(storetest.KindA, "kept", 1))
	for i := range 12 {
		create(t, s, item(storetest.KindB, fmt.Sprint(i), i))
	}
	require.NoError(t, s.Close()) // both are in the checkpoint by now

	s = open(t, path, large...)
	remove(t, s, storetest.KindA, "gone")
	set(t, s, storetest.KindA, "kept", 2)
	want := items(t, s, storetest.KindA)
	require.NoError(t, s.Close()) // the delete and update are in the history only

	s = open(t, path, small...)
	assert.Equal(t, want, items(t, s, storetest.KindA), "replayed after the checkpoint")
	create(t, s, item(storetest.KindB, "next", 0)) // trims the history: a checkpoint
	require.NoError(t, s.Close())
	assert.LessOrEqual(t, countHistory(t, path), 4)

	s = open(t, path, small...)
	assert.Equal(t, want, items(t, s, storetest.KindA), "kept by the next checkpoint")
	assert.Len(t, items(t, s, storetest.KindB), 13)
}

func remove(t testing.TB, s store.Store, kind, id string) {
	t.Helper()
	require.NoError(t, s.Update(context.Background(), func(tx store.Tx) error { return tx.Delete(kind, id) }))
}

// TestRandomDamageIsRefused damages a real store file (not its log, which
// TestDamagedLogIsRefused damages) at random (bytes
// changed, inserted or cut out; STEVEDORE_DAMAGE_ITERATIONS files, 200 by
// default, from a printed seed) and opens each: Open returns, never
// panics, crashes or loops; it either reads the file or refuses it with a
// *FileError, and a file it refuses is left as it was. Before the page
// walk of checkFile, such files made bbolt loop forever.
func TestRandomDamageIsRefused(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))

	path := filepath.Join(t.TempDir(), "state.db")
	s, err := bolt.Open(path, bolt.WithCodec(itemCodec()), bolt.WithHistory(4), bolt.WithWatchBuffer(2))
	require.NoError(t, err)
	for i := range 8 {
		create(t, s, item(storetest.KindA, fmt.Sprint(i), i), item(storetest.KindB, strings.Repeat("k", 500+i), i))
	}
	require.NoError(t, s.Close())
	good, err := os.ReadFile(path)
	require.NoError(t, err)

	for i := range envInt("STEVEDORE_DAMAGE_ITERATIONS", 200) {
		data := damage(rng, bytes.Clone(good))
		damaged := filepath.Join(t.TempDir(), "state.db")
		require.NoError(t, os.WriteFile(damaged, data, 0o600))
		require.NoError(t, os.CopyFS(damaged+".wal", os.DirFS(path+".wal")))
		s, err := bolt.Open(damaged, bolt.WithCodec(itemCodec()))
		if err == nil {
			require.NoError(t, s.View(t.Context(), func(tx store.ReadTx) error {
				_, err := tx.List(storetest.KindA)
				return err
			}))
			require.NoError(t, s.Close())
			continue
		}
		var fileErr *bolt.FileError
		require.ErrorAs(t, err, &fileErr, "seed %d file %d", seed, i)
		after, err := os.ReadFile(damaged)
		require.NoError(t, err)
		require.True(t, bytes.Equal(data, after), "seed %d file %d: a refused file is left as it was", seed, i)
	}
}

// damage changes data at random, as a bad disk or a stray write might:
// up to eight bytes changed, up to 100 inserted, or up to 100 cut out.
func damage(rng *rand.Rand, data []byte) []byte {
	switch rng.IntN(3) {
	case 0:
		for range 1 + rng.IntN(8) {
			data[rng.IntN(len(data))] = byte(rng.IntN(256))
		}
	case 1:
		at := rng.IntN(len(data))
		data = slices.Insert(data, at, make([]byte, 1+rng.IntN(100))...)
	default:
		at := rng.IntN(len(data))
		data = slices.Delete(data, at, min(len(data), at+1+rng.IntN(100)))
	}
	return data
}
