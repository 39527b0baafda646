package transport

import (
	"encoding/binary"
	"fmt"
)

// Wire format (big endian). Every frame is a fixed 16-byte header followed
// by the payload:
//
//	0      version   (1 byte, ProtocolVersion)
//	1      flags     (1 byte, FlagRequest | FlagResponse | FlagError)
//	2..3   type      (uint16, the handler's message type)
//	4..11  request ID (uint64; 0 for one-way messages)
//	12..15 payload length (uint32, <= the receiver's MaxFrameSize)
//
// With a Key, each such frame is sealed with AES-GCM and sent as a 4-byte
// length followed by the sealed bytes (see crypto.go).
const (
	// ProtocolVersion is the version byte of every header and hello.
	ProtocolVersion = 1
	// HeaderSize is the size of a frame header.
	HeaderSize = 16

	maxFrameLimit  = 1 << 30
	maxPacketLimit = 65000
	maxAddrLen     = 255
)

// Frame flags.
const (
	// FlagRequest marks a call that expects a response with the same ID.
	FlagRequest uint8 = 1 << 0
	// FlagResponse marks the response to a call.
	FlagResponse uint8 = 1 << 1
	// FlagError marks a response whose payload is an error (see
	// AppendErrorPayload).
	FlagError uint8 = 1 << 2

	knownFlags = FlagRequest | FlagResponse | FlagError
)

// MsgType identifies the handler a message is for.
type MsgType uint16

// Header is a decoded frame header.
type Header struct {
	Flags  uint8
	Type   MsgType
	ID     uint64
	Length uint32
}

// kind reports whether the frame is a request, response or one-way.
func (h Header) isRequest() bool  { return h.Flags&FlagRequest != 0 }
func (h Header) isResponse() bool { return h.Flags&FlagResponse != 0 }

// AppendHeader appends the encoded header to dst.
func AppendHeader(dst []byte, h Header) []byte {
	var b [HeaderSize]byte
	b[0] = ProtocolVersion
	b[1] = h.Flags
	binary.BigEndian.PutUint16(b[2:], uint16(h.Type))
	binary.BigEndian.PutUint64(b[4:], h.ID)
	binary.BigEndian.PutUint32(b[12:], h.Length)
	return append(dst, b[:]...)
}

// AppendFrame appends a header (with Length set from payload) and the
// payload to dst.
func AppendFrame(dst []byte, h Header, payload []byte) []byte {
	h.Length = uint32(len(payload))
	dst = AppendHeader(dst, h)
	return append(dst, payload...)
}

// DecodeHeader decodes and validates a header from the first HeaderSize
// bytes of b. It never panics: short input and a wrong version or flag
// combination give ErrBadFrame, a length above maxPayload gives
// ErrFrameTooLarge.
func DecodeHeader(b []byte, maxPayload int) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: short header (%d bytes)", ErrBadFrame, len(b))
	}
	if b[0] != ProtocolVersion {
		return Header{}, fmt.Errorf("%w: version %d", ErrBadFrame, b[0])
	}
	h := Header{
		Flags:  b[1],
		Type:   MsgType(binary.BigEndian.Uint16(b[2:])),
		ID:     binary.BigEndian.Uint64(b[4:]),
		Length: binary.BigEndian.Uint32(b[12:]),
	}
	switch {
	case h.Flags&^knownFlags != 0:
		return Header{}, fmt.Errorf("%w: unknown flags %#x", ErrBadFrame, h.Flags)
	case h.isRequest() && h.isResponse():
		return Header{}, fmt.Errorf("%w: request and response flags both set", ErrBadFrame)
	case h.Flags&FlagError != 0 && !h.isResponse():
		return Header{}, fmt.Errorf("%w: error flag on a non-response", ErrBadFrame)
	case h.isRequest() && h.ID == 0, h.isResponse() && h.ID == 0:
		return Header{}, fmt.Errorf("%w: zero request ID", ErrBadFrame)
	case !h.isRequest() && !h.isResponse() && h.ID != 0:
		return Header{}, fmt.Errorf("%w: one-way frame with request ID", ErrBadFrame)
	case uint64(h.Length) > uint64(maxPayload):
		return Header{}, fmt.Errorf("%w: %d > %d", ErrFrameTooLarge, h.Length, maxPayload)
	}
	return h, nil
}

// DecodeFrame decodes one complete frame from the front of b. It returns
// the header, the payload (aliasing b) and the number of bytes consumed;
// n == 0 with a nil error means b holds only part of a frame.
func DecodeFrame(b []byte, maxPayload int) (h Header, payload []byte, n int, err error) {
	if len(b) < HeaderSize {
		return Header{}, nil, 0, nil
	}
	h, err = DecodeHeader(b, maxPayload)
	if err != nil {
		return Header{}, nil, 0, err
	}
	end := HeaderSize + int(h.Length)
	if len(b) < end {
		return Header{}, nil, 0, nil
	}
	return h, b[HeaderSize:end:end], end, nil
}
