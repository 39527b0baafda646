// Package storage is GridKV's versioned in-memory storage for one node:
// last-write-wins entries with TTL, a memory limit with eviction, iteration
// over key-hash ranges for rebalancing, and per-bucket digests for
// anti-entropy.
//
// An Entry is {Value, Version, Expiry, Tombstone}. Engine.Put stores it only
// if its Version (16 bytes, compared as bytes) is greater than the stored
// one, atomically per key; a delete is a Put of a tombstone. Get never
// returns a tombstone or an expired entry; GetEntry returns the raw entry for
// replication. Reads append to a caller buffer, so they can be
// allocation-free, and never alias stored bytes.
//
// Two backends implement Engine: Sharded (the default; see NewSharded) and
// Map (one lock around a Go map; for tests and tiny stores). A Registry,
// which is a plain value, opens either by name. Both take a Config
// (DefaultConfig, Validate).
//
// # Guarantees
//
//   - Last-write-wins per key: of two Puts of the same key, the one with the
//     greater Version is kept whatever the arrival order; equal versions keep
//     the first. A tombstone keeps its version until it is purged.
//   - Lazy expiry is exact: a read at or after an entry's Expiry (by the
//     configured Clock) reports ErrNotFound.
//   - Active expiry does not scan the store: each shard keeps a queue of
//     deadlines (a pointer-free binary heap), and Sweep handles only the
//     items that are due. An expired entry becomes a tombstone with the same
//     version (so digests do not change and an older write cannot come
//     back); a tombstone is purged once Config.TombstoneGrace has passed
//     since its deletion (or, for expiry, since its Expiry). The sweeper
//     goroutine (Config.SweepInterval) is stopped by Close.
//   - Accounting is exact with respect to its definition: Bytes always
//     equals the sum of AccountedSize over the stored entries, after
//     overwrites, deletes, expiry, purges and evictions.
//   - With a MemoryLimit, Bytes never exceeds it. When a write would exceed
//     it, the engine evicts (LimitEvict) or refuses the write with
//     ErrMemoryLimit (LimitReject).
//   - Eviction policy: sampled LRU. For each victim, EvictionSamples
//     entries are sampled at random; an expired entry, a tombstone left by
//     expiry, or a tombstone past its grace period found among them is taken
//     at once, otherwise the least recently used live entry is evicted.
//     Recency is a 16-bit stamp (the shard's write sequence / 16) set on
//     every write and read; ages are taken modulo 2^16, so entries untouched
//     for over a million writes to their shard look younger than they are. Tombstones of deletes younger than the grace period are never
//     evicted; if nothing else can go, Put fails with ErrMemoryLimit. Sampled
//     LRU was chosen over S3-FIFO because it needs no queue per entry (one
//     32-bit stamp in the entry header) and its hit ratio is measured by
//     BenchmarkEvictionHitRatio.
//   - Hash ranges: Range(start, end) visits the entries whose key hash is in
//     [start, end), wrapping around when start >= end (so Range(0, 0) visits
//     all). The hash defaults to xxhash64, the ring's hash, so storage ranges
//     are ring ranges. Each shard is copied under its lock: the view is
//     consistent per shard, and reads and writes wait only for one shard's copy.
//   - Digests: 1<<DigestBits buckets by the top bits of the key hash; a
//     bucket's digest is the wrapping sum of EntryDigest(hash, version) over
//     its entries, tombstones included, updated in O(1) per write. It does
//     not depend on the backend, the shard count or the write order, so two
//     replicas holding the same (key, version) pairs in a bucket have equal
//     digests and need only exchange the keys of buckets that differ
//     (Range(BucketRange(b))).
//   - Hash collisions are harmless: lookups compare the full key.
//
// # Layout of the sharded backend
//
// A key's shard is chosen by the top bits of its hash. Each shard has a
// mutex, an open-addressing index ([]uint64: 32 hash bits and a 32-bit
// chunk reference per slot, linear probing, backward-shift deletion), byte
// pages (1 KiB growing to 512 KiB with the shard) from which entry chunks are
// carved by size class (8-byte steps to 512 bytes, then 12.5% steps; free
// chunks are kept on per-class free lists and reused; chunks above 16 KiB
// get a page of their own), a deadline heap ([]uint64) and its digests.
// None of these contain pointers except the page list, so the garbage
// collector visits one object per page (about 22,000 for 10 million small
// entries) and scans no per-entry pointers, and reads and steady-state
// writes do not allocate. An entry costs a 32-byte header plus key and
// value rounded to its size class, an 8-byte index slot at 64-80% load,
// and, if it has a deadline, an 8-byte heap item: about 60 bytes beyond key
// and value for 20-byte keys and 64-byte values (see tools/cmd/bench-storage).
//
// A lookup waits for two memory reads in a row: the index slot, then the
// chunk it points to. Sharded.Prefetch takes a batch of keys about to be
// used and asks the CPU for all their slots, then for all their chunks, so
// those waits overlap: BenchmarkPutPipeline (batches of 16 random keys of
// 1M) measured 335-425 against 545-610 ns per key on the 2-core benchmark
// machine.
//
// # What it does not do
//
// It does not persist anything, replicate, or generate versions (gridkv
// does). It does not interpret versions beyond byte comparison. Map is not
// GC-friendly and keeps one global limit; Sharded splits the limit evenly
// between shards. Freed chunks are reused only by entries of the same size
// class, so a workload whose value sizes shift keeps memory of the old sizes
// (like memcached's slab calcification); accounting reports logical bytes,
// not that slack (Sharded.PageBytes reports the pages).
//
// # Hazards
//
// HAZARD: purging a tombstone forgets the deletion. If a replica that missed
// the delete later sends the older value (hinted handoff, anti-entropy),
// it is accepted again. TombstoneGrace must exceed the longest time a
// replica can stay out of date and still be repaired.
//
// HAZARD: eviction forgets live data on this replica. In a replicated store
// an evicted value may later be restored from another replica, or an older
// version may be, exactly as after a purge. Use LimitReject where data must
// not silently disappear.
//
// HAZARD: with the sharded backend each shard has MemoryLimit/Shards bytes.
// Keys are spread by hash, so shards fill evenly for many small entries, but
// a few large values can hit one shard's budget while the total is far
// below the limit. Validate refuses a per-shard budget that cannot hold the
// largest allowed entry.
//
// HAZARD: the digest of a bucket includes expired entries until they are
// swept and tombstones until they are purged; replicas whose sweepers run at
// different moments can disagree briefly on buckets holding fresh expiries or
// old tombstones. Expired entries keep their version when they become
// tombstones, so expiry itself does not change digests; deletes' tombstones
// are purged by local deletion time, which differs between replicas.
//
// HAZARD: a Clock that jumps backwards makes expired entries readable again
// until it catches up; the sweeper never turns them back.
package storage
