// Package etcd is the store.Store on an etcd cluster, for Stevedore
// installations that span hosts or run several control-plane replicas. It
// passes the store/storetest conformance suite like store/memory and
// store/bolt, so code written against store.Store runs on it unchanged.
//
// # Construction and closing
//
// Open dials etcd and owns the connection:
//
//	s, err := etcd.Open(ctx, []string{"https://10.0.0.1:2379", "https://10.0.0.2:2379", "https://10.0.0.3:2379"},
//		etcd.WithCodec(state.Codec()),       // required: how objects are encoded
//		etcd.WithPrefix("/stevedore/prod"),  // this installation's keys
//		etcd.WithTLS(tlsConfig),             // server CA and client certificate
//		etcd.WithCredentials("stevedore", password),
//	)
//	if err != nil {
//		return err
//	}
//	defer s.Close()
//
// New builds a store on a *clientv3.Client the program already has, for
// example to share it with leader election; closing that store leaves the
// client open. Close ends every watch with store.ErrClosed, waits for the
// running Updates and closes the client Open made. Closing twice is fine.
//
// # Concurrency
//
// A Store is safe for concurrent use, by any number of goroutines and any
// number of processes on the same etcd and prefix. Several Stores on one
// prefix are the replicas of one installation: each sees the others'
// writes and events.
//
// # Reads: the store's copy
//
// Each Store keeps a copy of its objects in memory, as Kubernetes' API
// server keeps its watch cache: it reads every key of its prefix once, at
// one etcd revision, and then follows one etcd watch of the prefix. Each
// event is decoded once and applied to copy-on-write trees, one per kind,
// published as immutable snapshots; the same events feed every watcher of
// the store (see Watches). Get and List cost no request to etcd and no
// decoding, and the objects read are shared between readers, as with the
// other stores: treat them as read-only.
//
// Consistency, exactly:
//
//   - every read is one consistent snapshot: the store's state at one
//     revision, ReadTx.Revision, however long the function runs and
//     whatever commits meanwhile;
//   - a View reads the store's latest revision: it asks etcd for it (one
//     small linearizable read of the revision key, which the Views that
//     start while one is on its way share) and waits until the copy has
//     it. A View therefore sees every transaction committed before it
//     began, by any replica, as etcd's own reads would;
//   - an Update's function reads a snapshot at least as recent as every
//     revision this Store committed or read in a View before the Update
//     began (read-your-writes within the process), waiting for the copy
//     to get there, bounded by the context. It may be behind other
//     replicas' latest writes: the commit then fails and the function runs
//     again once the copy caught up (see Updates), so that no write is
//     based on a stale read, and an Update whose function wrote nothing,
//     or returned an error, checks its reads the same way before
//     returning.
//
// Waiting for the copy is bounded by the context; while etcd cannot be
// reached, reads wait for it like any request would.
//
// # Updates: optimistic concurrency
//
// Writers are not serialized by a lock: Update runs its function against a
// snapshot of the store's copy at revision R, keeping its writes, and then
// commits them in a single etcd transaction that compares everything the
// function read:
//
//   - every object read with Get (or checked by Create, Update and Delete)
//     must still have the ModRevision it was read at (0: still absent);
//   - every kind read with List must not have been written since R. Each
//     transaction that writes a kind also writes that kind's guard key, so
//     this is one comparison per kind, and it catches an object created
//     in the kind as well as one changed or deleted. Past 16 objects of one
//     kind read one by one, the kind's guard replaces their comparisons,
//     which keeps a transaction within etcd's --max-txn-ops (128 by
//     default).
//
// When a comparison fails, nothing is written: the objects given to Create
// and Update get their Meta back, and the function runs again on a
// snapshot at least as recent as the revision etcd reported with the
// failure, until it commits, returns an error or the context is done. No
// update is lost and nothing is written from a stale read. A function that
// wrote nothing, or returned an error (which a stale read may have caused:
// an object another replica just created looks absent), has its reads
// checked by a transaction of comparisons only, and runs again if one
// changed. This is why the function must not have effects outside its
// transaction.
//
// The price of optimism is paid by Updates that read much: one that lists a
// kind other processes write all the time runs again whenever any object of
// that kind changes first. Keep such Updates short, or read in a View and
// make the Update read and compare only the objects it changes.
//
// A commit whose request to etcd fails on a timeout or a leader change may
// or may not have been applied. The store sends the same transaction
// again: it writes keys it compares, so at most one of the two applies.
// When the second fails its comparisons, the store looks for the first in
// its copy: every commit writes a mark of its own in the revision key. So
// such a failure is invisible to the caller unless the context ends first,
// or it persists; Update then returns the error and leaves the objects'
// Meta as before. Read again before retrying anything that is not
// idempotent. A transaction larger than etcd accepts (--max-txn-ops,
// --max-request-bytes, 1.5 MiB by default) fails with an error wrapping
// store.ErrInvalid.
//
// # Revisions
//
// The store's revisions are etcd's. A transaction commits at one etcd
// revision, and every object it writes gets it as ModRevision: it is the
// ModRevision etcd reports for the object's key. CreateRevision is the
// revision of the transaction that created the object (kept in the stored
// value, since a key deleted and created again in one transaction keeps
// etcd's create revision). ReadTx.Revision is the ModRevision of the
// revision key, which every transaction of the store writes: the revision
// of the store's last transaction, 0 before the first, whatever etcd's own
// revision is. Several installations sharing an etcd advance one revision
// counter, so a store's revisions are increasing but not consecutive; the
// store contract allows that (revisions are opaque).
//
// # Watches
//
// Watchers read the history of the store's copy: the transactions its etcd
// watch delivered, the last 10,000 events at least (4 times the watch
// buffer when that is more). A Watch from a revision the history holds is
// served from memory; one from an older revision gets an etcd watch of its
// own, from etcd revision from+1 with previous values. Revisions between
// from and the store's first transaction hold nothing of this store, so
// such a watch starts at the later of the two: watching from 0 needs only
// the installation's own history. The events of one etcd revision are the
// events of one transaction. etcd keeps one version of a key per revision;
// a transaction that writes a key twice (creates then updates it, deletes
// and creates it again) also stores its writes, in order, in the value of
// the revision key, and the store replays them, so that every write is an
// event as with the other stores.
//
// A watcher keeps what its consumer has not taken yet; when that grows
// past WithWatchBuffer events (1,000 by default), it ends with
// store.ErrWatcherTooSlow between two transactions, as with store/memory.
// Resume with Watch from the last revision handled. When the store's etcd
// watch breaks (a member fails or loses its leader, the connection drops)
// the store watches again from the next revision; watchers see nothing of
// it. One that etcd refuses for lack of permission ends with an error
// wrapping rpctypes.ErrPermissionDenied.
//
// # Compaction
//
// etcd keeps every revision until it is compacted. A Watch from a revision
// older than etcd's compaction fails with store.ErrCompacted, even when
// the store's history still holds it: read a snapshot and watch from its
// revision, as store.ViewAndWatch does. When etcd compacts past the store's
// own watch while the store is cut off, the store reads etcd afresh, and
// the watchers it was feeding end with store.ErrCompacted, for they
// missed events; reads carry on. Compaction is an etcd-wide operation, so
// it is best configured on etcd itself: --auto-compaction-mode=revision
// --auto-compaction-retention=100000, or periodic with a duration.
// WithCompaction(keep) makes the store compact instead, keeping at least
// the last keep revisions (counted in etcd revisions, which all
// installations on the etcd advance); it is off by default.
//
// # Key layout
//
// Everything lives under the prefix (WithPrefix, "/stevedore" by default):
//
//	<prefix>/objects/<kind>/<id>   an object, encoded by the codec
//	<prefix>/revision              written by every transaction; its value
//	                               is the transaction's mark, then its
//	                               journal when it has one
//	<prefix>/kinds/<kind>          written by every transaction writing kind
//
// Installations sharing an etcd need prefixes that do not nest ("/a" and
// "/b", not "/a" and "/a/objects"). An etcd user whose role grants
// read-write on the prefix's range is all the store needs (and compaction
// rights for WithCompaction).
//
// # TLS and authentication
//
// WithTLS takes a *tls.Config: RootCAs to verify etcd's members, and a
// client certificate for an etcd started with --client-cert-auth.
// WithCredentials logs in as an etcd user. Both are options of Open; a
// store made with New uses its client's settings.
//
// # Fencing
//
// WithGuard returns a store whose Updates commit only while a guard key
// still has a given create revision, compared in the same etcd
// transaction as the writes. A leader elected with clientv3/concurrency
// gives its election key:
//
//	sess, err := concurrency.NewSession(s.Client(), concurrency.WithTTL(10))
//	...
//	e := concurrency.NewElection(sess, "/stevedore/prod-leader")
//	if err := e.Campaign(ctx, replicaID); err != nil {
//		return err
//	}
//	leader, err := s.WithGuard(etcd.ElectionGuard(e))
//	// Give leader to the loops only the leader runs.
//
// When the leader's lease runs out (it was paused, or cut off from etcd),
// etcd deletes its election key, and every write it still attempts, even
// one whose transaction began while it led, fails with a *FencedError
// (errors.Is(err, ErrFenced)) and writes nothing. Such an error is final:
// the function is not run again.
//
// # Errors
//
// Errors wrap the store's sentinels (store.ErrNotFound,
// store.ErrAlreadyExists, store.ErrConflict as *store.ConflictError,
// store.ErrInvalid, store.ErrCompacted, store.ErrWatcherTooSlow,
// store.ErrClosed) and name the object they are about. ErrFenced is this
// package's own. Errors of the etcd client that fit none of them (no
// member reachable, a failed request) are wrapped as they are.
package etcd
