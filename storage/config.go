package storage

import (
	"fmt"
	"math/bits"
	"time"

	"github.com/cespare/xxhash/v2"
)

// Limits on configuration values.
const (
	// MaxKeySizeLimit is the largest accepted Config.MaxKeySize (key lengths
	// are stored in 16 bits).
	MaxKeySizeLimit = 1<<16 - 1
	// MaxValueSizeLimit is the largest accepted Config.MaxValueSize (value
	// lengths are stored in 28 bits).
	MaxValueSizeLimit = 1<<28 - 1
	// MaxShards is the largest accepted Config.Shards.
	MaxShards = 1 << 16
	// MaxDigestBits is the largest accepted Config.DigestBits.
	MaxDigestBits = 24
)

// HashFunc maps a key to a 64-bit position. It must be deterministic and safe
// for concurrent use, and it must neither modify nor retain its argument.
type HashFunc func(key []byte) uint64

// LimitPolicy says what Put does when a write would exceed Config.MemoryLimit.
type LimitPolicy uint8

const (
	// LimitEvict evicts entries by sampled LRU until the write fits (see the
	// package documentation for the policy).
	LimitEvict LimitPolicy = iota
	// LimitReject refuses the write with ErrMemoryLimit.
	LimitReject
)

// String returns "evict" or "reject".
func (p LimitPolicy) String() string {
	switch p {
	case LimitEvict:
		return "evict"
	case LimitReject:
		return "reject"
	default:
		return fmt.Sprintf("LimitPolicy(%d)", uint8(p))
	}
}

// Config configures an engine. The zero value is not valid; start from
// DefaultConfig. Both backends accept the same Config; Shards is ignored by
// the map backend.
type Config struct {
	// Shards is the number of independently locked shards of the sharded
	// backend, a power of two. A key's shard is chosen by the top bits of its
	// hash. The memory limit is split evenly between shards.
	Shards int

	// MaxKeySize is the longest accepted key, in bytes (at most
	// MaxKeySizeLimit).
	MaxKeySize int

	// MaxValueSize is the longest accepted value, in bytes (at most
	// MaxValueSizeLimit).
	MaxValueSize int

	// MemoryLimit bounds the accounted bytes (see AccountedSize); 0 means no
	// limit. With the sharded backend each shard gets MemoryLimit/Shards,
	// which must fit the largest possible entry.
	MemoryLimit int64

	// LimitPolicy chooses between evicting and rejecting when a write would
	// exceed MemoryLimit.
	LimitPolicy LimitPolicy

	// EvictionSamples is how many entries sampled LRU looks at to choose one
	// victim. More samples approximate LRU better and cost more per eviction.
	EvictionSamples int

	// TombstoneGrace is how long a tombstone is kept after the deletion (or,
	// for an expired entry, after its expiry) before it may be purged. It
	// must exceed the longest time a replica can miss writes and still be
	// repaired, or deleted data can come back. Tombstones younger than this
	// are never evicted.
	TombstoneGrace time.Duration

	// SweepInterval is the period of the background sweeper that turns
	// expired entries into tombstones and purges tombstones whose grace
	// period is over. 0 starts no goroutine; call Engine.Sweep yourself.
	SweepInterval time.Duration

	// ExpiryResolution is the granularity of the active-expiry queue: the
	// sweeper handles a deadline once the whole resolution interval holding
	// it has passed. Reads are exact regardless (lazy expiry). Deadlines are
	// tracked up to 2^32 resolution intervals after the engine starts.
	ExpiryResolution time.Duration

	// DigestBits is log2 of the number of digest buckets: bucket b holds the
	// keys whose hash has b as its top DigestBits bits. It must be at least
	// log2(Shards) and at most MaxDigestBits.
	DigestBits int

	// Hash maps keys to positions; nil means xxhash64, which is what the ring
	// module uses, so that storage hash ranges equal ring ranges.
	Hash HashFunc

	// Clock supplies the current time; nil means SystemClock.
	Clock Clock
}

// DefaultConfig returns the recommended configuration: 256 shards, keys up to
// 4 KiB, values up to 1 MiB, no memory limit (evict when one is set), 5
// eviction samples, a one-hour tombstone grace period, a sweeper every
// second with one-second resolution, 1024 digest buckets, xxhash64 and the
// system clock.
func DefaultConfig() Config {
	return Config{
		Shards:           256,
		MaxKeySize:       4096,
		MaxValueSize:     1 << 20,
		LimitPolicy:      LimitEvict,
		EvictionSamples:  5,
		TombstoneGrace:   time.Hour,
		SweepInterval:    time.Second,
		ExpiryResolution: time.Second,
		DigestBits:       10,
	}
}

// Validate reports whether c can be used, wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	switch {
	case c.Shards < 1 || c.Shards > MaxShards || c.Shards&(c.Shards-1) != 0:
		return bad("Shards %d is not a power of two in [1, %d]", c.Shards, MaxShards)
	case c.MaxKeySize < 1 || c.MaxKeySize > MaxKeySizeLimit:
		return bad("MaxKeySize %d not in [1, %d]", c.MaxKeySize, MaxKeySizeLimit)
	case c.MaxValueSize < 0 || c.MaxValueSize > MaxValueSizeLimit:
		return bad("MaxValueSize %d not in [0, %d]", c.MaxValueSize, MaxValueSizeLimit)
	case c.MemoryLimit < 0:
		return bad("negative MemoryLimit %d", c.MemoryLimit)
	case c.LimitPolicy > LimitReject:
		return bad("unknown LimitPolicy %d", c.LimitPolicy)
	case c.EvictionSamples < 1 || c.EvictionSamples > 64:
		return bad("EvictionSamples %d not in [1, 64]", c.EvictionSamples)
	case c.TombstoneGrace < 0:
		return bad("negative TombstoneGrace %v", c.TombstoneGrace)
	case c.SweepInterval < 0:
		return bad("negative SweepInterval %v", c.SweepInterval)
	case c.ExpiryResolution < time.Millisecond:
		return bad("ExpiryResolution %v below 1ms", c.ExpiryResolution)
	case c.DigestBits < c.shardBits() || c.DigestBits > MaxDigestBits:
		return bad("DigestBits %d not in [log2(Shards)=%d, %d]", c.DigestBits, c.shardBits(), MaxDigestBits)
	}
	if c.MemoryLimit > 0 {
		largest := int64(c.MaxKeySize + c.MaxValueSize + EntryOverhead)
		if per := c.MemoryLimit / int64(c.Shards); per < largest {
			return bad("MemoryLimit/Shards = %d bytes cannot hold the largest entry (%d bytes); lower Shards or MaxValueSize", per, largest)
		}
	}
	return nil
}

func (c Config) shardBits() int { return bits.TrailingZeros(uint(c.Shards)) }

func (c Config) hashFunc() HashFunc {
	if c.Hash != nil {
		return c.Hash
	}
	return xxhash.Sum64
}

func (c Config) clock() Clock {
	if c.Clock != nil {
		return c.Clock
	}
	return SystemClock()
}

// checkKey validates a key against the limits.
func (c *Config) checkKey(key []byte) error {
	if len(key) == 0 {
		return ErrEmptyKey
	}
	if len(key) > c.MaxKeySize {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrKeyTooLarge, len(key), c.MaxKeySize)
	}
	return nil
}

// checkPut validates a key and an entry against the limits.
func (c *Config) checkPut(key []byte, e *Entry) error {
	if err := c.checkKey(key); err != nil {
		return err
	}
	if !e.Tombstone && len(e.Value) > c.MaxValueSize {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrValueTooLarge, len(e.Value), c.MaxValueSize)
	}
	return nil
}
