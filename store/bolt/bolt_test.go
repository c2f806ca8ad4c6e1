package bolt_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/bolt"
	"github.com/stevedore-io/stevedore/store/storetest"
)

// itemCodec encodes the conformance suite's objects.
func itemCodec() store.Codec { return storetest.Codec() }

func limitOpts(limits storetest.Limits) []bolt.Option {
	opts := []bolt.Option{bolt.WithCodec(itemCodec())}
	if limits.History > 0 {
		opts = append(opts, bolt.WithHistory(limits.History))
	}
	if limits.WatchBuffer > 0 {
		opts = append(opts, bolt.WithWatchBuffer(limits.WatchBuffer))
	}
	return opts
}

// open opens path and closes the store when the test ends.
func open(t testing.TB, path string, opts ...bolt.Option) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(path, append([]bolt.Option{bolt.WithCodec(itemCodec())}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, limits storetest.Limits) store.Store {
		return open(t, filepath.Join(t.TempDir(), "state.db"), limitOpts(limits)...)
	})
}
