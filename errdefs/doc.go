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
// containerd has no kind for, are kinds like the others. The package
// imports the standard library only, so the pure packages (task, cluster,
// placement, service, ...), which build on any OS, may use it;
// internal/deps checks that this stays so.
//
// Each kind also matches the kind of github.com/containerd/errdefs that
// means the same, without importing it: a kind has the method by which
// containerd (and moby) recognise theirs, so cerrdefs.IsNotFound(err)
// holds for a Stevedore NotFound, and its Is method matches a target with
// that method, so errors.Is(err, cerrdefs.ErrNotFound) holds too.
// ErrInvalid is containerd's ErrInvalidArgument, ErrInUse its
// ErrFailedPrecondition (gRPC's code for "cannot delete, something
// depends on it"). ErrClosed matches none: containerd's ErrUnavailable
// means "try again later" (runtime/containerd takes it for an engine
// outage), and a closed object stays closed. The other direction is not
// automatic: a package that calls containerd translates containerd's
// errors at its boundary.
package errdefs
