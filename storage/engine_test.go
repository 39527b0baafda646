package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
	"unsafe"
)

func ver(n uint64) (v Version) {
	for i := 0; i < 8; i++ {
		v[15-i] = byte(n >> (8 * i))
	}
	return v
}

func openBoth(t *testing.T, cfg Config) map[string]Engine {
	t.Helper()
	out := map[string]Engine{}
	reg := NewRegistry()
	for _, name := range reg.Names() {
		e, err := reg.Open(name, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		out[name] = e
	}
	return out
}

func testConfig(clock Clock) Config {
	c := DefaultConfig()
	c.Shards = 8
	c.DigestBits = 5
	c.SweepInterval = 0
	c.Clock = clock
	return c
}

// recount recomputes Len, Bytes and digests from a full Range.
func recount(t *testing.T, e Engine) (n int, b int64, d []uint64) {
	t.Helper()
	d = make([]uint64, e.Buckets())
	err := e.Range(0, 0, func(key []byte, en Entry) bool {
		n++
		b += AccountedSize(key, en)
		h := e.Hash(key)
		d[e.BucketOf(h)] += EntryDigest(h, en.Version)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return n, b, d
}

func checkRecount(t *testing.T, e Engine) {
	t.Helper()
	n, b, d := recount(t, e)
	if e.Len() != n || e.Bytes() != b {
		t.Fatalf("Len/Bytes = %d/%d, recount %d/%d", e.Len(), e.Bytes(), n, b)
	}
	got, err := e.Digests(nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range d {
		if got[i] != d[i] {
			t.Fatalf("digest %d = %x, recount %x", i, got[i], d[i])
		}
	}
}

func TestLastWriteWins(t *testing.T) {
	for name, e := range openBoth(t, testConfig(NewManualClock(modelEpoch))) {
		t.Run(name, func(t *testing.T) {
			k := []byte("k")
			mustPut := func(v uint64, val string, want bool) {
				t.Helper()
				ok, err := e.Put(k, Entry{Value: []byte(val), Version: ver(v)})
				if err != nil || ok != want {
					t.Fatalf("Put v%d = %v, %v; want %v", v, ok, err, want)
				}
			}
			mustPut(5, "five", true)
			mustPut(3, "three", false)
			mustPut(5, "again", false)
			mustPut(6, "six", true)
			if got, err := e.Get(k, nil); err != nil || string(got) != "six" {
				t.Fatalf("Get = %q, %v", got, err)
			}
			if ok, _ := e.Put(k, Entry{Version: ver(7), Tombstone: true}); !ok {
				t.Fatal("tombstone not applied")
			}
			if _, err := e.Get(k, nil); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get after delete: %v", err)
			}
			mustPut(6, "old", false) // the tombstone keeps older writes out
			en, err := e.GetEntry(k, nil)
			if err != nil || !en.Tombstone || en.Version != ver(7) || en.Value != nil {
				t.Fatalf("GetEntry = %+v, %v", en, err)
			}
		})
	}
}

func TestReadsDoNotAlias(t *testing.T) {
	for name, e := range openBoth(t, testConfig(nil)) {
		t.Run(name, func(t *testing.T) {
			val := []byte("value")
			e.Put([]byte("k"), Entry{Value: val, Version: ver(1)})
			val[0] = 'X' // the engine copied it
			buf := make([]byte, 0, 16)
			got, err := e.Get([]byte("k"), buf)
			if err != nil || string(got) != "value" || &got[0] != &buf[:1][0] {
				t.Fatalf("Get = %q, %v (must append into dst)", got, err)
			}
			got[0] = 'Y'
			again, _ := e.Get([]byte("k"), nil)
			if string(again) != "value" {
				t.Fatalf("stored bytes were aliased: %q", again)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	cfg := testConfig(nil)
	cfg.MaxKeySize, cfg.MaxValueSize = 8, 16
	for name, e := range openBoth(t, cfg) {
		t.Run(name, func(t *testing.T) {
			cases := []struct {
				key  []byte
				val  []byte
				want error
			}{
				{nil, []byte("v"), ErrEmptyKey},
				{[]byte("123456789"), nil, ErrKeyTooLarge},
				{[]byte("k"), make([]byte, 17), ErrValueTooLarge},
				{[]byte("12345678"), make([]byte, 16), nil},
			}
			for _, c := range cases {
				if _, err := e.Put(c.key, Entry{Value: c.val, Version: ver(1)}); !errors.Is(err, c.want) {
					t.Errorf("Put(%d-byte key, %d-byte value) = %v, want %v", len(c.key), len(c.val), err, c.want)
				}
			}
			if _, err := e.Get(make([]byte, 9), nil); !errors.Is(err, ErrKeyTooLarge) {
				t.Errorf("Get long key: %v", err)
			}
			if _, err := e.GetEntry(nil, nil); !errors.Is(err, ErrEmptyKey) {
				t.Errorf("GetEntry empty key: %v", err)
			}
			// A tombstone's value is ignored, so it is not size-checked.
			if _, err := e.Put([]byte("t"), Entry{Value: make([]byte, 17), Version: ver(1), Tombstone: true}); err != nil {
				t.Errorf("tombstone with oversized value: %v", err)
			}
		})
	}
}

func TestClosed(t *testing.T) {
	for name, e := range openBoth(t, testConfig(nil)) {
		t.Run(name, func(t *testing.T) {
			e.Put([]byte("k"), Entry{Value: []byte("v"), Version: ver(1)})
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			if err := e.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
			if _, err := e.Put([]byte("k"), Entry{Version: ver(2)}); !errors.Is(err, ErrClosed) {
				t.Errorf("Put: %v", err)
			}
			if _, err := e.Get([]byte("k"), nil); !errors.Is(err, ErrClosed) {
				t.Errorf("Get: %v", err)
			}
			if _, err := e.GetEntry([]byte("k"), nil); !errors.Is(err, ErrClosed) {
				t.Errorf("GetEntry: %v", err)
			}
			if err := e.Range(0, 0, func([]byte, Entry) bool { return true }); !errors.Is(err, ErrClosed) {
				t.Errorf("Range: %v", err)
			}
			if _, err := e.Digests(nil); !errors.Is(err, ErrClosed) {
				t.Errorf("Digests: %v", err)
			}
			if e.Len() != 0 || e.Bytes() != 0 {
				t.Errorf("Len/Bytes after Close = %d/%d", e.Len(), e.Bytes())
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig invalid: %v", err)
	}
	bad := []func(*Config){
		func(c *Config) { c.Shards = 3 },
		func(c *Config) { c.Shards = 0 },
		func(c *Config) { c.MaxKeySize = 0 },
		func(c *Config) { c.MaxKeySize = MaxKeySizeLimit + 1 },
		func(c *Config) { c.MaxValueSize = -1 },
		func(c *Config) { c.MemoryLimit = -1 },
		func(c *Config) { c.LimitPolicy = 9 },
		func(c *Config) { c.EvictionSamples = 0 },
		func(c *Config) { c.TombstoneGrace = -1 },
		func(c *Config) { c.SweepInterval = -1 },
		func(c *Config) { c.ExpiryResolution = time.Microsecond },
		func(c *Config) { c.DigestBits = 4 }, // below log2(256 shards)
		func(c *Config) { c.DigestBits = MaxDigestBits + 1 },
		func(c *Config) { c.MemoryLimit = 1 << 20 }, // 4 KiB per shard < 1 MiB value
	}
	for i, mutate := range bad {
		c := DefaultConfig()
		mutate(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("case %d: Validate = %v, want ErrInvalidConfig", i, err)
		}
		if _, err := NewSharded(c); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("case %d: NewSharded = %v", i, err)
		}
		if _, err := NewMap(c); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("case %d: NewMap = %v", i, err)
		}
	}
}

func TestRegistry(t *testing.T) {
	r := NewRegistry()
	if got := r.Names(); len(got) != 2 || got[0] != BackendMap || got[1] != BackendSharded {
		t.Fatalf("Names = %v", got)
	}
	if _, err := r.Open("nope", DefaultConfig()); !errors.Is(err, ErrUnknownBackend) {
		t.Fatalf("Open unknown: %v", err)
	}
	if err := r.Register(BackendMap, nil); !errors.Is(err, ErrDuplicateBackend) {
		t.Fatalf("Register duplicate: %v", err)
	}
	called := false
	if err := r.Register("custom", func(c Config) (Engine, error) { called = true; return NewMap(c) }); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	c.SweepInterval = 0
	e, err := r.Open("custom", c)
	if err != nil || !called {
		t.Fatalf("Open custom: %v, called %v", err, called)
	}
	e.Close()
	// Registries are independent values.
	if len(NewRegistry().Names()) != 2 {
		t.Fatal("a registry leaked into another")
	}
}

// TestCollisions stores many keys under a hash that maps them all to four
// positions: every key must keep its own value.
func TestCollisions(t *testing.T) {
	cfg := testConfig(nil)
	cfg.Hash = weakHash
	for name, e := range openBoth(t, cfg) {
		t.Run(name, func(t *testing.T) {
			const n = 2000
			for i := 0; i < n; i++ {
				k := fmt.Sprintf("key-%d", i)
				if _, err := e.Put([]byte(k), Entry{Value: []byte("v" + k), Version: ver(1)}); err != nil {
					t.Fatal(err)
				}
			}
			for i := 0; i < n; i += 2 { // delete the even ones
				e.Put([]byte(fmt.Sprintf("key-%d", i)), Entry{Version: ver(2), Tombstone: true})
			}
			for i := 0; i < n; i++ {
				k := fmt.Sprintf("key-%d", i)
				got, err := e.Get([]byte(k), nil)
				if i%2 == 0 {
					if !errors.Is(err, ErrNotFound) {
						t.Fatalf("%s: deleted key read %q, %v", k, got, err)
					}
				} else if err != nil || string(got) != "v"+k {
					t.Fatalf("%s: got %q, %v", k, got, err)
				}
			}
			if _, err := e.Get([]byte("absent-0"), nil); !errors.Is(err, ErrNotFound) {
				t.Fatalf("absent key with a colliding hash: %v", err)
			}
			if e.PurgeTombstones() != 0 { // grace not over
				t.Fatal("purged young tombstones")
			}
			checkRecount(t, e)
		})
	}
}

func TestRangeAndDigests(t *testing.T) {
	clock := NewManualClock(modelEpoch)
	cfg := testConfig(clock)
	engines := openBoth(t, cfg)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 5000; i++ {
		k := []byte(fmt.Sprintf("key-%d", rng.IntN(3000)))
		e := Entry{Value: bytes.Repeat([]byte("x"), rng.IntN(100)), Version: ver(rng.Uint64N(50)), Tombstone: rng.IntN(5) == 0}
		if rng.IntN(4) == 0 {
			e.Expiry = clock.Now() + int64(time.Second)
		}
		for _, eng := range engines {
			eng.Put(k, e)
		}
	}
	m, s := engines[BackendMap], engines[BackendSharded]
	dm, _ := m.Digests(nil)
	ds, _ := s.Digests(nil)
	if len(dm) != 32 || fmt.Sprint(dm) != fmt.Sprint(ds) {
		t.Fatal("the two backends disagree on digests after the same writes")
	}
	for _, eng := range engines {
		checkRecount(t, eng)
		all := collect(t, eng, 0, 0)
		// Random ranges, wrapping ones included, and bucket ranges.
		for i := 0; i < 50; i++ {
			a, b := rng.Uint64(), rng.Uint64()
			if i%5 == 0 {
				a, b = eng.BucketRange(rng.IntN(eng.Buckets()))
			}
			got := collect(t, eng, a, b)
			var want []rangeItem
			for _, it := range all {
				if inRange(eng.Hash([]byte(it.key)), a, b) {
					want = append(want, it)
				}
			}
			if len(got) != len(want) {
				t.Fatalf("Range(%x,%x): %d items, want %d", a, b, len(got), len(want))
			}
			for j := range got {
				if got[j].key != want[j].key || !sameEntry(got[j].e, want[j].e) {
					t.Fatalf("Range item %d differs", j)
				}
			}
		}
		// A bucket's digest equals the sum over its Range.
		digests, _ := eng.Digests(nil)
		for b := 0; b < eng.Buckets(); b++ {
			var sum uint64
			start, end := eng.BucketRange(b)
			eng.Range(start, end, func(key []byte, e Entry) bool {
				if eng.BucketOf(eng.Hash(key)) != b {
					t.Fatalf("key %q in bucket range %d hashes to bucket %d", key, b, eng.BucketOf(eng.Hash(key)))
				}
				sum += EntryDigest(eng.Hash(key), e.Version)
				return true
			})
			if sum != digests[b] {
				t.Fatalf("bucket %d digest %x, Range sum %x", b, digests[b], sum)
			}
		}
		// Early stop.
		n := 0
		eng.Range(0, 0, func([]byte, Entry) bool { n++; return n < 3 })
		if n != 3 {
			t.Fatalf("Range did not stop: %d calls", n)
		}
	}
}

func TestBucketRange(t *testing.T) {
	b := buckets{bits: 2}
	for i := 0; i < 4; i++ {
		s, e := b.BucketRange(i)
		if b.BucketOf(s) != i || (i < 3 && b.BucketOf(e) != i+1) || (i == 3 && e != 0) {
			t.Fatalf("bucket %d range [%x,%x)", i, s, e)
		}
	}
	if s, e := (buckets{}).BucketRange(0); s != 0 || e != 0 {
		t.Fatal("single bucket must cover everything")
	}
	if !inRange(5, 10, 10) || !inRange(20, 10, 6) || !inRange(3, 10, 6) || inRange(7, 10, 6) || inRange(10, 0, 10) {
		t.Fatal("inRange")
	}
}

func TestTTLAndPurge(t *testing.T) {
	clock := NewManualClock(modelEpoch)
	cfg := testConfig(clock)
	cfg.TombstoneGrace = time.Minute
	for name, e := range openBoth(t, cfg) {
		t.Run(name, func(t *testing.T) {
			now := clock.Now()
			e.Put([]byte("ttl"), Entry{Value: []byte("v"), Version: ver(1), Expiry: now + int64(10*time.Second)})
			e.Put([]byte("del"), Entry{Version: ver(1), Tombstone: true})
			clock.Advance(10 * time.Second)
			if _, err := e.Get([]byte("ttl"), nil); !errors.Is(err, ErrNotFound) {
				t.Fatalf("expired entry read: %v", err)
			}
			if en, err := e.GetEntry([]byte("ttl"), nil); err != nil || en.Tombstone {
				t.Fatalf("raw entry before sweep = %+v, %v", en, err)
			}
			if st := e.Sweep(); st.Expired != 1 || st.Purged != 0 {
				t.Fatalf("Sweep = %+v", st)
			}
			en, err := e.GetEntry([]byte("ttl"), nil)
			if err != nil || !en.Tombstone || en.Version != ver(1) {
				t.Fatalf("expired entry after sweep = %+v, %v", en, err)
			}
			clock.Advance(50 * time.Second) // "del" is 60s old, "ttl" tombstone 50s
			if st := e.Sweep(); st.Purged != 1 {
				t.Fatalf("Sweep = %+v, want the delete purged", st)
			}
			clock.Advance(10 * time.Second)
			if n := e.PurgeTombstones(); n != 1 {
				t.Fatalf("PurgeTombstones = %d", n)
			}
			if e.Len() != 0 || e.Bytes() != 0 {
				t.Fatalf("Len/Bytes = %d/%d", e.Len(), e.Bytes())
			}
			// After the purge an old version is accepted again: this is why
			// the grace period must outlast repair.
			if ok, _ := e.Put([]byte("del"), Entry{Value: []byte("old"), Version: ver(1)}); !ok {
				t.Fatal("write after purge refused")
			}
		})
	}
}

func TestEvictionKeepsUsageUnderLimit(t *testing.T) {
	clock := NewManualClock(modelEpoch)
	cfg := testConfig(clock)
	cfg.MaxValueSize = 1024
	cfg.MemoryLimit = 64 << 10 // 8 KiB per shard
	for name, e := range openBoth(t, cfg) {
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			for i := 0; i < 20000; i++ {
				k := []byte(fmt.Sprintf("key-%d", rng.IntN(5000)))
				en := Entry{Value: make([]byte, rng.IntN(1025)), Version: ver(uint64(i + 1))}
				if rng.IntN(3) == 0 {
					en.Expiry = clock.Now() + int64(rng.IntN(1000))*int64(time.Millisecond)
				}
				if _, err := e.Put(k, en); err != nil {
					t.Fatalf("Put: %v", err)
				}
				if i%1000 == 0 {
					clock.Advance(300 * time.Millisecond)
				}
				if e.Bytes() > cfg.MemoryLimit {
					t.Fatalf("usage %d over limit %d", e.Bytes(), cfg.MemoryLimit)
				}
			}
			if e.Stats().Evictions == 0 {
				t.Fatal("no evictions")
			}
			checkRecount(t, e)
		})
	}
}

func TestEvictionPrefersColdEntries(t *testing.T) {
	cfg := testConfig(nil)
	cfg.Shards = 1
	cfg.DigestBits = 0
	cfg.MaxKeySize, cfg.MaxValueSize = 8, 100
	cfg.MemoryLimit = 200 * (8 + 100 + EntryOverhead)
	for name, e := range openBoth(t, cfg) {
		t.Run(name, func(t *testing.T) {
			key := func(i int) []byte { return []byte(fmt.Sprintf("k%07d", i)) }
			val := make([]byte, 100)
			// 20 hot keys are read between every write of cold keys.
			for i := 0; i < 20; i++ {
				e.Put(key(i), Entry{Value: val, Version: ver(1)})
			}
			for i := 20; i < 2000; i++ {
				for h := 0; h < 20; h++ {
					e.Get(key(h), nil)
				}
				if _, err := e.Put(key(i), Entry{Value: val, Version: ver(1)}); err != nil {
					t.Fatal(err)
				}
			}
			hot := 0
			for h := 0; h < 20; h++ {
				if _, err := e.Get(key(h), nil); err == nil {
					hot++
				}
			}
			// A random policy would keep each hot key with probability
			// about 200/2000; sampled LRU keeps nearly all of them.
			if hot < 15 {
				t.Fatalf("only %d of 20 hot keys survived", hot)
			}
		})
	}
}

// TestMapKeysTrackEntries checks the map backend's sampling list after
// inserts, overwrites, deletes, expiry, purges and evictions: it must hold
// each stored key exactly once, at the position its record names.
func TestMapKeysTrackEntries(t *testing.T) {
	clock := NewManualClock(modelEpoch)
	cfg := testConfig(clock)
	cfg.TombstoneGrace = time.Second
	cfg.Shards, cfg.MaxKeySize, cfg.MaxValueSize = 1, 8, 16
	cfg.MemoryLimit = 300 * (8 + 16 + EntryOverhead)
	m, err := NewMap(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	rng := rand.New(rand.NewPCG(9, 10))
	for i := 0; i < 20000; i++ {
		key := []byte(fmt.Sprintf("k%07d", rng.IntN(1000)))
		en := Entry{Version: ver(uint64(i + 1)), Value: make([]byte, 16)}
		switch rng.IntN(10) {
		case 0:
			en.Value, en.Tombstone = nil, true
		case 1:
			en.Expiry = clock.Now() + int64(time.Second)
		case 2:
			clock.Set(clock.Now() + int64(time.Second))
			m.Sweep()
			m.PurgeTombstones()
		}
		if _, err := m.Put(key, en); err != nil && !errors.Is(err, ErrMemoryLimit) {
			t.Fatal(err)
		}
	}
	if len(m.keys) != len(m.m) {
		t.Fatalf("%d keys listed, %d stored", len(m.keys), len(m.m))
	}
	for k, r := range m.m {
		if m.keys[r.idx] != k {
			t.Fatalf("key %q: keys[%d] = %q", k, r.idx, m.keys[r.idx])
		}
	}
	if m.evictions == 0 {
		t.Fatal("no evictions: the test did not exercise them")
	}
}

func TestYoungTombstonesAreNeverEvicted(t *testing.T) {
	clock := NewManualClock(modelEpoch)
	cfg := testConfig(clock)
	cfg.Shards, cfg.DigestBits = 1, 0
	cfg.MaxKeySize, cfg.MaxValueSize = 8, 100
	cfg.MemoryLimit = 10 * (8 + EntryOverhead + 100)
	cfg.TombstoneGrace = time.Hour
	for name, e := range openBoth(t, cfg) {
		t.Run(name, func(t *testing.T) {
			n := 0
			for ; ; n++ {
				_, err := e.Put([]byte(fmt.Sprintf("t%07d", n)), Entry{Version: ver(1), Tombstone: true})
				if errors.Is(err, ErrMemoryLimit) {
					break
				}
				if err != nil || n > 100 {
					t.Fatalf("Put tombstone %d: %v", n, err)
				}
			}
			for i := 0; i < n; i++ {
				if en, err := e.GetEntry([]byte(fmt.Sprintf("t%07d", i)), nil); err != nil || !en.Tombstone {
					t.Fatalf("tombstone %d lost: %v", i, err)
				}
			}
			clock.Advance(time.Hour) // grace over: now they may go
			if _, err := e.Put([]byte("live"), Entry{Value: make([]byte, 100), Version: ver(1)}); err != nil {
				t.Fatalf("Put after grace: %v", err)
			}
			checkRecount(t, e)
		})
	}
}

func TestRejectPolicy(t *testing.T) {
	cfg := testConfig(nil)
	cfg.Shards, cfg.DigestBits = 1, 0
	cfg.MaxKeySize, cfg.MaxValueSize = 2, 100
	cfg.MemoryLimit = 3 * (2 + EntryOverhead + 100)
	cfg.LimitPolicy = LimitReject
	for name, e := range openBoth(t, cfg) {
		t.Run(name, func(t *testing.T) {
			for i := 0; i < 3; i++ {
				if _, err := e.Put([]byte(fmt.Sprintf("k%d", i)), Entry{Value: make([]byte, 100), Version: ver(1)}); err != nil {
					t.Fatal(err)
				}
			}
			_, err := e.Put([]byte("k3"), Entry{Value: make([]byte, 100), Version: ver(1)})
			if !errors.Is(err, ErrMemoryLimit) {
				t.Fatalf("Put over limit: %v", err)
			}
			// Shrinking an entry is always allowed.
			if ok, err := e.Put([]byte("k0"), Entry{Value: make([]byte, 10), Version: ver(2)}); !ok || err != nil {
				t.Fatalf("shrink: %v %v", ok, err)
			}
			if e.Stats().Evictions != 0 || e.Len() != 3 {
				t.Fatal("reject mode evicted")
			}
		})
	}
}

func TestConcurrentAccess(t *testing.T) {
	clock := NewManualClock(modelEpoch)
	cfg := testConfig(clock)
	cfg.MaxValueSize = 256
	cfg.MemoryLimit = 512 << 10
	cfg.TombstoneGrace = time.Millisecond
	for name, e := range openBoth(t, cfg) {
		t.Run(name, func(t *testing.T) {
			var wg sync.WaitGroup
			for g := 0; g < 4; g++ {
				wg.Add(1)
				go func(g int) {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(uint64(g), 1))
					var buf []byte
					for i := 0; i < 3000; i++ {
						k := []byte(fmt.Sprintf("key-%d", rng.IntN(2000)))
						switch rng.IntN(10) {
						case 0, 1, 2:
							en := Entry{Value: make([]byte, rng.IntN(257)), Version: ver(uint64(i)<<8 | uint64(g))}
							if rng.IntN(2) == 0 {
								en.Expiry = clock.Now() + int64(rng.IntN(20))*int64(time.Millisecond)
							}
							if _, err := e.Put(k, en); err != nil {
								t.Error(err)
								return
							}
						case 3:
							e.Put(k, Entry{Version: ver(uint64(i)<<8 | uint64(g)), Tombstone: true})
						case 4:
							clock.Advance(time.Millisecond)
							e.Sweep()
						case 5:
							e.Range(rng.Uint64(), rng.Uint64(), func([]byte, Entry) bool { return true })
						case 6:
							e.Digests(nil)
							e.Stats()
						default:
							buf, _ = e.Get(k, buf[:0])
						}
					}
				}(g)
			}
			wg.Wait()
			if e.Bytes() > cfg.MemoryLimit {
				t.Fatalf("usage %d over limit", e.Bytes())
			}
			checkRecount(t, e)
		})
	}
}

// TestBackgroundSweeper checks that the sweeper goroutine does the work and
// that Close stops it (goleak in TestMain fails the run otherwise).
func TestBackgroundSweeper(t *testing.T) {
	clock := NewManualClock(modelEpoch)
	cfg := testConfig(clock)
	cfg.SweepInterval = time.Millisecond
	for name, e := range openBoth(t, cfg) {
		t.Run(name, func(t *testing.T) {
			e.Put([]byte("k"), Entry{Value: []byte("v"), Version: ver(1), Expiry: clock.Now() + 1})
			clock.Advance(2 * time.Second)
			deadline := time.Now().Add(10 * time.Second)
			for e.Stats().Expired == 0 {
				if time.Now().After(deadline) {
					t.Fatal("the sweeper never expired the entry")
				}
				time.Sleep(time.Millisecond) // polling an observable condition
			}
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestLargeValuesAndClassChanges(t *testing.T) {
	cfg := testConfig(nil)
	cfg.MaxValueSize = 200 << 10
	s, err := NewSharded(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sizes := []int{0, 1, 100, 600, 5000, 40 << 10, 200 << 10, 3, 100 << 10, 40 << 10}
	for i, n := range sizes {
		val := bytes.Repeat([]byte{byte(i + 1)}, n)
		if ok, err := s.Put([]byte("k"), Entry{Value: val, Version: ver(uint64(i + 1))}); !ok || err != nil {
			t.Fatalf("size %d: %v %v", n, ok, err)
		}
		got, err := s.Get([]byte("k"), nil)
		if err != nil || !bytes.Equal(got, val) {
			t.Fatalf("size %d read back %d bytes, %v", n, len(got), err)
		}
		checkRecount(t, s)
	}
	// Every size maps to a class whose chunk fits it, and class sizes grow.
	prev := 0
	for n := hdrSize + 1; n <= maxInline; n++ {
		c, sz := sizeClass(n)
		if sz < n || classSize(c) != sz || sz > n+n/8+8 {
			t.Fatalf("sizeClass(%d) = %d, %d (classSize %d)", n, c, sz, classSize(c))
		}
		if sz < prev {
			t.Fatalf("class sizes shrink at %d", n)
		}
		prev = sz
	}
}

func TestZeroAllocs(t *testing.T) {
	clock := NewManualClock(modelEpoch)
	cfg := testConfig(clock)
	cfg.MemoryLimit = 64 << 20
	s, err := NewSharded(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	keys := make([][]byte, 1000)
	val := make([]byte, 64)
	for i := range keys {
		keys[i] = []byte(fmt.Sprintf("key-%016d", i))
		s.Put(keys[i], Entry{Value: val, Version: ver(1), Expiry: clock.Now() + int64(time.Hour)})
	}
	dst := make([]byte, 0, 64)
	i := 0
	if n := testing.AllocsPerRun(1000, func() {
		dst, _ = s.Get(keys[i%len(keys)], dst[:0])
		i++
	}); n != 0 {
		t.Fatalf("Get allocates %v times", n)
	}
	v := uint64(2)
	if n := testing.AllocsPerRun(1000, func() {
		s.Put(keys[i%len(keys)], Entry{Value: val, Version: ver(v), Expiry: clock.Now() + int64(time.Hour)})
		i++
		v++
	}); n != 0 {
		t.Fatalf("steady-state Put allocates %v times", n)
	}
}

func TestSystemClock(t *testing.T) {
	c := SystemClock()
	a, wall, b := c.Now(), time.Now().UnixNano(), c.Now()
	if b < a {
		t.Fatalf("went backwards: %d then %d", a, b)
	}
	if d := wall - a; d < -int64(time.Second) || d > int64(time.Second) {
		t.Fatalf("SystemClock is %v away from time.Now", time.Duration(d))
	}
}

// TestShardLayout checks the cache-line layout that shard's comment
// describes (written fields in line 0, read-mostly slice headers alone in
// lines 1 and 2, a size that keeps every shard of an array line aligned)
// and the chunk header offsets that arena.go's layout comment gives.
func TestShardLayout(t *testing.T) {
	var sh shard
	if off := unsafe.Offsetof(sh.deadlines) + unsafe.Sizeof(sh.deadlines); off > 64 {
		t.Errorf("written fields end at byte %d, past the first cache line", off)
	}
	if off := unsafe.Offsetof(sh.slots); off != 64 {
		t.Errorf("slots at byte %d, want 64", off)
	}
	if off := unsafe.Offsetof(sh.due); off != 192 {
		t.Errorf("due at byte %d, want 192", off)
	}
	if size := unsafe.Sizeof(sh); size%64 != 0 {
		t.Errorf("shard is %d bytes, not a multiple of 64", size)
	}
	var hd chunkHeader
	for _, f := range []struct {
		name      string
		got, want uintptr
	}{
		{"meta", unsafe.Offsetof(hd.meta), hdrMeta},
		{"vlen", unsafe.Offsetof(hd.vlen), hdrVlen},
		{"expiry", unsafe.Offsetof(hd.expiry), hdrExpiry},
		{"version", unsafe.Offsetof(hd.version), hdrVersion},
		{"size", unsafe.Sizeof(hd), hdrSize},
	} {
		if f.got != f.want {
			t.Errorf("chunkHeader %s at %d, the layout says %d", f.name, f.got, f.want)
		}
	}
	s, err := NewSharded(Config{Shards: 4, DigestBits: 3, MaxKeySize: 8, MaxValueSize: 8, EvictionSamples: 1, ExpiryResolution: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range s.shards {
		if p := uintptr(unsafe.Pointer(&s.shards[i].digests[0])); p%64 != 0 {
			t.Errorf("shard %d digests at %#x, not cache-line aligned", i, p)
		}
	}
}

// TestEntryDigestSensitivity checks that EntryDigest tells apart the
// (key hash, version) pairs replicas actually produce: every single-bit
// change of either input changes the digest, and a million consecutive
// versions of one key (wall clock and sequence number moving together, as
// gridkv's hybrid logical clock makes them) have distinct digests.
func TestEntryDigestSensitivity(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for n := 0; n < 1000; n++ {
		h := rng.Uint64()
		var v Version
		for i := range v {
			v[i] = byte(rng.Uint32())
		}
		d := EntryDigest(h, v)
		for b := 0; b < 64; b++ {
			if EntryDigest(h^1<<b, v) == d {
				t.Fatalf("flipping key-hash bit %d of %#x leaves the digest unchanged", b, h)
			}
		}
		for b := 0; b < 128; b++ {
			w := v
			w[b/8] ^= 1 << (b % 8)
			if EntryDigest(h, w) == d {
				t.Fatalf("flipping version bit %d of %x leaves the digest unchanged", b, v)
			}
		}
	}
	seen := make(map[uint64]int, 1<<20)
	h := rng.Uint64()
	wall := uint64(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	for i := 0; i < 1<<20; i++ {
		var v Version
		binary.BigEndian.PutUint64(v[:8], wall+uint64(i/3)*1000)
		binary.BigEndian.PutUint64(v[8:], uint64(i%3)<<32|7)
		d := EntryDigest(h, v)
		if j, dup := seen[d]; dup {
			t.Fatalf("versions %d and %d of one key have the same digest %#x", j, i, d)
		}
		seen[d] = i
	}
}

// TestOverwriteKinds covers the in-place overwrite (same value length, same
// or later deadline) and each way a write falls out of it: a shorter
// deadline, a deadline added or removed, a new length, a tombstone over a
// value and a value over a tombstone. After each write the entry, the
// accounting and the digests must be as if written afresh, and the sweeper
// must expire the entry at its latest deadline, not an earlier one.
func TestOverwriteKinds(t *testing.T) {
	sec := int64(time.Second)
	steps := []struct {
		name   string
		value  string
		expiry int64 // relative to the start, 0 = none
		tomb   bool
	}{
		{"first", "aaaa", 10 * sec, false},
		{"same length, later deadline", "bbbb", 20 * sec, false},
		{"same length, same deadline", "cccc", 20 * sec, false},
		{"same length, earlier deadline", "dddd", 15 * sec, false},
		{"deadline removed", "eeee", 0, false},
		{"no deadline either side", "ffff", 0, false},
		{"deadline added", "gggg", 30 * sec, false},
		{"longer value", "hhhhhhhh", 40 * sec, false},
		{"tombstone", "", 0, true},
		{"value over tombstone", "iiiiiiii", 50 * sec, false},
		{"final, later deadline", "jjjjjjjj", 60 * sec, false},
	}
	clock := NewManualClock(modelEpoch)
	for name, e := range openBoth(t, testConfig(clock)) {
		t.Run(name, func(t *testing.T) {
			start := clock.Now()
			key := []byte("k")
			for i, st := range steps {
				en := Entry{Version: ver(uint64(i + 1)), Tombstone: st.tomb}
				if !st.tomb {
					en.Value = []byte(st.value)
				}
				if st.expiry != 0 {
					en.Expiry = start + st.expiry
				}
				if ok, err := e.Put(key, en); !ok || err != nil {
					t.Fatalf("%s: Put = %v, %v", st.name, ok, err)
				}
				got, err := e.GetEntry(key, nil)
				if err != nil || got.Version != en.Version || got.Expiry != en.Expiry || got.Tombstone != st.tomb || string(got.Value) != st.value {
					t.Fatalf("%s: GetEntry = %+v, %v; want %+v", st.name, got, err, en)
				}
				if old, _ := e.Put(key, Entry{Value: []byte("zzzz"), Version: ver(uint64(i))}); old {
					t.Fatalf("%s: an older version was applied", st.name)
				}
				checkRecount(t, e)
			}
			// The final deadline is 60s; deadlines at 10s to 50s came before.
			clock.Set(start + 59*sec)
			if st := e.Sweep(); st.Expired != 0 {
				t.Fatalf("sweep before the final deadline expired %d entries", st.Expired)
			}
			if v, err := e.Get(key, nil); err != nil || string(v) != "jjjjjjjj" {
				t.Fatalf("Get before the deadline = %q, %v", v, err)
			}
			clock.Set(start + 60*sec)
			if st := e.Sweep(); st.Expired != 1 {
				t.Fatalf("sweep at the deadline expired %d entries, want 1", st.Expired)
			}
			checkRecount(t, e)
		})
	}
}

// TestOverwriteEarlierDeadline checks that a write that brings an entry's
// deadline forward is expired at the new deadline even after the sweeper has
// already re-queued the entry for its later one.
func TestOverwriteEarlierDeadline(t *testing.T) {
	sec := int64(time.Second)
	clock := NewManualClock(modelEpoch)
	for name, e := range openBoth(t, testConfig(clock)) {
		t.Run(name, func(t *testing.T) {
			start := clock.Now()
			key := []byte("k")
			put := func(v uint64, expiry int64) {
				t.Helper()
				if ok, err := e.Put(key, Entry{Value: []byte("vv"), Version: ver(v), Expiry: start + expiry}); !ok || err != nil {
					t.Fatalf("Put = %v, %v", ok, err)
				}
			}
			put(1, 10*sec)
			put(2, 20*sec) // in place: the item for 10s stays, early
			clock.Set(start + 12*sec)
			if st := e.Sweep(); st.Expired != 0 {
				t.Fatalf("sweep at 12s expired %d", st.Expired)
			}
			put(3, 15*sec) // earlier than the re-queued 20s item
			clock.Set(start + 15*sec)
			if st := e.Sweep(); st.Expired != 1 {
				t.Fatalf("sweep at the new 15s deadline expired %d, want 1", st.Expired)
			}
			checkRecount(t, e)
		})
	}
}

// TestOverwriteLengths overwrites keys of every length from 1 to 40 bytes
// with values of every length from 0 to 80, in place (same length, later
// version), around the sizes Put compares and copies inline (keys of 8 to
// 32 bytes, values of 16 to 64), and checks every entry afterwards: each
// must hold its own last value, so no copy wrote past its value or into a
// neighbour.
func TestOverwriteLengths(t *testing.T) {
	clock := NewManualClock(modelEpoch)
	for name, e := range openBoth(t, testConfig(clock)) {
		t.Run(name, func(t *testing.T) {
			val := func(k, v, round int) []byte {
				b := make([]byte, v)
				for i := range b {
					b[i] = byte(k*7 + v*13 + round*31 + i)
				}
				return b
			}
			key := func(k, v int) []byte {
				b := bytes.Repeat([]byte{'k'}, k)
				b[0] = byte(v)
				return b
			}
			for round := 1; round <= 2; round++ {
				for k := 1; k <= 40; k++ {
					for v := 0; v <= 80; v++ {
						en := Entry{Value: val(k, v, round), Version: ver(uint64(round))}
						if ok, err := e.Put(key(k, v), en); !ok || err != nil {
							t.Fatalf("round %d: Put(key %d, value %d) = %v, %v", round, k, v, ok, err)
						}
					}
				}
			}
			for k := 1; k <= 40; k++ {
				for v := 0; v <= 80; v++ {
					got, err := e.Get(key(k, v), nil)
					if err != nil || !bytes.Equal(got, val(k, v, 2)) {
						t.Fatalf("Get(key %d, value %d) = %v, %v; want %v", k, v, got, err, val(k, v, 2))
					}
				}
			}
			checkRecount(t, e)
		})
	}
}

// TestKeyCompareLengths gives every key the same hash, so that each lookup
// compares the full key against many others, and stores keys of 1 to 40
// bytes that differ from a base key of their length in one byte only, at
// every position: Put and Get compare keys of 8 to 32 bytes inline, with
// overlapping words, and each byte must count.
func TestKeyCompareLengths(t *testing.T) {
	cfg := testConfig(NewManualClock(modelEpoch))
	cfg.Hash = func([]byte) uint64 { return 42 }
	for name, e := range openBoth(t, cfg) {
		t.Run(name, func(t *testing.T) {
			var keys [][]byte
			for n := 1; n <= 40; n++ {
				keys = append(keys, bytes.Repeat([]byte{'a'}, n))
				for i := 0; i < n; i++ {
					k := bytes.Repeat([]byte{'a'}, n)
					k[i] = 'b'
					keys = append(keys, k)
				}
			}
			for round := uint64(1); round <= 2; round++ {
				for i, k := range keys {
					v := fmt.Appendf(nil, "value %d of key %d, round %d", i, i, round)
					if ok, err := e.Put(k, Entry{Value: v, Version: ver(round)}); !ok || err != nil {
						t.Fatalf("Put(%q) = %v, %v", k, ok, err)
					}
				}
			}
			for i, k := range keys {
				want := fmt.Sprintf("value %d of key %d, round 2", i, i)
				if got, err := e.Get(k, nil); err != nil || string(got) != want {
					t.Fatalf("Get(%q) = %q, %v; want %q", k, got, err, want)
				}
			}
			checkRecount(t, e)
		})
	}
}
