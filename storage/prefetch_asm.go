//go:build amd64 || arm64

package storage

// prefetch asks the CPU to bring the cache line holding addr into its
// caches, without waiting for it. It never faults, whatever addr is, and
// is not ordered by locks or fences: prefetches issued one after another
// overlap their memory latencies.
//
//go:noescape
func prefetch(addr uintptr)
