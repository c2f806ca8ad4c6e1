package agent_test

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/autoscaling"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

func (e *env) sample(id string) (*state.Sample, bool) {
	e.t.Helper()
	var s *state.Sample
	err := e.store.View(e.ctx, func(tx store.ReadTx) error {
		var err error
		s, err = store.Get[*state.Sample](tx, state.KindSamples, id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, false
	}
	require.NoError(e.t, err)
	return s, true
}

func TestAgentSamplesTheTasksOfScalableServices(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fake.WithImage("web:1", fake.Behavior{RunFor: fake.Forever, Stats: func(elapsed time.Duration) runtime.Stats {
			return runtime.Stats{CPUUsage: elapsed / 2, MemoryUsage: 64 << 20}
		}}))
		e.cfg.SampleInterval = 30 * time.Second
		// Two tasks on one instance: awsvpc, no host port to share.
		ref := e.register(`{"family": "w", "networkMode": "awsvpc",
		  "containerDefinitions": [{"name": "app", "image": "web:1", "memory": 32}]}`)
		inService := func(t *state.Task) { t.ServiceName = "web" }
		e.runTaskWith(ref, "scaled", inService)
		e.runTask(ref, "standalone")
		e.start()
		advance(time.Minute)
		_, ok := e.sample("scaled")
		assert.False(t, ok, "no sample while no service scales")

		require.NoError(t, e.store.Update(e.ctx, func(tx store.Tx) error {
			return tx.Create(&state.Scaling{Cluster: "test", Service: "web",
				Policies: []autoscaling.TargetTrackingPolicy{{Name: "cpu", Metric: autoscaling.ECSServiceAverageCPUUtilization, TargetValue: 50}}})
		}))
		advance(30 * time.Second)
		s, ok := e.sample("scaled")
		require.True(t, ok, "the task of a scalable service is sampled")
		assert.Equal(t, uint64(64<<20), s.Memory)
		assert.Positive(t, s.CPU)
		assert.Equal(t, instanceID, s.Instance)
		first := s.At
		_, ok = e.sample("standalone")
		assert.False(t, ok, "a task of no service is not")

		advance(30 * time.Second)
		s, _ = e.sample("scaled")
		assert.Equal(t, first.Add(30*time.Second), s.At, "sampled every interval")

		e.stopTask("scaled", "bye")
		advance(time.Minute)
		require.Equal(t, task.Stopped, e.task("scaled").LastStatus)
		_, ok = e.sample("scaled")
		assert.False(t, ok, "a stopped task's sample goes")
	})
}
