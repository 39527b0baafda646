// Package ringbench compares GridKV's consistent-hash ring with the rings
// users would otherwise pick: github.com/buraksezer/consistent v0.10.0
// (partitioned, bounded-load) and github.com/golang/groupcache/consistenthash
// (a plain virtual node ring), with xxhash64 of the key alone as the floor.
//
// All libraries get the same 10 members and 150 virtual nodes per member
// (buraksezer: ReplicationFactor 150 with its default 271 partitions, load
// factor 1.25 and an xxhash64 hasher; groupcache: 150 replicas with its
// default CRC-32 hash), and the same 16,384 keys "key-0" ... "key-16383".
// gridkv is also measured at its default config (8192 virtual nodes per
// member), which is what its balance guarantee is stated for. On a shared
// machine timings are noisy: compare libraries within one run (-count
// interleaves them), never across runs.
//
// Benchmarks (run from the tools module):
//
//	go test ./bench/ring -run '^$' -bench . -benchmem -count 10 | tee ring.txt
//	benchstat ring.txt
//
// Sub-benchmarks are named after the library: gridkv, buraksezer,
// groupcache and xxhash, plus gridkv-default (default config) and, for
// Replicas, gridkv-zones (members spread over 3 zones, so replicas are
// zone-distinct; the others have no zones, as buraksezer has none).
//
// Balance (max/mean keys per member over 1,000,000 keys) and movement when
// an 11th member joins 10 (share of keys that change owner, against the
// ideal 1/11, and keys that move between two old members), for every
// library:
//
//	go test ./bench/ring -run TestBalanceAndMovement -v
package ringbench
