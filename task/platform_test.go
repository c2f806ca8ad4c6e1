package task_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/stevedore-io/stevedore/task"
)

// TestPlatformAttributes: a runtime platform implies the instance
// attributes ECS places its tasks by.
func TestPlatformAttributes(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		rp   *task.RuntimePlatform
		want map[string]string
	}{
		{nil, nil},
		{&task.RuntimePlatform{}, nil},
		{&task.RuntimePlatform{CPUArchitecture: "ARM64"}, map[string]string{"ecs.cpu-architecture": "arm64"}},
		{&task.RuntimePlatform{CPUArchitecture: "X86_64", OperatingSystemFamily: "LINUX"},
			map[string]string{"ecs.cpu-architecture": "x86_64", "ecs.os-type": "linux"}},
	} {
		td := &task.TaskDefinition{Family: "web", RuntimePlatform: tt.rp}
		assert.Equal(t, tt.want, td.PlatformAttributes(), "%+v", tt.rp)
	}
}
