package store_test

import (
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

	tests := []struct {
		name string
		kind string
		data string
	}{
		{"UnknownKind", "nosuchkind", `{}`},
		{"KindMismatch", storetest.KindA, `{"group":"beta","id":"a"}`},
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
