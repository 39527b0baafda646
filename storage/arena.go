package storage

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"unsafe"
)

// A shard of the sharded backend keeps every entry in a chunk of a byte page.
// Chunk layout (32-byte header):
//
//	[0:4)   meta     uint32: klen in the low 16 bits, LRU stamp in the
//	                 high 16 bits (reads update the stamp)
//	[4:8)   vlen     uint32: stored value length in the low 28 bits, flags
//	                 in the high 4
//	[8:16)  expiry   int64 (a free chunk keeps the next free chunk's ref
//	                 here)
//	[16:32) version  [16]byte
//	[32:)   key, then value (for a tombstone: 8 bytes, the deletion time)
//
// The header is read and written as a chunkHeader, in the machine's byte
// order (TestShardLayout checks that its fields sit at these offsets).
// A chunk's size class is derived from its lengths, so it is not stored. A
// chunk is addressed by a 32-bit ref: page index << 16 | offset / 8. Chunks
// start at multiples of 8, so header fields are aligned. Ref 0 is
// never a chunk (page 0 starts carving at offset 8), so 0 can mean "empty";
// memory never carved reads as klen 0, which no entry has.
const (
	hdrMeta    = 0
	hdrVlen    = 4
	hdrExpiry  = 8
	hdrVersion = 16
	hdrSize    = 32

	vlenBits  = 28
	vlenMask  = 1<<vlenBits - 1
	stampBits = 4 // the LRU stamp is the shard's write sequence >> stampBits

	flagTombstone = 1 << 0
	flagFree      = 1 << 1
	flagExpired   = 1 << 2 // a tombstone left by expiry rather than by a delete

	tombstoneValueLen = 8 // a tombstone stores its deletion time as its value

	// Chunks up to maxInline bytes are carved from shared pages by size
	// class; larger ones get a page of their own (classLarge). Page sizes
	// double from firstPage to midPageSize, then follow the shard's size
	// (1/pageFraction of it, up to maxPageSize): the unused tail of the last
	// page stays a small fraction of the shard, while big shards have few
	// pages for the garbage collector to visit. offset/8 must fit in 16 bits.
	maxInline    = 16 << 10
	classLarge   = 255
	midPageSize  = 32 << 10
	maxPageSize  = 512 << 10
	pageFraction = 32
	firstPage    = 1 << 10
	maxPages     = 1 << 16
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

// chunkHeader is the header of a chunk, in the machine's byte order
// (chunks live only in memory). A free chunk keeps the ref of the next free
// chunk of its class in expiry.
type chunkHeader struct {
	meta    uint32
	vlen    uint32
	expiry  int64
	version Version
}

// next returns a free chunk's successor on its free list.
func (hd *chunkHeader) next() uint32 { return uint32(hd.expiry) }

// header returns the header of chunk c, which has at least hdrSize bytes.
func header(c []byte) *chunkHeader {
	_ = c[hdrSize-1]
	return (*chunkHeader)(unsafe.Pointer(&c[0]))
}

func le64(b []byte) uint64     { return binary.LittleEndian.Uint64(b) }
func put64(b []byte, v uint64) { binary.LittleEndian.PutUint64(b, v) }

func chunkKlen(c []byte) int     { return int(header(c).meta & 0xffff) }
func chunkStamp(c []byte) uint16 { return uint16(header(c).meta >> 16) }
func chunkVlen(c []byte) int     { return int(header(c).vlen & vlenMask) }
func chunkFlags(c []byte) uint32 { return header(c).vlen >> vlenBits }
func chunkKey(c []byte) []byte   { return c[hdrSize : hdrSize+chunkKlen(c)] }
func chunkTomb(c []byte) bool    { return chunkFlags(c)&flagTombstone != 0 }
func chunkExpiry(c []byte) int64 { return header(c).expiry }
func chunkVersion(c []byte) (v Version) {
	copy(v[:], c[hdrVersion:hdrVersion+16])
	return v
}

// chunkClass returns the size class and chunk size of a live chunk.
func chunkClass(c []byte) (uint8, int) {
	return sizeClass(hdrSize + chunkKlen(c) + chunkVlen(c))
}

// setStamp records an access for sampled LRU. It stores only if the stamp
// changes, so that reading an entry again soon does not dirty its line.
func (hd *chunkHeader) setStamp(stamp uint16) {
	if uint16(hd.meta>>16) != stamp {
		hd.meta = hd.meta&0xffff | uint32(stamp)<<16
	}
}

// chunkValue returns the stored value bytes (for a tombstone, its deletion
// time).
func chunkValue(c []byte) []byte {
	start := hdrSize + chunkKlen(c)
	return c[start : start+chunkVlen(c)]
}

// chunkDeletedAt returns a tombstone's deletion time.
func chunkDeletedAt(c []byte) int64 { return int64(le64(chunkValue(c))) }

// chunkAccounted returns AccountedSize of the entry in c.
func chunkAccounted(c []byte) int64 {
	n := int64(chunkKlen(c)) + EntryOverhead
	if !chunkTomb(c) {
		n += int64(chunkVlen(c))
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
	c := p[off:]
	return chunkKlen(c) != 0 && chunkFlags(c)&flagFree == 0
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

// alloc returns a chunk of the given class and size; its header is stale
// (the caller writes all of it).
func (sh *shard) alloc(class uint8, size int) (uint32, error) {
	if class == classLarge {
		idx, err := sh.newPage(size)
		if err != nil {
			return 0, err
		}
		return uint32(idx) << 16, nil
	}
	if ref := sh.free[class]; ref != 0 {
		c := sh.chunk(ref)
		sh.free[class] = header(c).next()
		return ref, nil
	}
	if sh.tailOff+size > len(sh.pages[sh.tail]) {
		n := max(sh.nextPage, size)
		idx, err := sh.newPage(n)
		if err != nil {
			return 0, err
		}
		sh.tail, sh.tailOff = idx, 0
		grown := (sh.pageBytes/pageFraction + 8<<10 - 1) &^ (8<<10 - 1)
		sh.nextPage = max(min(2*sh.nextPage, midPageSize), min(int(grown), maxPageSize))
	}
	off := sh.tailOff
	sh.tailOff += size
	return uint32(sh.tail)<<16 | uint32(off>>3), nil
}

// release returns a chunk to its free list (or drops its page).
func (sh *shard) release(ref uint32) {
	c := sh.chunk(ref)
	class, _ := chunkClass(c)
	if class == classLarge {
		idx := ref >> 16
		sh.pageBytes -= int64(len(sh.pages[idx]))
		sh.pages[idx] = nil
		sh.freePages = append(sh.freePages, uint16(idx))
		return
	}
	hd := header(c)
	hd.vlen |= flagFree << vlenBits
	hd.expiry = int64(sh.free[class]) // the next free chunk, see chunkHeader
	sh.free[class] = ref
}

// xorEnds returns the xor of the 8-byte words at offsets m and n-8-m of p
// with those of k (m <= n-8), read as machine words (load64): zero when
// they are equal. Put and Get compare keys of 8 to 32 bytes with it,
// inline: ends 0 for n <= 16, then ends 8 for n <= 32, so the overlapping
// words cover every byte. A call to memequal would make them spill and
// reload every value they keep across it, on the path that follows the
// cache miss for the chunk.
func xorEnds(p, k unsafe.Pointer, n, m uint) uint64 {
	a := load64(unsafe.Add(p, m)) ^ load64(unsafe.Add(k, m))
	b := load64(unsafe.Add(p, n-8-m)) ^ load64(unsafe.Add(k, n-8-m))
	return a | b
}

// copyShort copies the n bytes at src to p, for 16 <= n <= 64, with two or
// four overlapping 16-byte moves. Put copies values of that size with it,
// inline, for the reason given at xorEnds.
func copyShort(p, src unsafe.Pointer, n uint) {
	if n > 32 {
		move16(p, src, 16)
		move16(p, src, n-32)
	}
	move16(p, src, 0)
	move16(p, src, n-16)
}

// move16 copies the 16 bytes at src+off to p+off (with SIMD registers on
// the common CPUs: larger array assignments become calls to memmove).
func move16(p, src unsafe.Pointer, off uint) {
	*(*[16]byte)(unsafe.Add(p, off)) = *(*[16]byte)(unsafe.Add(src, off))
}
