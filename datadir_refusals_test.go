package stevedore_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/bolt"
)

// TestDataDirWrittenByANewerRelease: a data directory whose file holds an
// object at a schema version newer than this build reads is refused with
// an error that says so and names the file, and the file is left alone.
func TestDataDirWrittenByANewerRelease(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	schemas := state.Schemas()
	clusters := schemas[state.KindClusters]
	clusters.Migrations = append(clusters.Migrations, func(o json.RawMessage) (json.RawMessage, error) { return o, nil })
	schemas[state.KindClusters] = clusters
	newer, err := store.NewSchemaCodec(schemas)
	require.NoError(t, err)
	s, err := bolt.Open(path, bolt.WithCodec(newer))
	require.NoError(t, err)
	create := func(tx store.Tx) error { return tx.Create(&state.Cluster{Cluster: cluster.Cluster{Name: "prod"}}) }
	require.NoError(t, s.Update(t.Context(), create))
	require.NoError(t, s.Close())
	before, err := os.ReadFile(path)
	require.NoError(t, err)

	_, err = stevedore.New(stevedore.WithDataDir(dir))
	t.Log(err)
	var schemaErr *store.SchemaError
	require.ErrorAs(t, err, &schemaErr)
	assert.Equal(t, state.KindClusters, schemaErr.Kind)
	assert.Equal(t, 1, schemaErr.Version)
	assert.Contains(t, err.Error(), "newer release")
	assert.Contains(t, err.Error(), path)
	assert.False(t, errors.Is(err, bolt.ErrCorrupt), "a newer file is not a damaged one")
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, before, after, "the file is left as it was")
}
