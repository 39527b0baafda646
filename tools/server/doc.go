// Package server makes a gridkv Node reachable from any Redis client: it
// speaks the Redis protocol (RESP2, parsed by github.com/tidwall/redcon) for
// the string commands, and serves admin HTTP endpoints (/metrics for
// Prometheus, /healthz, /readyz, /debug/pprof/, /cluster as JSON).
//
// It backs the gridkv-server command; tests and tools embed it directly:
//
//	node, _ := gridkv.New(cfg.NodeOptions(opts))
//	srv, _ := server.New(node, cfg)
//	_ = srv.Start()
//	...
//	_ = srv.Shutdown(ctx) // drain clients
//	_ = node.Close()      // then leave the cluster
//
// # Commands
//
// PING, ECHO, QUIT, SELECT 0, AUTH, HELLO 2, GET, SET (EX, PX, EXAT, PXAT,
// NX, XX, GET, KEEPTTL), SETEX, PSETEX, SETNX, GETDEL, DEL, EXISTS, MGET,
// MSET, EXPIRE and PEXPIRE (NX, XX, GT, LT), TTL, PTTL, PERSIST, DBSIZE,
// INFO, CONFIG GET, COMMAND (COUNT, INFO, DOCS), CLIENT (SETNAME, GETNAME,
// ID, SETINFO), and GRIDKV MEMBERS | RING | CONSISTENCY [level], where
// level is ONE, QUORUM, ALL, LINEARIZABLE or DEFAULT and applies to the
// connection's later commands.
//
// # Guarantees
//
//   - Every command is answered; a bad command, arity or option gets a
//     Redis-style error and the connection stays open. Only malformed
//     protocol bytes or a query larger than Config.MaxQueryBytes end a
//     connection (after an -ERR Protocol error reply).
//   - Replies to a pipeline are written in order, in one flush per batch
//     read. A batch is parsed whole first (redcon.ReadNextCommand into one
//     reused buffer per connection: no allocation) and its keys are handed
//     to gridkv's Node.Prefetch, so their storage lookups overlap their
//     memory waits instead of queueing them.
//   - Untrusted bytes cannot stop the process or a core: the fuzz target
//     FuzzServeClient sends arbitrary bytes over a real connection.
//   - Shutdown stops accepting, lets every connection finish the commands
//     it already read and flush their replies, then returns; the node is
//     closed by the caller afterwards, so the graceful leave comes last.
//   - Values are stored in an envelope carrying their absolute expiry
//     (envelope.go); the expiry is also given to gridkv as a TTL, so storage
//     drops expired entries itself.
//
// # What it does not do
//
//   - Only strings: no lists, hashes, sets, streams, transactions, scripts,
//     pub/sub, key enumeration (KEYS, SCAN) or databases other than 0.
//   - NX, XX, GET, KEEPTTL, SETNX, GETDEL, EXPIRE, PERSIST, DEL and EXISTS
//     are check-then-act on top of gridkv's Get and Set: not atomic between
//     concurrent clients (two SET NX racing on one key may both succeed;
//     last write wins). MSET is not atomic across keys.
//   - DBSIZE and INFO keyspace count the entries of this node's local store:
//     in a cluster each key lives on N nodes, and tombstones and expired
//     entries awaiting purge are included.
//   - RESP3 (HELLO 3) is refused with -NOPROTO; clients fall back to RESP2.
//   - Empty keys are refused (gridkv does not accept them).
//
// # HAZARDS
//
//   - Expiry uses this server's wall clock and gridkv's: a node whose clock
//     is ahead expires keys early. TTL answers use the envelope, so they
//     stay consistent across nodes only as far as their clocks agree.
//   - A value written through the gridkv API directly (not by a server) is
//     not in the envelope format: Redis commands answer -WRONGTYPE for it.
//   - The password is compared in constant time but travels in clear text:
//     keep the listener on a trusted network.
package server
