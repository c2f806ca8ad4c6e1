package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
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

// recordOf is a whole record (header and payload) of the revision rev,
// creating a task whose object is obj.
func recordOf(rev int64, obj []byte) []byte {
	p := payloadOf(rev, walEvent{typ: byte(store.Created), kind: "tasks", id: fmt.Sprint(rev), obj: obj})
	rec := binary.BigEndian.AppendUint32(nil, uint32(len(p)))
	rec = binary.BigEndian.AppendUint32(rec, crc32.Checksum(p, castagnoli))
	return append(rec, p...)
}

// frameOf is a commit holding records, as wal.append writes it.
func frameOf(records ...[]byte) []byte {
	recs := bytes.Join(records, nil)
	b := binary.BigEndian.AppendUint32(nil, uint32(len(recs)))
	b = binary.BigEndian.AppendUint32(b, crc32.Update(frameSeed, castagnoli, recs))
	return append(b, recs...)
}

func TestScanSegment(t *testing.T) {
	t.Parallel()
	seg := segmentHeader(4)
	seg = append(seg, frameOf(recordOf(5, []byte(`{}`)))...)
	seg = append(seg, frameOf(recordOf(6, []byte(`{}`)), recordOf(7, []byte(`{"a":1}`)))...)
	last := len(seg) // where the last commit starts
	seg = append(seg, frameOf(recordOf(8, []byte(`{}`)), recordOf(9, []byte(`{}`)))...)
	good := len(seg)
	scan := func(data []byte) (int64, []int64, int, error) {
		var revs []int64
		prev, end, err := scanSegment(data, func(rev int64, payload []byte, at int) error {
			require.Equal(t, rev, int64(binary.BigEndian.Uint64(data[at:])), "where the payload is")
			revs = append(revs, rev)
			return nil
		})
		return prev, revs, end, err
	}
	prev, revs, end, err := scan(seg)
	require.NoError(t, err)
	require.Equal(t, int64(4), prev)
	require.Equal(t, []int64{5, 6, 7, 8, 9}, revs)
	require.Equal(t, good, end)

	lostFirstRecord := bytes.Clone(seg)
	clear(lostFirstRecord[last+frameHeaderSize : last+frameHeaderSize+10])
	lostHeader := append(bytes.Clone(seg), make([]byte, 100)...)
	clear(lostHeader[last : last+frameHeaderSize])
	for name, data := range map[string][]byte{
		"Cut":              seg[:good-3],
		"HeaderCut":        seg[:last+5],
		"LastFlipped":      append(bytes.Clone(seg[:good-1]), seg[good-1]^1),
		"FlippedThenZeros": append(append(bytes.Clone(seg[:good-1]), seg[good-1]^1), make([]byte, 100)...),
		"LengthTooBig":     append(bytes.Clone(seg[:last]), 0, 1, 0, 0, 0, 0, 0, 0, 1),
		// A power loss: the commit's last record reached the disk, its
		// first one or its header did not.
		"FirstRecordLost": lostFirstRecord,
		"HeaderLost":      lostHeader,
		// Garbage in the room after the last commit is no commit.
		"GarbageInRoom": append(append(bytes.Clone(seg[:last]), make([]byte, 50)...), 1),
	} {
		_, revs, end, err := scan(data)
		require.ErrorIs(t, err, errTorn, name)
		require.Equal(t, last, end, name)
		require.Equal(t, []int64{5, 6, 7}, revs, name)
	}
	_, revs, end, err = scan(append(bytes.Clone(seg), make([]byte, 100)...))
	require.NoError(t, err, "zeros after the commits are room to write in")
	require.Equal(t, good, end)
	require.Equal(t, []int64{5, 6, 7, 8, 9}, revs)

	for name, at := range map[string]int{
		"MiddleCommitFlipped": last - 1,
		"FirstCommitLength":   segmentHeaderSize + 3,
		"FirstCommitRecord":   segmentHeaderSize + frameHeaderSize + 3,
	} {
		damaged := bytes.Clone(seg)
		damaged[at] ^= 0xff
		_, _, _, err = scan(damaged)
		require.Error(t, err, name)
		require.NotErrorIs(t, err, errTorn, name)
		require.ErrorContains(t, err, "a good one follows", name)
	}

	// A record that fails its own checksum in a commit whose checksum
	// holds was written so: refused.
	bad := recordOf(8, []byte(`{}`))
	bad[len(bad)-1] ^= 1
	_, _, _, err = scan(append(bytes.Clone(seg[:last]), frameOf(bad)...))
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
// records it accepts end within it, that it takes for room only zeros,
// and that a torn commit has no good one after it.
func FuzzScanSegment(f *testing.F) {
	seg := segmentHeader(4)
	seg = append(seg, frameOf(recordOf(5, []byte(`{"a":1}`)))...)
	seg = append(seg, frameOf(recordOf(6, []byte(`{"a":1}`)), recordOf(7, []byte(`{}`)))...)
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
		switch {
		case err == nil:
			require.True(t, allZero(data[end:]), "only zeros follow the commits")
		case errors.Is(err, errTorn):
			require.Equal(t, -1, nextFrame(data, end+1), "a torn commit is the last")
		}
	})
}
