package service

// AlarmWindow keeps an alarm's last datapoints, CloudWatch's "M out of N":
// the alarm fires when at least DatapointsToAlarm of the last
// EvaluationPeriods datapoints breach. Like the circuit breaker, it is a
// pure model of a verdict; the loop that watches a deployment's alarms
// samples the datapoints and records the verdict.
type AlarmWindow struct {
	// EvaluationPeriods is N, at least 1.
	EvaluationPeriods int
	// DatapointsToAlarm is M, at most N.
	DatapointsToAlarm int

	breaching []bool // oldest first, at most EvaluationPeriods
}

// Add records a datapoint and reports whether the alarm fires.
func (w *AlarmWindow) Add(breaching bool) bool {
	w.breaching = append(w.breaching, breaching)
	if len(w.breaching) > w.EvaluationPeriods {
		w.breaching = w.breaching[1:]
	}
	n := 0
	for _, b := range w.breaching {
		if b {
			n++
		}
	}
	return n >= w.DatapointsToAlarm
}
