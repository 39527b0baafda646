package ring

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

func TestRange(t *testing.T) {
	for _, c := range []struct {
		g    Range
		in   []uint64
		out  []uint64
		frac float64
	}{
		{Range{10, 20}, []uint64{10, 19}, []uint64{9, 20, math.MaxUint64}, 10 / math.Exp2(64)},
		{Range{1 << 63, 0}, []uint64{1 << 63, math.MaxUint64}, []uint64{0, 1<<63 - 1}, 0.5},
		{Range{0, 0}, []uint64{0, 1 << 63, math.MaxUint64}, nil, 1},
	} {
		for _, h := range c.in {
			if !c.g.Contains(h) {
				t.Errorf("%v should contain %#x", c.g, h)
			}
		}
		for _, h := range c.out {
			if c.g.Contains(h) {
				t.Errorf("%v should not contain %#x", c.g, h)
			}
		}
		if f := c.g.Fraction(); f != c.frac {
			t.Errorf("%v.Fraction() = %v, want %v", c.g, f, c.frac)
		}
	}
	if s := (Range{0x10, 0}).String(); s != "[0x10, 2^64)" {
		t.Errorf("String = %q", s)
	}
	rs := []Range{{5, 10}, {10, 12}, {20, 30}, {100, 0}}
	for h, want := range map[uint64]bool{0: false, 5: true, 11: true, 12: false, 19: false, 20: true, 29: true, 30: false, 99: false, 100: true, math.MaxUint64: true} {
		if got := RangesContain(rs, h); got != want {
			t.Errorf("RangesContain(%#x) = %v, want %v", h, got, want)
		}
	}
	if RangesContain(nil, 0) {
		t.Error("empty list contains 0")
	}
}

// checkSorted fails unless rs is sorted, non-empty ranges, non-overlapping
// and never wrapping.
func checkSorted(t *testing.T, rs []Range) {
	t.Helper()
	for i, g := range rs {
		if g.End != 0 && g.End <= g.Start {
			t.Fatalf("range %d %v is empty or wraps", i, g)
		}
		if i > 0 && (rs[i-1].End == 0 || rs[i-1].End > g.Start) {
			t.Fatalf("ranges %d and %d overlap or are out of order: %v %v", i-1, i, rs[i-1], g)
		}
	}
}

func TestOwnedRanges(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for iter := 0; iter < 30; iter++ {
		r := randomRing(t, rng)
		hs := probes(r, randomHashes(rng, 300))
		// 1-3, past the precomputed lists, all members, clamped.
		ns := []int{1, 2, 3, r.npref + 1, r.Len(), r.Len() + 1}
		slices.Sort(ns)
		for _, n := range slices.Compact(ns) {
			total := 0.0
			owned := map[string][]Range{}
			for _, m := range r.members {
				rs, err := r.OwnedRanges(m.ID, n)
				if err != nil {
					t.Fatal(err)
				}
				checkSorted(t, rs)
				for i := 1; i < len(rs); i++ {
					if rs[i-1].End == rs[i].Start {
						t.Fatalf("adjacent ranges not merged: %v %v", rs[i-1], rs[i])
					}
				}
				for _, g := range rs {
					total += g.Fraction()
				}
				owned[m.ID] = rs
			}
			if want := float64(min(n, r.Len())); math.Abs(total-want) > 1e-9 {
				t.Fatalf("n=%d: owned fractions sum to %v, want %v", n, total, want)
			}
			for _, h := range hs {
				reps, _ := r.ReplicasHash(h, min(n, r.Len()), nil)
				for id, rs := range owned {
					if RangesContain(rs, h) != slices.Contains(reps, id) {
						t.Fatalf("n=%d h=%#x: %s in ranges = %v, replicas %v", n, h, id, RangesContain(rs, h), reps)
					}
				}
			}
		}
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(a, b)
}

func TestDiff(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for iter := 0; iter < 50; iter++ {
		old := randomRing(t, rng)
		var new *Ring
		var err error
		switch {
		case iter%3 == 0 || old.Len() == 1:
			new, err = old.With(Member{ID: fmt.Sprintf("added-%d", iter), Weight: uint32(1 + rng.IntN(3)), Zone: fmt.Sprintf("z%d", rng.IntN(4))})
		case iter%3 == 1:
			new, err = old.Without(old.ids[rng.IntN(old.Len())])
		default: // replace a member: remove one, add another
			new, err = old.Without(old.ids[rng.IntN(old.Len())])
			if err == nil {
				new, err = new.With(Member{ID: "replacement", Weight: 1, Zone: "z0"})
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		hs := slices.Concat(probes(old, randomHashes(rng, 300)), probes(new, nil))
		for n := 1; n <= 4; n++ {
			changes, err := Diff(old, new, n)
			if err != nil {
				t.Fatal(err)
			}
			rs := make([]Range, len(changes))
			for i, c := range changes {
				rs[i] = c.Range
			}
			checkSorted(t, rs)
			for _, h := range hs {
				a, _ := old.ReplicasHash(h, min(n, old.Len()), nil)
				b, _ := new.ReplicasHash(h, min(n, new.Len()), nil)
				i := sort.Search(len(changes), func(i int) bool { return changes[i].Range.Start > h }) - 1
				covered := i >= 0 && changes[i].Range.Contains(h)
				if covered == sameSet(a, b) {
					t.Fatalf("n=%d h=%#x: old %v new %v, covered by a change: %v", n, h, a, b, covered)
				}
				if covered && (!slices.Equal(changes[i].Old, a) || !slices.Equal(changes[i].New, b)) {
					t.Fatalf("n=%d h=%#x: change %v says %v -> %v, rings say %v -> %v", n, h, changes[i].Range, changes[i].Old, changes[i].New, a, b)
				}
			}
		}
		if same, _ := Diff(old, old, 3); len(same) != 0 {
			t.Fatalf("Diff of a ring with itself: %v", same)
		}
	}
}

// TestDiffAddMember checks the shape of a one-member addition at the default
// config: every change gives the new member a place, and the changed share
// of the ring for n=1 is the new member's share.
func TestDiffAddMember(t *testing.T) {
	old := mustNew(t, nodes(10, 3), DefaultConfig())
	new, err := old.With(Member{ID: "node-10", Weight: 1, Zone: "zone-1"})
	if err != nil {
		t.Fatal(err)
	}
	changes, err := Diff(old, new, 1)
	if err != nil {
		t.Fatal(err)
	}
	moved := 0.0
	for _, c := range changes {
		if !slices.Equal(c.New, []string{"node-10"}) {
			t.Fatalf("change %v -> %v does not go to the new member", c.Old, c.New)
		}
		moved += c.Range.Fraction()
	}
	owned, _ := new.OwnedRanges("node-10", 1)
	share := 0.0
	for _, g := range owned {
		share += g.Fraction()
	}
	if math.Abs(moved-share) > 1e-12 {
		t.Errorf("moved %v of the ring, new member owns %v", moved, share)
	}
	t.Logf("%d ranges, %.4f of the ring moved (ideal 1/11 = %.4f)", len(changes), moved, 1.0/11)
	// The lists share backing arrays; appending to one must not change the
	// next.
	if len(changes) > 1 {
		next := slices.Clone(changes[1].Old)
		_ = append(changes[0].Old, "x")
		_ = append(changes[0].New, "x")
		if !slices.Equal(changes[1].Old, next) {
			t.Error("appending to one change's list overwrote the next")
		}
	}
}
