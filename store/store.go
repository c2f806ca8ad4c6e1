package store

import (
	"context"
	"strings"
)

// Object is anything kept in a Store. Objects are grouped by kind (for
// example "tasks") and identified by ID within their kind.
//
// Implement Object on a pointer to a struct that embeds Meta:
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
// The store records an object's revisions in its Meta when the object is
// written; StoreMeta must therefore return a pointer into the object itself.
type Object interface {
	// Kind names the group the object belongs to. It must be non-empty,
	// must not contain '/', and must not change over the object's life.
	Kind() string
	// ObjectID identifies the object within its kind. It must be non-empty.
	ObjectID() string
	// StoreMeta returns the object's revision bookkeeping, which the store
	// fills in when it accepts the object. Embedding Meta provides it.
	StoreMeta() *Meta
}

// Meta is the store's bookkeeping for one object. Embed it in every stored
// type. The store sets both fields when it accepts a write; callers only read
// them, and Tx.Update compares ModRevision with the stored one.
type Meta struct {
	// CreateRevision is the revision of the transaction that created the
	// object. It does not change on update.
	CreateRevision int64 `json:"createRevision,omitempty"`
	// ModRevision is the revision of the transaction that last wrote the
	// object. Tx.Update succeeds only when the object passed to it carries
	// the ModRevision currently stored (compare-and-swap).
	ModRevision int64 `json:"modRevision,omitempty"`
}

// StoreMeta returns m itself, so that a struct embedding Meta satisfies the
// StoreMeta method of Object.
func (m *Meta) StoreMeta() *Meta { return m }

// Store keeps desired and reported state as revisioned objects.
//
// Every write transaction that changes something takes the next revision of
// one global, strictly increasing counter: all objects written by the
// transaction get that revision as ModRevision, and all its events carry it.
// Revisions are opaque: compare them, store them, pass them back to Watch,
// but do not compute with them (the next revision is not always current+1 in
// every implementation).
//
// Implementations are safe for concurrent use.
type Store interface {
	// View runs fn against a consistent snapshot of the store. Writes that
	// commit while fn runs are not visible to it, and a View never delays
	// a writer. fn must not keep tx after it returns. View returns fn's
	// error, or ErrClosed, or the context's error if ctx is done first.
	View(ctx context.Context, fn func(tx ReadTx) error) error

	// Update runs fn in a read-write transaction. Writers are serialized.
	// If fn returns nil, all its writes commit atomically under one new
	// revision (or no revision is used if fn wrote nothing). If fn returns
	// an error or panics, nothing it wrote is kept, the objects it passed
	// to Create and Update get their Meta back, and the error (or panic)
	// is passed on.
	//
	// fn may run more than once: an implementation built on optimistic
	// concurrency (such as one on etcd) re-runs it when a value it read
	// changed before commit. fn must therefore not have effects outside
	// tx. Do not call the Store from inside fn other than through tx.
	Update(ctx context.Context, fn func(tx Tx) error) error

	// Watch delivers every change committed after revision from, in
	// revision order and without gaps, to the returned Watcher. Use the
	// revision of a View (ReadTx.Revision) to see every change after that
	// snapshot (see ViewAndWatch), or the last Event.Revision handled to
	// resume a watch that ended.
	//
	// Watch fails with ErrCompacted when the store no longer holds the
	// history after from, and with ErrInvalid when from is negative. The
	// watch ends when ctx is done, when Watcher.Close is called, when the
	// store is closed, or when the watcher falls too far behind
	// (ErrWatcherTooSlow).
	Watch(ctx context.Context, from int64, opts ...WatchOption) (Watcher, error)

	// Close releases the store. It waits for a running Update to finish,
	// ends every watch with ErrClosed, and makes later calls fail with
	// ErrClosed. Closing twice is not an error.
	Close() error
}

// ReadTx reads one consistent snapshot. Use it only from the goroutine that
// runs the function it was passed to, and only until that function returns.
//
// Objects returned by Get and List are shared with the store and with every
// other reader: treat them as read-only. To change one, copy it, change the
// copy and pass the copy to Tx.Update.
type ReadTx interface {
	// Revision is the revision of the snapshot: the revision of the last
	// transaction it includes, or 0 for an empty store. Inside Update it
	// is the revision the transaction started from.
	Revision() int64
	// Get returns the object kind/id. Errors wrap ErrNotFound.
	Get(kind, id string) (Object, error)
	// List returns every object of kind, ordered by ID. An unknown kind
	// lists as empty.
	List(kind string) ([]Object, error)
}

// Tx is a read-write transaction. It reads its own writes.
//
// An object passed to Create or Update belongs to the store from then on:
// the caller must not change it any more (the store may hand it to readers
// and watchers as is).
type Tx interface {
	ReadTx
	// Create stores a new object. Errors wrap ErrAlreadyExists or
	// ErrInvalid. The object's Meta is overwritten.
	Create(obj Object) error
	// Update replaces an existing object if obj's ModRevision equals the
	// stored one. Errors wrap ErrNotFound, ErrConflict (as *ConflictError)
	// or ErrInvalid.
	Update(obj Object) error
	// Delete removes kind/id. Errors wrap ErrNotFound or ErrInvalid.
	Delete(kind, id string) error
}

// Watcher is a running watch.
type Watcher interface {
	// Events delivers the changes. The channel is closed when the watch
	// ends; Err then says why. The events of one transaction arrive one
	// after the other and share a revision; a watch ended for being too
	// slow never ends between two of them, so its last revision delivered
	// is a safe point to resume from.
	Events() <-chan Event
	// Err returns why Events was closed: ErrWatcherTooSlow, ErrClosed, the
	// context's error, or nil after Close. It returns nil while the
	// watch runs.
	Err() error
	// Close ends the watch and waits until Events is closed. Calling it
	// more than once is fine.
	Close()
}

// EventType says what a transaction did to an object.
type EventType int

// The event types.
const (
	// Created means the object did not exist before.
	Created EventType = iota + 1
	// Updated means the object replaced an earlier version (Prev).
	Updated
	// Deleted means the object (Prev) was removed.
	Deleted
)

// String returns "created", "updated" or "deleted".
func (t EventType) String() string {
	switch t {
	case Created:
		return "created"
	case Updated:
		return "updated"
	case Deleted:
		return "deleted"
	default:
		return "unknown"
	}
}

// Event is one change to one object.
type Event struct {
	// Type says whether the object was created, updated or deleted.
	Type EventType
	// Kind and ID name the object, whatever the type.
	Kind, ID string
	// Object is the new version; nil for Deleted.
	Object Object
	// Prev is the version before the change; nil for Created.
	Prev Object
	// Revision is the revision of the transaction that made the change.
	Revision int64
}

// WatchOption narrows what a watch delivers.
type WatchOption func(*WatchFilter)

// WithKinds delivers only events about objects of the given kinds.
// Without it every kind is delivered.
func WithKinds(kinds ...string) WatchOption {
	return func(f *WatchFilter) { f.Kinds = append(f.Kinds, kinds...) }
}

// WithFilter delivers only events for which match returns true. It runs on
// the watcher's goroutine for every event of the kinds asked for, so keep it
// quick; it must not change the event's objects. Several filters must all
// match.
func WithFilter(match func(Event) bool) WatchOption {
	return func(f *WatchFilter) { f.Filters = append(f.Filters, match) }
}

// WatchFilter is the result of a list of WatchOptions. Store
// implementations use it; callers use the options.
type WatchFilter struct {
	// Kinds lists the kinds delivered; empty means all.
	Kinds []string
	// Filters must all return true for an event to be delivered.
	Filters []func(Event) bool
}

// NewWatchFilter applies opts.
func NewWatchFilter(opts ...WatchOption) WatchFilter {
	var f WatchFilter
	for _, opt := range opts {
		opt(&f)
	}
	return f
}

// WantsKind reports whether events of kind may be delivered.
func (f WatchFilter) WantsKind(kind string) bool {
	if len(f.Kinds) == 0 {
		return true
	}
	for _, k := range f.Kinds {
		if k == kind {
			return true
		}
	}
	return false
}

// Match reports whether ev is delivered.
func (f WatchFilter) Match(ev Event) bool {
	if !f.WantsKind(ev.Kind) {
		return false
	}
	for _, match := range f.Filters {
		if !match(ev) {
			return false
		}
	}
	return true
}

// ValidateKey checks a kind and ID as every implementation accepts them:
// both non-empty, and no '/' in the kind (durable implementations use it as
// a separator). Errors wrap ErrInvalid.
func ValidateKey(kind, id string) error {
	if err := ValidateKind(kind); err != nil {
		return err
	}
	if id == "" {
		return invalidf("empty id (kind %q)", kind)
	}
	return nil
}

// ValidateKind checks a kind as ValidateKey does.
func ValidateKind(kind string) error {
	switch {
	case kind == "":
		return invalidf("empty kind")
	case strings.Contains(kind, "/"):
		return invalidf("kind %q contains '/'", kind)
	}
	return nil
}
