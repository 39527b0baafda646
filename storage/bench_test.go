package storage

import (
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"
)

const benchKeys = 1 << 16

func benchEngine(b *testing.B, backend string, ttl bool) (Engine, [][]byte) {
	b.Helper()
	cfg := DefaultConfig()
	cfg.MemoryLimit = 1 << 30
	e, err := NewRegistry().Open(backend, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close() })
	keys := make([][]byte, benchKeys)
	val := make([]byte, 64)
	for i := range keys {
		keys[i] = []byte(fmt.Sprintf("key:%0*d", 12+i%9, i))
		en := Entry{Value: val, Version: Version{15: 1}}
		if ttl {
			en.Expiry = time.Now().Add(time.Hour).UnixNano()
		}
		e.Put(keys[i], en)
	}
	return e, keys
}

func BenchmarkGet(b *testing.B) {
	for _, backend := range []string{BackendSharded, BackendMap} {
		b.Run(backend, func(b *testing.B) {
			e, keys := benchEngine(b, backend, true)
			dst := make([]byte, 0, 64)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				dst, _ = e.Get(keys[i&(benchKeys-1)], dst[:0])
			}
		})
	}
}

func BenchmarkPut(b *testing.B) {
	for _, backend := range []string{BackendSharded, BackendMap} {
		b.Run(backend, func(b *testing.B) {
			e, keys := benchEngine(b, backend, true)
			val := make([]byte, 64)
			exp := time.Now().Add(time.Hour).UnixNano()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				v := Version{}
				v[8], v[9], v[10], v[11] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
				v[0] = 2
				e.Put(keys[i&(benchKeys-1)], Entry{Value: val, Version: v, Expiry: exp})
			}
		})
	}
}

func BenchmarkGetParallel(b *testing.B) {
	for _, backend := range []string{BackendSharded, BackendMap} {
		b.Run(backend, func(b *testing.B) {
			e, keys := benchEngine(b, backend, true)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				dst := make([]byte, 0, 64)
				i := rand.IntN(benchKeys)
				for pb.Next() {
					dst, _ = e.Get(keys[i&(benchKeys-1)], dst[:0])
					i++
				}
			})
		})
	}
}

func BenchmarkPutParallel(b *testing.B) {
	for _, backend := range []string{BackendSharded, BackendMap} {
		b.Run(backend, func(b *testing.B) {
			e, keys := benchEngine(b, backend, true)
			val := make([]byte, 64)
			exp := time.Now().Add(time.Hour).UnixNano()
			var ids atomic.Uint32
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				id := ids.Add(1)
				i := rand.IntN(benchKeys)
				var n uint32
				for pb.Next() {
					n++
					v := Version{0: 3}
					v[8], v[9], v[10], v[11] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
					v[15] = byte(id)
					e.Put(keys[i&(benchKeys-1)], Entry{Value: val, Version: v, Expiry: exp})
					i++
				}
			})
		})
	}
}

// BenchmarkEvictionHitRatio measures the hit ratio of the eviction policy
// on a zipf (s=1.01) workload over 2^18 keys with room for about 10% of
// them, for several sample counts (1 sample is random eviction). It reports
// hits per lookup; a miss is followed by a Put, as a cache would do.
func BenchmarkEvictionHitRatio(b *testing.B) {
	const keys = 1 << 18
	for _, samples := range []int{1, 3, 5, 10} {
		b.Run(fmt.Sprintf("samples=%d", samples), func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.SweepInterval = 0
			cfg.Shards, cfg.DigestBits = 16, 4
			cfg.MaxKeySize, cfg.MaxValueSize = 32, 64
			cfg.EvictionSamples = samples
			cfg.MemoryLimit = keys / 10 * (16 + 64 + EntryOverhead)
			e, err := NewSharded(cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			z := rand.NewZipf(rand.New(rand.NewPCG(1, 2)), 1.01, 1, keys-1)
			val := make([]byte, 64)
			var dst []byte
			hits := 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				key := fmt.Appendf(dst[:0], "key-%011d", z.Uint64())
				var err error
				if _, err = e.Get(key, nil); err == nil {
					hits++
				} else {
					e.Put(key, Entry{Value: val, Version: Version{15: 1}})
				}
			}
			b.ReportMetric(float64(hits)/float64(b.N), "hits/op")
		})
	}
}

// BenchmarkPutPipeline writes batches of 16 keys drawn at random from 1M
// (64-byte values), as a server applies a pipeline of SETs: "plain" one
// Put after another, "prefetch" after Prefetch of the batch. ns/op is per
// key.
func BenchmarkPutPipeline(b *testing.B) {
	const n, batch = 1 << 20, 16
	s, err := NewSharded(DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	keys := make([][]byte, n)
	val := make([]byte, 64)
	for i := range keys {
		keys[i] = []byte(fmt.Sprintf("key:%0*d", 12+i%9, i))
		if _, err := s.Put(keys[i], Entry{Value: val, Version: Version{15: 1}}); err != nil {
			b.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	order := make([]int32, 1<<20)
	for i := range order {
		order[i] = int32(rng.IntN(n))
	}
	for _, pre := range []bool{false, true} {
		name := "plain"
		if pre {
			name = "prefetch"
		}
		b.Run(name, func(b *testing.B) {
			var v uint64 = 2
			pipe := make([][]byte, batch)
			pos := 0
			b.ReportAllocs()
			for i := 0; b.Loop(); i += batch {
				for j := range pipe {
					pipe[j] = keys[order[pos]]
					pos = (pos + 1) & (len(order) - 1)
				}
				if pre {
					s.Prefetch(pipe)
				}
				v++
				e := Entry{Value: val}
				e.Version[7] = byte(v >> 16)
				e.Version[8] = byte(v >> 8)
				e.Version[9] = byte(v)
				e.Version[0] = 1
				for _, k := range pipe {
					if _, err := s.Put(k, e); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/key")
		})
	}
}
