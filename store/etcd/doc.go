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
// # Reads
//
// View first reads the revision key (see the layout below), which tells
// etcd's current revision R; every Get and List of the View then reads at
// R, so the View is one consistent snapshot however long it runs and
// whatever commits meanwhile. Each Get and List is one request to etcd
// (a linearizable one for the first). A View that outlives a compaction
// past R fails with store.ErrCompacted.
//
// Decoding is what a read costs most on the client, so the store keeps the
// objects it decoded (and those it wrote) by key and ModRevision, up to
// WithCacheSize objects: a reconcile pass that lists 10,000 tasks decodes
// only those that changed since the last pass. Objects read are therefore
// shared between readers, as with the other stores: treat them as
// read-only.
//
// # Updates: optimistic concurrency
//
// Writers are not serialized by a lock: Update runs its function against a
// snapshot at R, keeping its writes, and then commits them in a single etcd
// transaction that compares everything the function read:
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
// and Update get their Meta back, and the function runs again on fresh
// reads, until it commits, returns an error or the context is done. No
// update is lost and nothing is written from a stale read. This is why the
// function must not have effects outside its transaction.
//
// The price of optimism is paid by Updates that read much: one that lists a
// kind other processes write all the time runs again whenever any object of
// that kind changes first. Keep such Updates short, or read in a View and
// make the Update read and compare only the objects it changes.
//
// A commit whose request to etcd fails (a timeout, a leader change) may or
// may not have been applied: Update returns the error and leaves the
// objects' Meta as before. Read again before retrying anything that is not
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
// Watch is one etcd watch of the store's objects and revision key from
// etcd revision from+1, with previous values. Revisions between from and
// the store's first transaction hold nothing of this store, so the watch
// starts at the later of the two: watching from 0 needs only the
// installation's own history. The events of one etcd revision are the
// events of one transaction. etcd keeps one version of a key per revision;
// a transaction that writes a key twice (creates then updates it, deletes
// and creates it again) also stores its writes, in order, as the value of
// the revision key, and watchers replay them, so that every write is an
// event as with the other stores.
//
// A watcher keeps what its consumer has not taken yet; when that grows
// past WithWatchBuffer events (1,000 by default), counting only
// transactions committed after the watch began, it ends with
// store.ErrWatcherTooSlow between two transactions. Resume with Watch from
// the last revision handled. A watch whose etcd member fails or loses its
// leader is re-established from the next revision by the store; the
// consumer sees nothing of it. One that etcd refuses for lack of
// permission ends with an error wrapping rpctypes.ErrPermissionDenied.
//
// # Compaction
//
// etcd keeps every revision until it is compacted. A Watch from a revision
// older than etcd's compaction fails with store.ErrCompacted (and a running
// watch that etcd compacted past ends with it): read a snapshot and watch
// from its revision, as store.ViewAndWatch does. Compaction is an
// etcd-wide operation, so it is best configured on etcd itself:
// --auto-compaction-mode=revision --auto-compaction-retention=100000, or
// periodic with a duration. WithCompaction(keep) makes the store compact
// instead, keeping at least the last keep revisions (counted in etcd
// revisions, which all installations on the etcd advance); it is off by
// default.
//
// # Key layout
//
// Everything lives under the prefix (WithPrefix, "/stevedore" by default):
//
//	<prefix>/objects/<kind>/<id>   an object, encoded by the codec
//	<prefix>/revision              written by every transaction; its value
//	                               is the transaction's journal when it has one
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
