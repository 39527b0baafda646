//go:build 386 || amd64 || arm64 || ppc64 || ppc64le || s390x

package storage

import "unsafe"

// load64 reads the 8 bytes at p as a machine word. These CPUs load
// unaligned words in one instruction.
func load64(p unsafe.Pointer) uint64 { return *(*uint64)(p) }
