package placement_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/testutil"
	"github.com/stevedore-io/stevedore/placement"
)

// TestRequiredAttributesKeepTasksOnMatchingInstances: a task that requires
// ecs.cpu-architecture arm64 (its runtimePlatform) goes only to an arm64
// instance; with none, the instances are turned down for the attribute,
// in ECS's words.
func TestRequiredAttributesKeepTasksOnMatchingInstances(t *testing.T) {
	t.Parallel()
	s, err := placement.New()
	require.NoError(t, err)
	arm := testutil.Task("web:1").Obj()
	arm.Attributes = map[string]string{cluster.AttributeCPUArchitecture: "arm64"}
	x86 := testutil.Instance("i-1").Attr(cluster.AttributeCPUArchitecture, "x86_64").Obj()
	none := testutil.Instance("i-2").Obj()
	graviton := testutil.Instance("i-3").Attr(cluster.AttributeCPUArchitecture, "arm64").Obj()

	decisions, err := s.NewRound([]cluster.ContainerInstance{x86, none, graviton}, 1).Place(arm, 3)
	require.NoError(t, err)
	require.Len(t, decisions, 3)
	for _, d := range decisions {
		assert.Equal(t, "i-3", d.Instance)
	}

	_, err = s.NewRound([]cluster.ContainerInstance{x86, none}, 1).Place(arm, 1)
	var nf *placement.NoFitError
	require.ErrorAs(t, err, &nf)
	reason := placement.AttributeReason(cluster.AttributeCPUArchitecture)
	assert.Equal(t, placement.Reason("ATTRIBUTE:ecs.cpu-architecture"), reason)
	assert.Equal(t, []placement.ReasonCount{{Reason: reason, Instances: 2}}, nf.Explanation.Reasons)
	assert.Equal(t, "The closest matching container-instance i-1 is missing an attribute required by your task (ecs.cpu-architecture).",
		nf.ClosestMatch())

	plain := testutil.Task("web:1").Obj()
	decisions, err = s.NewRound([]cluster.ContainerInstance{x86}, 1).Place(plain, 1)
	require.NoError(t, err)
	assert.Len(t, decisions, 1, "a task that requires nothing goes anywhere")
}
