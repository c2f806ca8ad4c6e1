package agent

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/task"
)

// Memory in MiB that does not fit in bytes is an error, not a wrapped
// limit: 2^44+1 MiB shifted to bytes used to give a 1 MiB limit.
func TestContainerSpecMemoryDoesNotWrap(t *testing.T) {
	t.Parallel()
	def := &task.TaskDefinition{Family: "web", ContainerDefinitions: []task.ContainerDefinition{{Name: "app", Image: "app:1"}}}
	in := &specInput{taskID: "t1", def: def}
	for _, c := range []task.ContainerDefinition{
		{Name: "app", Image: "app:1", Memory: 1<<44 + 1},
		{Name: "app", Image: "app:1", Memory: 512, MemoryReservation: math.MaxInt},
	} {
		spec, err := containerSpec(&c, in)
		require.Error(t, err, "%+v", spec)
	}
	spec, err := containerSpec(&task.ContainerDefinition{Name: "app", Image: "app:1", Memory: 1<<43 - 1, MemoryReservation: 256}, in)
	require.NoError(t, err)
	assert.Equal(t, int64(1<<43-1)<<20, spec.MemoryLimit)
	assert.Equal(t, int64(256)<<20, spec.MemoryReservation)
}
