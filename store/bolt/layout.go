package bolt

import (
	"encoding/binary"
	"errors"
	"runtime"

	"github.com/stevedore-io/stevedore/store"
)

// The state file's layout. Bump formatVersion for any change to it or to
// the log's (wal.go); the schema versions of the objects themselves are
// the codec's (store.Schema).
//
//	meta/format      formatVersion, 8 bytes big-endian
//	meta/checkpoint  the revision the objects bucket holds the state at,
//	                 which is also the newest revision dropped from the
//	                 history: the log holds every transaction after it
//	meta/nolog       present in a new file until Open made its log
//	objects/<kind>/<id>   the object at the checkpoint, as the codec
//	                      encodes it
//
// The state is the objects bucket with the log's records after
// meta/checkpoint replayed on it (wal.go).
//
// Format 1 kept the history in the file itself, with each event's previous
// version, and meta/revision and meta/compacted beside the checkpoint:
//
//	history/<revision><index>  the index-th event of the transaction at
//	                           revision (8 + 4 bytes big-endian), encoded
//	                           as decodeEvent reads it
//
// Open converts such a file to format 2 (migrate.go).
const formatVersion = 2

// pageSize is the page size of a new file (bbolt keeps it in the file, so
// an existing file keeps its own). Stevedore's objects take one to five
// KiB: in pages of the usual 4 KiB many overflow into a second page. 8 KiB
// was measured with format 1, whose commits wrote pages of history events
// (BENCHMARKS.md, session 4); the file now takes only checkpoints, whose
// leaves of objects it packs as well.
const pageSize = 8 << 10

// initialMmapSize is how much of the file bbolt maps at Open. Only
// checkpoints write the file; one that grows it past its mapping has bbolt
// map it again, and first copy every page the checkpoint changed out of
// the old mapping (50 MB of the 510 MB allocated converging 10,000 tasks on
// a new file). Mapping room to grow costs address space only, but on
// Windows, where mapping grows the file, the file is mapped as it is.
func initialMmapSize() int {
	if runtime.GOOS == "windows" {
		return 0
	}
	return 256 << 20
}

var (
	bucketMeta    = []byte("meta")
	bucketObjects = []byte("objects")
	bucketHistory = []byte("history") // format 1

	keyFormat     = []byte("format")
	keyCheckpoint = []byte("checkpoint")
	keyLogEnd     = []byte("logend") // optional: 0 if absent
	keyNoLog      = []byte("nolog")
	keyRevision   = []byte("revision")  // format 1
	keyCompacted  = []byte("compacted") // format 1
)

func uint64Bytes(v int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)) }

// historyRevision returns the revision of a format 1 history key, or -1
// for a key of the wrong length.
func historyRevision(k []byte) int64 {
	if len(k) != 12 {
		return -1
	}
	return int64(binary.BigEndian.Uint64(k))
}

// diskEvent is an event of a format 1 history: its type, kind and ID, and
// the object and previous version as the codec encodes them (either may be
// empty), each length-prefixed with a uvarint.
type diskEvent struct {
	typ       store.EventType
	kind, id  string
	obj, prev []byte
}

var errBadEvent = errors.New("malformed history event")

// decodeEvent decodes an event of a format 1 history.

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
