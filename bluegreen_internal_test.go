package stevedore

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAlarmWindowFiresOnMOfN(t *testing.T) {
	t.Parallel()
	a, err := Alarm{Name: "x", Predicate: func(context.Context) (bool, error) { return false, nil }, EvaluationPeriods: 3, DatapointsToAlarm: 2}.withDefaults()
	require.NoError(t, err)
	tests := []struct {
		name   string
		points []bool
		fires  []bool // after each datapoint
	}{
		{"two of three in a row", []bool{true, true}, []bool{false, true}},
		{"two of three apart", []bool{true, false, true}, []bool{false, false, true}},
		{"old breaches leave the window", []bool{true, false, false, true}, []bool{false, false, false, false}},
		{"never", []bool{false, false, false, false}, []bool{false, false, false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w alarmWindow
			for i, p := range tt.points {
				assert.Equal(t, tt.fires[i], w.add(a, p), "after datapoint %d", i)
			}
		})
	}
	d, err := Alarm{Name: "d", Predicate: a.Predicate}.withDefaults()
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

func TestPerMille(t *testing.T) {
	t.Parallel()
	for pct, want := range map[float64]int{0: 0, 0.1: 1, 10: 100, 33.3: 333, 99.9: 999, 100: 1000} {
		assert.Equal(t, want, perMille(pct), "%v%%", pct)
	}
}
