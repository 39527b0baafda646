// Package transport will hold GridKV's node-to-node messaging: framed,
// multiplexed request/response over the standard library and gnet/v2, UDP
// packets, and an in-memory network with fault injection for tests.
package transport
