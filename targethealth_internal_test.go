package stevedore

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/health"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/lb"
	"github.com/stevedore-io/stevedore/service"
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

func TestPlannerViewCountsTargetHealth(t *testing.T) {
	for _, tc := range []struct {
		name      string
		checked   bool
		container task.HealthStatus
		tgs       state.TargetHealth
		want      health.Status
	}{
		{"no container check, not registered yet", false, task.HealthUnknown, state.TargetHealthUnknown, health.Unknown},
		{"no container check, healthy target", false, task.HealthUnknown, state.TargetHealthHealthy, health.Healthy},
		{"healthy container, initial target", true, task.Healthy, state.TargetHealthUnknown, health.Unknown},
		{"healthy container, healthy target", true, task.Healthy, state.TargetHealthHealthy, health.Healthy},
		{"healthy container, unhealthy target", true, task.Healthy, state.TargetHealthUnhealthy, health.Unhealthy},
		{"unhealthy container, healthy target", true, task.Unhealthy, state.TargetHealthHealthy, health.Unhealthy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &state.Task{Task: &task.Task{HealthStatus: tc.container}, HealthChecked: tc.checked, TargetHealth: tc.tgs}
			ts := service.TaskState{Health: health.Status(tc.container), HealthChecked: tc.checked}
			withTargetHealth(&ts, st)
			assert.True(t, ts.HealthChecked)
			assert.Equal(t, tc.want, ts.Health)
		})
	}
}
