// Package hlc implements a hybrid logical clock (Kulkarni, Demirbas et al.,
// "Logical Physical Clocks", 2014).
//
// A hybrid logical clock issues timestamps that track physical time closely
// yet respect causality: every timestamp a node issues is greater than every
// timestamp it has issued or received before. GridKV uses them as the
// versions of stored values, so that the newest write wins deterministically
// on every replica.
//
// The package imports only the standard library.
//
// # Guarantees
//
//   - Monotonic: Clock.Now returns strictly increasing timestamps, from any
//     number of goroutines, even when the wall clock steps backwards.
//   - Causal: after Clock.Update(ts) succeeds, every later Now is greater than
//     ts.
//   - Close to physical time: a timestamp's wall time is never behind the
//     local wall clock truncated to Tick, and is ahead of it only by what was
//     received (at most MaxOffset) or by logical-counter carries (one Tick per
//     2^LogicalBits events issued within a Tick, which a single Clock cannot
//     sustain in practice).
//   - Cheap: Now and Update are lock-free and allocation-free; Update's path
//     for a remote that is not ahead performs no writes.
//   - Encodable: Timestamp's 12-byte binary encoding sorts bytewise in time
//     order, so encoded timestamps can be compared or used as key suffixes.
//
// # Representation
//
// A Clock keeps its state in one 64-bit word: the wall time with its low
// LogicalBits bits cleared, plus the logical counter in those bits. The wall
// times it issues are therefore multiples of Tick (about 65.5µs), which is far
// below any clock offset a cluster tolerates. When the logical counter fills
// a tick it carries into the wall time rather than wrapping; this is the
// defined overflow behaviour. Timestamp itself is general: any (WallTime,
// Logical) pair is ordered, encoded and accepted by Update.
//
// # Hazards
//
// HAZARD: the wall clock must be roughly synchronised (NTP or better). If a
// node's wall clock runs ahead of its peers by more than MaxOffset, its
// timestamps are rejected by Update on the other nodes, so its messages are
// refused. If it runs ahead by less, its writes win last-write-wins races
// against writes that happened later in real time on other nodes: with
// last-write-wins, clock offset turns into lost updates of that size.
//
// HAZARD: a remote timestamp within MaxOffset is accepted and pulls this
// clock forward. A peer whose clock is wrong by up to MaxOffset therefore
// drags the timestamps of every node it talks to ahead of real time by as
// much; they return to physical time only once real time catches up.
//
// HAZARD: a Clock keeps no state across restarts. A process that restarts
// within the span its clock had run ahead of the wall clock (through Update
// or counter carries) can issue timestamps lower than ones it issued before
// the restart. Callers that need monotonicity across restarts should persist
// an upper bound (for example, Last plus MaxOffset) and refuse to issue
// timestamps until the wall clock passes it.
//
// HAZARD: events on two nodes that do not communicate and fall within the
// same Tick are ordered by their logical counters, which count events, not
// time: a write issued a few microseconds later on another node can order
// first. Last-write-wins across nodes is only as fine as Tick plus the clock
// offset between them.
//
// HAZARD: wall times are int64 nanoseconds since the Unix epoch, valid until
// the year 2262; readings before the epoch are treated as the epoch itself.
package hlc
