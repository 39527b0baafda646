package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"
)

// The model is a plain map with the documented semantics, against which
// every backend is checked operation by operation.
type modelEntry struct {
	e         Entry
	deletedAt int64
}

type model struct {
	m     map[string]modelEntry
	grace int64
}

func (m *model) put(key string, e Entry, now int64) bool {
	old, ok := m.m[key]
	if ok && e.Version.Compare(old.e.Version) <= 0 {
		return false
	}
	me := modelEntry{e: Entry{Version: e.Version, Expiry: e.Expiry, Tombstone: e.Tombstone}}
	if e.Tombstone {
		me.deletedAt = now
	} else {
		me.e.Value = bytes.Clone(e.Value)
	}
	m.m[key] = me
	return true
}

func (m *model) get(key string, now int64) ([]byte, bool) {
	me, ok := m.m[key]
	if !ok || me.e.Tombstone || me.e.Expired(now) {
		return nil, false
	}
	return me.e.Value, true
}

// sweep applies what a complete Sweep does at now.
func (m *model) sweep(now int64) SweepStats {
	var st SweepStats
	for k, me := range m.m {
		switch {
		case me.e.Tombstone && me.deletedAt+m.grace <= now:
			delete(m.m, k)
			st.Purged++
		case !me.e.Tombstone && me.e.Expired(now):
			st.Expired++
			if me.e.Expiry+m.grace <= now {
				delete(m.m, k)
				continue
			}
			me.e.Tombstone, me.e.Value, me.deletedAt = true, nil, me.e.Expiry
			m.m[k] = me
		}
	}
	return st
}

func (m *model) purge(now int64) int {
	n := 0
	for k, me := range m.m {
		if me.e.Tombstone && me.deletedAt+m.grace <= now {
			delete(m.m, k)
			n++
		}
	}
	return n
}

func (m *model) bytes() int64 {
	var n int64
	for k, me := range m.m {
		n += AccountedSize([]byte(k), me.e)
	}
	return n
}

type rangeItem struct {
	key string
	e   Entry
}

func (m *model) rangeItems(hash HashFunc, start, end uint64) []rangeItem {
	var out []rangeItem
	for k, me := range m.m {
		if start == end || inRange(hash([]byte(k)), start, end) {
			out = append(out, rangeItem{k, me.e})
		}
	}
	sortItems(out)
	return out
}

func (m *model) digests(hash HashFunc, bits int) []uint64 {
	d := make([]uint64, 1<<bits)
	b := buckets{bits: uint(bits)}
	for k, me := range m.m {
		h := hash([]byte(k))
		d[b.BucketOf(h)] += EntryDigest(h, me.e.Version)
	}
	return d
}

func sortItems(items []rangeItem) {
	sort.Slice(items, func(i, j int) bool { return items[i].key < items[j].key })
}

func collect(t testing.TB, e Engine, start, end uint64) []rangeItem {
	t.Helper()
	var out []rangeItem
	err := e.Range(start, end, func(key []byte, en Entry) bool {
		en.Value = bytes.Clone(en.Value)
		out = append(out, rangeItem{string(key), en})
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	sortItems(out)
	return out
}

func sameEntry(a, b Entry) bool {
	return a.Version == b.Version && a.Expiry == b.Expiry && a.Tombstone == b.Tombstone &&
		bytes.Equal(a.Value, b.Value) && (!a.Tombstone || a.Value == nil) && (!b.Tombstone || b.Value == nil)
}

// backendCase describes one engine configuration the generic tests run on.
type backendCase struct {
	name string
	open func(Config) (Engine, error)
	cfg  func(*Config)
}

// weakHash maps every key to one of four positions (by its last byte), so
// that most keys collide.
func weakHash(key []byte) uint64 { return uint64(key[len(key)-1]%4) << 62 }

func backendCases() []backendCase {
	sharded := func(c Config) (Engine, error) { return NewSharded(c) }
	mapped := func(c Config) (Engine, error) { return NewMap(c) }
	return []backendCase{
		{"map", mapped, func(c *Config) {}},
		{"sharded", sharded, func(c *Config) {}},
		{"sharded-1shard", sharded, func(c *Config) { c.Shards = 1; c.DigestBits = 3 }},
		{"sharded-weakhash", sharded, func(c *Config) { c.Hash = weakHash }},
		{"map-weakhash", mapped, func(c *Config) { c.Hash = weakHash }},
	}
}

const modelEpoch = int64(1_700_000_000_000_000_000)

func modelConfig(clock Clock) Config {
	c := DefaultConfig()
	c.Shards = 16
	c.DigestBits = 6
	c.SweepInterval = 0
	c.ExpiryResolution = time.Millisecond
	c.TombstoneGrace = 50 * time.Millisecond
	c.MaxKeySize = 32
	c.MaxValueSize = 600 // crosses size classes, including a tombstone-sized one
	c.Clock = clock
	return c
}

// source is where the model driver takes its decisions from: a seeded PRNG
// for the randomized test, fuzz input for the fuzz test.
type source interface{ Uint64() uint64 }

// bytesSource turns fuzz input into decisions; it yields zeros when empty.
type bytesSource struct{ b []byte }

func (s *bytesSource) Uint64() uint64 {
	var buf [8]byte
	n := copy(buf[:], s.b)
	s.b = s.b[n:]
	return binary.LittleEndian.Uint64(buf[:])
}

// runModel drives eng and a model with ops decisions from src and fails on
// the first divergence.
func runModel(t testing.TB, eng Engine, clock *ManualClock, cfg Config, src source, ops int) {
	t.Helper()
	hash := cfg.hashFunc()
	m := &model{m: map[string]modelEntry{}, grace: int64(cfg.TombstoneGrace)}
	r := func(n int) int { return int(src.Uint64() % uint64(n)) }
	keyOf := func() string { return fmt.Sprintf("k%d", r(40)) }
	var dst []byte
	for i := 0; i < ops; i++ {
		now := clock.Now()
		switch op := r(100); {
		case op < 35: // put a value
			key := keyOf()
			e := Entry{Value: bytes.Repeat([]byte{byte(i)}, r(cfg.MaxValueSize+1))}
			e.Version[15] = byte(r(12))
			e.Version[0] = byte(r(3))
			if r(3) == 0 {
				e.Expiry = now + int64(r(120))*int64(time.Millisecond)
			}
			got, err := eng.Put([]byte(key), e)
			if err != nil {
				t.Fatalf("op %d Put: %v", i, err)
			}
			if want := m.put(key, e, now); got != want {
				t.Fatalf("op %d Put(%s, v%x) applied=%v, model %v", i, key, e.Version, got, want)
			}
		case op < 45: // delete
			key := keyOf()
			e := Entry{Tombstone: true}
			e.Version[15] = byte(r(12))
			e.Version[0] = byte(r(3))
			got, err := eng.Put([]byte(key), e)
			if err != nil {
				t.Fatalf("op %d delete: %v", i, err)
			}
			if want := m.put(key, e, now); got != want {
				t.Fatalf("op %d delete(%s) applied=%v, model %v", i, key, got, want)
			}
		case op < 70: // get
			key := keyOf()
			var err error
			dst, err = eng.Get([]byte(key), dst[:0])
			want, ok := m.get(key, now)
			if ok != (err == nil) || (ok && !bytes.Equal(dst, want)) {
				t.Fatalf("op %d Get(%s) = %d bytes, %v; model %d bytes, %v", i, key, len(dst), err, len(want), ok)
			}
			if err != nil && !errors.Is(err, ErrNotFound) {
				t.Fatalf("op %d Get: unexpected error %v", i, err)
			}
		case op < 80: // raw entry
			key := keyOf()
			e, err := eng.GetEntry([]byte(key), nil)
			me, ok := m.m[key]
			if ok != (err == nil) || (ok && !sameEntry(e, me.e)) {
				t.Fatalf("op %d GetEntry(%s) = %+v, %v; model %+v, %v", i, key, e, err, me.e, ok)
			}
		case op < 90: // time passes
			clock.Advance(time.Duration(r(40)) * time.Millisecond)
		case op < 95:
			got, want := eng.Sweep(), m.sweep(now)
			if got != want {
				t.Fatalf("op %d Sweep = %+v, model %+v", i, got, want)
			}
		case op < 97:
			if got, want := eng.PurgeTombstones(), m.purge(now); got != want {
				t.Fatalf("op %d PurgeTombstones = %d, model %d", i, got, want)
			}
		default:
			start, end := src.Uint64(), src.Uint64()
			if r(4) == 0 {
				start, end = eng.BucketRange(r(eng.Buckets()))
			}
			got, want := collect(t, eng, start, end), m.rangeItems(hash, start, end)
			if len(got) != len(want) {
				t.Fatalf("op %d Range(%x, %x): %d items, model %d", i, start, end, len(got), len(want))
			}
			for j := range got {
				if got[j].key != want[j].key || !sameEntry(got[j].e, want[j].e) {
					t.Fatalf("op %d Range item %d: %+v, model %+v", i, j, got[j], want[j])
				}
			}
		}
		if i%16 == 0 || i == ops-1 {
			checkTotals(t, eng, m, hash, cfg.DigestBits)
		}
	}
}

// checkTotals compares Len, Bytes, tombstone count and every digest with a
// recomputation from the model.
func checkTotals(t testing.TB, eng Engine, m *model, hash HashFunc, bits int) {
	t.Helper()
	if got, want := eng.Len(), len(m.m); got != want {
		t.Fatalf("Len = %d, model %d", got, want)
	}
	if got, want := eng.Bytes(), m.bytes(); got != want {
		t.Fatalf("Bytes = %d, model %d", got, want)
	}
	tombs := 0
	for _, me := range m.m {
		if me.e.Tombstone {
			tombs++
		}
	}
	if got := eng.Stats().Tombstones; got != tombs {
		t.Fatalf("Stats.Tombstones = %d, model %d", got, tombs)
	}
	got, err := eng.Digests(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := m.digests(hash, bits)
	for b := range want {
		if got[b] != want[b] {
			t.Fatalf("digest of bucket %d = %x, model %x", b, got[b], want[b])
		}
	}
}

func TestModelRandomized(t *testing.T) {
	for _, bc := range backendCases() {
		t.Run(bc.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 8; seed++ {
				clock := NewManualClock(modelEpoch)
				cfg := modelConfig(clock)
				bc.cfg(&cfg)
				eng, err := bc.open(cfg)
				if err != nil {
					t.Fatal(err)
				}
				runModel(t, eng, clock, cfg, rand.New(rand.NewPCG(seed, 99)), 3000)
				if err := eng.Close(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// FuzzModel drives both backends with operations decoded from the fuzz input
// and checks them against the model (the round-trip property here is that
// whatever a backend accepts reads back exactly as the model says).
func FuzzModel(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("put get delete sweep purge range"))
	f.Add(bytes.Repeat([]byte{7, 200, 13, 0, 99, 1, 42, 250}, 64))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, bc := range backendCases()[:4] {
			clock := NewManualClock(modelEpoch)
			cfg := modelConfig(clock)
			bc.cfg(&cfg)
			eng, err := bc.open(cfg)
			if err != nil {
				t.Fatal(err)
			}
			runModel(t, eng, clock, cfg, &bytesSource{b: data}, len(data)/4+1)
			eng.Close()
		}
	})
}
