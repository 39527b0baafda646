package swim

import (
	"bytes"
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/gridkv/gridkv/swim/internal/swimpb"
)

func samplePacket() *pb.Packet {
	return &pb.Packet{
		Pings:         []*pb.Ping{{Seq: 7, Target: "n1", Suspected: true, Incarnation: 3}},
		IndirectPings: []*pb.IndirectPing{{Seq: 8, Target: "n2", TargetAddr: "127.0.0.1:7946", Nack: true}},
		Acks:          []*pb.Ack{{Seq: 9}},
		Nacks:         []*pb.Nack{{Seq: 10}},
		Updates: []*pb.Update{
			{Kind: pb.Update_KIND_ALIVE, Node: "n3", Incarnation: 1, Addr: "127.0.0.1:1", Meta: []byte("zone=a")},
			{Kind: pb.Update_KIND_SUSPECT, Node: "n4", Incarnation: 2, From: "n1", Unreachable: true},
		},
		UserMessages: []*pb.UserMessage{{Origin: "n1", Id: 1, Payload: []byte("hi")}},
	}
}

func testCodecs(t testing.TB) []*codec {
	kr, err := NewKeyring(bytes.Repeat([]byte{1}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return []*codec{{}, {label: []byte("prod")}, {keyring: kr}, {keyring: kr, label: []byte("prod")}}
}

func TestCodecRoundTripAndIsolation(t *testing.T) {
	codecs := testCodecs(t)
	for i, c := range codecs {
		b, err := c.encodePacket(samplePacket())
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.decodePacket(b, 1400)
		if err != nil {
			t.Fatalf("codec %d: %v", i, err)
		}
		if !proto.Equal(got, samplePacket()) {
			t.Fatalf("codec %d: round trip changed the packet", i)
		}
		for j, other := range codecs {
			if i == j {
				continue
			}
			if _, err := other.decodePacket(b, 1400); !errors.Is(err, ErrAuth) {
				t.Fatalf("codec %d accepted codec %d's packet: %v", j, i, err)
			}
		}
		// Any flipped bit of a sealed packet fails authentication.
		if c.keyring != nil {
			b[len(b)/2] ^= 1
			if _, err := c.decodePacket(b, 1400); !errors.Is(err, ErrAuth) {
				t.Fatalf("tampered packet: %v", err)
			}
		}
	}
	if _, err := codecs[0].decodePacket(make([]byte, 2000), 1400); !errors.Is(err, ErrBadPacket) {
		t.Fatalf("oversized packet: %v", err)
	}
	if _, err := codecs[0].decodePacket([]byte{9}, 1400); !errors.Is(err, ErrBadPacket) {
		t.Fatalf("unknown version: %v", err)
	}
}

func TestFrameLimits(t *testing.T) {
	c := testCodecs(t)[3]
	var buf bytes.Buffer
	f := &pb.StreamFrame{From: "a", Members: samplePacket().Updates}
	if err := c.writeFrame(&buf, f, 1<<20); err != nil {
		t.Fatal(err)
	}
	got, err := c.readFrame(bytes.NewReader(buf.Bytes()), 1<<20)
	if err != nil || !proto.Equal(got, f) {
		t.Fatalf("frame round trip: %v", err)
	}
	if _, err := c.readFrame(bytes.NewReader(buf.Bytes()), 16); !errors.Is(err, ErrBadPacket) {
		t.Fatalf("frame over the limit: %v", err)
	}
	if err := c.writeFrame(&buf, f, 16); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("writing a frame over the limit: %v", err)
	}
}

func FuzzDecodePacket(f *testing.F) {
	codecs := testCodecs(f)
	for i, c := range codecs {
		b, err := c.encodePacket(samplePacket())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), b)
		f.Add(uint8(i), b[:len(b)/2])
	}
	f.Add(uint8(0), []byte{0, 0})
	f.Add(uint8(0), []byte{0, 0, 0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		c := codecs[int(which)%len(codecs)]
		pkt, err := c.decodePacket(data, 65000)
		if err != nil {
			if !errors.Is(err, ErrBadPacket) && !errors.Is(err, ErrAuth) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		// Round trip: what decodes re-encodes to an equal packet.
		b, err := c.encodePacket(pkt)
		if err != nil {
			t.Fatal(err)
		}
		again, err := c.decodePacket(b, 1<<20)
		if err != nil || !proto.Equal(pkt, again) {
			t.Fatalf("round trip failed: %v", err)
		}
		// Feeding it to a core never panics either.
		cfg := DefaultLANConfig()
		cfg.Name = "n1"
		core := newCore(&cfg, "a", simEpoch, 1, 0)
		core.stepPacket(simEpoch, "peer", pkt)
		core.mergeState(simEpoch, "peer", pkt.Updates)
		core.tick(simEpoch.Add(cfg.ProbeInterval))
	})
}

func FuzzReadFrame(f *testing.F) {
	c := testCodecs(f)[1]
	var buf bytes.Buffer
	c.writeFrame(&buf, &pb.StreamFrame{From: "a", Join: true, Checksum: 5, Members: samplePacket().Updates}, 1<<20)
	f.Add(buf.Bytes())
	f.Add([]byte{0, 0, 0, 1, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := c.readFrame(bytes.NewReader(data), 1<<16)
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := c.writeFrame(&out, fr, 1<<20); err != nil {
			t.Fatal(err)
		}
		again, err := c.readFrame(&out, 1<<20)
		if err != nil || !proto.Equal(fr, again) {
			t.Fatalf("round trip failed: %v", err)
		}
	})
}
