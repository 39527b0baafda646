package swim

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	pb "github.com/gridkv/gridkv/swim/internal/swimpb"
)

func BenchmarkEncodePacket(b *testing.B) {
	for i, c := range testCodecs(b)[1:3] {
		b.Run([]string{"plain", "sealed"}[i], func(b *testing.B) {
			pkt := samplePacket()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.encodePacket(pkt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecodePacket(b *testing.B) {
	for i, c := range testCodecs(b)[1:3] {
		b.Run([]string{"plain", "sealed"}[i], func(b *testing.B) {
			data, _ := c.encodePacket(samplePacket())
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := c.decodePacket(data, 1400); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCorePingAck measures the core answering one ping.
func BenchmarkCorePingAck(b *testing.B) {
	cfg := DefaultLANConfig()
	cfg.Name = "self"
	c := newCore(&cfg, "a", simEpoch, 1, 0)
	for i := 0; i < 64; i++ {
		c.applyAlive(simEpoch, &pb.Update{Kind: pb.Update_KIND_ALIVE, Node: fmt.Sprint("m", i), Addr: fmt.Sprint("a", i)})
	}
	c.queue = newGossipQueue(cfg.MaxQueuedUpdates)
	c.ready()
	pkt := &pb.Packet{Pings: []*pb.Ping{{Seq: 1, Target: "self"}}}
	b.ReportAllocs()
	for b.Loop() {
		c.stepPacket(simEpoch, "peer", pkt)
		c.ready()
	}
}

func BenchmarkChecksum64(b *testing.B) {
	c := testCoreB(b, 64)
	b.ReportAllocs()
	for b.Loop() {
		c.checksum()
	}
}

func testCoreB(b *testing.B, n int) *core {
	cfg := DefaultLANConfig()
	cfg.Name = "self"
	c := newCore(&cfg, "a", simEpoch, 1, 0)
	for i := 0; i < n-1; i++ {
		c.applyAlive(simEpoch, &pb.Update{Kind: pb.Update_KIND_ALIVE, Node: fmt.Sprint("m", i), Addr: fmt.Sprint("a", i), Meta: bytes.Repeat([]byte{1}, 16)})
	}
	return c
}

// BenchmarkSim64 simulates one minute of a 64-node cluster (virtual time);
// it reports the wire bytes per node per simulated second.
func BenchmarkSim64(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		s := newSim(b, DefaultLANConfig(), 1)
		s.bootstrap(64, 5*time.Millisecond)
		s.run(30 * time.Second)
		before := s.bytes
		s.run(60 * time.Second)
		b.ReportMetric(float64(s.bytes-before)/64/60, "B/node/s")
	}
}
