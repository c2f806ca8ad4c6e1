package store_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/storetest"
)

func TestJSONCodec(t *testing.T) {
	t.Parallel()
	codec := store.NewJSONCodec(map[string]func() store.Object{
		storetest.KindA:     func() store.Object { return &storetest.Item{Group: storetest.KindA} },
		storetest.OtherKind: func() store.Object { return new(storetest.Other) },
	})

	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		in := &storetest.Item{Group: storetest.KindA, ID: "a", Value: 7,
			Meta: store.Meta{CreateRevision: 3, ModRevision: 9}}
		data, err := codec.Marshal(in)
		require.NoError(t, err)
		out, err := codec.Unmarshal(storetest.KindA, data)
		require.NoError(t, err)
		assert.Equal(t, in, out)
		assert.NotSame(t, in, out)
	})

	t.Run("AppendMarshal", func(t *testing.T) {
		t.Parallel()
		in := &storetest.Item{Group: storetest.KindA, ID: "a<b>&", Value: 7,
			Meta: store.Meta{CreateRevision: 3, ModRevision: 9}}
		want, err := codec.Marshal(in)
		require.NoError(t, err)
		body, err := json.Marshal(in)
		require.NoError(t, err)
		assert.Contains(t, string(want), `"object":`+string(body)+`}`, "the object as json.Marshal writes it")
		got, err := codec.AppendMarshal([]byte("prefix"), in)
		require.NoError(t, err)
		assert.Equal(t, "prefix"+string(want), string(got), "appended after what dst held")

		got, err = codec.AppendMarshal([]byte("prefix"), &storetest.Item{Group: "nosuchkind", ID: "a"})
		require.ErrorIs(t, err, store.ErrInvalid)
		assert.Nil(t, got)
	})

	tests := []struct {
		name string
		kind string
		data string
	}{
		{"UnknownKind", "nosuchkind", `{}`},
		{"KindMismatch", storetest.KindA, `{"schema":0,"object":{"group":"beta","id":"a"}}`},
		{"NoEnvelope", storetest.KindA, `{"group":"alpha","id":"a"}`},
		{"NoID", storetest.KindA, `{"schema":0,"object":{"group":"alpha"}}`},
		{"NegativeSchema", storetest.KindA, `{"schema":-1,"object":{"group":"alpha","id":"a"}}`},
		{"NotAnObject", storetest.KindA, `{"schema":0,"object":[1]}`},
		{"Null", storetest.KindA, `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := codec.Unmarshal(tt.kind, []byte(tt.data))
			require.ErrorIs(t, err, store.ErrInvalid)
		})
	}

	t.Run("BadJSON", func(t *testing.T) {
		t.Parallel()
		_, err := codec.Unmarshal(storetest.OtherKind, []byte(`{`))
		require.Error(t, err)
		assert.Contains(t, err.Error(), storetest.OtherKind)
	})

	t.Run("MarshalNil", func(t *testing.T) {
		t.Parallel()
		_, err := codec.Marshal(nil)
		require.ErrorIs(t, err, store.ErrInvalid)
	})
}

func TestJSONCodecSchemaMigration(t *testing.T) {
	t.Parallel()
	v0, v1 := storetest.SchemaCodecs()
	version, ok := v1.Version(storetest.KindA)
	require.True(t, ok)
	require.Equal(t, 1, version)

	old, err := v0.Marshal(&storetest.ItemV0{Group: storetest.KindA, ID: "a", Val: 42,
		Meta: store.Meta{CreateRevision: 2, ModRevision: 5}})
	require.NoError(t, err)
	require.Contains(t, string(old), `"schema":0`)

	t.Run("OlderIsMigrated", func(t *testing.T) {
		t.Parallel()
		got, err := v1.Unmarshal(storetest.KindA, old)
		require.NoError(t, err)
		assert.Equal(t, &storetest.Item{Group: storetest.KindA, ID: "a", Value: 42,
			Meta: store.Meta{CreateRevision: 2, ModRevision: 5}}, got)

		again, err := v1.Marshal(got)
		require.NoError(t, err)
		assert.Contains(t, string(again), `"schema":1`, "objects are written at the current version")
		back, err := v1.Unmarshal(storetest.KindA, again)
		require.NoError(t, err)
		assert.Equal(t, got, back)
	})

	t.Run("NewerIsRefused", func(t *testing.T) {
		t.Parallel()
		newer, err := v1.Marshal(&storetest.Item{Group: storetest.KindA, ID: "a"})
		require.NoError(t, err)
		_, err = v0.Unmarshal(storetest.KindA, newer)
		var schemaErr *store.SchemaError
		require.ErrorAs(t, err, &schemaErr)
		assert.Equal(t, store.SchemaError{Kind: storetest.KindA, Version: 1, Current: 0}, *schemaErr)
		require.ErrorIs(t, err, store.ErrInvalid)
		assert.Contains(t, err.Error(), "newer release")
	})

	t.Run("FailingMigration", func(t *testing.T) {
		t.Parallel()
		broken, err := store.NewSchemaCodec(map[string]store.Schema{
			storetest.KindA: {New: func() store.Object { return new(storetest.Item) }, Migrations: []store.Migration{
				func(json.RawMessage) (json.RawMessage, error) { return nil, errors.New("no way") },
			}},
		})
		require.NoError(t, err)
		_, err = broken.Unmarshal(storetest.KindA, old)
		require.ErrorIs(t, err, store.ErrInvalid)
		assert.Contains(t, err.Error(), "from schema version 0 to 1")
	})
}

func TestNewSchemaCodecInvalid(t *testing.T) {
	t.Parallel()
	newItem := func() store.Object { return new(storetest.Item) }
	tests := []struct {
		name    string
		schemas map[string]store.Schema
	}{
		{"NoNew", map[string]store.Schema{"alpha": {}}},
		{"NilMigration", map[string]store.Schema{"alpha": {New: newItem, Migrations: []store.Migration{nil}}}},
		{"BadKind", map[string]store.Schema{"al/pha": {New: newItem}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := store.NewSchemaCodec(tt.schemas)
			require.ErrorIs(t, err, store.ErrInvalid)
		})
	}
}

func TestJSONCodecMarshalInvalid(t *testing.T) {
	t.Parallel()
	codec := store.NewJSONCodec(map[string]func() store.Object{
		storetest.KindA: func() store.Object { return new(storetest.Item) },
	})
	for name, obj := range map[string]store.Object{
		"UnknownKind": &storetest.Item{Group: storetest.KindB, ID: "b"},
		"EmptyID":     &storetest.Item{Group: storetest.KindA},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := codec.Marshal(obj)
			require.ErrorIs(t, err, store.ErrInvalid)
		})
	}
}
