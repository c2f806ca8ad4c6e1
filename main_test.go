package stevedore_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/stevedore-io/stevedore/internal/etcdtest"
)

// TestMain fails the run when a goroutine started by the tests outlives
// them.
func TestMain(m *testing.M) {
	if etcdtest.IsMember() { // an etcd member process of a replicas test
		etcdtest.MemberMain()
		return
	}
	goleak.VerifyTestMain(m)
}

// errOf is the error of a call whose output a test does not look at.
func errOf[T any](_ T, err error) error { return err }
