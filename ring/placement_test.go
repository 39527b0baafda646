package ring

import (
	"errors"
	"slices"
	"testing"
)

func handRing(t *testing.T) *Ring {
	t.Helper()
	cfg := DefaultConfig()
	cfg.VNodesPerWeight = 3
	cfg.Hash = handHash
	// Virtual nodes: "2" at 2, 12, 22; "4" at 4, 14, 24; "6" at 6, 16, 26.
	return mustNew(t, []Member{
		{ID: "6", Weight: 1, Zone: "b"},
		{ID: "2", Weight: 1, Zone: "a"},
		{ID: "4", Weight: 1, Zone: "a"},
	}, cfg)
}

func TestPlacementByHand(t *testing.T) {
	r := handRing(t)
	if got, want := r.pos, []uint64{2, 4, 6, 12, 14, 16, 22, 24, 26}; !slices.Equal(got, want) {
		t.Fatalf("positions %v, want %v", got, want)
	}
	// A virtual node owns the positions below it, down to its predecessor:
	// [pos[i-1], pos[i]). Past the last one the ring wraps to the first.
	for key, want := range map[string]string{
		"0": "2", "1": "2", "2": "4", "3": "4", "5": "6", "6": "2", "11": "2",
		"12": "4", "13": "4", "15": "6", "21": "2", "23": "4", "25": "6", "26": "2", "1000": "2",
	} {
		if got := r.Locate(key); got != want {
			t.Errorf("Locate(%q) = %q, want %q", key, got, want)
		}
		if got := r.LocateBytes([]byte(key)); got != want {
			t.Errorf("LocateBytes(%q) = %q, want %q", key, got, want)
		}
	}
	// Zones: "2" and "4" share zone a, "6" is in zone b. The second replica
	// skips the same-zone member until both zones are used.
	for _, c := range []struct {
		key  string
		want []string
	}{
		{"0", []string{"2", "6", "4"}},  // walk 2(a) 4(a) 6(b)
		{"3", []string{"4", "6", "2"}},  // walk 4(a) 6(b) 12=2(a)
		{"5", []string{"6", "2", "4"}},  // walk 6(b) 12=2(a) 14=4(a)
		{"26", []string{"2", "6", "4"}}, // wraps to 2
	} {
		for n := 1; n <= 3; n++ {
			got, err := r.Replicas(c.key, n, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, c.want[:n]) {
				t.Errorf("Replicas(%q, %d) = %v, want %v", c.key, n, got, c.want[:n])
			}
		}
	}
}

func TestPlacementWeight(t *testing.T) {
	cfg := DefaultConfig()
	cfg.VNodesPerWeight = 2
	cfg.Hash = handHash
	// "1" (weight 1): 1, 11. "3" (weight 3): 3, 13, 23, 33, 43, 53.
	r := mustNew(t, []Member{{ID: "1", Weight: 1}, {ID: "3", Weight: 3}}, cfg)
	if got, want := r.pos, []uint64{1, 3, 11, 13, 23, 33, 43, 53}; !slices.Equal(got, want) {
		t.Fatalf("positions %v, want %v", got, want)
	}
	for key, want := range map[string]string{"0": "1", "1": "3", "10": "1", "11": "3", "40": "3", "53": "1"} {
		if got := r.Locate(key); got != want {
			t.Errorf("Locate(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestCollisionsAreDeterministic(t *testing.T) {
	// Every virtual node of both members lands on position 100, plus "b#1"
	// alone at 200.
	h := mapHash(map[string]uint64{"a#0": 100, "b#0": 100, "a#1": 100, "b#1": 200, "k50": 50, "k150": 150, "k250": 250})
	cfg := DefaultConfig()
	cfg.VNodesPerWeight = 2
	cfg.Hash = h
	for _, order := range [][]Member{
		{{ID: "a", Weight: 1}, {ID: "b", Weight: 1}},
		{{ID: "b", Weight: 1}, {ID: "a", Weight: 1}},
	} {
		r := mustNew(t, order, cfg)
		// Ties sort by member ID then virtual node number: a#0, a#1, b#0
		// at 100, then b#1 at 200. a#0 owns [0, 100); the others at 100
		// own nothing; b#1 owns [100, 200); a#0 again owns [200, 2^64).
		for key, want := range map[string]string{"k50": "a", "k150": "b", "k250": "a"} {
			if got := r.Locate(key); got != want {
				t.Errorf("Locate(%q) = %q, want %q", key, got, want)
			}
		}
		got, _ := r.Replicas("k50", 2, nil)
		if !slices.Equal(got, []string{"a", "b"}) {
			t.Errorf("Replicas(k50, 2) = %v", got)
		}
		rs, _ := r.OwnedRanges("b", 1)
		if want := []Range{{100, 200}}; !slices.Equal(rs, want) {
			t.Errorf("OwnedRanges(b, 1) = %v, want %v", rs, want)
		}
	}
}

func TestErrors(t *testing.T) {
	good := Member{ID: "a", Weight: 1}
	big := DefaultConfig()
	big.VNodesPerWeight = MaxVNodesPerWeight
	long := make([]byte, MaxIDLen+1)
	for i := range long {
		long[i] = 'x'
	}
	for _, c := range []struct {
		name    string
		members []Member
		cfg     Config
		want    error
	}{
		{"no members", nil, DefaultConfig(), ErrNoMembers},
		{"empty ID", []Member{good, {Weight: 1}}, DefaultConfig(), ErrEmptyID},
		{"long ID", []Member{{ID: string(long), Weight: 1}}, DefaultConfig(), ErrIDTooLong},
		{"duplicate", []Member{good, {ID: "b", Weight: 1}, good}, DefaultConfig(), ErrDuplicateID},
		{"zero weight", []Member{{ID: "a"}}, DefaultConfig(), ErrZeroWeight},
		{"too many vnodes", []Member{{ID: "a", Weight: 1 << 9}}, big, ErrTooManyVNodes},
		{"too many vnodes in total", []Member{{ID: "a", Weight: 100}, {ID: "b", Weight: 100}}, big, ErrTooManyVNodes},
		{"bad config", []Member{good}, Config{}, ErrInvalidConfig},
	} {
		_, err := New(c.members, c.cfg)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
	if _, err := New(make([]Member, MaxMembers+1), DefaultConfig()); !errors.Is(err, ErrTooManyMembers) {
		t.Errorf("too many members: got %v", err)
	}

	cfg := DefaultConfig()
	cfg.VNodesPerWeight = 8
	r := mustNew(t, nodes(3, 3), cfg)
	dst := []string{"keep"}
	for n, want := range map[int]error{0: ErrInvalidReplicaCount, -1: ErrInvalidReplicaCount, 4: ErrTooFewMembers} {
		got, err := r.Replicas("k", n, dst)
		if !errors.Is(err, want) || !slices.Equal(got, dst) {
			t.Errorf("Replicas(n=%d) = %v, %v; want dst unchanged and %v", n, got, err, want)
		}
	}
	if _, err := r.With(Member{ID: "node-1", Weight: 1}); !errors.Is(err, ErrDuplicateID) {
		t.Errorf("With(existing) = %v", err)
	}
	if _, err := r.Without("nope"); !errors.Is(err, ErrUnknownMember) {
		t.Errorf("Without(absent) = %v", err)
	}
	if _, err := r.Without("node-0", "node-1", "node-2"); !errors.Is(err, ErrNoMembers) {
		t.Errorf("Without(all) = %v", err)
	}
	if _, err := r.OwnedRanges("nope", 1); !errors.Is(err, ErrUnknownMember) {
		t.Errorf("OwnedRanges(absent) = %v", err)
	}
	if _, err := r.OwnedRanges("node-0", 0); !errors.Is(err, ErrInvalidReplicaCount) {
		t.Errorf("OwnedRanges(n=0) = %v", err)
	}
	if _, err := Diff(r, r, 0); !errors.Is(err, ErrInvalidReplicaCount) {
		t.Errorf("Diff(n=0) = %v", err)
	}
	for _, c := range []Config{
		{VNodesPerWeight: 0, PrecomputedReplicas: 1},
		{VNodesPerWeight: MaxVNodesPerWeight + 1, PrecomputedReplicas: 1},
		{VNodesPerWeight: 1, PrecomputedReplicas: 0},
		{VNodesPerWeight: 1, PrecomputedReplicas: MaxPrecomputedReplicas + 1},
		{VNodesPerWeight: 1, PrecomputedReplicas: 1, TableBits: MinTableBits - 1},
		{VNodesPerWeight: 1, PrecomputedReplicas: 1, TableBits: MaxTableBits + 1},
	} {
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("Validate(%+v) = %v", c, err)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("DefaultConfig().Validate() = %v", err)
	}
}

func TestMembersAndDerivation(t *testing.T) {
	cfg := DefaultConfig()
	cfg.VNodesPerWeight = 16
	r := mustNew(t, nodes(3, 2), cfg)
	r2, err := r.With(Member{ID: "extra", Weight: 2, Zone: "z"})
	if err != nil {
		t.Fatal(err)
	}
	r3, err := r2.Without("node-0")
	if err != nil {
		t.Fatal(err)
	}
	ids := func(r *Ring) []string {
		var out []string
		for _, m := range r.Members() {
			out = append(out, m.ID)
		}
		return out
	}
	if got := ids(r); !slices.Equal(got, []string{"node-0", "node-1", "node-2"}) {
		t.Errorf("r members %v", got)
	}
	if got := ids(r2); !slices.Equal(got, []string{"extra", "node-0", "node-1", "node-2"}) {
		t.Errorf("r2 members %v", got)
	}
	if got := ids(r3); !slices.Equal(got, []string{"extra", "node-1", "node-2"}) {
		t.Errorf("r3 members %v", got)
	}
	if r.Len() != 3 || r2.Len() != 4 || r3.Len() != 3 || r2.Zones() != 3 || r2.VNodes() != 5*16 {
		t.Errorf("Len/Zones/VNodes: %d %d %d %d %d", r.Len(), r2.Len(), r3.Len(), r2.Zones(), r2.VNodes())
	}
	if m, ok := r2.Member("extra"); !ok || m.Weight != 2 || m.Zone != "z" {
		t.Errorf("Member(extra) = %+v, %v", m, ok)
	}
	if _, ok := r3.Member("node-0"); ok {
		t.Error("node-0 still present after Without")
	}
	// Members returns a copy: changing it does not change the ring.
	ms := r.Members()
	ms[0].ID = "changed"
	if m, _ := r.Member("node-0"); m.ID != "node-0" {
		t.Error("Members exposed internal state")
	}
	if r2.Config().VNodesPerWeight != 16 {
		t.Error("derived ring lost its config")
	}
}
