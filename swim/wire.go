package swim

import (
	"encoding/binary"
	"fmt"
	"io"

	"google.golang.org/protobuf/proto"

	pb "github.com/gridkv/gridkv/swim/internal/swimpb"
)

// Limits applied to decoded messages, on top of the byte limits.
const (
	maxPacketItems = 512     // messages of all kinds in one packet
	maxStateItems  = 1 << 16 // members in one push-pull frame
)

// encodePacket marshals and seals a packet.
func (c *codec) encodePacket(pkt *pb.Packet) ([]byte, error) {
	plain, err := proto.Marshal(pkt)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadPacket, err)
	}
	return c.seal(make([]byte, 0, len(plain)+c.overhead()), plain)
}

// decodePacket opens and unmarshals a datagram; it never panics on
// arbitrary input and rejects packets with more than maxPacketItems items.
func (c *codec) decodePacket(b []byte, mtu int) (*pb.Packet, error) {
	if len(b) > mtu {
		return nil, fmt.Errorf("%w: %d bytes exceeds MTU %d", ErrBadPacket, len(b), mtu)
	}
	plain, err := c.open(b)
	if err != nil {
		return nil, err
	}
	pkt := &pb.Packet{}
	if err := proto.Unmarshal(plain, pkt); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadPacket, err)
	}
	n := len(pkt.Pings) + len(pkt.IndirectPings) + len(pkt.Acks) + len(pkt.Nacks) + len(pkt.Updates) + len(pkt.UserMessages)
	if n > maxPacketItems {
		return nil, fmt.Errorf("%w: %d items", ErrBadPacket, n)
	}
	return pkt, nil
}

// writeFrame seals f and writes it with a 4-byte big-endian length prefix.
func (c *codec) writeFrame(w io.Writer, f *pb.StreamFrame, max int) error {
	plain, err := proto.Marshal(f)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadPacket, err)
	}
	buf := make([]byte, 4, 4+len(plain)+c.overhead())
	buf, err = c.seal(buf, plain)
	if err != nil {
		return err
	}
	if len(buf)-4 > max {
		return fmt.Errorf("%w: frame of %d bytes", ErrMessageTooLarge, len(buf)-4)
	}
	binary.BigEndian.PutUint32(buf, uint32(len(buf)-4))
	_, err = w.Write(buf)
	return err
}

// readFrame reads one frame of at most max bytes.
func (c *codec) readFrame(r io.Reader, max int) (*pb.StreamFrame, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 || int64(n) > int64(max) {
		return nil, fmt.Errorf("%w: frame length %d", ErrBadPacket, n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	return c.decodeFrame(buf)
}

func (c *codec) decodeFrame(buf []byte) (*pb.StreamFrame, error) {
	plain, err := c.open(buf)
	if err != nil {
		return nil, err
	}
	f := &pb.StreamFrame{}
	if err := proto.Unmarshal(plain, f); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadPacket, err)
	}
	if len(f.Members) > maxStateItems {
		return nil, fmt.Errorf("%w: %d members", ErrBadPacket, len(f.Members))
	}
	return f, nil
}
