package state

import (
	"time"

	"github.com/stevedore-io/stevedore/store"
)

// KindSamples is the store kind of tasks' resource samples.
const KindSamples = "samples"

// Sample is what one task used, as its agent last read it from the
// runtime: the agent writes it for the running tasks of scalable services,
// and the service scaler reads it. It is keyed by task ID and kept apart
// from the task, so that a sample wakes none of the loops that watch tasks.
type Sample struct {
	store.Meta
	TaskID   string `json:"taskId"`
	Instance string `json:"instance"`
	// CPU is the task's containers' cumulative CPU time at At.
	CPU time.Duration `json:"cpu"`
	// Memory is the task's containers' memory use at At, in bytes.
	Memory uint64 `json:"memory"`
	// At is when the runtime took the reading.
	At time.Time `json:"at"`
}

// Kind implements store.Object.
func (*Sample) Kind() string { return KindSamples }

// ObjectID implements store.Object.
func (s *Sample) ObjectID() string { return s.TaskID }
