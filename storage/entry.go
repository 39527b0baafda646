package storage

import (
	"bytes"
	"math/bits"
)

// Version orders the writes of one key: Put applies an entry only if its
// Version is greater than the stored one. Versions compare as byte strings
// (bytes.Compare); the zero Version is the lowest. Storage never interprets a
// Version beyond comparing it, so callers can pack any order-preserving
// encoding into it (gridkv packs an encoded HLC timestamp and a node
// tie-breaker).
type Version [16]byte

// Compare returns -1, 0 or +1 as v is less than, equal to or greater than w
// in byte order.
func (v Version) Compare(w Version) int { return bytes.Compare(v[:], w[:]) }

// Less reports whether v orders before w.
func (v Version) Less(w Version) bool { return v.Compare(w) < 0 }

// Entry is one versioned value: what Put stores and GetEntry returns.
type Entry struct {
	// Value is the payload. Put copies it; the engine never retains the
	// caller's slice. It must be empty for a tombstone (it is ignored).
	Value []byte
	// Version decides last-write-wins between writes of the same key.
	Version Version
	// Expiry is when the entry stops being readable, in nanoseconds since
	// the Unix epoch; 0 means never. An entry whose Expiry is at or before
	// the clock's Now is expired: Get reports ErrNotFound for it, and the
	// sweeper later turns it into a tombstone with the same version.
	Expiry int64
	// Tombstone marks a deletion. A tombstone keeps its version (so older
	// writes arriving later lose) until the purge grace period has passed.
	Tombstone bool
}

// Expired reports whether e is expired at time now (nanoseconds since the
// epoch).
func (e *Entry) Expired(now int64) bool { return e.Expiry != 0 && e.Expiry <= now }

// EntryOverhead is the fixed number of bytes charged per stored entry, on top
// of its key and value, by the memory accounting (Engine.Bytes and
// Config.MemoryLimit). It approximates the sharded backend's real per-entry
// cost (entry header, index slot and expiry-queue slot); the bench-storage
// command measures the real heap cost.
const EntryOverhead = 64

// AccountedSize returns the bytes the memory accounting charges for storing e
// under key: len(key) + len(e.Value) + EntryOverhead, where a tombstone's value
// counts as empty.
func AccountedSize(key []byte, e Entry) int64 {
	n := len(key) + EntryOverhead
	if !e.Tombstone {
		n += len(e.Value)
	}
	return int64(n)
}

// EntryDigest is the contribution of one stored (key, version) pair to its
// bucket digest, given the key's hash. A bucket digest is the wrapping sum of
// the EntryDigest of every entry (tombstones included) whose key hash falls in
// the bucket, so it is updated in O(1) per write and does not depend on
// insertion order, shard count or backend.
//
// It is the folded multiply of wyhash applied twice: the 128-bit product of
// the version's two halves (each offset by a constant) folded to 64 bits,
// then the product of that with the key hash, folded again. Two multiplies
// in a row keep it short, which matters more than it seems: the old
// version's digest is computed on every overwrite, after the cache miss
// that fetches the entry, and at a million entries each instruction there
// delays the next operation's memory accesses.
func EntryDigest(keyHash uint64, v Version) uint64 {
	return digestWords(keyHash, le64(v[:8]), le64(v[8:]))
}

// digestWords is EntryDigest given the version's two halves loaded
// little-endian (as le64 does); the byte order only has to be the same on
// every machine, and little-endian loads need no byte swap on common CPUs.
func digestWords(keyHash, v0, v1 uint64) uint64 {
	ph, pl := bits.Mul64(v0^0x9e3779b97f4a7c15, v1^0xbf58476d1ce4e5b9)
	qh, ql := bits.Mul64(ph^pl^keyHash, keyHash^0x94d049bb133111eb)
	return qh ^ ql
}

// xorshift is a xorshift64 generator: fast, and good enough to choose
// eviction samples. Its state must not be zero.
type xorshift uint64

// next advances the generator and returns its new state.
func (x *xorshift) next() uint64 {
	*x ^= *x << 13
	*x ^= *x >> 7
	*x ^= *x << 17
	return uint64(*x)
}

// mix64 is the splitmix64 finaliser: a bijective 64-bit mixer.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
