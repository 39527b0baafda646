package ring

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/cespare/xxhash/v2"
)

// randomRing builds a ring with 1-24 members over 1-5 zones, weights 1-3 and
// a small random config, so that every code path (tiny tables, scans over
// mixed slots, walks longer than the precomputed lists) gets exercised.
func randomRing(t *testing.T, rng *rand.Rand) *Ring {
	t.Helper()
	nm := 1 + rng.IntN(24)
	nz := 1 + rng.IntN(5)
	ms := make([]Member, nm)
	for i := range ms {
		ms[i] = Member{ID: fmt.Sprintf("m%d-%d", i, rng.IntN(1000)), Weight: uint32(1 + rng.IntN(3)), Zone: fmt.Sprintf("z%d", rng.IntN(nz))}
	}
	cfg := DefaultConfig()
	cfg.VNodesPerWeight = []int{1, 2, 5, 16, 64}[rng.IntN(5)]
	cfg.PrecomputedReplicas = 1 + rng.IntN(5)
	cfg.TableBits = []int{0, 0, MinTableBits, 6, 10}[rng.IntN(5)]
	return mustNew(t, ms, cfg)
}

func randomHashes(rng *rand.Rand, n int) []uint64 {
	hs := make([]uint64, n)
	for i := range hs {
		hs[i] = rng.Uint64()
	}
	return hs
}

// TestReplicasProperties checks, over random member sets and every n, that
// replicas are n distinct members spread over as many zones as possible,
// that n's answer is a prefix of n+1's, and that it equals the reference.
func TestReplicasProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 100; iter++ {
		r := randomRing(t, rng)
		buf := make([]string, 0, r.Len())
		for _, h := range randomHashes(rng, 40) {
			var prev []string
			ref := referenceReplicas(r, h, r.Len())
			for n := 1; n <= r.Len(); n++ {
				got, err := r.ReplicasHash(h, n, buf[:0])
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != n {
					t.Fatalf("n=%d: got %d replicas", n, len(got))
				}
				zones := map[string]bool{}
				ids := map[string]bool{}
				for _, id := range got {
					m, ok := r.Member(id)
					if !ok || ids[id] {
						t.Fatalf("n=%d: replica %q unknown or repeated in %v", n, id, got)
					}
					ids[id] = true
					zones[m.Zone] = true
				}
				if want := min(n, r.Zones()); len(zones) != want {
					t.Fatalf("n=%d, %d zones: replicas %v span %d zones, want %d", n, r.Zones(), got, len(zones), want)
				}
				if !slices.Equal(got[:n-1], prev) {
					t.Fatalf("n=%d: %v does not extend %v", n, got, prev)
				}
				if !slices.Equal(got, ref[:n]) {
					t.Fatalf("n=%d h=%#x: got %v, reference %v", n, h, got, ref[:n])
				}
				prev = slices.Clone(got)
			}
			if got := r.LocateHash(h); got != prev[0] {
				t.Fatalf("LocateHash(%#x) = %q, first replica %q", h, got, prev[0])
			}
		}
	}
}

// TestFastPathEqualsWalk checks the lookup tables (owner table, slot table,
// precomputed preference lists) against a plain walk of the virtual node
// ring at every virtual node boundary and at random positions.
func TestFastPathEqualsWalk(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	check := func(t *testing.T, r *Ring, hs []uint64) {
		t.Helper()
		var fast, slow []string
		for _, h := range hs {
			ref := referenceOwner(r, h)
			if got := r.LocateHash(h); got != ref {
				t.Fatalf("LocateHash(%#x) = %q, walk %q", h, got, ref)
			}
			v := referenceVNode(r, h)
			if got := r.vnodeFor(h); got != v {
				t.Fatalf("vnodeFor(%#x) = %d, binary search %d", h, got, v)
			}
			for n := 1; n <= min(r.npref, r.Len()); n++ {
				fast, _ = r.ReplicasHash(h, n, fast[:0])
				slow = r.walk(v, n, slow[:0])
				if !slices.Equal(fast, slow) {
					t.Fatalf("h=%#x n=%d: table %v, walk %v", h, n, fast, slow)
				}
			}
		}
	}
	for iter := 0; iter < 100; iter++ {
		r := randomRing(t, rng)
		check(t, r, probes(r, randomHashes(rng, 200)))
	}
	// The public key-taking entry points, through a hash that maps probe
	// keys "h:<hex>" to the position they name (virtual node keys contain
	// '#' and fall back to xxhash64).
	t.Run("key entry points", func(t *testing.T) {
		probeHash := func(b []byte) uint64 {
			if len(b) > 2 && b[0] == 'h' && b[1] == ':' {
				h, err := strconv.ParseUint(string(b[2:]), 16, 64)
				if err == nil {
					return h
				}
			}
			return xxhash.Sum64(b)
		}
		for _, members := range []int{10, 300} { // byte-wide and two-byte owner tables
			cfg := DefaultConfig()
			cfg.VNodesPerWeight = 20
			cfg.Hash = probeHash
			r := mustNew(t, nodes(members, 4), cfg)
			var a, b []string
			for _, h := range probes(r, randomHashes(rng, 2000)) {
				key := "h:" + strconv.FormatUint(h, 16)
				ref := referenceOwner(r, h)
				if got := r.Locate(key); got != ref {
					t.Fatalf("Locate(%s) = %q, want %q", key, got, ref)
				}
				if got := r.LocateBytes([]byte(key)); got != ref {
					t.Fatalf("LocateBytes(%s) = %q, want %q", key, got, ref)
				}
				a, _ = r.Replicas(key, 3, a[:0])
				b, _ = r.ReplicasBytes([]byte(key), 3, b[:0])
				if !slices.Equal(a, b) || a[0] != ref || r.KeyHash(key) != h {
					t.Fatalf("Replicas(%s) = %v, ReplicasBytes %v, owner %q", key, a, b, ref)
				}
			}
		}
	})
	t.Run("default config", func(t *testing.T) {
		r := mustNew(t, nodes(10, 3), DefaultConfig())
		check(t, r, probes(r, randomHashes(rng, 10000)))
	})
	t.Run("150 vnodes", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.VNodesPerWeight = 150
		r := mustNew(t, nodes(10, 3), cfg)
		check(t, r, probes(r, randomHashes(rng, 10000)))
	})
}

func TestNoAllocations(t *testing.T) {
	cfg := DefaultConfig()
	cfg.VNodesPerWeight = 150
	r := mustNew(t, nodes(10, 3), cfg)
	key, bkey := "some-key", []byte("some-key")
	buf := make([]string, 0, 10)
	for name, f := range map[string]func(){
		"Locate":         func() { _ = r.Locate(key) },
		"LocateBytes":    func() { _ = r.LocateBytes(bkey) },
		"Replicas(3)":    func() { buf, _ = r.Replicas(key, 3, buf[:0]) },
		"ReplicasBytes":  func() { buf, _ = r.ReplicasBytes(bkey, 3, buf[:0]) },
		"Replicas(walk)": func() { buf, _ = r.Replicas(key, 10, buf[:0]) },
	} {
		if a := testing.AllocsPerRun(100, f); a != 0 {
			t.Errorf("%s: %v allocations per call", name, a)
		}
	}
}

func sameRing(t *testing.T, what string, got, want *Ring) {
	t.Helper()
	if !slices.Equal(got.ids, want.ids) || !slices.Equal(got.pos, want.pos) || !slices.Equal(got.owner, want.owner) ||
		!slices.Equal(got.prefs, want.prefs) || !slices.Equal(got.slots, want.slots) ||
		!slices.Equal(got.owners, want.owners) || !slices.Equal(got.cuts, want.cuts) || got.npref != want.npref {
		t.Fatalf("%s differs from a ring built from scratch", what)
	}
}

// TestWithWithoutEqualNew checks that the incremental derivations build
// exactly the ring New builds from the resulting member set.
func TestWithWithoutEqualNew(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for iter := 0; iter < 60; iter++ {
		r := randomRing(t, rng)
		add := []Member{
			{ID: fmt.Sprintf("new-%d", rng.IntN(100)), Weight: uint32(1 + rng.IntN(3)), Zone: "z1"},
			{ID: fmt.Sprintf("m%d-new", rng.IntN(100)), Weight: 1, Zone: "z9"},
		}[:1+rng.IntN(2)]
		grown, err := r.With(add...)
		if err != nil {
			t.Fatal(err)
		}
		sameRing(t, "With", grown, mustNew(t, append(r.Members(), add...), r.cfg))
		if r.Len() > 1 {
			drop := r.ids[rng.IntN(r.Len())]
			shrunk, err := r.Without(drop)
			if err != nil {
				t.Fatal(err)
			}
			var rest []Member
			for _, m := range r.Members() {
				if m.ID != drop {
					rest = append(rest, m)
				}
			}
			sameRing(t, "Without", shrunk, mustNew(t, rest, r.cfg))
		}
	}
	// Collisions across old and new members: all at position 7.
	cfg := DefaultConfig()
	cfg.VNodesPerWeight = 3
	cfg.Hash = func([]byte) uint64 { return 7 }
	r := mustNew(t, []Member{{ID: "b", Weight: 1}, {ID: "d", Weight: 1}}, cfg)
	grown, err := r.With(Member{ID: "a", Weight: 1}, Member{ID: "c", Weight: 2})
	if err != nil {
		t.Fatal(err)
	}
	sameRing(t, "With (collisions)", grown, mustNew(t, grown.Members(), cfg))
}

// TestSortVNodes checks the bucket sort against a comparison sort, for every
// size class and for positions with many ties and skewed top bits.
func TestSortVNodes(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, n := range []int{0, 1, 255, 256, 5000, 1 << 16} {
		for _, gen := range []func() uint64{
			rng.Uint64,
			func() uint64 { return uint64(rng.IntN(50)) << 58 },  // few distinct, top bits only
			func() uint64 { return rng.Uint64() >> 20 },          // everything in the lowest top-8 bucket
			func() uint64 { return 1<<63 | uint64(rng.IntN(3)) }, // all ties but three values
		} {
			vs := make([]vnode, n)
			for i := range vs {
				vs[i] = vnode{pos: gen(), owner: uint32(rng.IntN(7)), num: uint32(i)}
			}
			want := slices.Clone(vs)
			slices.SortFunc(want, compareVNodes)
			sortVNodes(vs)
			if !slices.Equal(vs, want) {
				t.Fatalf("n=%d: bucket sort differs from comparison sort", n)
			}
		}
	}
}

// TestWalkLargeRing covers the walk used by rings of more than 1024 members,
// which tracks taken members without bitsets.
func TestWalkLargeRing(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	cfg := DefaultConfig()
	cfg.VNodesPerWeight = 2
	cfg.PrecomputedReplicas = 1
	r := mustNew(t, nodes(1100, 7), cfg)
	var got []string
	for _, h := range randomHashes(rng, 200) {
		ref := referenceReplicas(r, h, 12)
		for _, n := range []int{2, 7, 8, 12} {
			got, _ = r.ReplicasHash(h, n, got[:0])
			if !slices.Equal(got, ref[:n]) {
				t.Fatalf("h=%#x n=%d: got %v, reference %v", h, n, got, ref[:n])
			}
		}
	}
}
