package service_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/stevedore-io/stevedore/service"
)

func TestAlarmWindowFiresOnMOfN(t *testing.T) {
	t.Parallel()
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
			w := service.AlarmWindow{EvaluationPeriods: 3, DatapointsToAlarm: 2}
			for i, p := range tt.points {
				assert.Equal(t, tt.fires[i], w.Add(p), "after datapoint %d", i)
			}
		})
	}
}
