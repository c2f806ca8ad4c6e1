package autoscaling_test

import (
	"fmt"
	"time"

	"github.com/stevedore-io/stevedore/autoscaling"
)

func ExampleDecide() {
	target := autoscaling.ScalableTarget{MinCapacity: 2, MaxCapacity: 10}
	policy := autoscaling.TargetTrackingPolicy{
		Name: "cpu70", Metric: autoscaling.ECSServiceAverageCPUUtilization, TargetValue: 70,
	}
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

	// 4 tasks at 91% CPU: ceil(4 × 91/70) = 6.
	d := autoscaling.Decide(target, policy, 4, 91, autoscaling.History{}, now)
	fmt.Println(d.Desired)

	// Two minutes after that scale-out, at 20%: the scale-in cooldown holds.
	h := autoscaling.History{LastScaleOut: now}
	d = autoscaling.Decide(target, policy, 6, 20, h, now.Add(2*time.Minute))
	fmt.Println(d.Desired, d.Reason)

	// Five minutes after: ceil(6 × 20/70) = 2.
	d = autoscaling.Decide(target, policy, 6, 20, h, now.Add(5*time.Minute))
	fmt.Println(d.Desired)
	// Output:
	// 6
	// 6 ECSServiceAverageCPUUtilization is 20, target 70: scale-in cooldown until 2026-01-01T12:05:00Z
	// 2
}
