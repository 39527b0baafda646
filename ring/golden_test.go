package ring

import (
	"slices"
	"testing"
)

// TestGoldenPlacement pins the placement of fixed keys on a fixed member set
// at the default config. Placement must not change across processes,
// platforms or versions of this package: a cluster whose nodes run different
// versions must agree on every key's replicas. If this test fails, the
// change breaks compatibility (vnode key format, hash, tie-breaking, zone
// rule or default config) and needs a deliberate migration, not a new pin.
func TestGoldenPlacement(t *testing.T) {
	r := mustNew(t, nodes(10, 3), DefaultConfig()) // node-i in zone-(i%3)
	for _, c := range []struct {
		key      string
		hash     uint64
		replicas []string
	}{
		{"", 0xef46db3751d8e999, []string{"node-9", "node-7", "node-5"}},
		{"a", 0xd24ec4f1a98c6e5b, []string{"node-2", "node-7", "node-0"}},
		{"alpha", 0xc758e1011dda5848, []string{"node-8", "node-3", "node-7"}},
		{"bravo", 0x8841e7d6ea5a852e, []string{"node-0", "node-4", "node-5"}},
		{"charlie", 0xb07d6ce55b0499c2, []string{"node-6", "node-4", "node-8"}},
		{"delta", 0x21c5114e75049e0f, []string{"node-4", "node-3", "node-2"}},
		{"echo", 0xa8d868a4518c6bd, []string{"node-6", "node-5", "node-7"}},
		{"foxtrot", 0x5bd77e031097d160, []string{"node-4", "node-0", "node-2"}},
		{"user:1", 0xd9c7c4609e6080f3, []string{"node-6", "node-2", "node-1"}},
		{"user:2", 0x337be5a0c611350a, []string{"node-0", "node-4", "node-2"}},
		{"user:42", 0xdc1fea7da8d2d1c2, []string{"node-5", "node-0", "node-1"}},
		{"session/9f8e7d", 0x8aeb2e1ac3d438a2, []string{"node-0", "node-2", "node-1"}},
		{"0", 0x633457081244afec, []string{"node-1", "node-9", "node-8"}},
		{"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", 0xf32b5b0ec3700b6, []string{"node-6", "node-5", "node-7"}},
	} {
		if h := r.KeyHash(c.key); h != c.hash {
			t.Errorf("KeyHash(%q) = %#x, want %#x (xxhash64)", c.key, h, c.hash)
		}
		if h := r.KeyHashBytes([]byte(c.key)); h != c.hash {
			t.Errorf("KeyHashBytes(%q) = %#x, want %#x", c.key, h, c.hash)
		}
		got, err := r.Replicas(c.key, 3, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, c.replicas) {
			t.Errorf("Replicas(%q, 3) = %q, want %q", c.key, got, c.replicas)
		}
	}
	if first, last := r.pos[0], r.pos[len(r.pos)-1]; first != 0x1198c622952e1 || last != 0xffff2bb2ec48822e {
		t.Errorf("first/last virtual node positions %#x/%#x changed", first, last)
	}
}
