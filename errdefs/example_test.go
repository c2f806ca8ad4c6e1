package errdefs_test

import (
	"errors"
	"fmt"

	"github.com/stevedore-io/stevedore/errdefs"
)

func ExampleFieldErrors() {
	// A request with two broken rules, reported joined and wrapped.
	err := fmt.Errorf("create service web: %w", errors.Join(
		errdefs.Invalid("desiredCount", "must be between 0 and %d, got %d", 10000, -1),
		errdefs.Invalid("placementConstraints[1].expression", "is not a valid cluster query"),
	))
	fmt.Println(errors.Is(err, errdefs.ErrInvalid))
	for _, fe := range errdefs.FieldErrors(err) {
		fmt.Printf("%s: %s\n", fe.Path, fe.Reason)
	}
	// Output:
	// true
	// desiredCount: must be between 0 and 10000, got -1
	// placementConstraints[1].expression: is not a valid cluster query
}

func ExampleNew() {
	// A package's sentinel: its own text, and the kind.
	errGone := errdefs.New(errdefs.ErrNotFound, "lb: target not registered")
	err := fmt.Errorf("deregister t-1: %w", errGone)
	fmt.Println(err)
	fmt.Println(errors.Is(err, errGone), errors.Is(err, errdefs.ErrNotFound), errdefs.Kind(err))
	// Output:
	// deregister t-1: lb: target not registered
	// true true not found
}
