package gridkv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gridkv/gridkv/gridkv/internal/wire"
	"github.com/gridkv/gridkv/hlc"
	"github.com/gridkv/gridkv/ring"
	"github.com/gridkv/gridkv/storage"
)

func TestOptionsValidate(t *testing.T) {
	if o := DefaultOptions(); o.Validate() != nil {
		t.Fatalf("DefaultOptions invalid: %v", o.Validate())
	}
	bad := map[string]func(*Options){
		"N=0":                 func(o *Options) { o.ReplicationFactor = 0 },
		"W>N":                 func(o *Options) { o.WriteQuorum = 4 },
		"R>N":                 func(o *Options) { o.ReadQuorum = 4 },
		"negative W":          func(o *Options) { o.WriteQuorum = -1 },
		"zero timeout":        func(o *Options) { o.RequestTimeout = 0 },
		"negative read hedge": func(o *Options) { o.ReadHedge = -time.Millisecond },
		"no in-flight":        func(o *Options) { o.MaxInFlight = 0 },
		"key size":            func(o *Options) { o.MaxKeySize = 0 },
		"huge key size":       func(o *Options) { o.MaxKeySize = 1 << 20 },
		"negative memory":     func(o *Options) { o.MemoryLimit = -1 },
		"short grace":         func(o *Options) { o.TombstoneGrace = time.Minute },
		"zero clock offset":   func(o *Options) { o.MaxClockOffset = 0 },
		"cluster key":         func(o *Options) { o.ClusterKey = []byte("short") },
		"bind addr":           func(o *Options) { o.BindAddr = "no-port" },
		"bind port":           func(o *Options) { o.BindAddr = "127.0.0.1:99999" },
		"advertise port zero": func(o *Options) { o.AdvertiseAddr = "127.0.0.2:0" },
		"seed":                func(o *Options) { o.Seeds = []string{"localhost"} },
		"consistency":         func(o *Options) { o.Consistency = 9 },
		"backend":             func(o *Options) { o.StorageBackend = "" },
		"hint window":         func(o *Options) { o.HintWindow = 0 },
		"gossip":              func(o *Options) { o.Gossip = 7 },
	}
	for name, mod := range bad {
		o := DefaultOptions()
		mod(&o)
		if err := o.Validate(); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("%s: Validate = %v, want ErrInvalidOptions", name, err)
		}
		if _, err := New(o); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("%s: New = %v, want ErrInvalidOptions", name, err)
		}
	}
	o := DefaultOptions()
	o.StorageBackend = "no-such-backend"
	o.BindAddr = "127.0.0.1:0"
	if _, err := New(o); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("unknown backend: New = %v", err)
	}
}

func TestConsistencyParse(t *testing.T) {
	for _, c := range []Consistency{One, Quorum, All} {
		got, err := ParseConsistency(c.String())
		if err != nil || got != c {
			t.Errorf("ParseConsistency(%q) = %v, %v", c.String(), got, err)
		}
	}
	if _, err := ParseConsistency("SOME"); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("ParseConsistency(SOME) = %v", err)
	}
}

func TestQuorumErrorMatches(t *testing.T) {
	inner := context.DeadlineExceeded
	err := error(&QuorumError{Op: OpSet, Acked: 1, Needed: 2, Replicas: 3, Errs: []error{inner}})
	if !errors.Is(err, ErrQuorum) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("QuorumError does not match ErrQuorum and its causes: %v", err)
	}
	var qe *QuorumError
	if !errors.As(fmt.Errorf("wrapped: %w", err), &qe) || qe.Acked != 1 || qe.Needed != 2 {
		t.Fatalf("errors.As failed: %v", qe)
	}
}

func TestVersionOrder(t *testing.T) {
	a := makeVersion(hlc.Timestamp{WallTime: 100, Logical: 1}, 7)
	b := makeVersion(hlc.Timestamp{WallTime: 100, Logical: 2}, 1)
	c := makeVersion(hlc.Timestamp{WallTime: 100, Logical: 2}, 9)
	if !a.Less(b) || !b.Less(c) {
		t.Fatal("versions do not order by time, then tie-breaker")
	}
	if got := versionTime(b); got != (hlc.Timestamp{WallTime: 100, Logical: 2}) {
		t.Fatalf("versionTime = %v", got)
	}
}

func TestMetaRoundTrip(t *testing.T) {
	b, err := encodeMeta("10.1.2.3:7480", "eu-west-1a")
	if err != nil {
		t.Fatal(err)
	}
	addr, zone, err := decodeMeta(b)
	if err != nil || addr != "10.1.2.3:7480" || zone != "eu-west-1a" {
		t.Fatalf("decodeMeta = %q, %q, %v", addr, zone, err)
	}
	if _, err := encodeMeta(string(make([]byte, 300)), ""); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("long address accepted: %v", err)
	}
}

func FuzzDecodeMeta(f *testing.F) {
	good, _ := encodeMeta("127.0.0.1:1", "z")
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{1, 200})
	f.Add([]byte{2, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		addr, zone, err := decodeMeta(b)
		if err != nil {
			if !errors.Is(err, errBadMessage) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		again, err := encodeMeta(addr, zone)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("round trip %x -> %q %q -> %x", b, addr, zone, again)
		}
	})
}

func TestIntersectRanges(t *testing.T) {
	R := func(s, e uint64) ring.Range { return ring.Range{Start: s, End: e} }
	tests := []struct {
		a, b, want []ring.Range
	}{
		{[]ring.Range{R(0, 0)}, []ring.Range{R(10, 20)}, []ring.Range{R(10, 20)}},
		{[]ring.Range{R(0, 10), R(20, 30)}, []ring.Range{R(5, 25)}, []ring.Range{R(5, 10), R(20, 25)}},
		{[]ring.Range{R(0, 10)}, []ring.Range{R(10, 20)}, nil},
		{[]ring.Range{R(100, 0)}, []ring.Range{R(50, 0)}, []ring.Range{R(100, 0)}},
		{[]ring.Range{R(0, 0)}, []ring.Range{R(0, 0)}, []ring.Range{R(0, 0)}},
	}
	for _, tt := range tests {
		got := intersectRanges(tt.a, tt.b)
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("intersect(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

// TestRangeDigestsMatchScan checks range digests against a plain
// recomputation over random ranges, with entries added and overwritten.
func TestRangeDigestsMatchScan(t *testing.T) {
	cfg := storage.DefaultConfig()
	cfg.DigestBits = 8
	cfg.Shards = 4
	s, err := storage.NewRegistry().Open("sharded", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 3000 {
		var v storage.Version
		v[0] = byte(r.IntN(200) + 1)
		v[15] = byte(i)
		if _, err := s.Put([]byte(fmt.Sprintf("key-%d", r.IntN(2000))), storage.Entry{Value: []byte("x"), Version: v, Tombstone: r.IntN(10) == 0}); err != nil {
			t.Fatal(err)
		}
	}
	for trial := range 200 {
		// Random sorted disjoint ranges, sometimes reaching 2^64.
		cuts := make([]uint64, 2+r.IntN(8))
		for i := range cuts {
			cuts[i] = r.Uint64()
		}
		if trial%3 == 0 {
			cuts[0] = 0
		}
		slicesSort(cuts)
		var ranges []ring.Range
		for i := 0; i+1 < len(cuts); i += 2 {
			if cuts[i] < cuts[i+1] {
				ranges = append(ranges, ring.Range{Start: cuts[i], End: cuts[i+1]})
			}
		}
		if trial%4 == 0 && len(ranges) > 0 {
			ranges[len(ranges)-1].End = 0
		}
		if trial == 1 {
			ranges = []ring.Range{{Start: 0, End: 0}}
		}
		got, err := rangeDigests(s, ranges)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]uint64, len(ranges))
		s.Range(0, 0, func(key []byte, e storage.Entry) bool {
			h := s.Hash(key)
			for i, rg := range ranges {
				if rg.Contains(h) {
					want[i] += storage.EntryDigest(h, e.Version)
				}
			}
			return true
		})
		for i := range ranges {
			if got[i] != want[i] {
				t.Fatalf("trial %d range %v: digest %x, scan %x", trial, ranges[i], got[i], want[i])
			}
		}
	}
	if _, err := rangeDigests(s, []ring.Range{{Start: 10, End: 5}}); !errors.Is(err, errBadMessage) {
		t.Fatalf("bad range accepted: %v", err)
	}
	if _, err := rangeDigests(s, []ring.Range{{Start: 10, End: 50}, {Start: 20, End: 60}}); !errors.Is(err, errBadMessage) {
		t.Fatalf("overlapping ranges accepted: %v", err)
	}
}

func slicesSort(a []uint64) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

// FuzzHandlers feeds arbitrary bytes to every message handler of a node: it
// must answer with an error or a well-formed response, never panic.
func FuzzHandlers(f *testing.F) {
	put, _ := proto.Marshal(&wire.PutRequest{Clock: make([]byte, 12), Entries: []*wire.KeyEntry{{Key: []byte("k"), Entry: &wire.Entry{Version: make([]byte, 16), Value: []byte("v")}}}})
	get, _ := proto.Marshal(&wire.GetRequest{Clock: make([]byte, 12), Key: []byte("k")})
	dig, _ := proto.Marshal(&wire.DigestRequest{Clock: make([]byte, 12), Ranges: []*wire.Range{{Start: 1, End: 9}}})
	keys, _ := proto.Marshal(&wire.KeysRequest{Clock: make([]byte, 12), Range: &wire.Range{}, Limit: 5})
	fetch, _ := proto.Marshal(&wire.FetchRequest{Clock: make([]byte, 12), Keys: [][]byte{[]byte("k")}})
	for i, b := range [][]byte{put, get, dig, keys, fetch, {}, {0xff, 0xff}} {
		f.Add(uint8(i), b)
	}
	c := newCluster(f, 1, func(_ int, o *Options) { o.ReplicationFactor = 1 })
	n := c.nodes[0]
	handlers := []func(context.Context, string, []byte) ([]byte, error){n.handlePut, n.handleGet, n.handleDigest, n.handleKeys, n.handleFetch}
	f.Fuzz(func(t *testing.T, which uint8, payload []byte) {
		h := handlers[int(which)%len(handlers)]
		resp, err := h(context.Background(), "fuzzer", payload)
		if err == nil && resp == nil {
			t.Fatal("nil response without error")
		}
	})
}

func TestSplitRange(t *testing.T) {
	for _, r := range []ring.Range{{Start: 0, End: 0}, {Start: 100, End: 0}, {Start: 5, End: 1000}, {Start: 7, End: 9}} {
		parts := splitRange(r, 16)
		if parts[0].Start != r.Start || parts[len(parts)-1].End != r.End {
			t.Fatalf("split of %v does not cover it: %v", r, parts)
		}
		for i := 1; i < len(parts); i++ {
			if parts[i].Start != parts[i-1].End || parts[i-1].End <= parts[i-1].Start {
				t.Fatalf("split of %v has a gap or an empty part: %v", r, parts)
			}
		}
		if r.End-r.Start >= 16 || r.End == 0 {
			if len(parts) != 16 {
				t.Fatalf("split of %v gave %d parts", r, len(parts))
			}
		}
	}
}

// TestAntiEntropyLargeRange repairs a replica that is missing more keys than
// one key listing holds, which needs the range to be split.
func TestAntiEntropyLargeRange(t *testing.T) {
	c := newCluster(t, 2, func(_ int, o *Options) {
		o.ReplicationFactor = 2
		o.AntiEntropyMaxKeys = 1 << 20
		o.RequestTimeout = 5 * time.Second
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	waitFor(t, 10*time.Second, "n1 recovered", func() bool { return !c.nodes[1].recovering.Load() })
	const keys = maxKeysPerRequest + 5000
	for i := range keys {
		var v storage.Version
		v[0] = 1
		if _, err := c.nodes[0].store.Put([]byte(fmt.Sprintf("bulk-%d", i)), storage.Entry{Value: []byte("x"), Version: v}); err != nil {
			t.Fatal(err)
		}
	}
	// More keys differ than one listing holds: the pass must split the
	// range to repair them all.
	start := time.Now()
	k, err := c.nodes[1].AntiEntropyAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("anti-entropy pass repaired %d entries in %v", k, time.Since(start))
	if k != keys {
		t.Fatalf("repaired %d entries, want %d", k, keys)
	}
	if n := c.nodes[1].store.Len(); n != keys {
		t.Fatalf("n1 holds %d entries after repair, want %d", n, keys)
	}
}

// TestPrefetch: Prefetch of present and absent keys changes nothing, does
// not allocate, and is a no-op on a closed node.
func TestPrefetch(t *testing.T) {
	c := newCluster(t, 1, func(_ int, o *Options) { o.ReplicationFactor = 1 })
	n, ctx := c.nodes[0], ctxT(t)
	keys := make([]string, 40) // more than one internal round of 32
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i)
		if i%2 == 0 {
			if err := n.Set(ctx, keys[i], []byte(keys[i])); err != nil {
				t.Fatal(err)
			}
		}
	}
	if a := testing.AllocsPerRun(100, func() { n.Prefetch(keys...) }); a != 0 {
		t.Fatalf("Prefetch allocates %v times per call", a)
	}
	for i, k := range keys {
		v, err := n.Get(ctx, k)
		switch {
		case i%2 == 0 && (err != nil || string(v) != k):
			t.Fatalf("%s: %q, %v", k, v, err)
		case i%2 == 1 && !errors.Is(err, ErrNotFound):
			t.Fatalf("%s: %q, %v; want ErrNotFound", k, v, err)
		}
	}
	n.Close()
	n.Prefetch(keys...)
}
