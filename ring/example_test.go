package ring_test

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/gridkv/gridkv/ring"
)

func Example() {
	r, err := ring.New([]ring.Member{
		{ID: "node-a", Weight: 1, Zone: "eu-1"},
		{ID: "node-b", Weight: 1, Zone: "eu-2"},
		{ID: "node-c", Weight: 1, Zone: "eu-3"},
		{ID: "node-d", Weight: 2, Zone: "eu-1"}, // twice the keys of the others
	}, ring.DefaultConfig())
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Locate("user:42"))
	replicas, _ := r.Replicas("user:42", 3, nil)
	fmt.Println(replicas)
	// Output:
	// node-d
	// [node-d node-c node-b]
}

// The recommended holder pattern: publish rings through an atomic pointer.
// Readers never block and never see a ring change under them.
func Example_holder() {
	var current atomic.Pointer[ring.Ring]
	r, _ := ring.New([]ring.Member{{ID: "n1", Weight: 1}, {ID: "n2", Weight: 1}}, ring.DefaultConfig())
	current.Store(r)

	// A reader loads once per operation.
	snapshot := current.Load()

	// A membership change publishes a derived ring.
	next, _ := current.Load().With(ring.Member{ID: "n3", Weight: 1})
	current.Store(next)

	fmt.Println(snapshot.Len(), current.Load().Len())
	// Output: 2 3
}

// Replicas appends into a caller buffer: reuse it and nothing is allocated.
func ExampleRing_Replicas() {
	r, _ := ring.New([]ring.Member{
		{ID: "a", Weight: 1, Zone: "z1"},
		{ID: "b", Weight: 1, Zone: "z1"},
		{ID: "c", Weight: 1, Zone: "z2"},
	}, ring.DefaultConfig())
	buf := make([]string, 0, 3)
	for _, key := range []string{"k1", "k2", "k3"} {
		buf, _ = r.Replicas(key, 2, buf[:0])
		fmt.Println(key, buf) // one replica in z1 and one in z2
	}
	_, err := r.Replicas("k1", 4, buf[:0])
	fmt.Println(errors.Is(err, ring.ErrTooFewMembers))
	// Output:
	// k1 [b c]
	// k2 [c b]
	// k3 [c b]
	// true
}

// Diff lists what a membership change moves: here, what the new member must
// receive, range by range, and from whom.
func ExampleDiff() {
	members := []ring.Member{{ID: "a", Weight: 1}, {ID: "b", Weight: 1}, {ID: "c", Weight: 1}}
	old, _ := ring.New(members, ring.DefaultConfig())
	grown, _ := old.With(ring.Member{ID: "d", Weight: 1})
	changes, _ := ring.Diff(old, grown, 1)
	moved := 0.0
	for _, c := range changes {
		moved += c.Range.Fraction()
	}
	fmt.Printf("%d ranges move to %v, %.2f of the ring\n", len(changes), changes[0].New, moved)
	// Output: 6168 ranges move to [d], 0.25 of the ring
}

// OwnedRanges tells a member which hash ranges it replicates, for repair
// or for a storage scan.
func ExampleRing_OwnedRanges() {
	r, _ := ring.New([]ring.Member{{ID: "a", Weight: 1}, {ID: "b", Weight: 1}, {ID: "c", Weight: 1}}, ring.DefaultConfig())
	owned, _ := r.OwnedRanges("a", 2)
	share := 0.0
	for _, g := range owned {
		share += g.Fraction()
	}
	fmt.Printf("a replicates %.2f of the ring\n", share)
	h := r.KeyHash("some-key")
	replicas, _ := r.Replicas("some-key", 2, nil)
	fmt.Println(ring.RangesContain(owned, h) == (replicas[0] == "a" || replicas[1] == "a"))
	// Output:
	// a replicates 0.66 of the ring
	// true
}
