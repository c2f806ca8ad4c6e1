package memory_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/memory"
	"github.com/stevedore-io/stevedore/store/storetest"
)

func newStore(t *testing.T, limits storetest.Limits) store.Store {
	var opts []memory.Option
	if limits.History > 0 {
		opts = append(opts, memory.WithHistory(limits.History))
	}
	if limits.WatchBuffer > 0 {
		opts = append(opts, memory.WithWatchBuffer(limits.WatchBuffer))
	}
	s, err := memory.New(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, newStore)
}
