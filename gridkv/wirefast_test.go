package gridkv

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/gridkv/gridkv/gridkv/internal/wire"
	"github.com/gridkv/gridkv/hlc"
	"github.com/gridkv/gridkv/storage"
)

// FuzzPutRequest compares parsePutRequest with proto.Unmarshal on arbitrary
// bytes: both accept the same messages, and on those they agree on every
// field of the request and of each entry.
func FuzzPutRequest(f *testing.F) {
	entry := func(key string, e *wire.Entry) *wire.KeyEntry { return &wire.KeyEntry{Key: []byte(key), Entry: e} }
	version := bytes.Repeat([]byte{7}, 16)
	for _, m := range []*wire.PutRequest{
		{Clock: make([]byte, 12), Entries: []*wire.KeyEntry{entry("k", &wire.Entry{Value: []byte("v"), Version: version, Expiry: 42})}},
		{Clock: make([]byte, 12), HintFor: "n2", Strict: true, Entries: []*wire.KeyEntry{
			entry("a", &wire.Entry{Version: version, Tombstone: true}),
			entry("b", nil),
			entry("", &wire.Entry{Value: []byte("x"), Expiry: -1}),
		}},
		{},
	} {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	// Repeated scalars (the last wins), an entry message given twice (they
	// merge), unknown fields, a known number with another wire type, and
	// invalid UTF-8 in hint_for.
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendBytes(b, []byte("first"))
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendBytes(b, make([]byte, 12))
	var ke []byte
	ke = protowire.AppendTag(ke, 2, protowire.BytesType)
	ke = protowire.AppendBytes(ke, protowire.AppendVarint(protowire.AppendTag(nil, 3, protowire.VarintType), 9))
	ke = protowire.AppendTag(ke, 2, protowire.BytesType)
	ke = protowire.AppendBytes(ke, protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), []byte("v")))
	ke = protowire.AppendTag(ke, 9, protowire.Fixed64Type)
	ke = protowire.AppendFixed64(ke, 1)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendBytes(b, ke)
	b = protowire.AppendTag(b, 4, protowire.Fixed32Type)
	b = protowire.AppendFixed32(b, 1)
	f.Add(b)
	f.Add(protowire.AppendBytes(protowire.AppendTag(nil, 3, protowire.BytesType), []byte{0xff, 0xfe}))

	f.Fuzz(func(t *testing.T, b []byte) {
		var want wire.PutRequest
		werr := proto.Unmarshal(b, &want)
		var got putRequest
		gerr := parsePutRequest(b, &got)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("proto.Unmarshal: %v; parsePutRequest: %v", werr, gerr)
		}
		if werr != nil {
			return
		}
		if !bytes.Equal(got.clock, want.Clock) || string(got.hintFor) != want.HintFor || got.strict != want.Strict || got.count != len(want.Entries) {
			t.Fatalf("request: got clock %x hint %q strict %v count %d; want %x %q %v %d",
				got.clock, got.hintFor, got.strict, got.count, want.Clock, want.HintFor, want.Strict, len(want.Entries))
		}
		i := 0
		var e putEntry
		for ; got.next(&e); i++ {
			if i >= len(want.Entries) {
				t.Fatalf("next yields more than %d entries", len(want.Entries))
			}
			w := want.Entries[i]
			if !bytes.Equal(e.key, w.Key) || e.hasEntry != (w.Entry != nil) {
				t.Fatalf("entry %d: key %q present %v; want %q %v", i, e.key, e.hasEntry, w.Key, w.Entry != nil)
			}
			if we := w.Entry; we != nil && (!bytes.Equal(e.value, we.Value) || !bytes.Equal(e.version, we.Version) ||
				e.expiry != we.Expiry || e.tombstone != we.Tombstone) {
				t.Fatalf("entry %d: got %q %x %d %v; want %q %x %d %v", i,
					e.value, e.version, e.expiry, e.tombstone, we.Value, we.Version, we.Expiry, we.Tombstone)
			}
		}
		if i != len(want.Entries) {
			t.Fatalf("next yielded %d entries, want %d", i, len(want.Entries))
		}
	})
}

// TestPutResponseEncoding: appendPutResponse writes what proto.Marshal
// writes for the same wire.PutResponse.
func TestPutResponseEncoding(t *testing.T) {
	for _, tc := range []struct {
		clock   hlc.Timestamp
		applied uint32
	}{{hlc.Timestamp{}, 0}, {hlc.Timestamp{WallTime: 1_700_000_000_000_000_000, Logical: 3}, 1}, {hlc.Timestamp{WallTime: -5}, 4096}} {
		clock, _ := tc.clock.MarshalBinary()
		want, err := proto.Marshal(&wire.PutResponse{Clock: clock, Applied: tc.applied})
		if err != nil {
			t.Fatal(err)
		}
		if got := appendPutResponse(nil, tc.clock, tc.applied); !bytes.Equal(got, want) {
			t.Fatalf("%+v: got %x, want %x", tc, got, want)
		}
	}
}

// BenchmarkHandlePut is one replica's handling of a one-entry put, as a
// quorum write sends it.
func BenchmarkHandlePut(b *testing.B) {
	c := newCluster(b, 1, func(_ int, o *Options) { o.ReplicationFactor = 1 })
	n := c.nodes[0]
	ts := n.clock.Now()
	req, err := proto.Marshal(&wire.PutRequest{Clock: encodeClock(ts), Entries: []*wire.KeyEntry{
		{Key: []byte("some-key"), Entry: &wire.Entry{Value: make([]byte, 64), Version: make([]byte, 16)}},
	}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := n.handlePut(b.Context(), "peer", req); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzGetMessages compares parseGetRequest and parseGetResponse with
// proto.Unmarshal on arbitrary bytes.
func FuzzGetMessages(f *testing.F) {
	for _, m := range []proto.Message{
		&wire.GetRequest{Clock: make([]byte, 12), Key: []byte("k"), Strict: true},
		&wire.GetResponse{Clock: make([]byte, 12), Found: true, Entry: &wire.Entry{Value: []byte("v"), Version: make([]byte, 16), Expiry: 7, Tombstone: true}},
		&wire.GetResponse{Found: true, Entry: &wire.Entry{}},
	} {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var wq wire.GetRequest
		werr := proto.Unmarshal(b, &wq)
		clock, key, strict, gerr := parseGetRequest(b)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("GetRequest: proto.Unmarshal: %v; parseGetRequest: %v", werr, gerr)
		}
		if werr == nil && (!bytes.Equal(clock, wq.Clock) || !bytes.Equal(key, wq.Key) || strict != wq.Strict) {
			t.Fatalf("GetRequest: got %x %q %v, want %x %q %v", clock, key, strict, wq.Clock, wq.Key, wq.Strict)
		}

		var wr wire.GetResponse
		werr = proto.Unmarshal(b, &wr)
		var e putEntry
		clock, found, gerr := parseGetResponse(b, &e)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("GetResponse: proto.Unmarshal: %v; parseGetResponse: %v", werr, gerr)
		}
		if werr != nil {
			return
		}
		if !bytes.Equal(clock, wr.Clock) || found != wr.Found || e.hasEntry != (wr.Entry != nil) {
			t.Fatalf("GetResponse: got %x %v %v, want %x %v %v", clock, found, e.hasEntry, wr.Clock, wr.Found, wr.Entry != nil)
		}
		if we := wr.Entry; we != nil && (!bytes.Equal(e.value, we.Value) || !bytes.Equal(e.version, we.Version) ||
			e.expiry != we.Expiry || e.tombstone != we.Tombstone) {
			t.Fatalf("GetResponse entry: got %q %x %d %v, want %q %x %d %v",
				e.value, e.version, e.expiry, e.tombstone, we.Value, we.Version, we.Expiry, we.Tombstone)
		}
	})
}

// TestGetResponseEncoding: appendGetResponse writes what proto.Marshal
// writes for the same wire.GetResponse.
func TestGetResponseEncoding(t *testing.T) {
	ts := hlc.Timestamp{WallTime: 1_700_000_000_000_000_000, Logical: 2}
	clock, _ := ts.MarshalBinary()
	var v storage.Version
	v[0], v[15] = 1, 9
	for _, tc := range []struct {
		found bool
		e     storage.Entry
	}{
		{false, storage.Entry{}},
		{true, storage.Entry{Version: v, Value: []byte("value"), Expiry: 1_800_000_000_000_000_000}},
		{true, storage.Entry{Version: v, Tombstone: true}},
		{true, storage.Entry{Version: v, Value: bytes.Repeat([]byte("x"), 300), Expiry: -3}},
	} {
		want := &wire.GetResponse{Clock: clock, Found: tc.found}
		if tc.found {
			want.Entry = toWire(tc.e)
		}
		wb, err := proto.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendGetResponse(nil, ts, tc.found, tc.e); !bytes.Equal(got, wb) {
			t.Fatalf("%+v: got %x, want %x", tc, got, wb)
		}
	}
}

// TestRequestEncoding: appendPutRequest and appendGetRequest write what
// proto.Marshal writes for the same messages.
func TestRequestEncoding(t *testing.T) {
	ts := hlc.Timestamp{WallTime: 1_700_000_000_000_000_000, Logical: 5}
	clock, _ := ts.MarshalBinary()
	var v storage.Version
	v[3] = 8
	entries := []storage.Entry{
		{Version: v, Value: []byte("value")},
		{Version: v, Tombstone: true, Expiry: 99},
		{Version: v, Value: bytes.Repeat([]byte("y"), 200), Expiry: -1},
	}
	for _, key := range [][]byte{[]byte("k"), bytes.Repeat([]byte("K"), 300), nil} {
		for _, e := range entries {
			for _, hint := range []string{"", "n2"} {
				want, err := proto.Marshal(&wire.PutRequest{Clock: clock, Entries: []*wire.KeyEntry{{Key: key, Entry: toWire(e)}}, HintFor: hint})
				if err != nil {
					t.Fatal(err)
				}
				if got := appendPutRequest(nil, ts, key, e, hint); !bytes.Equal(got, want) {
					t.Fatalf("PutRequest %q %+v %q: got %x, want %x", key, e, hint, got, want)
				}
			}
		}
		for _, strict := range []bool{false, true} {
			want, err := proto.Marshal(&wire.GetRequest{Clock: clock, Key: key, Strict: strict})
			if err != nil {
				t.Fatal(err)
			}
			if got := appendGetRequest(nil, ts, key, strict); !bytes.Equal(got, want) {
				t.Fatalf("GetRequest %q %v: got %x, want %x", key, strict, got, want)
			}
		}
	}
}
