package targets

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/lb"
	"github.com/stevedore-io/stevedore/task"
)

func TestTargetHealthOfATask(t *testing.T) {
	h := newTargetHealth()
	h.expect("t1", []string{"a", "b"})
	assert.Equal(t, map[string]state.TargetHealth{"t1": state.TargetHealthUnknown}, h.take(), "not registered yet")
	h.observe("t1", "a", lb.StateHealthy)
	assert.Equal(t, map[string]state.TargetHealth{"t1": state.TargetHealthUnknown}, h.take(), "b still unknown")
	h.observe("t1", "b", lb.StateInitial)
	h.observe("t1", "b", lb.StateHealthy)
	assert.Equal(t, map[string]state.TargetHealth{"t1": state.TargetHealthHealthy}, h.take(), "healthy in both, changes batched")
	assert.Nil(t, h.take(), "nothing changed")
	h.observe("t1", "a", lb.StateHealthy)
	assert.Nil(t, h.take(), "no change, no write")
	h.observe("t1", "a", lb.StateUnhealthy)
	assert.Equal(t, map[string]state.TargetHealth{"t1": state.TargetHealthUnhealthy}, h.take())
	h.observe("t1", "c", lb.StateHealthy)
	h.observe("t2", "a", lb.StateHealthy)
	assert.Nil(t, h.take(), "groups and tasks not expected are ignored")
	h.forget("t1")
	h.observe("t1", "a", lb.StateHealthy)
	assert.Nil(t, h.take())

	js, err := json.Marshal(&state.Task{Task: &task.Task{}, TargetHealth: state.TargetHealthUnhealthy})
	require.NoError(t, err)
	assert.Contains(t, string(js), `"targetHealth":"UNHEALTHY"`)
	var back state.Task
	require.NoError(t, json.Unmarshal(js, &back))
	assert.Equal(t, state.TargetHealthUnhealthy, back.TargetHealth)
	js, err = json.Marshal(&state.Task{Task: &task.Task{}})
	require.NoError(t, err)
	assert.NotContains(t, string(js), "targetHealth", "unknown is not stored")
}
