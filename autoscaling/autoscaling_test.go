package autoscaling_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/stevedore-io/stevedore/autoscaling"
	"github.com/stevedore-io/stevedore/errdefs"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestDecide(t *testing.T) {
	t.Parallel()
	target := autoscaling.ScalableTarget{MinCapacity: 1, MaxCapacity: 10}
	policy := autoscaling.TargetTrackingPolicy{Name: "p", Metric: "queue", TargetValue: 50}
	noScaleIn := policy
	noScaleIn.DisableScaleIn = true
	short := policy
	short.ScaleOutCooldown, short.ScaleInCooldown = time.Minute, 2*time.Minute
	for _, tc := range []struct {
		name    string
		policy  autoscaling.TargetTrackingPolicy
		current int
		metric  float64
		history autoscaling.History
		now     time.Time
		want    int
	}{
		{"at target", policy, 3, 50, autoscaling.History{}, t0, 3},
		{"scale out", policy, 3, 100, autoscaling.History{}, t0, 6},
		{"scale out rounds up", policy, 3, 51, autoscaling.History{}, t0, 4},
		{"scale out clamped to max", policy, 3, 1000, autoscaling.History{}, t0, 10},
		{"scale out in cooldown", policy, 3, 100, autoscaling.History{LastScaleOut: t0.Add(-299 * time.Second)}, t0, 3},
		{"scale out after cooldown", policy, 3, 100, autoscaling.History{LastScaleOut: t0.Add(-300 * time.Second)}, t0, 6},
		{"scale out ignores scale-in cooldown", policy, 3, 100, autoscaling.History{LastScaleIn: t0.Add(-time.Second)}, t0, 6},
		{"custom cooldown", short, 3, 100, autoscaling.History{LastScaleOut: t0.Add(-time.Minute)}, t0, 6},
		{"scale in", policy, 4, 20, autoscaling.History{}, t0, 2},
		{"scale in clamped to min", policy, 4, 0, autoscaling.History{}, t0, 1},
		{"scale in within tolerance", policy, 10, 45.5, autoscaling.History{}, t0, 10},
		{"scale in just beyond tolerance", policy, 10, 44, autoscaling.History{}, t0, 9},
		{"scale in after a recent scale out", policy, 4, 20, autoscaling.History{LastScaleOut: t0.Add(-time.Minute)}, t0, 4},
		{"scale in after a recent scale in", policy, 4, 20, autoscaling.History{LastScaleIn: t0.Add(-time.Minute)}, t0, 4},
		{"scale in after cooldown", policy, 4, 20, autoscaling.History{LastScaleIn: t0.Add(-5 * time.Minute)}, t0, 2},
		{"custom scale-in cooldown", short, 4, 20, autoscaling.History{LastScaleOut: t0.Add(-2 * time.Minute)}, t0, 2},
		{"scale in disabled", noScaleIn, 4, 0, autoscaling.History{}, t0, 4},
		{"scale out with scale in disabled", noScaleIn, 4, 100, autoscaling.History{}, t0, 8},
		{"above max comes down whatever", noScaleIn, 12, 100, autoscaling.History{LastScaleIn: t0}, t0, 10},
		{"below min comes up whatever", policy, 0, 0, autoscaling.History{LastScaleOut: t0}, t0, 1},
		{"huge metric", policy, 3, math.MaxFloat64, autoscaling.History{}, t0, 10},
		{"no metric", policy, 3, math.NaN(), autoscaling.History{}, t0, 3},
		{"negative metric", policy, 3, -1, autoscaling.History{}, t0, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := autoscaling.Decide(target, tc.policy, tc.current, tc.metric, tc.history, tc.now)
			assert.Equal(t, tc.want, d.Desired, d.Reason)
			assert.NotEmpty(t, d.Reason)
		})
	}
}

func TestDecideFromZero(t *testing.T) {
	t.Parallel()
	target := autoscaling.ScalableTarget{MinCapacity: 0, MaxCapacity: 10}
	p := autoscaling.TargetTrackingPolicy{Name: "p", Metric: "queue", TargetValue: 50}
	assert.Equal(t, 0, autoscaling.Decide(target, p, 0, 500, autoscaling.History{}, t0).Desired)
}

func TestCombine(t *testing.T) {
	t.Parallel()
	assert.Equal(t, 4, autoscaling.Combine(4).Desired)
	assert.Equal(t, 6, autoscaling.Combine(4, autoscaling.Decision{Desired: 2}, autoscaling.Decision{Desired: 6}).Desired)
	// One policy holding the count keeps the others from scaling in.
	assert.Equal(t, 4, autoscaling.Combine(4, autoscaling.Decision{Desired: 2}, autoscaling.Decision{Desired: 4}).Desired)
}

func TestValidate(t *testing.T) {
	t.Parallel()
	good := autoscaling.TargetTrackingPolicy{Name: "p", Metric: autoscaling.ECSServiceAverageCPUUtilization, TargetValue: 70}
	require.NoError(t, good.Validate())
	for _, tc := range []struct {
		field string
		edit  func(*autoscaling.TargetTrackingPolicy)
	}{
		{"policyName", func(p *autoscaling.TargetTrackingPolicy) { p.Name = "" }},
		{"metric", func(p *autoscaling.TargetTrackingPolicy) { p.Metric = "" }},
		{"targetValue", func(p *autoscaling.TargetTrackingPolicy) { p.TargetValue = 0 }},
		{"targetValue", func(p *autoscaling.TargetTrackingPolicy) { p.TargetValue = math.NaN() }},
		{"scaleOutCooldown", func(p *autoscaling.TargetTrackingPolicy) { p.ScaleOutCooldown = -1 }},
		{"scaleInCooldown", func(p *autoscaling.TargetTrackingPolicy) { p.ScaleInCooldown = -1 }},
	} {
		p := good
		tc.edit(&p)
		err := p.Validate()
		require.ErrorIs(t, err, autoscaling.ErrInvalid)
		var fe *errdefs.FieldError
		require.True(t, errors.As(err, &fe))
		assert.Equal(t, tc.field, fe.Path)
	}
	require.NoError(t, autoscaling.ScalableTarget{MinCapacity: 0, MaxCapacity: 0}.Validate())
	for field, target := range map[string]autoscaling.ScalableTarget{
		"minCapacity": {MinCapacity: -1, MaxCapacity: 1},
		"maxCapacity": {MinCapacity: 2, MaxCapacity: 1},
	} {
		var fe *errdefs.FieldError
		require.ErrorAs(t, target.Validate(), &fe)
		assert.Equal(t, field, fe.Path)
	}
	var fe *errdefs.FieldError
	require.ErrorAs(t, autoscaling.ScalableTarget{MaxCapacity: autoscaling.MaxCapacityLimit + 1}.Validate(), &fe)
	assert.Equal(t, "maxCapacity", fe.Path)
}

// TestDecideProperties checks the safety invariants on random inputs.
func TestDecideProperties(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		lo := rapid.IntRange(0, 20).Draw(t, "min")
		target := autoscaling.ScalableTarget{MinCapacity: lo, MaxCapacity: rapid.IntRange(lo, 50).Draw(t, "max")}
		p := autoscaling.TargetTrackingPolicy{
			Name: "p", Metric: "m",
			TargetValue:      rapid.Float64Range(0.1, 100).Draw(t, "target"),
			ScaleOutCooldown: time.Duration(rapid.IntRange(0, 600).Draw(t, "out")) * time.Second,
			ScaleInCooldown:  time.Duration(rapid.IntRange(0, 600).Draw(t, "in")) * time.Second,
			DisableScaleIn:   rapid.Bool().Draw(t, "disableScaleIn"),
		}
		current := rapid.IntRange(0, 60).Draw(t, "current")
		metric := rapid.OneOf(rapid.Float64Range(0, 1000), rapid.Float64Range(0, math.MaxFloat64)).Draw(t, "metric")
		h := autoscaling.History{
			LastScaleOut: t0.Add(-time.Duration(rapid.IntRange(0, 900).Draw(t, "sinceOut")) * time.Second),
			LastScaleIn:  t0.Add(-time.Duration(rapid.IntRange(0, 900).Draw(t, "sinceIn")) * time.Second),
		}
		d := autoscaling.Decide(target, p, current, metric, h, t0)
		p = p.WithDefaults()
		// Always within the range.
		require.GreaterOrEqual(t, d.Desired, target.MinCapacity, d.Reason)
		require.LessOrEqual(t, d.Desired, target.MaxCapacity, d.Reason)
		inRange := current >= target.MinCapacity && current <= target.MaxCapacity
		if !inRange {
			require.Equal(t, target.Clamp(current), d.Desired)
			return
		}
		// Never against the metric's direction.
		if metric >= p.TargetValue {
			require.GreaterOrEqual(t, d.Desired, current, d.Reason)
		}
		if metric <= p.TargetValue {
			require.LessOrEqual(t, d.Desired, current, d.Reason)
		}
		if d.Desired > current {
			require.GreaterOrEqual(t, t0.Sub(h.LastScaleOut), p.ScaleOutCooldown, "scale-out in cooldown")
		}
		if d.Desired < current {
			require.False(t, p.DisableScaleIn, "scale-in disabled")
			require.Less(t, metric, p.TargetValue*(1-autoscaling.ScaleInTolerance), "scale-in within tolerance")
			require.GreaterOrEqual(t, t0.Sub(h.LastScaleOut), p.ScaleInCooldown, "scale-in after scale-out")
			require.GreaterOrEqual(t, t0.Sub(h.LastScaleIn), p.ScaleInCooldown, "scale-in after scale-in")
		}
		// At the new count the metric would be near the target: the
		// count is no larger than needed.
		if d.Desired > current && d.Desired < target.MaxCapacity {
			require.LessOrEqual(t, float64(d.Desired-1)*p.TargetValue, float64(current)*metric+1e-6)
		}
	})
}
