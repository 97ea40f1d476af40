package queue

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// bbolt's on-disk meta page (go.etcd.io/bbolt/internal/common: Page then Meta), native
// byte order. bbolt validates the meta pages itself, but only after it has mapped the
// file, and it never compares the file length with the high-water mark: reading a page past
// the end of a truncated file is a SIGBUS that kills the process. So Open reads the two meta
// pages first, with plain reads, and refuses a file that bbolt could not open safely.
const (
	boltMagic       = 0xED0CDAED
	boltVersion     = 2
	pageHeaderSize  = 16
	metaChecksumOff = 56 // magic, version, pageSize, flags (4 each), root (16), freelist, pgid, txid (8 each)
	metaSize        = metaChecksumOff + 8
)

type boltMeta struct {
	pageSize uint32
	pgid     uint64 // high-water mark: pages [0, pgid) are in use
	txid     uint64
}

// parseMeta decodes and validates one meta page (buf starts at the page).
func parseMeta(buf []byte) (boltMeta, error) {
	if len(buf) < pageHeaderSize+metaSize {
		return boltMeta{}, errors.New("short page")
	}
	m := buf[pageHeaderSize : pageHeaderSize+metaSize]
	ne := binary.NativeEndian
	if ne.Uint32(m[0:]) != boltMagic {
		return boltMeta{}, errors.New("bad magic")
	}
	if v := ne.Uint32(m[4:]); v != boltVersion {
		return boltMeta{}, fmt.Errorf("bbolt format version %d, want %d", v, boltVersion)
	}
	h := fnv.New64a()
	h.Write(m[:metaChecksumOff])
	if h.Sum64() != ne.Uint64(m[metaChecksumOff:]) {
		return boltMeta{}, errors.New("checksum mismatch")
	}
	bm := boltMeta{pageSize: ne.Uint32(m[8:]), pgid: ne.Uint64(m[40:]), txid: ne.Uint64(m[48:])}
	if bm.pageSize < 512 || bm.pageSize > 1<<24 || bm.pageSize&(bm.pageSize-1) != 0 {
		return boltMeta{}, fmt.Errorf("implausible page size %d", bm.pageSize)
	}
	return bm, nil
}

// precheck validates an existing journal file before bbolt maps it. An empty file is
// accepted: bbolt initialises it (it is also what a crash during the very first Open
// leaves behind). Anything else must have a valid meta page and be at least as long as
// that meta page's high-water mark.
func precheck(f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat: %w", err)
	}
	size := st.Size()
	if size == 0 {
		return nil
	}
	read := func(off int64) []byte {
		buf := make([]byte, pageHeaderSize+metaSize)
		n, err := f.ReadAt(buf, off)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil
		}
		return buf[:n]
	}
	meta0, err0 := parseMeta(read(0))
	var meta1 boltMeta
	var err1 error = errors.New("not found")
	if err0 == nil {
		meta1, err1 = parseMeta(read(int64(meta0.pageSize)))
	} else {
		// Like bbolt: without page 0, try every page size it supports for page 1.
		for ps := int64(1024); ps <= 1<<24 && ps < size; ps <<= 1 {
			if m, err := parseMeta(read(ps)); err == nil && int64(m.pageSize) == ps {
				meta1, err1 = m, nil
				break
			}
		}
	}
	var use boltMeta
	switch {
	case err0 != nil && err1 != nil:
		return fmt.Errorf("no valid meta page (meta 0: %v; meta 1: %v): not a bbolt journal, or damaged", err0, err1)
	case err0 != nil:
		use = meta1
	case err1 != nil:
		use = meta0
	case meta1.txid > meta0.txid:
		use = meta1
	default:
		use = meta0
	}
	if need := int64(use.pgid) * int64(use.pageSize); size < need {
		return fmt.Errorf("truncated: the file is %d bytes, its last transaction needs %d", size, need)
	}
	return nil
}
