package bolt_test

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bbolt "go.etcd.io/bbolt"

	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/bolt"
	"github.com/stevedore-io/stevedore/task"
)

// FuzzLoad puts arbitrary bytes where the file keeps an object of one of
// Stevedore's kinds, and opens the file. Open never panics: it refuses
// what does not decode into an object of that kind and ID with ErrCorrupt
// (or a *store.SchemaError for a newer version), and what it accepts reads
// back under its ID. The seeds are real objects of every kind.
func FuzzLoad(f *testing.F) {
	codec := state.Codec()
	kinds := slices.Sorted(maps.Keys(state.Schemas()))
	td, _, err := task.ParseDefinition([]byte(`{"family":"web","containerDefinitions":[{"name":"app","image":"busybox","memory":64}]}`))
	require.NoError(f, err)
	td.Revision = 1
	tk, err := task.NewTask("arn:aws:ecs:local:0:task/prod/0123", td, nil, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	require.NoError(f, err)
	meta := store.Meta{CreateRevision: 1, ModRevision: 1}
	type seed struct {
		kind, id string
		data     []byte
	}
	var seeds []seed
	for _, obj := range []store.Object{
		&state.TaskDefinition{Meta: meta, TaskDefinition: td},
		&state.Task{Meta: meta, Task: tk},
		&state.Service{Meta: meta, Service: service.Service{Name: "web", Cluster: "prod"}},
		&state.Scaling{Meta: meta, Cluster: "prod", Service: "web"},
	} {
		data, err := codec.Marshal(obj)
		require.NoError(f, err)
		seeds = append(seeds, seed{obj.Kind(), obj.ObjectID(), data})
		k := uint8(slices.Index(kinds, obj.Kind()))
		f.Add(k, obj.ObjectID(), data)
		f.Add(k, obj.ObjectID(), []byte(`{}`))
		f.Add(k, obj.ObjectID(), []byte(`{"schema":0,"meta":{"createRevision":1,"modRevision":1},"object":{}}`))
	}

	template := filepath.Join(f.TempDir(), "state.db")
	s, err := bolt.Open(template, bolt.WithCodec(codec))
	require.NoError(f, err)
	require.NoError(f, s.Close())
	empty, err := os.ReadFile(template)
	require.NoError(f, err)

	// load writes value at kind/id of a store file made from empty, as a
	// checkpoint at revision 2^32 (with an empty log after it), and opens
	// the file.
	load := func(t testing.TB, kind, id string, value []byte) (*bolt.Store, error) {
		path := filepath.Join(t.TempDir(), "state.db")
		require.NoError(t, os.WriteFile(path, empty, 0o600))
		db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
		require.NoError(t, err)
		require.NoError(t, db.Update(func(tx *bbolt.Tx) error {
			b, err := tx.Bucket([]byte("objects")).CreateBucketIfNotExists([]byte(kind))
			if err != nil {
				return err
			}
			if err := b.Put([]byte(id), value); err != nil {
				return err
			}
			return tx.Bucket([]byte("meta")).Put([]byte("checkpoint"), []byte{0, 0, 0, 1, 0, 0, 0, 0})
		}))
		require.NoError(t, db.Close())
		require.NoError(t, bolt.ResetLog(path, 1<<32))
		return bolt.Open(path, bolt.WithCodec(codec))
	}
	// The real objects load: the target reaches past the refusals.
	for _, seed := range seeds {
		s, err := load(f, seed.kind, seed.id, seed.data)
		require.NoError(f, err, "seed %s/%s", seed.kind, seed.id)
		require.NoError(f, s.Close())
	}
	f.Fuzz(func(t *testing.T, k uint8, id string, value []byte) {
		if id == "" || len(id) > 1024 {
			return // bbolt takes no such key
		}
		kind := kinds[int(k)%len(kinds)]
		s, err := load(t, kind, id, value)
		if err != nil {
			var schemaErr *store.SchemaError
			require.True(t, errors.Is(err, bolt.ErrCorrupt) || errors.As(err, &schemaErr), "%v", err)
			return
		}
		defer s.Close()
		require.NoError(t, s.View(t.Context(), func(tx store.ReadTx) error {
			obj, err := tx.Get(kind, id)
			if err == nil {
				require.Equal(t, id, obj.ObjectID())
			}
			return err
		}))
	})
}
