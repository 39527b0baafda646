package storage

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// A shard of the sharded backend keeps every entry in a chunk of a byte page.
// Chunk layout (little endian):
//
//	[0:4)   access   uint32, the shard's write sequence at the last access
//	                 (LRU recency); updated atomically by readers
//	[4:8)   vlen     uint32, stored value length (next free chunk when free)
//	[8:10)  klen     uint16
//	[10]    class    uint8 size class; 0 = never carved; classLarge = own page
//	[11]    flags    uint8
//	[12:20) expiry   int64
//	[20:36) version  [16]byte
//	[36:)   key, then value (for a tombstone: 8 bytes, the deletion time)
//
// A chunk is addressed by a 32-bit ref: page index << 16 | offset / 8. Chunks
// start at multiples of 8, so the access word is aligned for atomics. Ref 0 is
// never a chunk (page 0 starts carving at offset 8), so 0 can mean "empty".
const (
	hdrAccess  = 0
	hdrVlen    = 4
	hdrKlen    = 8
	hdrClass   = 10
	hdrFlags   = 11
	hdrExpiry  = 12
	hdrVersion = 20
	hdrSize    = 36

	flagTombstone = 1 << 0
	flagFree      = 1 << 1
	flagExpired   = 1 << 2 // a tombstone left by expiry rather than by a delete

	tombstoneValueLen = 8 // a tombstone stores its deletion time as its value

	// Chunks up to maxInline bytes are carved from shared pages by size
	// class; larger ones get a page of their own (classLarge). Pages grow
	// from firstPage to maxPageSize; the small maximum bounds the unused
	// tail of each shard's last page (offset/8 must fit in 16 bits anyway).
	maxInline   = 16 << 10
	classLarge  = 255
	maxPageSize = 32 << 10
	firstPage   = 1 << 10
	maxPages    = 1 << 16
)

// sizeClass returns the class and chunk size for a chunk of n bytes: 8-byte
// steps up to 512 bytes (classes 1..64), then eight classes per power of two
// (at most 12.5% rounding) up to maxInline (classes 65..104), classLarge
// beyond.
func sizeClass(n int) (class uint8, size int) {
	if n <= 512 {
		size = (n + 7) &^ 7
		return uint8(size / 8), size
	}
	if n > maxInline {
		return classLarge, (n + 7) &^ 7
	}
	p := bits.Len(uint(n-1)) - 1 // 2^p < n <= 2^(p+1)
	step := 1 << (p - 3)
	size = (n + step - 1) &^ (step - 1)
	return uint8(64 + (p-9)*8 + (size-1<<p)/step), size
}

// classSize returns the chunk size of a (non-large) class.
func classSize(class uint8) int {
	if class <= 64 {
		return int(class) * 8
	}
	k := int(class) - 65
	p := 9 + k/8
	return 1<<p + (k%8+1)<<(p-3)
}

func le16(b []byte) uint16       { return binary.LittleEndian.Uint16(b) }
func le32(b []byte) uint32       { return binary.LittleEndian.Uint32(b) }
func le64(b []byte) uint64       { return binary.LittleEndian.Uint64(b) }
func put16(b []byte, v uint16)   { binary.LittleEndian.PutUint16(b, v) }
func put32(b []byte, v uint32)   { binary.LittleEndian.PutUint32(b, v) }
func put64(b []byte, v uint64)   { binary.LittleEndian.PutUint64(b, v) }
func chunkKey(c []byte) []byte   { return c[hdrSize : hdrSize+int(le16(c[hdrKlen:]))] }
func chunkTomb(c []byte) bool    { return c[hdrFlags]&flagTombstone != 0 }
func chunkExpiry(c []byte) int64 { return int64(le64(c[hdrExpiry:])) }
func chunkVersion(c []byte) (v Version) {
	copy(v[:], c[hdrVersion:hdrVersion+16])
	return v
}

// chunkValue returns the stored value bytes (for a tombstone, its deletion
// time).
func chunkValue(c []byte) []byte {
	start := hdrSize + int(le16(c[hdrKlen:]))
	return c[start : start+int(le32(c[hdrVlen:]))]
}

// chunkDeletedAt returns a tombstone's deletion time.
func chunkDeletedAt(c []byte) int64 { return int64(le64(chunkValue(c))) }

// chunkAccounted returns AccountedSize of the entry in c.
func chunkAccounted(c []byte) int64 {
	n := int64(le16(c[hdrKlen:])) + EntryOverhead
	if !chunkTomb(c) {
		n += int64(le32(c[hdrVlen:]))
	}
	return n
}

// chunk returns the bytes from ref to the end of its page.
func (sh *shard) chunk(ref uint32) []byte {
	return sh.pages[ref>>16][int(ref&0xffff)<<3:]
}

// valid reports whether ref addresses an allocated chunk.
func (sh *shard) valid(ref uint32) bool {
	idx := int(ref >> 16)
	if ref == 0 || idx >= len(sh.pages) || sh.pages[idx] == nil {
		return false
	}
	p := sh.pages[idx]
	off := int(ref&0xffff) << 3
	if off+hdrSize > len(p) {
		return false
	}
	return p[off+hdrClass] != 0 && p[off+hdrFlags]&flagFree == 0
}

// newPage returns the index of a fresh page of n bytes.
func (sh *shard) newPage(n int) (int, error) {
	k := len(sh.freePages)
	if k == 0 && len(sh.pages) >= maxPages {
		return 0, fmt.Errorf("%w: shard address space exhausted (%d pages)", ErrMemoryLimit, maxPages)
	}
	p := make([]byte, n)
	sh.pageBytes += int64(n)
	if k > 0 {
		idx := int(sh.freePages[k-1])
		sh.freePages = sh.freePages[:k-1]
		sh.pages[idx] = p
		return idx, nil
	}
	sh.pages = append(sh.pages, p)
	return len(sh.pages) - 1, nil
}

// alloc returns a chunk of the given class and size, with its class set and
// every other header field stale.
func (sh *shard) alloc(class uint8, size int) (uint32, error) {
	if class == classLarge {
		idx, err := sh.newPage(size)
		if err != nil {
			return 0, err
		}
		sh.pages[idx][hdrClass] = classLarge
		return uint32(idx) << 16, nil
	}
	if ref := sh.free[class]; ref != 0 {
		c := sh.chunk(ref)
		sh.free[class] = le32(c[hdrVlen:])
		c[hdrFlags] = 0
		return ref, nil
	}
	if sh.tailOff+size > len(sh.pages[sh.tail]) {
		n := max(sh.nextPage, size)
		idx, err := sh.newPage(n)
		if err != nil {
			return 0, err
		}
		sh.tail, sh.tailOff = idx, 0
		sh.nextPage = min(2*sh.nextPage, maxPageSize)
	}
	off := sh.tailOff
	sh.tailOff += size
	sh.pages[sh.tail][off+hdrClass] = class
	return uint32(sh.tail)<<16 | uint32(off>>3), nil
}

// release returns a chunk to its free list (or drops its page).
func (sh *shard) release(ref uint32) {
	c := sh.chunk(ref)
	class := c[hdrClass]
	if class == classLarge {
		idx := ref >> 16
		sh.pageBytes -= int64(len(sh.pages[idx]))
		sh.pages[idx] = nil
		sh.freePages = append(sh.freePages, uint16(idx))
		return
	}
	c[hdrFlags] = flagFree
	put32(c[hdrVlen:], sh.free[class])
	sh.free[class] = ref
}
