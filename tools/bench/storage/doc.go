// Package storagebench compares GridKV's sharded storage backend with the
// in-memory stores users would otherwise pick: otter v2, ristretto v2,
// xsync's concurrent map and sync.Map.
//
// Run from the tools module:
//
//	go test ./bench/storage -run '^$' -bench . -benchmem -count 6 | tee new.txt
//	benchstat new.txt
//
// Sub-benchmarks are named Benchmark<Op>/<implementation>/<distribution>.
// Only one filled store is alive at a time: each implementation's store is
// filled (and the heap collected) before its sub-benchmarks and dropped
// after them, so that no implementation pays for collecting another's
// pointers. Extra metrics: misses/op (reads that found
// nothing; 0 unless a cache dropped entries) and, for gridkv, applied/write
// (writes whose version won last-write-wins; gridkv versions writes with the
// wall clock plus a per-goroutine tie-breaker, as gridkv's HLC would).
//
// Every benchmark uses 1,048,576 keys of 16 to 24 bytes and 64-byte values,
// b.RunParallel with GOMAXPROCS goroutines (2 on the reference machine), and
// two key distributions: uniform, and zipf (s = 1.01) with hot keys scattered
// over the key space. gridkv runs with TTL (one hour on every entry), a
// memory limit (1 GiB, never reached) and its background sweeper enabled;
// otter and ristretto run with a size bound and a one-hour TTL as well; xsync
// and sync.Map have neither. gridkv copies values in and out (its Get appends
// to a caller buffer); the others store and return the caller's slice.
package storagebench
