package service

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/health"
)

// rebalancing is a steady service of one task per placement with
// availability-zone rebalancing over zones a, b and c.
func rebalancing(placements ...string) Input {
	in := zonedService(placements...)
	in.AZRebalancing, in.Zones = true, []string{"a", "b", "c"}
	return in
}

func TestRebalanceStartsInTheZoneWithTheFewest(t *testing.T) {
	t.Parallel()
	in := rebalancing("a/a1", "a/a1", "a/a1", "c/c1", "c/c1", "c/c1")
	plan := Compute(in)
	assert.Equal(t, []Start{{DeploymentID: "d1", TaskDefinition: "web:1", Count: 1, Zone: "b"}}, plan.Starts)
	assert.Empty(t, plan.Stops)
	assert.True(t, plan.Rebalancing)
	assert.Equal(t, []string{"(service web) is not AZ balanced with 3 tasks in a, 0 in b, and 3 in c. AZ Rebalancing in progress."}, plan.Events)
	assert.True(t, plan.Steady, "a rebalance's start alone keeps the service steady")

	in.Steady = false
	assert.Empty(t, Compute(in).Starts, "ECS watches the balance of steady services only")
	in.Steady, in.AZRebalancing = true, false
	plan = Compute(in)
	assert.Empty(t, plan.Starts, "DISABLED")
	assert.False(t, plan.Rebalancing)
	in.AZRebalancing, in.Zones = true, []string{"a", "c"}
	assert.Empty(t, Compute(in).Starts, "zone b cannot take tasks: 3 and 3 are balanced")

	in = rebalancing("a/a1", "a/a1", "a/a1", "a/a1", "b/b1", "c/c1")
	in.Zones = []string{"a", "c"}
	plan = Compute(in)
	assert.Empty(t, plan.Starts, "zone b still holds a task but takes none: wait for it")
	assert.Empty(t, plan.Stops)
}

func TestRebalanceStopsFromTheZoneWithTheMostOnceTheNewTaskIsHealthy(t *testing.T) {
	t.Parallel()
	in := rebalancing("a/a1", "a/a1", "a/a1", "b/b1", "c/c1", "c/c1")
	in.DesiredCount, in.Rebalancing, in.Steady = 5, true, false
	in.Tasks[3].Phase, in.Tasks[3].Health = PhasePending, health.Unknown
	plan := Compute(in)
	assert.Empty(t, plan.Stops, "the new task is kept while it comes up")
	assert.Empty(t, plan.Starts)
	assert.True(t, plan.Rebalancing)

	in.Tasks[3].Phase, in.Tasks[3].Health = PhaseRunning, health.Healthy
	plan = Compute(in)
	require.Len(t, plan.Stops, 1)
	assert.Contains(t, []string{"t00", "t01", "t02"}, plan.Stops[0].TaskID, "from zone a")
	assert.Equal(t, "AZ rebalancing initiated by (deployment d1)", plan.Stops[0].Reason)
	assert.Equal(t, []string{"(service web) has stopped 1 running tasks in a due to AZ rebalancing: (task " + plan.Stops[0].TaskID + ")."}, plan.Events)

	in = rebalancing("a/a1", "a/a1", "b/b1", "c/c1", "c/c1")
	in.Rebalancing = true
	plan = Compute(in)
	assert.Empty(t, plan.Stops)
	assert.False(t, plan.Rebalancing)
	assert.Equal(t, []string{"(service web) is AZ balanced with 2 tasks in a, 1 tasks in b, and 2 tasks in c."}, plan.Events)
}

func TestRebalanceWithoutRoomStopsFirstWithinTheMinimum(t *testing.T) {
	t.Parallel()
	in := rebalancing("a/a1", "a/a1", "a/a1", "c/c1", "c/c1", "c/c1")
	in.Config = cfg(50, 100)
	plan := Compute(in)
	assert.Empty(t, plan.Starts)
	require.Len(t, plan.Stops, 1)
	in.Config = cfg(100, 100)
	plan = Compute(in)
	assert.Empty(t, plan.Starts, "no room above, no room below")
	assert.Empty(t, plan.Stops)
}
