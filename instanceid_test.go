package stevedore_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/cluster"
)

// TestRegisterRefusesBadInstanceIDs: instance IDs name agents' state
// directories and label containers, so they are validated like every other
// name (cluster.ValidateInstanceID).
func TestRegisterRefusesBadInstanceIDs(t *testing.T) {
	t.Parallel()
	o, err := stevedore.New()
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, o.Close()) })
	_, err = o.CreateCluster(t.Context(), &stevedore.CreateClusterInput{ClusterName: "test"})
	require.NoError(t, err)
	for _, id := range []string{"../../tmp/x", "a/b", `a\b`, "..", "a b", "a\x00"} {
		_, err := o.RegisterContainerInstance(t.Context(), &stevedore.RegisterContainerInstanceInput{
			Cluster: "test", InstanceID: id, Resources: cluster.Resources{CPU: 1024, Memory: 1024},
		})
		require.ErrorIs(t, err, stevedore.ErrInvalid, "%q", id)
		var fe *stevedore.FieldError
		require.ErrorAs(t, err, &fe, "%q", id)
		assert.Equal(t, "id", fe.Path)
	}
}
