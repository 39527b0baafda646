package hlc

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// LogicalBits is the number of low bits of a Clock's internal state that hold
// the logical counter. The wall time keeps the remaining high bits, so a
// Clock's wall times are multiples of Tick.
const LogicalBits = 16

// Tick is the resolution of the wall times a Clock produces: 2^LogicalBits
// nanoseconds (about 65.5µs). Within one tick, up to 2^LogicalBits events are
// ordered by the logical counter; beyond that the counter carries into the
// wall time (see Clock.Now).
const Tick = time.Duration(1 << LogicalBits)

const logicalMask = 1<<LogicalBits - 1

// DefaultMaxOffset is the maximum clock offset tolerated by default.
const DefaultMaxOffset = 500 * time.Millisecond

// ErrInvalidConfig is returned (wrapped) by Config.Validate and NewClock.
var ErrInvalidConfig = errors.New("hlc: invalid config")

// ErrClockOffset is matched (errors.Is) by the *OffsetError that Update
// returns when a remote timestamp is too far ahead of the local wall clock.
var ErrClockOffset = errors.New("hlc: remote clock ahead of max offset")

// OffsetError describes a remote timestamp rejected by Clock.Update.
type OffsetError struct {
	Remote    Timestamp     // the rejected timestamp
	LocalWall int64         // the local wall clock when it was rejected (ns)
	MaxOffset time.Duration // the configured tolerance
}

// Error implements error.
func (e *OffsetError) Error() string {
	return fmt.Sprintf("hlc: remote timestamp %s is %v ahead of the local wall clock (max offset %v)",
		e.Remote, time.Duration(e.Remote.WallTime-e.LocalWall), e.MaxOffset)
}

// Is reports whether target is ErrClockOffset.
func (e *OffsetError) Is(target error) bool { return target == ErrClockOffset }

// WallClock reads physical time in nanoseconds since the Unix epoch.
type WallClock func() int64

// UnixNano is the default WallClock: time.Now().UnixNano().
func UnixNano() int64 { return time.Now().UnixNano() }

// Config configures a Clock.
type Config struct {
	// WallClock is the physical time source. Nil means UnixNano. Tests pass
	// a ManualClock's Now method.
	WallClock WallClock
	// MaxOffset is the furthest a remote timestamp may be ahead of the local
	// wall clock for Update to accept it. It must be positive: an unbounded
	// offset would let one bad peer drag every clock arbitrarily far ahead.
	MaxOffset time.Duration
}

// DefaultConfig returns a Config reading real time with DefaultMaxOffset.
func DefaultConfig() Config {
	return Config{WallClock: UnixNano, MaxOffset: DefaultMaxOffset}
}

// Validate reports whether c can build a Clock.
func (c Config) Validate() error {
	if c.MaxOffset <= 0 {
		return fmt.Errorf("%w: MaxOffset must be positive, got %v", ErrInvalidConfig, c.MaxOffset)
	}
	return nil
}

// Clock is a hybrid logical clock. It is safe for concurrent use; Now and
// Update are lock-free and do not allocate.
//
// The clock's state is one 64-bit word: the wall time truncated to Tick in
// the high bits and the logical counter in the low LogicalBits bits. Packing
// both into one word lets a single compare-and-swap advance them together.
type Clock struct {
	state     atomic.Uint64
	wall      WallClock
	maxOffset time.Duration
}

// NewClock returns a Clock configured by cfg.
func NewClock(cfg Config) (*Clock, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.WallClock == nil {
		cfg.WallClock = UnixNano
	}
	return &Clock{wall: cfg.WallClock, maxOffset: cfg.MaxOffset}, nil
}

// MaxOffset returns the configured maximum offset.
func (c *Clock) MaxOffset() time.Duration { return c.maxOffset }

// WallNow reads the clock's wall-time source (not truncated to Tick).
func (c *Clock) WallNow() int64 { return c.wall() }

// Now returns a timestamp strictly greater than every timestamp this clock
// has returned from Now or accepted through Update. It is the wall time when
// the wall clock has moved past the last timestamp, and otherwise the last
// timestamp with the logical counter incremented. When the counter would
// exceed 2^LogicalBits-1 it carries into the wall time, so the result runs one
// Tick ahead of the wall clock instead of wrapping: monotonicity always wins.
func (c *Clock) Now() Timestamp {
	// The wall clock is read once, outside the retry loop: a lost race only
	// reloads the state word, and a reading a few nanoseconds stale is as
	// good as a fresh one because the result is still greater than the state.
	pt := packWall(c.wall())
	for {
		old := c.state.Load()
		next := max(old+1, pt)
		if c.state.CompareAndSwap(old, next) {
			return unpack(next)
		}
	}
}

// Last returns the most recent timestamp issued or accepted, without
// advancing the clock.
func (c *Clock) Last() Timestamp { return unpack(c.state.Load()) }

// Update merges a timestamp received from another node, so that every later
// Now is greater than remote. When remote is not ahead of the clock, Update
// only reads. When remote's wall time is more than MaxOffset ahead of the
// local wall clock, Update leaves the clock unchanged and returns an
// *OffsetError (errors.Is(err, ErrClockOffset)).
func (c *Clock) Update(remote Timestamp) error {
	r := packCeil(remote)
	old := c.state.Load()
	if r <= old {
		return nil
	}
	// uint64 subtraction is exact once remote > local, even across the int64 range.
	if local := c.wall(); remote.WallTime > local && uint64(remote.WallTime)-uint64(local) > uint64(c.maxOffset) {
		return &OffsetError{Remote: remote, LocalWall: local, MaxOffset: c.maxOffset}
	}
	for !c.state.CompareAndSwap(old, r) {
		old = c.state.Load()
		if r <= old {
			return nil
		}
	}
	return nil
}

// packWall packs a wall reading with logical zero, truncated to Tick.
// Readings before the epoch pack as zero.
func packWall(ns int64) uint64 {
	if ns < 0 {
		return 0
	}
	return uint64(ns) &^ logicalMask
}

// packCeil returns the smallest packed state that is not less than t.
func packCeil(t Timestamp) uint64 {
	if t.WallTime < 0 {
		return 0
	}
	w := uint64(t.WallTime)
	if w&logicalMask == 0 && t.Logical <= logicalMask {
		return w | uint64(t.Logical)
	}
	// Not representable exactly: the next tick boundary is greater.
	return w&^logicalMask + 1<<LogicalBits
}

func unpack(s uint64) Timestamp {
	return Timestamp{WallTime: int64(s &^ logicalMask), Logical: uint32(s & logicalMask)}
}
