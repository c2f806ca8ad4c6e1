// Package bolt is the durable store.Store: Stevedore's state in one file on
// the local disk, kept with bbolt (go.etcd.io/bbolt), so that it survives a
// crash, a kill -9 or a reboot. It is the store for one host; store/memory
// is for tests and demos, and etcd carries the state across hosts.
//
// # Opening and closing
//
// Open takes the file's path and a codec that knows every kind the store
// will hold. Stevedore's own objects use state.Codec():
//
//	s, err := bolt.Open(filepath.Join(dataDir, "state.db"), bolt.WithCodec(state.Codec()))
//	if err != nil {
//		return err // a *bolt.FileError naming the file
//	}
//	defer s.Close()
//
// Open creates the file if there is none (its directory must exist). A new
// file is built under a temporary name and linked into place, so a file at
// the path is always whole. Open reads the file entirely: every object is
// decoded into memory, and so is the history. It takes about 40 ms of CPU
// for 10,000 small objects and 10,000 events, and 0.4 s for 10,000 of
// Stevedore's tasks with a history of 10,000 updates (BenchmarkOpen).
//
// Close lets a running Update finish and reach the file, ends every watch
// with store.ErrClosed and releases the file; later calls fail with
// store.ErrClosed.
//
// The root package's WithDataDir is expected to call exactly the Open
// above, with the file "state.db" in the data directory, and hand the store
// to everything it wires; on a restart on the same directory, the
// components start from what Open loaded (a snapshot, then a watch).
//
// # Options
//
//   - WithCodec (required): how objects are encoded; see Schema versions.
//   - WithHistory(n), default 10,000: events of history kept, in the file
//     and in memory, for watches that resume from an earlier revision.
//   - WithWatchBuffer(n), default 1,000: how far a watcher may fall behind
//     before it is ended with store.ErrWatcherTooSlow. Must be below the
//     history.
//   - WithLockTimeout(d), default 1 s: how long Open waits for another
//     holder of the file before failing with ErrLocked.
//   - WithMaxBatch(n), default 1,000: how many transactions at most share
//     one commit. 1 turns group commit off.
//   - WithBatchWindow(d), default 2 ms: once concurrent writers shared a
//     commit, how long the next one waits at most for as many transactions
//     to be staged. A lone writer never waits; 0 commits at once.
//
// # How it works
//
// Reads never touch the file. The state lives in memory as in store/memory:
// one copy-on-write B-tree of records per kind, published as an immutable
// snapshot through an atomic pointer. View loads it and reads without a
// lock, so a reconcile pass costs what it costs on the memory store, and a
// View never holds a writer up (which a bbolt read transaction can: bbolt
// must wait for readers to grow its memory map).
//
// Update runs its function as the only writer, against the newest state
// staged, and then stages the transaction: its objects are encoded, it
// takes the next revision and becomes the state the next writer starts
// from. The writer slot is then free, and Update waits for the commit. A
// committer goroutine writes staged transactions to the file in order, all
// those waiting in one bbolt transaction, and so with the fsyncs of one
// commit (group commit): writers that stage while a commit is on its way
// to the disk share the next one. Writers that each wait for their commit
// before staging again would otherwise split into ever smaller commits:
// once a commit was shared, the next waits (for the batch window at most)
// until as many transactions are staged as it held. Only once the commit is on disk does the committer publish the
// new snapshot to readers, append the events to the watch history, and
// let the Updates return. So a committed Update is on disk when it
// returns, and nothing that readers or watchers have seen can be lost.
// BenchmarkUpdate shows the effect. On the shared two-core development
// machine (load average about 10), one writer made about 2,300 updates/s
// (one commit each), 16 writers 12,800/s (0.13 commits per update) and 64
// writers 41,000/s (0.04), while 16 writers with WithMaxBatch(1) made
// 1,200/s. The figures swing with the machine's load (an fsync took from
// 0.2 to 10 ms there); the ratios hold.
//
// A commit appends to the file's history: every event, with the object's
// new version and its previous one. The history is the log. The objects
// bucket is a checkpoint: the state at an earlier revision, brought up to
// date only when the history is about to drop events after it (each
// object written since is then written once, however often it changed).
// Rewriting an object's page of the objects bucket on every commit wrote
// 2.4 times the pages (BenchmarkConverge: 227,000 against 95,000 pages of
// 4 KiB for 80,000 transactions). The price is the commit that moves the
// checkpoint, about once per WithHistory events: it writes every object
// changed since, and the Updates sharing it wait that much longer. Open
// reads the checkpoint and replays the history after it.
//
// The function given to Update runs once. It sees the transactions staged
// before it, durable or not; if their commit fails, its transaction fails
// with them ("built on a transaction that failed to commit").
//
// # Errors
//
// Store operations return the errors of the store package: wrapping
// store.ErrNotFound, store.ErrAlreadyExists, store.ErrConflict,
// store.ErrInvalid, store.ErrCompacted, store.ErrWatcherTooSlow and
// store.ErrClosed. Errors about the file are *FileError values that name
// the file and what was being done:
//
//	s, err := bolt.Open(path, bolt.WithCodec(state.Codec()))
//	var schemaErr *store.SchemaError
//	switch {
//	case errors.Is(err, bolt.ErrLocked):
//		// another process (or another Store here) has the file open
//	case errors.Is(err, bolt.ErrCorrupt):
//		// truncated or damaged: restore the file from a copy
//	case errors.As(err, &schemaErr):
//		// written by a newer release of Stevedore
//	}
//
// A second Open of a file in use, from this process or another, fails with
// ErrLocked after the lock timeout; it never hangs. A file that is empty,
// shorter than the pages it uses, or whose pages or objects do not decode
// is refused with ErrCorrupt: Open never repairs, truncates or empties a
// file, and leaves a file it refuses as it was. Before bbolt opens the
// file for writing, Open checks its structure with plain reads: the size
// against the pages in use, the freelist, and every page of the tree of
// buckets (in range, of the right type, its elements inside it, reached
// once). bbolt trusts its pages: on a damaged one it panics, faults,
// corrupts the Go heap or loops forever (TestRandomDamageIsRefused found
// all of these before the check). Panics and memory faults while loading
// are turned into ErrCorrupt as well.
//
// A commit that fails (a full disk, an I/O error) fails its Update with a
// *FileError, and every transaction staged after it; their objects get
// their Meta back, readers never saw them, and the revisions they took are
// skipped, not used again: after an I/O error the disk may hold the commit
// after all, and a crash right then would show it. The store goes on with
// the next commit.
//
// # The file
//
// One bbolt file with three buckets:
//
//	meta/format              the layout version (1); another one is refused
//	meta/revision            the revision of the last commit
//	meta/checkpoint          the revision the objects bucket is up to date with
//	meta/compacted           the newest revision dropped from the history
//	objects/<kind>/<id>      each object at the checkpoint, as the codec
//	                         encodes it
//	history/<rev><index>     the events of the kept history, in order:
//	                         type, kind, ID, the object and its previous
//	                         version, each as the codec encodes it; every
//	                         event after the checkpoint is kept
//
// The state is the objects bucket with the history after the checkpoint
// replayed on it. Each commit writes its events and the revision, drops
// the oldest transactions beyond the history bound once a sixteenth of
// the bound can go (rewriting the history's oldest pages in every commit
// cost as much as its newest), and, when that would drop an event after
// the checkpoint, moves the checkpoint to itself, all in one bbolt
// transaction. The freelist is written with every commit
// rather than rebuilt at Open.
//
// In memory, each record keeps its encoded bytes besides the decoded
// object, so that an update's history event needs no second encoding of
// the previous version: about the object's encoded size per object more
// than store/memory.
//
// # History and compaction
//
// The store keeps at least WithHistory events (whole transactions, oldest
// dropped first, and up to a sixteenth more), the same in the file and in
// memory. A watch from a
// revision whose successors were dropped fails with store.ErrCompacted; a
// watch from any later revision, in this process or after a restart,
// delivers every event after it. A reconcile loop that stopped at revision
// r therefore resumes with s.Watch(ctx, r) after a restart, or reads a new
// snapshot (store.ViewAndWatch) on ErrCompacted.
//
// # Schema versions
//
// Every object is stored with the schema version of its kind and its
// revisions, in the codec's envelope (store.JSONCodec). When a release
// changes a stored type in a way older bytes do not decode into, it
// appends a store.Migration to the kind's store.Schema: version N becomes
// N+1. Objects are migrated when read, at Open, one version at a time, and
// written at the current version the next time they change. A file holding
// an object at a newer version than the build knows, or a kind it does not
// know, is refused with an error that says so, and left alone.
//
// # Crash safety
//
// TestCrashSafety runs writers in a child process, kills it with SIGKILL at
// random points, reopens the file and checks that every acknowledged
// commit is there, whole, with its revision, and that revisions only
// increase. It runs 3 kills in go test; set STEVEDORE_CRASH_ITERATIONS (or
// -bolt.crash-iterations) for long runs and -bolt.crash-seed to replay
// one. A SIGKILL leaves the page cache intact, so it tests ordering and
// atomicity; that a commit reaches the platter is bbolt's fsync.
package bolt
