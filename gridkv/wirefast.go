package gridkv

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/gridkv/gridkv/hlc"
	"github.com/gridkv/gridkv/storage"
)

// The put path is the busiest message pair, so its request is decoded and
// its response encoded here with protowire instead of through generated
// message structs: proto.Unmarshal of a one-entry PutRequest cost ten
// allocations (messages, and a copy of every bytes field), this costs none;
// the byte fields alias the request payload, which the handler only reads
// before it returns (storage and the hint store copy what they keep).
// FuzzPutRequest checks that both decoders accept the same messages and
// agree on their content; TestPutResponseEncoding that the response is
// byte for byte what proto.Marshal writes.

// putRequest is a wire.PutRequest decoded in place.
type putRequest struct {
	clock   []byte
	hintFor []byte
	strict  bool
	count   int    // entries
	rest    []byte // what next has not walked yet
}

// putEntry is one wire.KeyEntry decoded in place.
type putEntry struct {
	key            []byte
	hasEntry       bool // the entry field was present
	value, version []byte
	expiry         int64
	tombstone      bool
}

var errWire = errors.New("malformed protobuf")

func wireError(n int) error { return fmt.Errorf("%w: %v", errWire, protowire.ParseError(n)) }

// consumeTag is protowire.ConsumeTag rejecting field numbers above
// protowire.MaxValidNumber, as proto.Unmarshal does (ConsumeTag checks
// only the lower bound).
func consumeTag(b []byte) (protowire.Number, protowire.Type, int) {
	num, typ, n := protowire.ConsumeTag(b)
	if n >= 0 && num > protowire.MaxValidNumber {
		return 0, 0, -1 // protowire reports a negative length as a parse error
	}
	return num, typ, n
}

// entry validates the decoded entry and returns it (aliasing the payload).
func (e *putEntry) entry() (storage.Entry, error) {
	if !e.hasEntry {
		return storage.Entry{}, fmt.Errorf("%w: missing entry", errBadMessage)
	}
	return entryOf(e.value, e.version, e.expiry, e.tombstone)
}

// parsePutRequest decodes b as proto.Unmarshal would decode a
// wire.PutRequest, entries included, and keeps the scalar fields; next
// then walks the entries again. Later occurrences of a field override
// earlier ones, and an entry message given twice is merged, as in proto3;
// unknown fields (and known numbers of the wrong wire type) are skipped.
func parsePutRequest(b []byte, r *putRequest) error {
	*r = putRequest{rest: b}
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n < 0 {
			return wireError(n)
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			r.clock, n = protowire.ConsumeBytes(b)
		case num == 2 && typ == protowire.BytesType:
			var v []byte
			if v, n = protowire.ConsumeBytes(b); n >= 0 {
				var e putEntry
				if err := parseKeyEntry(v, &e); err != nil {
					return err
				}
				r.count++
			}
		case num == 3 && typ == protowire.BytesType:
			if r.hintFor, n = protowire.ConsumeBytes(b); n >= 0 && !utf8.Valid(r.hintFor) {
				return fmt.Errorf("%w: hint_for is not UTF-8", errWire)
			}
		case num == 4 && typ == protowire.VarintType:
			var v uint64
			v, n = protowire.ConsumeVarint(b)
			r.strict = v != 0
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return wireError(n)
		}
		b = b[n:]
	}
	return nil
}

// next decodes the request's next entry into e and reports whether there
// was one; parsePutRequest has checked them all.
func (r *putRequest) next(e *putEntry) bool {
	for len(r.rest) > 0 {
		num, typ, n := protowire.ConsumeTag(r.rest)
		r.rest = r.rest[n:]
		if num == 2 && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(r.rest)
			r.rest = r.rest[n:]
			*e = putEntry{}
			_ = parseKeyEntry(v, e)
			return true
		}
		r.rest = r.rest[protowire.ConsumeFieldValue(num, typ, r.rest):]
	}
	return false
}

// parseKeyEntry decodes a wire.KeyEntry into e.
func parseKeyEntry(b []byte, e *putEntry) error {
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n < 0 {
			return wireError(n)
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			e.key, n = protowire.ConsumeBytes(b)
		case num == 2 && typ == protowire.BytesType:
			var v []byte
			if v, n = protowire.ConsumeBytes(b); n >= 0 {
				e.hasEntry = true
				if err := parseEntry(v, e); err != nil {
					return err
				}
			}
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return wireError(n)
		}
		b = b[n:]
	}
	return nil
}

// parseEntry decodes a wire.Entry into e, over what e already holds (a
// repeated embedded message merges).
func parseEntry(b []byte, e *putEntry) error {
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n < 0 {
			return wireError(n)
		}
		b = b[n:]
		var v uint64
		switch {
		case num == 1 && typ == protowire.BytesType:
			e.value, n = protowire.ConsumeBytes(b)
		case num == 2 && typ == protowire.BytesType:
			e.version, n = protowire.ConsumeBytes(b)
		case num == 3 && typ == protowire.VarintType:
			v, n = protowire.ConsumeVarint(b)
			e.expiry = int64(v)
		case num == 4 && typ == protowire.VarintType:
			v, n = protowire.ConsumeVarint(b)
			e.tombstone = v != 0
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return wireError(n)
		}
		b = b[n:]
	}
	return nil
}

// appendPutResponse appends a wire.PutResponse{Clock, Applied} encoded as
// proto.Marshal encodes it.
func appendPutResponse(b []byte, clock hlc.Timestamp, applied uint32) []byte {
	var cb [hlc.EncodedLen]byte
	c, _ := clock.AppendBinary(cb[:0])
	if len(c) > 0 {
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, c)
	}
	if applied != 0 {
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(applied))
	}
	return b
}
