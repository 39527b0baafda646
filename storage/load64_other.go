//go:build !(386 || amd64 || arm64 || ppc64 || ppc64le || s390x)

package storage

import (
	"encoding/binary"
	"unsafe"
)

// load64 reads the 8 bytes at p as a word, a byte at a time: p need not be
// aligned, and these CPUs may not load unaligned words.
func load64(p unsafe.Pointer) uint64 {
	return binary.LittleEndian.Uint64(unsafe.Slice((*byte)(p), 8))
}
