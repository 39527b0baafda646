package ringbench

import (
	"sync/atomic"
	"testing"

	"github.com/cespare/xxhash/v2"
)

// sink keeps results alive so the compiler cannot drop the lookups.
var sink atomic.Int64

// BenchmarkRingLocate: primary owner of a key.
func BenchmarkRingLocate(b *testing.B) {
	keys, bkeys := benchKeys()
	const mask = numKeys - 1
	b.Run("gridkv", func(b *testing.B) {
		r := newGridKV(members, vnodes, 0)
		b.ReportAllocs()
		n := 0
		for i := 0; b.Loop(); i++ {
			n += len(r.Locate(keys[i&mask]))
		}
		sink.Add(int64(n))
	})
	b.Run("gridkv-default", func(b *testing.B) {
		r := newGridKV(members, 0, 0)
		b.ReportAllocs()
		n := 0
		for i := 0; b.Loop(); i++ {
			n += len(r.Locate(keys[i&mask]))
		}
		sink.Add(int64(n))
	})
	b.Run("buraksezer", func(b *testing.B) {
		c := newBuraksezer(members)
		b.ReportAllocs()
		n := 0
		for i := 0; b.Loop(); i++ {
			n += len(c.LocateKey(bkeys[i&mask]).String())
		}
		sink.Add(int64(n))
	})
	b.Run("groupcache", func(b *testing.B) {
		m := newGroupcache(members)
		b.ReportAllocs()
		n := 0
		for i := 0; b.Loop(); i++ {
			n += len(m.Get(keys[i&mask]))
		}
		sink.Add(int64(n))
	})
	b.Run("xxhash", func(b *testing.B) {
		b.ReportAllocs()
		var h uint64
		for i := 0; b.Loop(); i++ {
			h += xxhash.Sum64String(keys[i&mask])
		}
		sink.Add(int64(h))
	})
}

// BenchmarkRingLocateParallel is BenchmarkRingLocate from GOMAXPROCS
// goroutines sharing one ring.
func BenchmarkRingLocateParallel(b *testing.B) {
	keys, bkeys := benchKeys()
	const mask = numKeys - 1
	run := func(b *testing.B, f func(i int) int) {
		b.ReportAllocs()
		var seed atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			i := int(seed.Add(7919)) // different key order per goroutine
			n := 0
			for pb.Next() {
				n += f(i & mask)
				i++
			}
			sink.Add(int64(n))
		})
	}
	b.Run("gridkv", func(b *testing.B) {
		r := newGridKV(members, vnodes, 0)
		run(b, func(i int) int { return len(r.Locate(keys[i])) })
	})
	b.Run("gridkv-default", func(b *testing.B) {
		r := newGridKV(members, 0, 0)
		run(b, func(i int) int { return len(r.Locate(keys[i])) })
	})
	b.Run("buraksezer", func(b *testing.B) {
		c := newBuraksezer(members)
		run(b, func(i int) int { return len(c.LocateKey(bkeys[i]).String()) })
	})
	b.Run("groupcache", func(b *testing.B) {
		m := newGroupcache(members)
		run(b, func(i int) int { return len(m.Get(keys[i])) })
	})
	b.Run("xxhash", func(b *testing.B) {
		run(b, func(i int) int { return int(xxhash.Sum64String(keys[i]) & 1) })
	})
}

// BenchmarkRingReplicas3: three distinct replicas of a key. Members have no
// zones here, so gridkv and buraksezer answer the same question;
// gridkv-zones spreads the replicas over 3 zones.
func BenchmarkRingReplicas3(b *testing.B) {
	keys, bkeys := benchKeys()
	const mask = numKeys - 1
	gridkv := func(members, vnodes, zones int) func(b *testing.B) {
		return func(b *testing.B) {
			r := newGridKV(members, vnodes, zones)
			b.ReportAllocs()
			dst := make([]string, 0, 3)
			n := 0
			for i := 0; b.Loop(); i++ {
				var err error
				dst, err = r.Replicas(keys[i&mask], 3, dst[:0])
				if err != nil {
					b.Fatal(err)
				}
				n += len(dst[2])
			}
			sink.Add(int64(n))
		}
	}
	b.Run("gridkv", gridkv(members, vnodes, 0))
	b.Run("gridkv-zones", gridkv(members, vnodes, 3))
	b.Run("gridkv-default", gridkv(members, 0, 0))
	b.Run("buraksezer", func(b *testing.B) {
		c := newBuraksezer(members)
		b.ReportAllocs()
		n := 0
		for i := 0; b.Loop(); i++ {
			ms, err := c.GetClosestN(bkeys[i&mask], 3)
			if err != nil {
				b.Fatal(err)
			}
			n += len(ms[2].String())
		}
		sink.Add(int64(n))
	})
}
