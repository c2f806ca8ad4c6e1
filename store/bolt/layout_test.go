package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
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

// encodeEvent encodes one event of a format 1 history, as format 1's
// commits did: its type, kind and ID, and the
// object and previous version as the codec encodes them (either may be
// empty). Each is length-prefixed with a uvarint. It also returns the
// object's bytes within the event, which the store keeps instead of a copy.
func encodeEvent(typ store.EventType, kind, id string, obj, prev []byte) (event, objIn []byte) {
	b := make([]byte, 0, 1+4*binary.MaxVarintLen32+len(kind)+len(id)+len(obj)+len(prev))
	b = append(b, byte(typ))
	b = binary.AppendUvarint(b, uint64(len(kind)))
	b = append(b, kind...)
	b = binary.AppendUvarint(b, uint64(len(id)))
	b = append(b, id...)
	b = binary.AppendUvarint(b, uint64(len(obj)))
	at := len(b)
	b = append(b, obj...)
	objIn = b[at:len(b):len(b)]
	b = binary.AppendUvarint(b, uint64(len(prev)))
	b = append(b, prev...)
	return b, objIn
}

func TestHistoryRevision(t *testing.T) {
	t.Parallel()
	k := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64(nil, 1<<40+5), 7)
	require.Equal(t, int64(1<<40+5), historyRevision(k))
	require.Equal(t, int64(-1), historyRevision(k[:8]))
}

// FuzzDecodeRecord checks that decoding a record of the log never panics
// and that whatever decodes is encoded again to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(payloadOf(t1, walEvent{typ: byte(store.Created), kind: "tasks", id: "t-1", obj: []byte(`{"schema":0}`)}))
	f.Add(payloadOf(t1,
		walEvent{typ: byte(store.Updated), kind: "tasks", id: "t-1", obj: []byte(`{"a":2}`)},
		walEvent{typ: byte(store.Deleted), kind: "services", id: "prod/web"}))
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, payload []byte) {
		rev, evs, err := decodeRecord(payload, nil)
		if err != nil {
			return
		}
		again := payloadOf(rev, evs...)
		require.Equal(t, payload, again)
	})
}

const t1 = 1

// payloadOf encodes the payload of a record as stage does.
func payloadOf(rev int64, evs ...walEvent) []byte {
	b := beginRecord(nil, rev)
	for _, ev := range evs {
		b = appendEventHead(b, ev.typ, ev.kind, ev.id)
		at := len(b) - 4
		b = append(b, ev.obj...)
		endEvent(b, at)
	}
	finishRecord(b, 0)
	return b[recordHeaderSize:]
}

func TestScanSegment(t *testing.T) {
	t.Parallel()
	seg := segmentHeader(4)
	for rev := int64(5); rev < 8; rev++ {
		p := payloadOf(rev, walEvent{typ: byte(store.Created), kind: "tasks", id: fmt.Sprint(rev), obj: []byte(`{}`)})
		seg = binary.BigEndian.AppendUint32(seg, uint32(len(p)))
		seg = binary.BigEndian.AppendUint32(seg, crc32.Checksum(p, castagnoli))
		seg = append(seg, p...)
	}
	good := len(seg)
	scan := func(data []byte) (int64, []int64, int, error) {
		var revs []int64
		prev, end, err := scanSegment(data, func(rev int64, _ []byte, _ int) error {
			revs = append(revs, rev)
			return nil
		})
		return prev, revs, end, err
	}
	prev, revs, end, err := scan(seg)
	require.NoError(t, err)
	require.Equal(t, int64(4), prev)
	require.Equal(t, []int64{5, 6, 7}, revs)
	require.Equal(t, good, end)

	last := good - (good-segmentHeaderSize)/3 // where the last record starts
	for name, data := range map[string][]byte{
		"Cut":              seg[:good-3],
		"HeaderCut":        seg[:last+5],
		"LastFlipped":      append(bytes.Clone(seg[:good-1]), seg[good-1]^1),
		"FlippedThenZeros": append(append(bytes.Clone(seg[:good-1]), seg[good-1]^1), make([]byte, 100)...),
		"LengthTooBig":     append(bytes.Clone(seg[:last]), 0, 1, 0, 0, 0, 0, 0, 0, 1),
	} {
		_, revs, end, err := scan(data)
		require.ErrorIs(t, err, errTorn, name)
		require.Equal(t, last, end, name)
		require.Equal(t, []int64{5, 6}, revs, name)
	}
	_, revs, end, err = scan(append(bytes.Clone(seg), make([]byte, 100)...))
	require.NoError(t, err, "zeros after the records are room to write in")
	require.Equal(t, good, end)
	require.Equal(t, []int64{5, 6, 7}, revs)

	flipped := bytes.Clone(seg)
	flipped[last-1] ^= 1 // in the middle record, the last one follows
	_, _, _, err = scan(flipped)
	require.Error(t, err)
	require.NotErrorIs(t, err, errTorn)
	garbage := append(bytes.Clone(seg), make([]byte, 100)...)
	garbage[good+50] = 1 // in the room after the records
	_, _, _, err = scan(garbage)
	require.Error(t, err)
	require.NotErrorIs(t, err, errTorn)
}

// TestBrokenLogFailsLaterWrites: a write whose failure cannot be cut off
// the log again (here, the segment is open read-only) fails, and so does
// every later one, naming the segment.
func TestBrokenLogFailsLaterWrites(t *testing.T) {
	t.Parallel()
	w, err := createWAL(filepath.Join(t.TempDir(), "state.db.wal"), 0, defaultSegmentSize)
	require.NoError(t, err)
	rec := append(make([]byte, recordHeaderSize), payloadOf(1, walEvent{typ: byte(store.Created), kind: "tasks", id: "a", obj: []byte(`{}`)})...)
	finishRecord(rec, 0)
	_, _, err = w.append([][]byte{rec}, 1, 1)
	require.NoError(t, err)
	seg := w.segs[0].path
	require.NoError(t, w.f.Close())
	w.f, err = os.Open(seg)
	require.NoError(t, err)
	t.Cleanup(func() { w.close() })

	_, _, err = w.append([][]byte{rec}, 2, 2)
	var fileErr *FileError
	require.ErrorAs(t, err, &fileErr)
	assert.Equal(t, seg, fileErr.Path)
	assert.Contains(t, err.Error(), "no more writes")
	_, _, again := w.append([][]byte{rec}, 3, 3)
	require.ErrorIs(t, again, err, "later writes fail too")
	assert.Equal(t, int64(1), w.last())
}

// FuzzScanSegment checks that scanning a segment never panics, that the
// records it accepts end within it, and that it takes for room only zeros.
func FuzzScanSegment(f *testing.F) {
	seg := segmentHeader(4)
	for rev := int64(5); rev < 7; rev++ {
		p := payloadOf(rev, walEvent{typ: byte(store.Updated), kind: "tasks", id: fmt.Sprint(rev), obj: []byte(`{"a":1}`)})
		seg = binary.BigEndian.AppendUint32(seg, uint32(len(p)))
		seg = binary.BigEndian.AppendUint32(seg, crc32.Checksum(p, castagnoli))
		seg = append(seg, p...)
	}
	f.Add(seg)
	f.Add(append(bytes.Clone(seg), make([]byte, 64)...))
	f.Add(seg[:len(seg)-3])
	f.Add(segmentHeader(0))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, end, err := scanSegment(data, func(rev int64, payload []byte, at int) error {
			require.Equal(t, payload, data[at:at+len(payload)])
			return nil
		})
		require.LessOrEqual(t, end, len(data))
		if err == nil {
			require.True(t, allZero(data[end:]), "only zeros follow the records")
		}
	})
}
