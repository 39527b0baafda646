// Package transport is GridKV's node-to-node messaging: framed,
// multiplexed request/response and one-way messages between peers
// addressed by "host:port", plus unreliable datagrams on the same port.
//
// # What it does
//
// A Transport (Listen for sockets, package memnet for memory) carries
// messages of a uint16 MsgType to the Handler registered for that type on
// the peer. Call waits for the response, Send is one-way, SendPacket is a
// UDP datagram. Frames are a 16-byte header (version, flags, type, request
// ID, payload length) and a payload (see frame.go). Many concurrent calls
// share ConnsPerPeer connections: each call gets a request ID and its
// response is routed back by that ID.
//
// Two engines sit behind the same Endpoint: EngineNet (standard library:
// an uncontended sender writes directly, a writer goroutine per connection
// takes over when frames queue up; an accepted connection has a reader
// goroutine, while on a dialed connection a waiting caller reads its own
// response when nobody else is reading, so a round trip costs one
// goroutine wake-up, as with a plain net.Conn) and EngineGnet (gnet/v2
// event loops read, Config.EventLoops of them, one per four cores by
// default; senders write to the socket directly and leave to the loop only
// what the socket did not take). They speak the same wire format and
// interoperate. Both cork an accepted connection while more requests are
// buffered behind the one being handled, so the responses to a batch of
// requests read together leave in one write.
//
// # Guarantees
//
//   - A response reaches only the call that sent the request. A call that
//     ends by its context frees its slot; a response arriving later is
//     dropped and counted in PeerStats.LateResponses.
//   - Context deadline or cancellation of Call/Send returns ctx.Err().
//     A handler error reaches the caller as a *RemoteError (Code and
//     Message); reserved codes also match ErrOverloaded / ErrUnknownType
//     with errors.Is.
//   - When a connection breaks (peer crash, bad input, write timeout), its
//     pending calls fail at once with ErrConnClosed. The next call dials
//     again; consecutive dial failures back off exponentially with jitter
//     (calls fail fast with ErrDial meanwhile).
//   - Bounded everything: frames by MaxFrameSize, queued outbound bytes per
//     connection by OutboundQueueBytes (senders wait, bounded by their
//     context), running handlers by HandlerPoolSize (an ants pool, plus
//     handlers run by a connection's reader, see Handle; beyond it callers
//     get ErrOverloaded), concurrent inbound handshakes by 256.
//   - Untrusted bytes never panic: a bad hello, header, flag combination,
//     oversized frame, unauthenticated frame or a frame left half-sent for
//     FrameTimeout closes that connection, counted by kind in Stats;
//     other connections are unaffected. A request for an unregistered type
//     is answered with ErrUnknownType and the connection stays.
//   - With Config.Key, every connection is mutually authenticated and
//     encrypted (AES-GCM with HKDF-derived per-connection, per-direction
//     keys; both sides contribute randomness). A peer without the key
//     cannot get a frame to a handler. Packets are sealed with the same
//     key. Why not TLS: see crypto.go.
//   - Close fails pending calls, cancels handler contexts and returns when
//     every goroutine the Endpoint started has exited.
//
// # What it does not do
//
//   - No retries, no ordering between different connections, no delivery
//     guarantee for Send or SendPacket beyond "queued".
//   - The caller's deadline is not sent to the peer: a handler runs until
//     it returns or the peer's transport closes.
//   - Calls are not routed over inbound connections: each side dials its
//     own outbound connections.
//   - Packet statistics are not kept per peer (only rejected packets are
//     counted, under Stats.Unidentified).
//
// # HAZARDS
//
//   - Handler payloads are reused after the handler returns: copy what you
//     keep. Packet handlers run on the packet reader goroutine: keep them
//     short.
//   - A handler that ignores its context can delay Close by up to ten
//     seconds (the pool release timeout).
//   - Importing this package imports ants, which starts a package-level
//     default pool (two goroutines) at init. Tests using goleak must
//     start with goleak.IgnoreCurrent().
//   - The hello's advertised address is what handlers see as "from". With
//     no Key it is not authenticated; with a Key it is bound to the
//     connection keys, but any key holder can claim any address.
//   - Idle closing races with a new request, as in any keep-alive
//     protocol: a request sent just as the peer closes the connection for
//     idleness fails with ErrConnClosed and may or may not have run.
//     Retry only idempotent requests; keep IdleTimeout far above the
//     time a connection sits unused between dial and first request.
//   - EngineGnet looks at a slow peer's outbound buffer every millisecond
//     while it is above OutboundQueueBytes (gnet has no writable callback).
package transport
