package controller

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/stevedore-io/stevedore/health"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/task"
)

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
