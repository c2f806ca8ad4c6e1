package stevedore

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAlarmDefaults(t *testing.T) {
	t.Parallel()
	d, err := Alarm{Name: "d", Predicate: func(context.Context) (bool, error) { return false, nil }}.withDefaults()
	require.NoError(t, err)
	assert.Equal(t, DefaultAlarmPeriod, d.Period)
	assert.Equal(t, 1, d.EvaluationPeriods)
	assert.Equal(t, 1, d.DatapointsToAlarm)
}

func TestAlarmSample(t *testing.T) {
	t.Parallel()
	metric := func(v float64, err error) func(context.Context) (float64, error) {
		return func(context.Context) (float64, error) { return v, err }
	}
	tests := []struct {
		name      string
		alarm     Alarm
		breaching bool
		err       bool
	}{
		{"above", Alarm{Metric: metric(6, nil), Comparison: GreaterThanThreshold, Threshold: 5}, true, false},
		{"at, strict", Alarm{Metric: metric(5, nil), Comparison: GreaterThanThreshold, Threshold: 5}, false, false},
		{"at, or equal", Alarm{Metric: metric(5, nil), Comparison: GreaterThanOrEqualToThreshold, Threshold: 5}, true, false},
		{"below", Alarm{Metric: metric(1, nil), Comparison: LessThanThreshold, Threshold: 5}, true, false},
		{"below or equal", Alarm{Metric: metric(5, nil), Comparison: LessThanOrEqualToThreshold, Threshold: 5}, true, false},
		{"metric fails: missing, not breaching", Alarm{Metric: metric(9, errors.New("down")), Comparison: GreaterThanThreshold}, false, true},
		{"predicate", Alarm{Predicate: func(context.Context) (bool, error) { return true, nil }}, true, false},
		{"predicate fails: missing", Alarm{Predicate: func(context.Context) (bool, error) { return true, errors.New("down") }}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			breaching, _, err := sample(t.Context(), tt.alarm)
			assert.Equal(t, tt.breaching, breaching)
			assert.Equal(t, tt.err, err != nil)
		})
	}
}
