package stevedore

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/stevedore-io/stevedore/health"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/lb"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/task"
)

func TestTargetHealthOfATask(t *testing.T) {
	h := newTargetHealth()
	h.expect("t1", []string{"a", "b"})
	assert.Equal(t, map[string]task.HealthStatus{"t1": task.HealthUnknown}, h.take(), "not registered yet")
	h.observe("t1", "a", lb.StateHealthy)
	assert.Equal(t, map[string]task.HealthStatus{"t1": task.HealthUnknown}, h.take(), "b still unknown")
	h.observe("t1", "b", lb.StateInitial)
	h.observe("t1", "b", lb.StateHealthy)
	assert.Equal(t, map[string]task.HealthStatus{"t1": task.Healthy}, h.take(), "healthy in both, changes batched")
	assert.Nil(t, h.take(), "nothing changed")
	h.observe("t1", "a", lb.StateHealthy)
	assert.Nil(t, h.take(), "no change, no write")
	h.observe("t1", "a", lb.StateUnhealthy)
	assert.Equal(t, map[string]task.HealthStatus{"t1": task.Unhealthy}, h.take())
	h.observe("t1", "c", lb.StateHealthy)
	h.observe("t2", "a", lb.StateHealthy)
	assert.Nil(t, h.take(), "groups and tasks not expected are ignored")
	h.forget("t1")
	h.observe("t1", "a", lb.StateHealthy)
	assert.Nil(t, h.take())

	assert.True(t, sameTargetHealth("", task.HealthUnknown), "nothing stored is UNKNOWN: no write")
	assert.False(t, sameTargetHealth("", task.Healthy))
}

func TestPlannerViewCountsTargetHealth(t *testing.T) {
	for _, tc := range []struct {
		name           string
		checked        bool
		container, tgs task.HealthStatus
		want           health.Status
	}{
		{"no container check, not registered yet", false, task.HealthUnknown, "", health.Unknown},
		{"no container check, healthy target", false, task.HealthUnknown, task.Healthy, health.Healthy},
		{"healthy container, initial target", true, task.Healthy, "", health.Unknown},
		{"healthy container, healthy target", true, task.Healthy, task.Healthy, health.Healthy},
		{"healthy container, unhealthy target", true, task.Healthy, task.Unhealthy, health.Unhealthy},
		{"unhealthy container, healthy target", true, task.Unhealthy, task.Healthy, health.Unhealthy},
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
