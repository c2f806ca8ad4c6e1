package stevedore_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/store"
)

func TestSubscriptionEndsWithTheOrchestrator(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o, err := stevedore.New()
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, o.Close()) })
		ch, err := o.Subscribe(t.Context())
		require.NoError(t, err)
		_, err = o.CreateCluster(t.Context(), &stevedore.CreateClusterInput{ClusterName: "test"})
		require.NoError(t, err)
		_, err = o.RegisterContainerInstance(t.Context(), &stevedore.RegisterContainerInstanceInput{Cluster: "test", InstanceID: "i-1"})
		require.NoError(t, err)
		synctest.Wait()
		ev := <-ch
		assert.Equal(t, stevedore.EventInstanceStateChange, ev.Type)

		require.NoError(t, o.Close())
		select {
		case _, open := <-ch:
			assert.False(t, open, "the channel closes with the Orchestrator")
		case <-time.After(time.Minute):
			t.Fatal("the subscription outlived Close")
		}
		_, err = o.Subscribe(t.Context())
		assert.ErrorIs(t, err, store.ErrClosed, "its store is closed")
	})
}
