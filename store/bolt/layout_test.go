package bolt

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/store"
)

// FuzzDecodeEvent checks that decoding a history event never panics and
// that whatever decodes survives encoding and decoding again.
func FuzzDecodeEvent(f *testing.F) {
	f.Add(event(store.Created, "tasks", "t-1", []byte(`{"schema":0}`), nil))
	f.Add(event(store.Updated, "tasks", "t-1", []byte(`{"a":2}`), []byte(`{"a":1}`)))
	f.Add(event(store.Deleted, "services", "prod/web", nil, []byte(`{}`)))
	f.Add([]byte{})
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := decodeEvent(data)
		if err != nil {
			return
		}
		b, obj := encodeEvent(ev.typ, ev.kind, ev.id, ev.obj, ev.prev)
		again, err := decodeEvent(b)
		require.NoError(t, err)
		require.Equal(t, ev, again)
		require.Equal(t, ev.obj, obj, "the object's bytes within the event")
		require.Equal(t, len(obj), cap(obj), "appending to them cannot write over the event")
	})
}

func event(typ store.EventType, kind, id string, obj, prev []byte) []byte {
	b, _ := encodeEvent(typ, kind, id, obj, prev)
	return b
}

func TestHistoryKey(t *testing.T) {
	t.Parallel()
	k := historyKey(1<<40+5, 7)
	require.Len(t, k, 12)
	require.Equal(t, int64(1<<40+5), historyRevision(k))
	require.Equal(t, int64(-1), historyRevision(k[:8]))
	require.Less(t, string(historyKey(9, 300)), string(historyKey(10, 0)), "keys sort by revision, then index")
}
