// Package bolt is the durable store.Store: Stevedore's state on the local
// disk, in a write-ahead log and a bbolt (go.etcd.io/bbolt) file, so that
// it survives a crash, a kill -9 or a reboot. It is the store for one
// host; store/memory is for tests and demos, and etcd carries the state
// across hosts.
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
// Open creates the file if there is none (its directory must exist), and
// beside it the directory of its log, path + ".wal" (state.db.wal). A new
// file is built under a temporary name and linked into place, so a file at
// the path is always whole; its log is made by the Open that then holds
// the file's lock, so that two Opens racing to create the store never
// touch a log the other uses. Open reads the file and the log entirely:
// every object is decoded into memory, and so is the history.
// BenchmarkOpen measures it.
//
// Close lets a running Update finish and reach the log, waits for a
// running checkpoint, ends every watch with store.ErrClosed and releases
// the log and the file; later calls fail with store.ErrClosed.
//
// The root package's WithDataDir is expected to call exactly the Open
// above, with the file "state.db" in the data directory, and hand the store
// to everything it wires; on a restart on the same directory, the
// components start from what Open loaded (a snapshot, then a watch).
//
// # Options
//
//   - WithCodec (required): how objects are encoded; see Schema versions.
//   - WithHistory(n), default 10,000: events of history kept (at least),
//     in the log and in memory, for watches that resume from an earlier
//     revision.
//   - WithWatchBuffer(n), default 1,000: how far a watcher may fall behind
//     before it is ended with store.ErrWatcherTooSlow. Must be below the
//     history.
//   - WithLockTimeout(d), default 1 s: how long Open waits for another
//     holder of the file before failing with ErrLocked.
//   - WithMaxBatch(n), default 1,000: how many transactions at most share
//     one commit. 1 turns group commit off.
//   - WithBatchWindow(d), default 2 ms: once concurrent writers shared a
//     commit, how long the next one waits at most for as many transactions
//     to be staged; it stops once none came for 200 µs. A lone writer never
//     waits; 0 commits at once.
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
// staged, and then stages the transaction: its objects are encoded, once,
// straight into its record of the log, it takes the next revision and
// becomes the state the next writer starts from. The writer slot is then
// free, and Update waits for the commit. A committer goroutine appends
// staged transactions to the log in order, all those waiting with one
// write and one fdatasync (group commit): writers that stage while a
// commit is on its way to the disk share the next one. Writers that each
// wait for their commit before staging again would otherwise split into
// ever smaller commits: once a commit was shared, the next waits (for the
// batch window at most) until as many transactions are staged as it held,
// or until none came for 200 µs (those writers stage their next ones
// within microseconds of each other; a client's request among a control
// plane's writes is not held up for the whole window).
// Only once the commit is on disk does the committer publish the new
// snapshot to readers, append the events to the watch history, and let the
// Updates return. So a committed Update is on disk when it returns, and
// nothing that readers or watchers have seen can be lost.
// BenchmarkUpdate shows the effect. With format 1 (one bbolt transaction
// per commit), on the shared two-core development machine (load average
// about 10), one writer made about 2,300 updates/s (one commit each), 16
// writers 12,800/s (0.13 commits per update) and 64 writers 41,000/s
// (0.04), while 16 writers with WithMaxBatch(1) made 1,200/s. The figures
// swing with the machine's load (an fsync took from 0.2 to 10 ms there);
// the ratios hold.
//
// A record holds the transaction's revision and its events, each with the
// object's new version, and not its previous one: Open rebuilds those by
// replaying the log. The bbolt file is a checkpoint: its objects bucket
// holds the state at an earlier revision, and the log every transaction
// after it. Once the log holds the history limit and as many events again
// after the checkpoint, a checkpoint goroutine moves it to the newest
// revision that leaves the history limit after it: it reads the last
// version of each object written up to there back from the log's files (the
// committer notes where each lands, and Open where each replayed one is),
// and writes them (each once, however often it changed) with the new
// revision in one bbolt transaction, while commits go on (a commit that
// finds the next checkpoint due before the last one is done waits for it).
// Rewriting an object's page of the objects bucket on every commit wrote
// 2.4 times the pages (format 1's BenchmarkConverge: 227,000 against 95,000
// pages of 4 KiB for 80,000 transactions). The committer then removes the
// segments that hold nothing after the checkpoint. A checkpoint that fails
// changes nothing: the log still holds every transaction after the old one,
// and the next is tried once as many events again came.
//
// The log is the store's own rather than etcd's (server/storage/wal): that
// one is raft's log, of entries with consecutive raft indexes, hard states
// and snapshots, with a segment size shared by the whole process, and read
// whole once at start.
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
//		// truncated or damaged: restore the file and its log from a copy
//	case errors.As(err, &schemaErr):
//		// written by a newer release of Stevedore
//	}
//
// A second Open of a file in use, from this process or another, fails with
// ErrLocked after the lock timeout; it never hangs. A file that is empty,
// shorter than the pages it uses, or whose pages or objects do not decode
// is refused with ErrCorrupt: Open never repairs, truncates or empties a
// file (but for a torn commit at the end of the log, below), and leaves a
// file it refuses as it was. Before bbolt opens the
// file for writing, Open checks its structure with plain reads: the size
// against the pages in use, the freelist, and every page of the tree of
// buckets (in range, of the right type, its elements inside it, reached
// once). bbolt trusts its pages: on a damaged one it panics, faults,
// corrupts the Go heap or loops forever (TestRandomDamageIsRefused found
// all of these before the check). Panics and memory faults while loading
// are turned into ErrCorrupt as well.
//
// The log is checked as it is read at Open. Each write of the committer
// is one commit, with a checksum of its own over the records of the
// transactions it holds. A commit at the end of the last segment that runs
// past the end of the file, or fails its checksum with no good commit
// after it, was being written when the process or the machine died, and
// its Updates never returned (its fdatasync did not): Open cuts it off.
// This holds for a power loss too, which may keep some sectors of the
// write and lose others before them, so that whole records survive behind
// a lost one: the commit's checksum fails all the same, and no commit can
// follow one whose fdatasync did not return. Zeros after the last commit
// are room the segment was made with, and are left. Anything else wrong
// with the log (a damaged commit that a good one follows, a record that
// fails its own checksum inside a good commit, a damaged or truncated
// earlier segment, a segment missing before the last one, records out of
// order, a log that ends before the checkpoint or is missing) is
// ErrCorrupt, in a *FileError naming the segment (or the log's
// directory). The state file notes where the log ended when the store was
// closed, and when each checkpoint was written: a log that ends before
// that lost segments, and is refused. A log cut cleanly at a commit's end,
// or that lost its last segments whole, after a crash and past what the
// last checkpoint saw, cannot be told from a shorter one; nor can damage
// to the last commit alone be told from a torn write.
//
// A commit that fails (a full disk, an I/O error) fails its Update with a
// *FileError naming the segment, and every transaction staged after it;
// their objects get their Meta back and readers never saw them. The
// committer cuts the failed write off the segment again (and syncs it),
// or, when it was starting a new segment, has the next commit start one
// too (the failed one may be in place), and the store goes on with the
// next commit; the revisions the failed
// transactions took are skipped while the store is open (after a restart,
// the next revision follows the last one in the log, or the first its last
// segment is named for, whichever is higher). If cutting the
// write off fails too, what the log ends with is unknown: every later
// Update fails with a *FileError saying so until the store is opened
// again, and the failed transactions may then be found in the log.
//
// # The files
//
// The state file is a bbolt file with two buckets (layout.go):
//
//	meta/format              the layout version (2); format 1 is converted,
//	                         a newer one refused
//	meta/checkpoint          the revision the objects bucket is at: the
//	                         newest revision dropped from the history
//	meta/logend              the revision of the last record in the log
//	                         when the last checkpoint was written, or when
//	                         the store was last closed (optional)
//	objects/<kind>/<id>      each object at the checkpoint, as the codec
//	                         encodes it
//
// The log, path + ".wal", is a directory of segment files named by the
// first revision they may hold (%016x.wal), of 8 MiB; a commit that does
// not fit in the last one starts the next (wal.go):
//
//	segment   a header: a magic string and the revision of the last
//	          record before the segment, with a checksum; then commits
//	commit    the length of its records and their crc32c (from a seed of
//	          its own), then the records of the transactions it holds
//	record    length, crc32c (Castagnoli) and payload: the revision, then
//	          each event: type, kind, ID, and the object's new version as
//	          the codec encodes it (none for a delete)
//
// Once the last segment is half full, the next one's file is made ahead on
// a goroutine of its own, full of zeros and synced: commits then overwrite
// zeros in place, and their fdatasync writes the data alone, without the
// file's new size (100 µs rather than 170 on the development machine's
// ext4). A segment's header is written under a temporary name, synced,
// and the file renamed into place, and the directory synced. Open reads the
// objects bucket, then replays every record after the checkpoint, and
// gives each event the previous version of its object from the state it
// replays on (nothing for a create): the history after a restart is the
// one before it, with the same objects shared by the events and the
// state. Only the holder of the state file's lock (bbolt's flock) touches
// the log.
//
// Format 1 (until this release) kept the history in the state file, every
// event with its previous version, and wrote every commit as a bbolt
// transaction. Open converts such a file: it reads it whole as format 1
// did (refusing it, untouched, as format 1 did), writes its history's
// transactions as a new log (synced), and then, in one bbolt transaction,
// sets the objects bucket to the state at the history's compacted revision
// (undoing the history, newest first, from the state), makes that the
// checkpoint, deletes the history bucket and sets format 2. A crash before
// that transaction leaves format 1, and a log found beside a file of
// format 1 is the leftover of such a crash: it is replaced. An older
// release refuses a converted file ("file format 2").
//
// In memory, records hold the decoded objects only, as in store/memory:
// no encoded bytes are kept once a commit is written.
//
// # History and compaction
//
// The store keeps at least WithHistory events (whole transactions, oldest
// dropped first). In memory, the history ring keeps WithHistory events, as
// store/memory does, dropping the oldest transaction as each new one comes
// (or what a checkpoint covered, if that is more). The log keeps every
// event after the checkpoint, between WithHistory and about twice as many:
// a restart finds all of those, so a watch may resume after a restart from
// a revision the ring had already dropped before it. Old versions held
// alive by the ring cost the garbage collector on every cycle: keeping
// the ring at WithHistory rather than at the log's length took about 5%
// off the CPU of BenchmarkConvergeStores. A watch from a
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
// A commit is acknowledged once its records were written and the
// segment's fdatasync returned; a checkpoint's bbolt transaction holds only
// what the log already has, and segments are removed only after it
// committed. A crash at any point therefore leaves the checkpoint and a
// log that holds every transaction after it, with at most a torn commit
// at its end, which was never acknowledged. A crash while a segment is
// started leaves a temporary file, removed at Open; one while segments are
// removed leaves segments that hold only checkpointed records, skipped.
//
// TestCrashSafety runs writers in a child process (with small segments and
// a small history, so that segments are started and removed and
// checkpoints written often, and one commit in 16 failing), kills it with
// SIGKILL at random points, reopens the file and checks that every
// acknowledged commit is there, whole, with its revision, that revisions
// only increase, and that the log holds the history, each event with its
// object's previous version. It runs 3 kills in go test; set STEVEDORE_CRASH_ITERATIONS (or
// -bolt.crash-iterations) for long runs and -bolt.crash-seed to replay
// one. A SIGKILL leaves the page cache intact, so it tests ordering and
// atomicity; that a commit reaches the platter is fdatasync's.
package bolt
