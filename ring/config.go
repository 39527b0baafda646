package ring

import "fmt"

// Limits. They bound memory and construction time for input that may come
// from configuration files or the network (membership gossip).
const (
	// MaxMembers is the largest number of members a ring can hold. Member
	// indexes are stored as uint16 in the lookup tables.
	MaxMembers = 1<<16 - 1
	// MaxVNodes is the largest total number of virtual nodes in a ring
	// (1000 members of weight 1 at the default config need 8,192,000).
	// Virtual node indexes are stored in 23 bits of the lookup table.
	MaxVNodes = 1 << 23
	// MaxIDLen is the longest member ID, in bytes.
	MaxIDLen = 1024
	// MaxVNodesPerWeight is the largest accepted Config.VNodesPerWeight.
	MaxVNodesPerWeight = 1 << 16
	// MaxPrecomputedReplicas is the largest accepted
	// Config.PrecomputedReplicas.
	MaxPrecomputedReplicas = 16
	// MinTableBits and MaxTableBits bound Config.TableBits when it is set.
	MinTableBits, MaxTableBits = 4, 24
)

// HashFunc maps bytes to a position on the ring. It must be deterministic and
// safe for concurrent use, and it must neither modify nor retain its argument:
// Locate passes string keys to it without copying.
type HashFunc func(data []byte) uint64

// Config controls how a Ring places members. The zero value is not valid; start
// from DefaultConfig.
type Config struct {
	// VNodesPerWeight is the number of virtual nodes a member gets per unit of
	// weight. Balance improves roughly as 1/sqrt(VNodesPerWeight): over 1M
	// keys the default of 8192 measures max/mean load 1.01-1.04 for 10 and
	// 100 equal members; 1024 measures 1.03-1.06 (10) and 1.07-1.08 (100);
	// 150, the groupcache-style figure, 1.13-1.14 (10) and 1.18-1.24 (100).
	// Memory and construction time grow linearly with it.
	VNodesPerWeight int

	// Hash positions keys and virtual nodes. Nil means xxhash64 (the
	// default, and what GridKV storage uses, so that ring ranges and storage
	// hash ranges agree). Tests plug in a hash whose placement is obvious.
	Hash HashFunc

	// PrecomputedReplicas is how many entries of each virtual node's
	// preference list are precomputed. Replicas with n up to this value is a
	// table lookup; larger n walks the ring (same result, slower, still
	// allocation-free). Memory: 2 bytes per virtual node per entry.
	PrecomputedReplicas int

	// TableBits is log2 of the number of slots in each of the two lookup
	// tables that map the top bits of a key hash to the ring (one for
	// Locate, one for Replicas). 0 picks sizes automatically from the number
	// of virtual nodes: about 4 slots per virtual node, capped at 2^21 and
	// 2^20 slots (12 MiB together).
	TableBits int
}

// DefaultConfig returns the recommended configuration: 8192 virtual nodes per
// unit of weight, xxhash64, 5 precomputed replicas, automatic table size.
func DefaultConfig() Config {
	return Config{
		VNodesPerWeight:     8192,
		PrecomputedReplicas: 5,
	}
}

// Validate reports whether c is usable. The returned error wraps
// ErrInvalidConfig.
func (c Config) Validate() error {
	if c.VNodesPerWeight < 1 || c.VNodesPerWeight > MaxVNodesPerWeight {
		return fmt.Errorf("%w: VNodesPerWeight %d not in [1, %d]", ErrInvalidConfig, c.VNodesPerWeight, MaxVNodesPerWeight)
	}
	if c.PrecomputedReplicas < 1 || c.PrecomputedReplicas > MaxPrecomputedReplicas {
		return fmt.Errorf("%w: PrecomputedReplicas %d not in [1, %d]", ErrInvalidConfig, c.PrecomputedReplicas, MaxPrecomputedReplicas)
	}
	if c.TableBits != 0 && (c.TableBits < MinTableBits || c.TableBits > MaxTableBits) {
		return fmt.Errorf("%w: TableBits %d not 0 or in [%d, %d]", ErrInvalidConfig, c.TableBits, MinTableBits, MaxTableBits)
	}
	return nil
}
