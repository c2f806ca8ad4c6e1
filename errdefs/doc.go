// Package errdefs is Stevedore's error vocabulary: the kinds of failure
// every package's errors are (NotFound, AlreadyExists, Invalid, Conflict,
// InUse, Closed), and the one error that names an invalid field.
//
// Every error a Stevedore package returns for one of these reasons matches
// its kind with errors.Is, whatever the entry point:
//
//	_, err := o.RunTask(ctx, in)
//	switch {
//	case errors.Is(err, errdefs.ErrInvalid):
//		for _, fe := range errdefs.FieldErrors(err) {
//			fmt.Println(fe.Path, fe.Reason) // containerDefinitions[0].memory must be ...
//		}
//	case errors.Is(err, errdefs.ErrNotFound):
//		...
//	}
//
// The root package re-exports the kinds (stevedore.ErrInvalid is
// errdefs.ErrInvalid), so callers of the Orchestrator need not import this
// package.
//
// # Package sentinels
//
// A package may keep a sentinel of its own when its text says more than the
// kind (store.ErrNotFound, "store: not found"): it is made with New, and
// matches both itself and its kind. Sentinels with a meaning no kind has
// stay plain errors: store.ErrCompacted, store.ErrWatcherTooSlow,
// network.ErrExhausted, network.ErrPortInUse, placement.ErrNoFit.
//
// # Invalid input
//
// An invalid input is a *FieldError: the path of the field in the style of
// ECS's JSON ("containerDefinitions[0].memory",
// "placementConstraints[1].expression") and the rule it breaks. A request
// with several broken rules returns them joined (errors.Join); FieldErrors
// lists them. A FieldError matches ErrInvalid.
//
// # containerd's kinds
//
// The kinds are Stevedore's own values, so that their messages read as
// Stevedore's ("not found", "in use") and so that InUse and Closed, which
// containerd has no kind for, are kinds like the others. Each also matches
// the kind of github.com/containerd/errdefs that means the same
// (errors.Is(err, cerrdefs.ErrNotFound) and cerrdefs.IsNotFound(err) hold
// for a Stevedore NotFound): ErrInvalid is containerd's
// ErrInvalidArgument, ErrInUse its ErrFailedPrecondition (gRPC's code for
// "cannot delete, something depends on it"), ErrClosed its ErrUnavailable.
// That module's root package imports only the standard library (its gRPC
// mapping is in another package, which this one does not import), so the
// pure packages (task, cluster, placement, service, ...) may import this
// one; internal/deps checks that this stays so. The other direction is not
// automatic: a package that calls containerd translates containerd's
// errors at its boundary (runtime/containerd does).
package errdefs
