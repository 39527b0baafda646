package server

import (
	"encoding/binary"
	"errors"
)

// ErrNotString is returned by decodeEnvelope for a value that the server did
// not write (for example one stored through the gridkv API directly). Clients
// get -WRONGTYPE for it, as Redis answers for a key of another type.
var ErrNotString = errors.New("server: value is not a Redis string written by gridkv-server")

// The server stores every Redis string inside a small envelope so that the
// absolute expiry travels with the value: gridkv's API can set a TTL but
// cannot report the remaining one, and TTL/PTTL/PERSIST/KEEPTTL need it.
//
//	tagPlain  value...                       no expiry
//	tagExpiry expiry(8, big endian, unix ms)  value...
//
// The expiry is also handed to gridkv as a TTL so that storage drops the
// entry on its own; the envelope's copy is authoritative for what clients
// see (a value read after its envelope expiry is reported as missing).
const (
	tagPlain            byte = 0xE0
	tagExpiry           byte = 0xE1
	envelopeMaxOverhead      = 9
)

// envelope is a decoded stored value.
type envelope struct {
	value    []byte
	expireMs int64 // unix milliseconds; 0 means no expiry
}

// encodeEnvelope returns a new buffer holding value and its expiry.
func encodeEnvelope(value []byte, expireMs int64) []byte {
	return appendEnvelope(nil, value, expireMs)
}

// appendEnvelope appends value and its expiry, encoded, to dst.
func appendEnvelope(dst, value []byte, expireMs int64) []byte {
	if expireMs == 0 {
		dst = append(dst, tagPlain)
		return append(dst, value...)
	}
	dst = append(dst, tagExpiry)
	dst = binary.BigEndian.AppendUint64(dst, uint64(expireMs))
	return append(dst, value...)
}

// decodeEnvelope parses a stored value. The returned value aliases b.
func decodeEnvelope(b []byte) (envelope, error) {
	if len(b) == 0 {
		return envelope{}, ErrNotString
	}
	switch b[0] {
	case tagPlain:
		return envelope{value: b[1:]}, nil
	case tagExpiry:
		if len(b) < envelopeMaxOverhead {
			return envelope{}, ErrNotString
		}
		ms := int64(binary.BigEndian.Uint64(b[1:9]))
		if ms <= 0 {
			return envelope{}, ErrNotString
		}
		return envelope{value: b[9:], expireMs: ms}, nil
	}
	return envelope{}, ErrNotString
}
