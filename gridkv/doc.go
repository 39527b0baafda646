// Package gridkv is an embedded, replicated key-value store: start a Node in
// each instance of your service, point them at each other, and they form a
// cluster that keeps every key on N nodes.
//
// # Model
//
// Every node is equal (Dynamo-style). Membership and failure detection run
// on SWIM gossip (package swim); live members are placed on a
// consistent-hash ring (package ring), and a key's replicas are the N
// distinct members after its hash, spread over zones first. Any node
// coordinates any key: it sends writes to the key's N replicas and waits for
// W acknowledgements, and reads from the replicas, waiting for R answers and
// returning the newest version.
//
// Versions are hybrid-logical-clock timestamps (package hlc) plus a node
// tie-breaker, so the newest write wins the same way on every replica (last
// write wins). Every message carries the sender's clock, which the receiver
// merges; a sender whose clock is more than Options.MaxClockOffset ahead is
// refused.
//
// # Guarantees
//
//   - With W + R > N (the QUORUM default: W = R = N/2+1), a successful Get
//     returns a value at least as new as any Set or Delete that completed
//     before the Get started, as long as the ring is stable.
//   - No acknowledged write is lost while at least one of the W replicas
//     that acknowledged it survives: anti-entropy, read repair, hinted
//     handoff and rebalancing copy it to the other replicas.
//   - Deletes write tombstones that are kept for Options.TombstoneGrace,
//     which Validate forces to exceed the hint window plus two anti-entropy
//     rounds, so repair never resurrects a deleted key.
//   - Everything is bounded: in-flight requests (ErrOverloaded past
//     Options.MaxInFlight), hints (Options.MaxHints), message sizes, the
//     transport's handler pool. Every goroutine stops in Close.
//
// # What it does not promise
//
//   - Last write wins means concurrent writes to one key race: the one with
//     the higher version survives, the other is lost, silently. Clock skew
//     between nodes (up to MaxClockOffset) decides such races too.
//   - A failed Set (an error, including a *QuorumError or a context
//     deadline) may still have been applied by some replicas, and will then
//     spread: treat it as "maybe written".
//   - QUORUM is not linearizable: a read concurrent with a write, or reads
//     during membership changes (sloppy quorum), may see older values.
//   - Data lives in memory. A node that restarts comes back empty and is
//     refilled by hinted handoff, anti-entropy and read repair; a key whose
//     every replica restarted is gone.
//
// # LINEARIZABLE
//
// WithConsistency(Linearizable) makes the operations of a key linearizable,
// using ABD (Attiya, Bar-Noy, Dolev; multi-writer variant) over the key's
// own replicas, with majorities of N:
//
//   - Set and Delete read the versions held by a majority, then write a
//     version greater than all of them to a majority: two round trips.
//   - Get reads from a majority; if the majority does not already agree on
//     the newest version, it writes that version back to a majority before
//     returning: one round trip, two when replicas disagree.
//
// Conditions: it holds while the ring is stable during an operation (a
// member that fails keeps its ranges for Options.HintWindow, so crashes and
// partitions do not change the ring; joins and leaves do). Stand-ins and
// hints never count towards its majorities (no sloppy quorum). A node that
// joins an existing cluster (for instance after a restart, which empties
// its memory) answers LINEARIZABLE requests only after it has synchronised
// every range with every peer. A node whose clock is more than
// MaxClockOffset ahead is refused, so its operations fail rather than win.
// The repository's fault-injection harness (robustness_test.go) checks the
// histories with porcupine under crashes, partitions, loss, duplication,
// reordering, clock skew and stalls.
//
// # Data path
//
// Set: validate → hlc.Now → version → ring.Replicas(key, N) over the current
// ring → local storage.Put for this node, transport calls for the others (a
// replica known to be down is replaced by the next healthy node after the
// preference list, which keeps the write as a hint) → return after W acks;
// the other replicas complete in the background.
//
// Get: ring.Replicas → with R = 1 and this node a replica, storage.Get
// locally with no network; otherwise ask R healthy replicas (this node first
// when it is one; a failed one is replaced at once, and the rest are asked
// once Options.ReadHedge passes), return the newest of the first R answers,
// and write it back to replicas that answered with an older version (read
// repair; blocking for QUORUM and ALL, in the background for ONE).
//
// # Background work
//
// Hinted handoff (Options.HintInterval), anti-entropy (one peer per
// Options.AntiEntropyInterval, comparing per-range digests built from
// storage's per-bucket digests and exchanging only differing keys) and
// rebalancing (on every ring change, exactly the ranges whose replica set
// changed are streamed by one old owner to each new owner, paced by
// Options.RebalanceBytesPerSec; reads consult the previous owners until the
// moves finish).
package gridkv
