// Package transportbench compares GridKV's transport with the floor (a
// plain net.Conn echo) and with gRPC, side by side in one run:
//
//	BenchmarkTransportRTT         one connection, one caller, 64-byte payload
//	BenchmarkTransportThroughput  64 concurrent callers, 1 KiB payload
//	BenchmarkTransportConns       gnet vs net engine at 1, 16 and 256 connections
//
// Run from the tools module:
//
//	go test -run '^$' -bench Transport -benchtime 2s -count 5 ./bench/transport/
//
// allocs/op counts both sides of the call (client and server run in this
// process): one op is two messages, so "<= 1 allocation per message"
// means allocs/op <= 2. The gRPC comparison uses a raw-bytes codec so no
// generated code is needed.
package transportbench
