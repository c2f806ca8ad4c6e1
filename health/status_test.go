package health

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"pgregory.net/rapid"
)

func TestWorst(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []Status
		want Status
	}{
		{"none", nil, Unknown},
		{"one healthy", []Status{Healthy}, Healthy},
		{"all healthy", []Status{Healthy, Healthy}, Healthy},
		{"unknown beats healthy", []Status{Healthy, Unknown, Healthy}, Unknown},
		{"unhealthy beats all", []Status{Healthy, Unhealthy, Unknown}, Unhealthy},
		{"unhealthy first", []Status{Unhealthy, Healthy}, Unhealthy},
		{"empty string is unknown", []Status{Healthy, ""}, Unknown},
		{"garbage is unknown", []Status{"STARTING", Healthy}, Unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, Worst(tt.in...))
		})
	}
}

func TestTaskStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []ContainerStatus
		want Status
	}{
		{"no containers", nil, Unknown},
		{"no checked essential container", []ContainerStatus{
			{Name: "app", Essential: true, Status: Unhealthy},
			{Name: "sidecar", Checked: true, Status: Unhealthy},
		}, Unknown},
		{"one healthy", []ContainerStatus{
			{Name: "app", Essential: true, Checked: true, Status: Healthy},
		}, Healthy},
		{"unchecked container ignored", []ContainerStatus{
			{Name: "app", Essential: true, Checked: true, Status: Healthy},
			{Name: "log", Essential: true, Status: Unknown},
		}, Healthy},
		{"non-essential unhealthy ignored", []ContainerStatus{
			{Name: "app", Essential: true, Checked: true, Status: Healthy},
			{Name: "debug", Checked: true, Status: Unhealthy},
		}, Healthy},
		{"essential unknown", []ContainerStatus{
			{Name: "app", Essential: true, Checked: true, Status: Healthy},
			{Name: "db", Essential: true, Checked: true, Status: Unknown},
		}, Unknown},
		{"essential unhealthy", []ContainerStatus{
			{Name: "app", Essential: true, Checked: true, Status: Unhealthy},
			{Name: "db", Essential: true, Checked: true, Status: Unknown},
		}, Unhealthy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, TaskStatus(tt.in...))
		})
	}
}

var statusGen = rapid.SampledFrom([]Status{Healthy, Unknown, Unhealthy})

func TestWorstProperties(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		xs := rapid.SliceOf(statusGen).Draw(t, "xs")
		ys := rapid.SliceOf(statusGen).Draw(t, "ys")
		w := Worst(xs...)

		// The result is one of the inputs, or Unknown for none.
		if len(xs) == 0 {
			assert.Equal(t, Unknown, w)
		} else {
			assert.Contains(t, xs, w)
		}
		// Nothing in the input is worse than the result.
		for _, x := range xs {
			assert.LessOrEqual(t, x.severity(), w.severity())
		}
		// Order does not matter, and it composes.
		rev := make([]Status, len(xs))
		for i, x := range xs {
			rev[len(xs)-1-i] = x
		}
		assert.Equal(t, w, Worst(rev...))
		if len(xs) > 0 && len(ys) > 0 {
			assert.Equal(t, Worst(append(append([]Status{}, xs...), ys...)...), Worst(Worst(xs...), Worst(ys...)))
		}
	})
}
