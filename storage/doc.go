// Package storage will hold GridKV's versioned in-memory storage engines:
// last-write-wins entries, TTL, a memory limit, hash-range iteration and
// per-range digests for anti-entropy.
package storage
