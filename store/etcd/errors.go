package etcd

import (
	"errors"
	"fmt"
)

// ErrFenced means an Update made through a guarded store (WithGuard) was
// refused because its guard key no longer has the create revision it was
// given: the election it stands for was lost. Retrying cannot help; the
// caller is no longer the leader. The error is a *FencedError.
var ErrFenced = errors.New("etcd store: write fenced off")

// FencedError is the error of a guarded Update whose guard failed.
// errors.Is(err, ErrFenced) holds for it.
type FencedError struct {
	// Key is the guard key.
	Key string
	// Expected is the create revision the guard was given.
	Expected int64
	// Actual is the key's create revision at commit, 0 if it is gone.
	Actual int64
}

// Error names the key and both revisions.
func (e *FencedError) Error() string {
	if e.Actual == 0 {
		return fmt.Sprintf("etcd store: write fenced off: guard key %q (create revision %d) is gone", e.Key, e.Expected)
	}
	return fmt.Sprintf("etcd store: write fenced off: guard key %q has create revision %d, expected %d",
		e.Key, e.Actual, e.Expected)
}

// Is makes errors.Is(err, ErrFenced) true.
func (e *FencedError) Is(target error) bool { return target == ErrFenced }
