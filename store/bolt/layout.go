package bolt

import (
	"encoding/binary"
	"errors"

	"github.com/stevedore-io/stevedore/store"
)

// The file's layout. Bump formatVersion for any change to it; the schema
// versions of the objects themselves are the codec's (store.Schema).
//
//	meta/format      formatVersion, 8 bytes big-endian
//	meta/revision    the revision of the last committed transaction
//	meta/checkpoint  the revision the objects bucket is up to date with
//	meta/compacted   the newest revision dropped from the history (absent: none)
//	objects/<kind>/<id>            the object at the checkpoint, as the codec
//	                               encodes it
//	history/<revision><index>      the index-th event of the transaction at
//	                               revision (8 + 4 bytes big-endian), encoded
//	                               by encodeEvent; every event after the
//	                               checkpoint is kept
//
// The state at meta/revision is the objects bucket with the history after
// meta/checkpoint replayed on it; compacted <= checkpoint <= revision.
const formatVersion = 1

// pageSize is the page size of a new file (bbolt keeps it in the file, so
// an existing file keeps its own). A history event holds an object and its
// previous version, one to five KiB for Stevedore's objects: in pages of
// the usual 4 KiB, two rarely fit in one and many overflow into a second
// page, which bbolt allocates anew for every commit rather than taking
// from its pool. Larger pages pack events better, but every commit
// rewrites a few whole pages (the root, the history's last leaf and
// branch, the freelist) whatever it holds, so small commits write more:
// 8 KiB allocated the least converging 10,000 tasks (BENCHMARKS.md,
// session 4).
const pageSize = 8 << 10

var (
	bucketMeta    = []byte("meta")
	bucketObjects = []byte("objects")
	bucketHistory = []byte("history")

	keyFormat     = []byte("format")
	keyRevision   = []byte("revision")
	keyCheckpoint = []byte("checkpoint")
	keyCompacted  = []byte("compacted")
)

func uint64Bytes(v int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)) }

func historyKey(rev int64, index int) []byte {
	return appendHistoryKey(make([]byte, 0, 12), rev, index)
}

// appendHistoryKey appends the history key of event index of revision rev
// to b.
func appendHistoryKey(b []byte, rev int64, index int) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(rev))
	return binary.BigEndian.AppendUint32(b, uint32(index))
}

// historyRevision returns the revision of a history key, or -1 for a key
// of the wrong length.
func historyRevision(k []byte) int64 {
	if len(k) != 12 {
		return -1
	}
	return int64(binary.BigEndian.Uint64(k))
}

// encodeEvent encodes one history event: its type, kind and ID, and the
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

type diskEvent struct {
	typ       store.EventType
	kind, id  string
	obj, prev []byte
}

var errBadEvent = errors.New("malformed history event")

func decodeEvent(b []byte) (diskEvent, error) {
	if len(b) < 1 {
		return diskEvent{}, errBadEvent
	}
	ev := diskEvent{typ: store.EventType(b[0])}
	b = b[1:]
	var fields [4][]byte
	for i := range fields {
		n, size := binary.Uvarint(b)
		if size <= 0 || n > uint64(len(b)-size) {
			return diskEvent{}, errBadEvent
		}
		fields[i] = b[size : size+int(n)]
		b = b[size+int(n):]
	}
	if len(b) != 0 {
		return diskEvent{}, errBadEvent
	}
	ev.kind, ev.id, ev.obj, ev.prev = string(fields[0]), string(fields[1]), fields[2], fields[3]
	switch {
	case ev.typ == store.Created && len(ev.obj) > 0 && len(ev.prev) == 0,
		ev.typ == store.Updated && len(ev.obj) > 0 && len(ev.prev) > 0,
		ev.typ == store.Deleted && len(ev.obj) == 0 && len(ev.prev) > 0:
		return ev, nil
	}
	return diskEvent{}, errBadEvent
}
