package placement_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/testutil"
	"github.com/stevedore-io/stevedore/placement"
)

// TestExplainNamesTheClosestInstance: when nothing fits, the explanation
// names the instance that failed the fewest checks, with every check it
// failed, and says it in ECS's words.
func TestExplainNamesTheClosestInstance(t *testing.T) {
	t.Parallel()
	s, err := placement.New()
	require.NoError(t, err)
	req := testutil.Task("web:1").CPU(512).Memory(1024).Port(80).Obj()
	tests := []struct {
		name      string
		instances []cluster.ContainerInstance
		closest   placement.InstanceResult
		words     string
	}{{
		name: "fewest failed checks",
		instances: []cluster.ContainerInstance{
			testutil.Instance("i-a").CPU(100).Memory(100).UsedPorts(cluster.TCPPort(80)).Obj(),
			testutil.Instance("i-b").Memory(512).Obj(),
			testutil.Instance("i-c").Draining().CPU(100).Obj(),
		},
		closest: placement.InstanceResult{Instance: "i-b", Failed: []placement.Reason{placement.ReasonMemory}},
		words:   "The closest matching container-instance i-b has insufficient memory available.",
	}, {
		name: "ties go to the lowest ID",
		instances: []cluster.ContainerInstance{
			testutil.Instance("i-z").CPU(100).Obj(),
			testutil.Instance("i-y").UsedPorts(cluster.TCPPort(80)).Obj(),
		},
		closest: placement.InstanceResult{Instance: "i-y", Failed: []placement.Reason{placement.ReasonPorts}},
		words:   "The closest matching container-instance i-y is already using a port required by your task.",
	}, {
		name:      "cpu",
		instances: []cluster.ContainerInstance{testutil.Instance("i-1").CPU(100).Obj()},
		closest:   placement.InstanceResult{Instance: "i-1", Failed: []placement.Reason{placement.ReasonCPU}},
		words:     "The closest matching container-instance i-1 has insufficient CPU units available.",
	}, {
		name:      "agent",
		instances: []cluster.ContainerInstance{testutil.Instance("i-1").Disconnected().Obj()},
		closest:   placement.InstanceResult{Instance: "i-1", Failed: []placement.Reason{placement.ReasonAgent}},
		words:     `The closest matching container-instance i-1 encountered error "AGENT".`,
	}, {
		name:      "every check failed, in order",
		instances: []cluster.ContainerInstance{testutil.Instance("i-1").Draining().CPU(1).Memory(1).UsedPorts(cluster.TCPPort(80)).Obj()},
		closest: placement.InstanceResult{Instance: "i-1", Failed: []placement.Reason{placement.ReasonDraining,
			placement.ReasonCPU, placement.ReasonMemory, placement.ReasonPorts}},
		words: `The closest matching container-instance i-1 encountered error "DRAINING".`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			expl, err := s.NewRound(tt.instances, 1).Explain(req)
			require.NoError(t, err)
			assert.Equal(t, tt.closest, expl.Closest)
			assert.Equal(t, tt.words, expl.ClosestMatch())
			// Counted under its first failed check, as before.
			assert.Contains(t, expl.Reasons, placement.ReasonCount{Reason: tt.closest.Failed[0], Instances: 1})
		})
	}

	t.Run("some instance fits", func(t *testing.T) {
		t.Parallel()
		expl, err := s.NewRound([]cluster.ContainerInstance{testutil.Instance("i-1").Obj(), testutil.Instance("i-2").CPU(1).Obj()}, 1).Explain(req)
		require.NoError(t, err)
		assert.Zero(t, expl.Closest)
		assert.Empty(t, expl.ClosestMatch())
	})
	t.Run("no instances", func(t *testing.T) {
		t.Parallel()
		_, err := s.NewRound(nil, 1).Place(req, 1)
		var nf *placement.NoFitError
		require.ErrorAs(t, err, &nf)
		assert.Equal(t, "Reason: No Container Instances were found in your cluster.", nf.ClosestMatch())
	})
	t.Run("in the NoFitError", func(t *testing.T) {
		t.Parallel()
		big := testutil.Task("web:1").Memory(1024).Obj()
		_, err := s.NewRound([]cluster.ContainerInstance{testutil.Instance("i-1").Memory(2048).Obj()}, 1).Place(big, 3)
		var nf *placement.NoFitError
		require.ErrorAs(t, err, &nf)
		assert.Equal(t, "The closest matching container-instance i-1 has insufficient memory available.", nf.ClosestMatch())
	})
}
