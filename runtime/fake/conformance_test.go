package fake_test

import (
	"testing"

	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/runtime/runtimetest"
)

// TestConformance runs the runtime conformance suite against the fake, in
// real time.
func TestConformance(t *testing.T) {
	runtimetest.Run(t, runtimetest.Harness{
		New: func(t *testing.T) runtime.Runtime {
			rt := fake.New()
			t.Cleanup(rt.Close)
			return rt
		},
		Image: "busybox:1.36",
		NewImage: func(t *testing.T, rt runtime.Runtime) string {
			rt.(*fake.Runtime).LoadImages("busybox:removable")
			return "busybox:removable"
		},
	})
}
