// Package swim is GridKV's membership layer: SWIM failure detection (Das et
// al. 2002) with the Lifeguard extensions (Dadgar et al. 2018), gossip
// dissemination, push-pull state exchange and an encrypted, authenticated
// wire format.
//
// # Shape
//
// The protocol is a deterministic state machine (unexported core, in the
// style of etcd-io/raft): it takes the current time, received messages and
// stream results as inputs, and produces datagrams to send, stream work to
// do and membership events. It never reads a clock, sleeps, touches a
// socket or starts a goroutine, and its randomness comes from a seed
// (Config.RandSeed). Node wraps it with a Transport, a Clock and four
// goroutines (datagrams, streams, timers, events) that Shutdown stops.
//
// Transports: NewNetTransport (UDP and TCP on one port, standard library
// only) and MemNetwork (in memory, with drop, delay, partition, stall and
// kill for tests). Any other network can be adapted to the small Transport
// interface.
//
// # What it guarantees
//
//   - A member that stops answering is suspected after one probe interval
//     (direct ping, IndirectChecks indirect pings with nacks, and a fallback
//     probe over a stream), then declared dead unless it refutes within the
//     suspicion timeout. Only the member itself raises its incarnation, so
//     a live member that hears of its suspicion (piggybacked gossip, or the
//     ping of the member probing it: the buddy system) always wins.
//   - Lifeguard: the suspicion timeout starts at SuspicionMaxTimeoutMult
//     times its minimum (SuspicionMult*log10(n)*ProbeInterval) and shrinks
//     with independent confirmations; a node that misses acks and nacks
//     raises its local health score, which stretches its probe interval,
//     probe timeout and suspicion timeouts (it judges others more slowly
//     while it is itself struggling).
//   - Updates are piggybacked on every datagram and gossiped every
//     GossipInterval (and at once when there is news), each sent
//     RetransmitMult*ceil(log10(n+1)) times, least-sent and newest first,
//     packed into datagrams of at most MTU bytes.
//   - Push-pull: every PushPullInterval (scaled up past 32 members) a node
//     compares table checksums with a random member and exchanges full state
//     only if they differ. Two early exchanges follow every join, so a
//     bootstrap has no long tail.
//   - Events reach the application in the order the node observed them
//     (join, update, leave, fail, user message). A graceful Leave is seen as
//     EventLeave, never EventFail.
//   - Memory is bounded: dead and left members are forgotten after
//     DeadRetention; the gossip queue, stream count, frame size, packet
//     item count, metadata size and event queue all have limits.
//   - With a Keyring, every datagram and stream frame is sealed with
//     ChaCha20-Poly1305 under the primary key and accepted under any
//     installed key; Label is bound as additional data. Packets that fail
//     authentication or decoding are dropped and counted (Stats).
//
// # Deviations from memberlist and the papers
//
//   - Suspicion evidence. The fallback stream probe tells a member that
//     refuses or black-holes connections (its host or process is gone)
//     from one that accepts them but stays silent (its process is paused or
//     starved). Confirmations of the second kind do not shrink the timeout:
//     a paused process gets the full maximum to come back. When
//     SuspicionMult-1 members report the first kind, the timeout drops to
//     UnreachableSuspicionTimeout. Members that learn of an "unreachable"
//     suspicion probe the suspect next, so confirmations (or a refutation)
//     arrive within about one probe interval.
//   - Paused process. When the node's own inputs show a clock jump of more
//     than two probe intervals (it was not running), the judgement
//     deadlines it holds move forward by the gap and its health drops to the
//     worst value, so it does not declare others dead for its own pause.
//   - Remote "dead" states received by push-pull only make a member
//     suspect (as memberlist does); a forgotten dead member is not
//     resurrected by a peer that still remembers it.
//
// # What it does not do
//
// It does not provide consensus or a consistent view: two members may
// briefly disagree about a third (Checksum shows when they agree). It does
// not compress, does not offer a ping delegate, merge delegate or
// conflict delegate, and does not speak memberlist's wire protocol.
//
// # HAZARDs
//
//   - A partition makes each side declare the other dead; the sides merge
//     again through ReconnectInterval attempts to dead members and seeds.
//     If a partition outlasts DeadRetention and no seed is on the other
//     side, the halves stay apart until someone calls Join.
//   - A process that hangs while its kernel keeps accepting connections is
//     declared dead only after the maximum suspicion timeout (about 43 s at
//     64 members with DefaultLANConfig), by design (see above).
//   - Without a Keyring, packets are plain text and anyone who can reach
//     the port can inject membership updates; the label then only guards
//     against accidental merges.
//   - Random 96-bit nonces: rotate keys well before 2^32 packets per key.
//   - Names must be unique. A restarted member with the same name rejoins
//     by refuting its own death (its incarnation jumps past the old one).
//   - Addresses are compared as strings: seeds given as host names are
//     re-resolved on every attempt but never recognised as live members, so
//     while any member is dead they are contacted at every reconnect. Only
//     seed addresses (Join, reconnect) go through DNS; member addresses are
//     used as their transports reported them.
package swim
