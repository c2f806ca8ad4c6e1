package bolt

// Hooks are called by the committer; tests use them to hold commits and
// to see transactions queued.
type Hooks struct {
	// BeforeCommit is called with every batch's size before it is
	// written, on the committer's goroutine. An error from it fails the
	// batch as a failed write would.
	BeforeCommit func(n int) error
	// AfterEnqueue is called after every transaction is queued, on the
	// writer's goroutine.
	AfterEnqueue func()
}

// OpenHooked opens path like Open, with hooks set.
func OpenHooked(path string, hooks Hooks, opts ...Option) (*Store, error) {
	s, err := Open(path, opts...)
	if err != nil {
		return nil, err
	}
	// Nothing is staged yet: neither hook can be running. The lock
	// orders these writes before the first enqueue.
	s.c.mu.Lock()
	s.c.beforeCommit, s.c.afterEnqueue = hooks.BeforeCommit, hooks.AfterEnqueue
	s.c.mu.Unlock()
	return s, nil
}
