//go:build linux

package containerd

import (
	"testing"

	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/runtime/runtimetest"
)

func TestConformance(t *testing.T) {
	needContainerd(t)
	runtimetest.Run(t, runtimetest.Harness{
		New:   func(t *testing.T) runtime.Runtime { return newRuntime(t) },
		Image: testImage,
		NewImage: func(t *testing.T, rt runtime.Runtime) string {
			return importMarkedImage(t, rt.(*Runtime), uniqueID(t))
		},
	})
}
