// Package memnet is an in-memory implementation of transport.Transport
// with seeded fault injection, for tests of code built on transport (swim,
// gridkv) that must run whole clusters without sockets or sleeps.
//
// A Network holds endpoints by address (any "host:port" string; Listen("")
// picks one). Calls, one-way messages, responses and packets all pass
// through the same fault pipeline:
//
//   - SetDropRate: lose a message with probability p (a lost call ends by
//     its context, as on a real network that swallows packets);
//   - SetDelay: delay each message by a draw from a distribution, on a
//     Clock (inject a *ManualClock and Advance it; no wall-clock sleeps);
//   - SetDuplicateRate: deliver a message twice;
//   - SetReorderRate: hold a message until the next one to the same
//     destination was delivered;
//   - Partition(a, b) / Heal: lose every message between two groups;
//   - Kill / Restart: crash a node (its handlers' contexts end, calls
//     waiting on it fail with transport.ErrConnClosed, new calls fail with
//     transport.ErrDial) and bring it back.
//
// # Guarantees
//
// Every random choice comes from one source seeded by NewNetwork and is
// drawn in send order, so a test that sends from one goroutine sees the
// same faults on every run. Responses are sent from handler goroutines:
// a sequence of calls is reproducible when each call completes (response
// or drop decided) before the next starts. With no delay configured, delivery happens on
// the sending goroutine and handlers start at once: tests need no sleeps.
// Errors, stats and bounds (MaxFrameSize, HandlerPoolSize -> ErrOverloaded)
// behave as in package transport; the shared conformance suite runs
// against both.
//
// # What it does not do
//
// It does not model bandwidth, connection setup, or per-connection
// ordering (handlers run concurrently, as they do over a real connection
// with a pool). Packets to a given node are handled in delivery order.
//
// # HAZARDS
//
// With a ManualClock, delayed messages wait until Advance: a Call whose
// request is delayed blocks until another goroutine advances the clock.
// Determinism holds only for sends from one goroutine at a time.
package memnet
