package cluster_test

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/errdefs"
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
	var fe *errdefs.FieldError
	require.ErrorAs(t, ci.Validate(), &fe)
	assert.Equal(t, "registeredResources.memory", fe.Path)

	// A release that would overflow the remaining amount is refused.
	ci = testutil.Instance("i-1").Obj()
	before := ci.Remaining
	require.Error(t, ci.Release(cluster.Resources{Memory: math.MaxInt}))
	assert.Equal(t, before, ci.Remaining)
}

// Errors about a name quote at most a short prefix of it: a cluster,
// capacity provider or attribute name of a megabyte came back whole in the
// error (and in every log line and API answer carrying it).
func TestNameErrorsQuoteABoundedPrefix(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 1<<19) + "!" // 1 MiB, and not a valid name
	check := func(t *testing.T, err error, field string) {
		t.Helper()
		require.ErrorIs(t, err, cluster.ErrInvalid)
		var fe *errdefs.FieldError
		require.ErrorAs(t, err, &fe)
		assert.Contains(t, fe.Path, field)
		msg := err.Error()
		assert.Less(t, len(msg), 400, "the error echoes the whole name: %.200s", msg)
		assert.Contains(t, msg, fmt.Sprintf("(%d bytes)", len(long)), "the error says how long the name was")
		assert.True(t, utf8.ValidString(msg), "the cut falls between characters")
	}
	t.Run("cluster", func(t *testing.T) {
		t.Parallel()
		c := cluster.Cluster{Name: long, Status: cluster.ClusterActive}
		check(t, c.Validate(), "clusterName")
	})
	t.Run("capacity provider", func(t *testing.T) {
		t.Parallel()
		err := cluster.CapacityProviderStrategy{{CapacityProvider: long, Weight: 1}}.Validate()
		check(t, err, "capacityProviderStrategy[0].capacityProvider")
	})
	t.Run("status", func(t *testing.T) {
		t.Parallel()
		c := cluster.Cluster{Name: "prod", Status: cluster.ClusterStatus(long)}
		check(t, c.Validate(), "status")
	})
	t.Run("attribute name", func(t *testing.T) {
		t.Parallel()
		ci := testutil.Instance("i-1").Obj()
		ci.Attributes[long] = "x"
		check(t, ci.Validate(), "attributes[")
	})
	t.Run("short names whole", func(t *testing.T) {
		t.Parallel()
		c := cluster.Cluster{Name: "a b", Status: cluster.ClusterActive}
		assert.Contains(t, c.Validate().Error(), `"a b"`)
	})
}
