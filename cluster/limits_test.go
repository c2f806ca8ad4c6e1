package cluster_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/testutil"
)

// Amounts past the ECS API's 32-bit integers are refused: an instance
// registered with math.MaxInt MiB could take back a release whose sum
// wrapped to a negative remaining amount.
func TestResourceAmountsAreBounded(t *testing.T) {
	t.Parallel()
	for _, r := range []cluster.Resources{
		{CPU: cluster.MaxAmount + 1},
		{Memory: math.MaxInt},
		{NetworkSlots: 1 << 40},
		{Memory: -1},
	} {
		err := r.Validate()
		require.ErrorIs(t, err, cluster.ErrInvalid, "%+v", r)
		assert.Contains(t, err.Error(), "must be between 0 and 2147483647")
	}
	require.NoError(t, cluster.Resources{CPU: cluster.MaxAmount, Memory: cluster.MaxAmount, NetworkSlots: cluster.MaxAmount}.Validate())

	ci := testutil.Instance("i-1").Obj()
	ci.Registered.Memory, ci.Remaining.Memory = math.MaxInt, math.MaxInt-1
	var fe *cluster.FieldError
	require.ErrorAs(t, ci.Validate(), &fe)
	assert.Equal(t, "registeredResources.memory", fe.Field)

	// A release that would overflow the remaining amount is refused.
	ci = testutil.Instance("i-1").Obj()
	before := ci.Remaining
	require.Error(t, ci.Release(cluster.Resources{Memory: math.MaxInt}))
	assert.Equal(t, before, ci.Remaining)
}
