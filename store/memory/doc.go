// Package memory is the in-memory store.Store. It is for a single process:
// its state is lost when the process exits. Use it for one-process
// deployments, examples and tests; use a durable implementation when state
// must survive a restart.
//
//	s, err := memory.New()                      // defaults
//	s, err := memory.New(memory.WithHistory(50_000), memory.WithWatchBuffer(5_000))
//	defer s.Close()
//
// # How it works, and why
//
// Each kind is a copy-on-write B-tree (github.com/google/btree, the structure
// etcd uses for its key index) of pointers to immutable records, ordered by
// ID. The latest snapshot (a revision plus one tree per kind) is published
// through an atomic pointer:
//
//   - View loads that pointer and reads. It takes no lock, so readers never
//     wait for a writer nor delay one, and a snapshot stays valid for as long
//     as anyone holds it. Nothing is copied: reads hand out the stored values,
//     which is why they must be treated as read-only.
//   - Update holds the single writer slot (a one-slot channel, so a waiting
//     writer gives up when its context ends) and writes to clones of the trees
//     it touches. A clone is O(1); a write then copies only the nodes on one
//     root-to-leaf path (three or four for 10,000 objects) and stores the new
//     value as is, with no encoding. Commit publishes the new snapshot;
//     rollback drops the clones and gives the written objects their Meta back.
//     A map guarded by a RWMutex would have made writes cheaper still, but a
//     reconcile pass over 10,000 objects would then hold writers up for its
//     whole length, and a snapshot could not outlive its View.
//
// Committed transactions go to a history ring shared by all watchers. Each
// watcher reads the ring at its own pace from its own goroutine; a writer
// only appends and wakes them, so its cost does not grow with slow watchers.
// It wakes them after giving up the writer slot: the runtime runs the
// goroutine readied last first, so the watchers run before the next writer
// in line rather than after every one of them (with thousands of goroutines
// writing, a watcher woken first would fall thousands of events behind).
// A watcher more than the watch buffer (WithWatchBuffer) behind the newest
// event is ended with store.ErrWatcherTooSlow, between two transactions,
// unless all it has left is the newest transaction (so one large transaction
// never ends a watcher that keeps up). The ring keeps at least WithHistory
// events, dropping whole transactions oldest first; it must be larger than
// the watch buffer so that an ended watcher can resume from its last
// revision. A watch from a revision whose successors were dropped fails with
// store.ErrCompacted.
//
// # Cost
//
// Measured with the benchmarks of this package (store/BENCHMARKS.md), with
// 10,000 tasks of about 1 KiB each: a reconcile pass (View, List, a look at
// each task) takes about a millisecond even on a loaded machine and allocates
// only the result slice; a compare-and-swap update allocates about 2.3 KiB,
// mostly the copied tree path; the store holds about 190 bytes per object
// besides the object itself (about 430 with a full history); and creating
// 10,000 tasks and moving each through seven lifecycle states (80,000
// transactions, with a watcher reading every event) costs about 0.8 s of CPU.
//
// Secondary indexes (tasks by instance, by service) are not implemented:
// filter a List, or keep your own index from a watch.
package memory
