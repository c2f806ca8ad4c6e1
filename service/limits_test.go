package service

import (
	"fmt"
	"math"
	"testing"

	"github.com/stevedore-io/stevedore/errdefs"
	"github.com/stevedore-io/stevedore/placement"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A desiredCount past MaxDesiredCount is refused: from about 4.6e16 up,
// desiredCount times maximumPercent overflowed, and the service was
// accepted to run nothing.
func TestValidateBoundsDesiredCount(t *testing.T) {
	t.Parallel()
	svc := func(n int) Service {
		return Service{Name: "web", TaskDefinition: "web:1", SchedulingStrategy: Replica, DesiredCount: n}
	}
	for _, n := range []int{0, 1, MaxDesiredCount} {
		s := svc(n)
		require.NoError(t, s.Validate(), "desiredCount %d", n)
	}
	for _, n := range []int{-1, MaxDesiredCount + 1, 46_116_860_184_273_880, math.MaxInt} {
		s := svc(n)
		err := s.Validate()
		require.ErrorIs(t, err, ErrInvalid, "desiredCount %d", n)
		fes := errdefs.FieldErrors(err)
		require.Len(t, fes, 1)
		assert.Equal(t, "desiredCount", fes[0].Path)
		assert.Contains(t, fes[0].Reason, "must be between 0 and 10000")
	}
	// What the bound protects: the deployment bounds of the largest
	// count stay exact.
	lo, hi := DeploymentConfiguration{MaximumPercent: new(MaxMaximumPercent)}.Bounds(Replica, MaxDesiredCount)
	assert.Equal(t, MaxDesiredCount, lo)
	assert.Equal(t, MaxDesiredCount*MaxMaximumPercent/100, hi)
}

// A service registers with at most MaxLoadBalancers target groups.
func TestValidateBoundsLoadBalancers(t *testing.T) {
	t.Parallel()
	s := Service{Name: "web", TaskDefinition: "web:1", SchedulingStrategy: Replica, DesiredCount: 1}
	for i := range MaxLoadBalancers + 1 {
		s.LoadBalancers = append(s.LoadBalancers, LoadBalancer{TargetGroup: fmt.Sprintf("tg-%d", i), ContainerName: "app", ContainerPort: 80})
	}
	err := s.Validate()
	require.ErrorIs(t, err, ErrInvalid)
	fes := errdefs.FieldErrors(err)
	require.Len(t, fes, 1)
	assert.Equal(t, "loadBalancers", fes[0].Path)
	s.LoadBalancers = s.LoadBalancers[:MaxLoadBalancers]
	require.NoError(t, s.Validate())
}

// A placement strategy of a custom type is left to the scheduler it is
// registered on; a built-in one with a bad field is still refused here.
func TestValidateLeavesCustomStrategyTypesToTheScheduler(t *testing.T) {
	t.Parallel()
	s := Service{Name: "web", TaskDefinition: "web:1", SchedulingStrategy: Replica, DesiredCount: 1,
		PlacementStrategy: []placement.StrategySpec{{Type: "gpu-first", Field: "memory"}}}
	require.NoError(t, s.Validate())
	s.PlacementStrategy = append(s.PlacementStrategy, placement.Binpack("gpu"))
	fes := errdefs.FieldErrors(s.Validate())
	require.Len(t, fes, 1)
	assert.Equal(t, "placementStrategy[1].field", fes[0].Path)
}
