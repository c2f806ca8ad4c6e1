package bolt

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"os"
	"time"

	bbolt "go.etcd.io/bbolt"
)

// checkFile checks the structure of the file before bbolt opens it for
// writing, reading it with plain reads, never through a memory map. bbolt
// trusts its pages: on a damaged file it panics (after mapping the file,
// which then stays locked until the process exits), faults past the end of
// a truncated file, or loops forever on a page that refers back to one
// above it. checkFile refuses, with ErrCorrupt, a file shorter than the
// pages it uses, a freelist that is not one or names pages in use, and a
// tree of buckets in which a page is out of range, of the wrong type,
// larger than its elements allow, or reached twice.
//
// It opens the file read-only first, which reads only the meta pages, to
// learn which meta page is current and to wait for another holder's lock.
func checkFile(path string, timeout time.Duration) error {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: timeout})
	if err != nil {
		return &FileError{Path: path, Op: "open", Err: classify(err)}
	}
	defer db.Close()
	return db.View(func(btx *bbolt.Tx) error {
		info, err := os.Stat(path)
		if err != nil {
			return &FileError{Path: path, Op: "open", Err: err}
		}
		if btx.Size() > info.Size() {
			return corruptf(path, "the file is %d bytes but its pages reach %d: truncated", info.Size(), btx.Size())
		}
		f, err := os.Open(path)
		if err != nil {
			return &FileError{Path: path, Op: "open", Err: err}
		}
		defer f.Close()
		pageSize := db.Info().PageSize
		hwm := uint64(btx.Size()) / uint64(pageSize)
		if hwm < 4 { // two meta pages, a freelist and a root
			return corruptf(path, "%d pages in use, fewer than any file has", hwm)
		}
		w := &pageWalker{f: f, pageSize: pageSize, hwm: hwm, seen: make([]uint64, (hwm+63)/64)}
		if err := w.check(uint64(btx.ID())); err != nil {
			return corruptf(path, "%v", err)
		}
		return nil
	})
}

// The parts of bbolt's file format (version 2, unchanged since 2014) that
// checkFile reads. Integers are in the machine's byte order.
const (
	pageHeaderSize   = 16
	pageFlagsAt      = 8
	pageCountAt      = 10
	pageOverflowAt   = 12
	branchPageFlag   = 0x01
	leafPageFlag     = 0x02
	freelistPageFlag = 0x10
	elementSize      = 16 // of a branch or a leaf element
	bucketLeafFlag   = 0x01
	bucketHeaderSize = 16 // root page ID and sequence

	metaRootAt     = 16 // in the meta, which follows the page header
	metaFreelistAt = 32
	metaTxidAt     = 48
	metaChecksumAt = 56
	noFreelist     = ^uint64(0)
)

var native = binary.NativeEndian

// pageWalker reads a file's pages and checks their structure.
type pageWalker struct {
	f        *os.File
	pageSize int
	hwm      uint64   // pages in use: IDs below it
	seen     []uint64 // a bit per page: reached so far
	buf      []byte   // the page read last
}

func (w *pageWalker) mark(id uint64)         { w.seen[id/64] |= 1 << (id % 64) }
func (w *pageWalker) reached(id uint64) bool { return w.seen[id/64]&(1<<(id%64)) != 0 }

// check finds the meta page of transaction txid, then walks the tree of
// buckets from its root and checks the freelist.
func (w *pageWalker) check(txid uint64) error {
	page := make([]byte, w.pageSize)
	for i := range 2 {
		if _, err := w.f.ReadAt(page, int64(i*w.pageSize)); err != nil {
			return fmt.Errorf("meta page %d: %v", i, err)
		}
		meta := page[pageHeaderSize:]
		sum := fnv.New64a()
		sum.Write(meta[:metaChecksumAt])
		if sum.Sum64() != native.Uint64(meta[metaChecksumAt:]) || native.Uint64(meta[metaTxidAt:]) != txid {
			continue
		}
		w.mark(0)
		w.mark(1)
		if err := w.walk(native.Uint64(meta[metaRootAt:])); err != nil {
			return err
		}
		return w.checkFreelist(native.Uint64(meta[metaFreelistAt:]))
	}
	return fmt.Errorf("no meta page of transaction %d", txid)
}

// read returns page id with its overflow pages, after checking that they
// are in range and reached for the first time. The page is valid until the
// next read.
func (w *pageWalker) read(id uint64) ([]byte, error) {
	if id < 2 || id >= w.hwm {
		return nil, fmt.Errorf("page %d out of range (pages 2 to %d in use)", id, w.hwm-1)
	}
	if len(w.buf) < w.pageSize {
		w.buf = make([]byte, w.pageSize)
	}
	header := w.buf[:pageHeaderSize]
	if _, err := w.f.ReadAt(header, int64(id)*int64(w.pageSize)); err != nil {
		return nil, fmt.Errorf("page %d: %v", id, err)
	}
	overflow := uint64(native.Uint32(header[pageOverflowAt:]))
	if native.Uint64(header) != id || overflow >= w.hwm-id {
		return nil, fmt.Errorf("page %d has a bad header", id)
	}
	for p := id; p <= id+overflow; p++ {
		if w.reached(p) {
			return nil, fmt.Errorf("page %d reached twice", p)
		}
		w.mark(p)
	}
	size := int((overflow + 1) * uint64(w.pageSize))
	if len(w.buf) < size {
		w.buf = make([]byte, size)
	}
	page := w.buf[:size]
	if _, err := w.f.ReadAt(page, int64(id)*int64(w.pageSize)); err != nil {
		return nil, fmt.Errorf("page %d: %v", id, err)
	}
	return page, nil
}

// walk checks the tree of the bucket whose root is page root, and every
// bucket in it.
func (w *pageWalker) walk(root uint64) error {
	stack := []uint64{root}
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		page, err := w.read(id)
		if err != nil {
			return err
		}
		children, err := w.elements(id, page, false)
		if err != nil {
			return err
		}
		stack = append(stack, children...)
	}
	return nil
}

// elements checks the elements of a branch or leaf page and returns the
// pages they lead to: a branch's children and the roots of the buckets in
// a leaf. An inline bucket's page is checked where it is.
func (w *pageWalker) elements(id uint64, page []byte, inline bool) ([]uint64, error) {
	flags, count := native.Uint16(page[pageFlagsAt:]), int(native.Uint16(page[pageCountAt:]))
	if pageHeaderSize+count*elementSize > len(page) {
		return nil, fmt.Errorf("page %d: %d elements do not fit", id, count)
	}
	var next []uint64
	for i := range count {
		at := pageHeaderSize + i*elementSize
		e := page[at : at+elementSize]
		switch {
		case flags == branchPageFlag && !inline:
			pos, ksize := uint64(native.Uint32(e[0:])), uint64(native.Uint32(e[4:]))
			if uint64(at)+pos+ksize > uint64(len(page)) {
				return nil, fmt.Errorf("page %d: element %d out of the page", id, i)
			}
			next = append(next, native.Uint64(e[8:]))
		case flags == leafPageFlag:
			leafFlags := native.Uint32(e[0:])
			pos, ksize, vsize := uint64(native.Uint32(e[4:])), uint64(native.Uint32(e[8:])), uint64(native.Uint32(e[12:]))
			start := uint64(at) + pos + ksize
			if start+vsize > uint64(len(page)) {
				return nil, fmt.Errorf("page %d: element %d out of the page", id, i)
			}
			if leafFlags&bucketLeafFlag == 0 {
				continue
			}
			if inline || vsize < bucketHeaderSize {
				return nil, fmt.Errorf("page %d: element %d is not a bucket that can be", id, i)
			}
			value := page[start : start+vsize]
			if root := native.Uint64(value); root != 0 {
				next = append(next, root)
				continue
			}
			sub := value[bucketHeaderSize:]
			if len(sub) < pageHeaderSize {
				return nil, fmt.Errorf("page %d: element %d holds a short inline bucket", id, i)
			}
			if _, err := w.elements(id, sub, true); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("page %d is neither a branch nor a leaf (flags %#x)", id, flags)
		}
	}
	if count == 0 && flags != leafPageFlag {
		return nil, fmt.Errorf("page %d is neither a branch nor a leaf (flags %#x)", id, flags)
	}
	return next, nil
}

// checkFreelist checks that the freelist page is one and names only pages
// in range that the tree does not use.
func (w *pageWalker) checkFreelist(id uint64) error {
	if id == noFreelist {
		return nil
	}
	page, err := w.read(id)
	if err != nil {
		return fmt.Errorf("freelist: %w", err)
	}
	if native.Uint16(page[pageFlagsAt:]) != freelistPageFlag {
		return fmt.Errorf("page %d should hold the freelist but does not", id)
	}
	count, ids := uint64(native.Uint16(page[pageCountAt:])), page[pageHeaderSize:]
	if count == 0xFFFF { // the real count is in the first element
		count, ids = native.Uint64(ids), ids[8:]
	}
	if count > uint64(len(ids))/8 {
		return fmt.Errorf("freelist page %d: %d pages do not fit", id, count)
	}
	for i := range count {
		free := native.Uint64(ids[i*8:])
		if free < 2 || free >= w.hwm || w.reached(free) {
			return fmt.Errorf("freelist page %d names page %d, which is in use or out of range", id, free)
		}
	}
	return nil
}
