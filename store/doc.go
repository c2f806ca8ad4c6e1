// Package store is where Stevedore's components meet: desired state goes in,
// actual state is reported back, and reconcile loops watch the difference.
//
// A Store holds revisioned objects grouped by kind ("clusters", "instances",
// "tasks", "services", ...) and keyed by ID within a kind. store/memory is
// the implementation for a single process; the interface is shaped so that
// durable implementations (an embedded bbolt file, etcd for several hosts)
// can follow without changing callers.
//
// # Objects
//
// A stored type is a pointer to a struct that embeds Meta and names its kind
// and ID:
//
//	type Task struct {
//		store.Meta
//		ID     string
//		Status string
//	}
//
//	func (*Task) Kind() string        { return "tasks" }
//	func (t *Task) ObjectID() string { return t.ID }
//
// The store fills in Meta when it accepts a write: CreateRevision (the
// revision that created the object) and ModRevision (the revision that last
// wrote it).
//
// # Revisions
//
// The store has one global revision, like etcd. Every write transaction that
// changes something takes the next revision; every object it writes and
// every event it produces carries that revision. A transaction that writes
// nothing takes none. Revisions only increase, and are opaque: compare and
// keep them, pass them back to Watch, but do not compute with them.
//
// # Reading
//
// View runs a function against a consistent snapshot:
//
//	err := s.View(ctx, func(tx store.ReadTx) error {
//		tasks, err := store.List[*Task](tx, "tasks") // ordered by ID
//		...
//		t, err := store.Get[*Task](tx, "tasks", id) // ErrNotFound if absent
//		...
//	})
//
// Writes that commit while the function runs are invisible to it. Get, List
// and the typed helpers of the same names hand out the stored values
// themselves, shared with every other reader and watcher: no copy is made on
// the way out, which is what keeps a pass over 10,000 tasks around a
// millisecond. Treat them as read-only.
//
// # Writing
//
// Update runs a function in a read-write transaction. Writers are serialized;
// if the function returns nil, all its writes commit atomically under one
// revision; if it returns an error or panics, none of them happen. This is how
// the orchestrator assigns a task and reserves resources on an instance in
// one step:
//
//	err := s.Update(ctx, func(tx store.Tx) error {
//		inst, err := store.Get[*Instance](tx, "instances", instID)
//		if err != nil {
//			return err
//		}
//		next := inst.Clone()
//		next.FreeMemory -= t.Memory
//		if err := tx.Update(next); err != nil {
//			return err
//		}
//		return tx.Create(t)
//	})
//
// To change an object, copy it, change the copy and pass the copy to Update
// (the memory store refuses the stored value itself with ErrInvalid). Update
// is a compare-and-swap: it succeeds only when the copy's ModRevision is the
// one stored, so a change based on a stale read fails with a *ConflictError
// (errors.Is(err, ErrConflict)) instead of overwriting newer state. Read,
// copy and write inside one Update and the check always passes. An object
// given to Create or Update belongs to the store afterwards; do not change it.
//
// The function given to Update must not have effects outside its
// transaction: an implementation built on optimistic concurrency (etcd) runs
// it again when something it read changed before the commit.
//
// # Watching
//
// Watch delivers every change after a revision, in revision order, with no
// gaps. ViewAndWatch reads a snapshot and then watches from its revision, the
// way every reconcile loop starts:
//
//	w, err := store.ViewAndWatch(ctx, s, func(tx store.ReadTx) error {
//		tasks, err = store.List[*Task](tx, "tasks")
//		return err
//	}, store.WithKinds("tasks"))
//	if err != nil {
//		return err
//	}
//	defer w.Close()
//	for ev := range w.Events() {
//		switch ev.Type {
//		case store.Created, store.Updated:
//			t := ev.Object.(*Task) // ev.Prev holds the version before
//			...
//		case store.Deleted:
//			forget(ev.ID) // ev.Prev holds the deleted version
//		}
//		last = ev.Revision
//	}
//	// w.Err() says why the watch ended.
//
// WithKinds and WithFilter narrow what a watch delivers. The events of one
// transaction arrive together and share a revision.
//
// A watch ends when its context is done, on Watcher.Close, when the store is
// closed (ErrClosed), or when the watcher falls too far behind the writers
// (ErrWatcherTooSlow): writers never wait for watchers, so a consumer that
// stops reading is cut off rather than allowed to hold the store up. After
// ErrWatcherTooSlow, call Watch again from the last revision handled; the
// store keeps a bounded history for that. When the history after a revision
// is gone, Watch fails with ErrCompacted: read a fresh snapshot and watch
// from its revision (ViewAndWatch again).
//
// # Errors
//
// Errors wrap the sentinels ErrNotFound, ErrAlreadyExists, ErrConflict,
// ErrInvalid, ErrCompacted, ErrWatcherTooSlow and ErrClosed; test for them
// with errors.Is. They name the object they are about ("tasks/web-1").
//
// # Implementations
//
// store/memory keeps Go values in copy-on-write trees, so readers never wait
// for writers and no write encodes anything. store/bolt is the durable
// implementation for one host: the same trees in memory, and every commit
// in a bbolt file (fsynced before Update returns, shared by concurrent
// writers), with the history kept there so that watches resume after a
// restart. Every implementation must pass the conformance suite in
// store/storetest, and durable ones storetest.RunRestart as well. All
// implementations are safe for concurrent use.
//
// # Encoding and schema versions
//
// Durable implementations encode objects with a Codec. JSONCodec wraps each
// object's JSON in an envelope holding its revisions and the schema version
// of its kind, so that neither is lost whatever the type's own JSON does.
// NewSchemaCodec takes a Schema per kind: the constructor to decode into
// (which must return a usable value: set embedded pointers) and the
// migrations from each earlier version, applied in order when an older
// object is read. An object written at a newer version than the build
// knows gives a *SchemaError:
//
//	codec, err := store.NewSchemaCodec(map[string]store.Schema{
//		"tasks": {
//			New:        func() store.Object { return &Task{Spec: new(Spec)} },
//			Migrations: []store.Migration{renameStatusField}, // version 0 -> 1
//		},
//	})
//
// internal/state.Codec is the codec of Stevedore's own kinds.
package store
