package bolt

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/store"
)

// FuzzDecodeEvent checks that decoding a history event never panics and
// that whatever decodes survives encoding and decoding again.
func FuzzDecodeEvent(f *testing.F) {
	f.Add(encodeEvent(store.Created, "tasks", "t-1", []byte(`{"schema":0}`), nil))
	f.Add(encodeEvent(store.Updated, "tasks", "t-1", []byte(`{"a":2}`), []byte(`{"a":1}`)))
	f.Add(encodeEvent(store.Deleted, "services", "prod/web", nil, []byte(`{}`)))
	f.Add([]byte{})
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := decodeEvent(data)
		if err != nil {
			return
		}
		again, err := decodeEvent(encodeEvent(ev.typ, ev.kind, ev.id, ev.obj, ev.prev))
		require.NoError(t, err)
		require.Equal(t, ev, again)
	})
}

func TestHistoryKey(t *testing.T) {
	t.Parallel()
	k := historyKey(1<<40+5, 7)
	require.Len(t, k, 12)
	require.Equal(t, int64(1<<40+5), historyRevision(k))
	require.Equal(t, int64(-1), historyRevision(k[:8]))
	require.Less(t, string(historyKey(9, 300)), string(historyKey(10, 0)), "keys sort by revision, then index")
}
