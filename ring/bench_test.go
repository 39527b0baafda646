package ring

import (
	"fmt"
	"strconv"
	"testing"
)

func benchKeys() []string {
	keys := make([]string, 1<<14)
	for i := range keys {
		keys[i] = "key-" + strconv.Itoa(i)
	}
	return keys
}

func benchRing(b *testing.B, members, vnodes int) *Ring {
	cfg := DefaultConfig()
	cfg.VNodesPerWeight = vnodes
	return mustNew(b, nodes(members, 3), cfg)
}

var benchConfigs = []struct {
	name            string
	members, vnodes int
}{
	{"10x150", 10, 150},
	{"10xdefault", 10, 8192},
	{"100xdefault", 100, 8192},
}

func BenchmarkLocate(b *testing.B) {
	keys := benchKeys()
	for _, c := range benchConfigs {
		r := benchRing(b, c.members, c.vnodes)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for i := 0; b.Loop(); i++ {
				n += len(r.Locate(keys[i&(len(keys)-1)]))
			}
			_ = n
		})
	}
}

func BenchmarkReplicas(b *testing.B) {
	keys := benchKeys()
	for _, c := range benchConfigs {
		r := benchRing(b, c.members, c.vnodes)
		for _, n := range []int{3, 7} { // 7 > PrecomputedReplicas: walks
			b.Run(fmt.Sprintf("%s/n=%d", c.name, n), func(b *testing.B) {
				b.ReportAllocs()
				dst := make([]string, 0, n)
				for i := 0; b.Loop(); i++ {
					dst, _ = r.Replicas(keys[i&(len(keys)-1)], n, dst[:0])
				}
			})
		}
	}
}

// BenchmarkNew measures ring construction (hashing and sorting the virtual
// nodes, building the preference lists and both lookup tables).
func BenchmarkNew(b *testing.B) {
	for _, members := range []int{10, 100, 1000} {
		for _, vnodes := range []int{150, 8192} {
			ms := nodes(members, 3)
			cfg := DefaultConfig()
			cfg.VNodesPerWeight = vnodes
			b.Run(fmt.Sprintf("members=%d/vnodes=%d", members, vnodes), func(b *testing.B) {
				b.ReportAllocs()
				var r *Ring
				for b.Loop() {
					var err error
					if r, err = New(ms, cfg); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(r.footprint())/(1<<20), "MiB/ring")
			})
		}
	}
}

func BenchmarkDiff(b *testing.B) {
	for _, c := range benchConfigs {
		r := benchRing(b, c.members, c.vnodes)
		r2, err := r.With(Member{ID: "new", Weight: 1, Zone: "zone-0"})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name+"/add-one/n=3", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Diff(r, r2, 3); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkOwnedRanges(b *testing.B) {
	for _, c := range benchConfigs {
		r := benchRing(b, c.members, c.vnodes)
		b.Run(c.name+"/n=3", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.OwnedRanges("node-1", 3); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWith measures deriving a ring with one more member, which merges
// instead of re-sorting.
func BenchmarkWith(b *testing.B) {
	for _, c := range benchConfigs {
		r := benchRing(b, c.members, c.vnodes)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.With(Member{ID: "new", Weight: 1, Zone: "zone-0"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
