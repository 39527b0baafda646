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

// fields walks the fields of one protobuf message in place. A bytes field
// yields its contents, a varint its value; other wire types are skipped
// (no field of ours has them: proto.Unmarshal keeps such fields as unknown
// ones, as it does a known number with an unexpected wire type).
type fields struct {
	b   []byte
	err error
}

// next advances to the next field; false at the end or on malformed input
// (then err is set).
func (f *fields) next() (num protowire.Number, typ protowire.Type, bytesVal []byte, varint uint64, ok bool) {
	for len(f.b) > 0 {
		num, typ, n := consumeTag(f.b)
		if n < 0 {
			f.err = wireError(n)
			return 0, 0, nil, 0, false
		}
		f.b = f.b[n:]
		switch typ {
		case protowire.BytesType:
			bytesVal, n = protowire.ConsumeBytes(f.b)
		case protowire.VarintType:
			varint, n = protowire.ConsumeVarint(f.b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, f.b)
		}
		if n < 0 {
			f.err = wireError(n)
			return 0, 0, nil, 0, false
		}
		f.b = f.b[n:]
		if typ == protowire.BytesType || typ == protowire.VarintType {
			return num, typ, bytesVal, varint, true
		}
	}
	return 0, 0, nil, 0, false
}

// walk calls fn with each bytes or varint field of message b, in order
// (see fields), and stops at fn's first error or at malformed input.
func walk(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error) error {
	f := fields{b: b}
	for {
		num, typ, v, x, ok := f.next()
		if !ok {
			return f.err
		}
		if err := fn(num, typ, v, x); err != nil {
			return err
		}
	}
}

// parsePutRequest decodes b as proto.Unmarshal would decode a
// wire.PutRequest, entries included, and keeps the scalar fields; next
// then walks the entries again. Later occurrences of a field override
// earlier ones, and an entry message given twice is merged, as in proto3;
// unknown fields (and known numbers of the wrong wire type) are skipped.
func parsePutRequest(b []byte, r *putRequest) error {
	*r = putRequest{rest: b}
	return walk(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			r.clock = v
		case num == 2 && typ == protowire.BytesType:
			var e putEntry
			if err := parseKeyEntry(v, &e); err != nil {
				return err
			}
			r.count++
		case num == 3 && typ == protowire.BytesType:
			if !utf8.Valid(v) {
				return fmt.Errorf("%w: hint_for is not UTF-8", errWire)
			}
			r.hintFor = v
		case num == 4 && typ == protowire.VarintType:
			r.strict = x != 0
		}
		return nil
	})
}

// next decodes the request's next entry into e and reports whether there
// was one; parsePutRequest has checked them all.
func (r *putRequest) next(e *putEntry) bool {
	f := fields{b: r.rest}
	for {
		num, typ, v, _, ok := f.next()
		if !ok {
			r.rest = nil
			return false
		}
		if num == 2 && typ == protowire.BytesType {
			r.rest = f.b
			*e = putEntry{}
			_ = parseKeyEntry(v, e)
			return true
		}
	}
}

// parseKeyEntry decodes a wire.KeyEntry into e.
func parseKeyEntry(b []byte, e *putEntry) error {
	return walk(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			e.key = v
		case num == 2 && typ == protowire.BytesType:
			e.hasEntry = true
			return parseEntry(v, e)
		}
		return nil
	})
}

// parseEntry decodes a wire.Entry into e, over what e already holds (a
// repeated embedded message merges).
func parseEntry(b []byte, e *putEntry) error {
	return walk(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			e.value = v
		case num == 2 && typ == protowire.BytesType:
			e.version = v
		case num == 3 && typ == protowire.VarintType:
			e.expiry = int64(x)
		case num == 4 && typ == protowire.VarintType:
			e.tombstone = x != 0
		}
		return nil
	})
}

// appendPutResponse appends a wire.PutResponse{Clock, Applied} encoded as
// proto.Marshal encodes it.
func appendPutResponse(b []byte, clock hlc.Timestamp, applied uint32) []byte {
	b = appendClock(b, clock)
	if applied != 0 {
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(applied))
	}
	return b
}

// parseGetRequest decodes a wire.GetRequest in place, as proto.Unmarshal
// would.
func parseGetRequest(b []byte) (clock, key []byte, strict bool, err error) {
	err = walk(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			clock = v
		case num == 2 && typ == protowire.BytesType:
			key = v
		case num == 3 && typ == protowire.VarintType:
			strict = x != 0
		}
		return nil
	})
	return clock, key, strict, err
}

// appendGetResponse appends a wire.GetResponse{Clock, Found, Entry} as
// proto.Marshal encodes it; the entry (toWire(e)) is present when found.
func appendGetResponse(b []byte, clock hlc.Timestamp, found bool, e storage.Entry) []byte {
	b = appendClock(b, clock)
	if !found {
		return b
	}
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, 1)
	return appendEntry(b, 3, e)
}

// entrySize is the encoded size of toWire(e).
func entrySize(e storage.Entry) int {
	size := protowire.SizeTag(2) + protowire.SizeBytes(len(e.Version))
	if len(e.Value) > 0 {
		size += protowire.SizeTag(1) + protowire.SizeBytes(len(e.Value))
	}
	if e.Expiry != 0 {
		size += protowire.SizeTag(3) + protowire.SizeVarint(uint64(e.Expiry))
	}
	if e.Tombstone {
		size += protowire.SizeTag(4) + 1
	}
	return size
}

// appendEntry appends toWire(e) as message field num, as proto.Marshal
// encodes it.
func appendEntry(b []byte, num protowire.Number, e storage.Entry) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(entrySize(e)))
	if len(e.Value) > 0 {
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, e.Value)
	}
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendBytes(b, e.Version[:])
	if e.Expiry != 0 {
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(e.Expiry))
	}
	if e.Tombstone {
		b = protowire.AppendTag(b, 4, protowire.VarintType)
		b = protowire.AppendVarint(b, 1)
	}
	return b
}

// parseGetResponse decodes a wire.GetResponse in place, as proto.Unmarshal
// would; e.hasEntry reports whether the entry field was present.
func parseGetResponse(b []byte, e *putEntry) (clock []byte, found bool, err error) {
	*e = putEntry{}
	err = walk(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			clock = v
		case num == 2 && typ == protowire.VarintType:
			found = x != 0
		case num == 3 && typ == protowire.BytesType:
			e.hasEntry = true
			return parseEntry(v, e)
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return clock, found, nil
}

// appendClock appends clock as a bytes field 1 (every request's first).
func appendClock(b []byte, clock hlc.Timestamp) []byte {
	var cb [hlc.EncodedLen]byte
	c, _ := clock.AppendBinary(cb[:0])
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	return protowire.AppendBytes(b, c)
}

// appendPutRequest appends a one-entry wire.PutRequest{Clock, Entries:
// {Key, toWire(e)}, HintFor} as proto.Marshal encodes it.
func appendPutRequest(b []byte, clock hlc.Timestamp, key []byte, e storage.Entry, hintFor string) []byte {
	if b == nil {
		b = make([]byte, 0, 64+len(key)+len(e.Value)+len(hintFor))
	}
	b = appendClock(b, clock)
	ke := protowire.SizeTag(2) + protowire.SizeBytes(entrySize(e))
	if len(key) > 0 {
		ke += protowire.SizeTag(1) + protowire.SizeBytes(len(key))
	}
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(ke))
	if len(key) > 0 {
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, key)
	}
	b = appendEntry(b, 2, e)
	if hintFor != "" {
		b = protowire.AppendTag(b, 3, protowire.BytesType)
		b = protowire.AppendString(b, hintFor)
	}
	return b
}

// appendGetRequest appends a wire.GetRequest{Clock, Key, Strict} as
// proto.Marshal encodes it.
func appendGetRequest(b []byte, clock hlc.Timestamp, key []byte, strict bool) []byte {
	if b == nil {
		b = make([]byte, 0, 24+len(key))
	}
	b = appendClock(b, clock)
	if len(key) > 0 {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendBytes(b, key)
	}
	if strict {
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, 1)
	}
	return b
}
