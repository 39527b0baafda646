package storagebench

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/dgraph-io/ristretto/v2"
	"github.com/gridkv/gridkv/storage"
	"github.com/gridkv/gridkv/tools/internal/cputime"
	"github.com/maypok86/otter/v2"
	"github.com/puzpuzpuz/xsync/v4"
)

const (
	numKeys   = 1 << 20
	valueSize = 64
	seqLen    = 1 << 20 // precomputed key-index sequence per distribution
	ttl       = time.Hour
)

// dataset holds the keys (as bytes and as strings), one value, and the key
// index sequences for each distribution.
type dataset struct {
	keys    [][]byte
	strs    []string
	value   []byte
	uniform []int32
	zipf    []int32
}

// keyOf returns key i: 16 to 24 bytes.
func keyOf(i int) []byte {
	return fmt.Appendf(nil, "key:%0*d", 12+i%9, i)
}

var data = sync.OnceValue(func() *dataset {
	d := &dataset{keys: make([][]byte, numKeys), strs: make([]string, numKeys), value: make([]byte, valueSize)}
	for i := range d.keys {
		d.keys[i] = keyOf(i)
		d.strs[i] = string(d.keys[i])
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range d.value {
		d.value[i] = byte(rng.Uint32())
	}
	d.uniform = make([]int32, seqLen)
	for i := range d.uniform {
		d.uniform[i] = int32(rng.IntN(numKeys))
	}
	// Zipf ranks, mapped through a permutation so that hot keys land in
	// different shards / buckets of every implementation.
	perm := rng.Perm(numKeys)
	z := rand.NewZipf(rand.New(rand.NewPCG(3, 4)), 1.01, 1, numKeys-1)
	d.zipf = make([]int32, seqLen)
	for i := range d.zipf {
		d.zipf[i] = int32(perm[z.Uint64()])
	}
	return d
})

// store is one implementation under test; worker is its per-goroutine view.
type store interface {
	worker(id int) worker
}

type worker interface {
	get(i int32) bool
	set(i int32)
}

// doner is a worker with totals to publish when its goroutine ends.
type doner interface{ done() }

func (w *gridkvWorker) done() {
	if w.applied != nil {
		w.applied.Add(w.nApplied)
	}
	w.nApplied = 0
}

// ---- gridkv ----

type gridkvStore struct{ s *storage.Sharded }

type gridkvWorker struct {
	s        *storage.Sharded
	d        *dataset
	buf      []byte
	id       uint32
	seq      uint32
	now      int64         // wall clock, refreshed every 64 writes
	applied  *atomic.Int64 // shared total, added to once per worker (done)
	nApplied int64
}

var gridkvApplied atomic.Int64

func newGridkv(d *dataset) store {
	cfg := storage.DefaultConfig()
	cfg.MemoryLimit = 1 << 30
	s, err := storage.NewSharded(cfg)
	if err != nil {
		panic(err)
	}
	w := &gridkvWorker{s: s, d: d}
	for i := range d.keys {
		w.set(int32(i))
	}
	return gridkvStore{s}
}

func (g gridkvStore) worker(id int) worker {
	return &gridkvWorker{s: g.s, d: data(), buf: make([]byte, 0, valueSize), id: uint32(id), applied: &gridkvApplied}
}

func (w *gridkvWorker) get(i int32) bool {
	var err error
	w.buf, err = w.s.Get(w.d.keys[i], w.buf[:0])
	return err == nil
}

// set writes with a wall-clock version (as gridkv's HLC would) made unique
// by the worker id and a sequence number, and a one-hour TTL. The wall
// clock is read once per 64 writes: making versions is the caller's job
// (gridkv's HLC), not storage's, and a clock read per write (56 ns on these
// VMs, and it serializes the CPU's outstanding cache misses) would be
// charged to gridkv alone — otter is given no version to make.
func (w *gridkvWorker) set(i int32) {
	if w.seq%64 == 0 {
		w.now = time.Now().UnixNano()
	}
	now := w.now
	e := storage.Entry{Value: w.d.value, Expiry: now + int64(ttl)}
	binary.BigEndian.PutUint64(e.Version[:8], uint64(now))
	binary.BigEndian.PutUint32(e.Version[8:12], w.id)
	w.seq++
	binary.BigEndian.PutUint32(e.Version[12:], w.seq)
	ok, err := w.s.Put(w.d.keys[i], e)
	if err != nil {
		panic(err)
	}
	if ok {
		// Counted locally: a shared atomic counter bumped by every write
		// from both goroutines would bounce its cache line between the
		// cores and cost more than the write itself.
		w.nApplied++
	}
}

// ---- otter ----

type otterStore struct {
	c *otter.Cache[string, []byte]
	d *dataset
}

func newOtter(d *dataset) store {
	c, err := otter.New(&otter.Options[string, []byte]{
		MaximumSize:      2 * numKeys,
		InitialCapacity:  numKeys,
		ExpiryCalculator: otter.ExpiryWriting[string, []byte](ttl),
	})
	if err != nil {
		panic(err)
	}
	for i, k := range d.strs {
		c.Set(k, d.keys[i][:0:0])
	}
	for _, k := range d.strs {
		c.Set(k, d.value)
	}
	return otterStore{c, d}
}

func (o otterStore) worker(int) worker { return o }
func (o otterStore) get(i int32) bool {
	_, ok := o.c.GetIfPresent(o.d.strs[i])
	return ok
}
func (o otterStore) set(i int32) { o.c.Set(o.d.strs[i], o.d.value) }

// ---- ristretto ----

type ristrettoStore struct {
	c *ristretto.Cache[string, []byte]
	d *dataset
}

func newRistretto(d *dataset) store {
	c, err := ristretto.NewCache(&ristretto.Config[string, []byte]{
		NumCounters:        10 * numKeys,
		MaxCost:            2 * numKeys,
		BufferItems:        64,
		IgnoreInternalCost: true,
	})
	if err != nil {
		panic(err)
	}
	for _, k := range d.strs {
		for !c.SetWithTTL(k, d.value, 1, ttl) {
			c.Wait() // Set drops writes when its buffers are full
		}
	}
	c.Wait()
	return ristrettoStore{c, d}
}

func (r ristrettoStore) worker(int) worker { return r }
func (r ristrettoStore) get(i int32) bool {
	_, ok := r.c.Get(r.d.strs[i])
	return ok
}
func (r ristrettoStore) set(i int32) { r.c.SetWithTTL(r.d.strs[i], r.d.value, 1, ttl) }

// ---- xsync ----

type xsyncStore struct {
	m *xsync.MapOf[string, []byte]
	d *dataset
}

func newXsync(d *dataset) store {
	m := xsync.NewMapOf[string, []byte](xsync.WithPresize(numKeys))
	for _, k := range d.strs {
		m.Store(k, d.value)
	}
	return xsyncStore{m, d}
}

func (x xsyncStore) worker(int) worker { return x }
func (x xsyncStore) get(i int32) bool {
	_, ok := x.m.Load(x.d.strs[i])
	return ok
}
func (x xsyncStore) set(i int32) { x.m.Store(x.d.strs[i], x.d.value) }

// ---- sync.Map ----

type syncMapStore struct {
	m *sync.Map
	d *dataset
}

func newSyncMap(d *dataset) store {
	m := &sync.Map{}
	for _, k := range d.strs {
		m.Store(k, d.value)
	}
	return syncMapStore{m, d}
}

func (s syncMapStore) worker(int) worker { return s }
func (s syncMapStore) get(i int32) bool {
	v, ok := s.m.Load(s.d.strs[i])
	if ok {
		_ = v.([]byte)
	}
	return ok
}
func (s syncMapStore) set(i int32) { s.m.Store(s.d.strs[i], s.d.value) }

// ---- floor ----

// floorStore is a yardstick, not a store: the least a pointer-free,
// key-verifying, lock-striped hash table does per operation. One slab holds
// every key and value at a fixed stride; an open-addressing index (50%
// load, linear probing) maps a 32-bit hash tag to a slab offset; 256
// RWMutexes stripe by hash. No versions, TTL, accounting, eviction or
// digests, and no inserts after the fill. It shows how close to the
// hardware's memory latency gridkv's costs are.
type floorStore struct {
	d     *dataset
	mus   [256]sync.RWMutex
	slots []uint64 // tag<<32 | slab offset/8 (offsets start at 8: 0 = empty)
	slab  []byte
}

const floorStride = 96 // 24-byte key (zero-padded), 64-byte value, 8 spare

func newFloor(d *dataset) store {
	f := &floorStore{d: d, slots: make([]uint64, 2*numKeys), slab: make([]byte, 8+numKeys*floorStride)}
	for i, k := range d.keys {
		off := 8 + i*floorStride
		copy(f.slab[off:], k)
		copy(f.slab[off+24:], d.value)
		h := xxhash.Sum64(k)
		j := f.home(h)
		for f.slots[j] != 0 {
			j = (j + 1) & (2*numKeys - 1)
		}
		f.slots[j] = uint64(uint32(h))<<32 | uint64(off/8)
	}
	return f
}

func (f *floorStore) home(h uint64) int { return int(h>>32) & (2*numKeys - 1) }

// find returns key's slab offset, or -1.
func (f *floorStore) find(h uint64, key []byte) int {
	for j := f.home(h); ; j = (j + 1) & (2*numKeys - 1) {
		sl := f.slots[j]
		if sl == 0 {
			return -1
		}
		if uint32(sl>>32) == uint32(h) {
			off := int(uint32(sl)) * 8
			if string(f.slab[off:off+len(key)]) == string(key) && (len(key) == 24 || f.slab[off+len(key)] == 0) {
				return off
			}
		}
	}
}

func (f *floorStore) worker(int) worker { return &floorWorker{f: f, buf: make([]byte, 0, valueSize)} }

type floorWorker struct {
	f   *floorStore
	buf []byte
}

func (w *floorWorker) get(i int32) bool {
	f, k := w.f, w.f.d.keys[i]
	h := xxhash.Sum64(k)
	mu := &f.mus[h>>56]
	mu.RLock()
	off := f.find(h, k)
	if off >= 0 {
		w.buf = append(w.buf[:0], f.slab[off+24:off+24+valueSize]...)
	}
	mu.RUnlock()
	return off >= 0
}

func (w *floorWorker) set(i int32) {
	f, k := w.f, w.f.d.keys[i]
	h := xxhash.Sum64(k)
	mu := &f.mus[h>>56]
	mu.Lock()
	if off := f.find(h, k); off >= 0 {
		copy(f.slab[off+24:], f.d.value)
	}
	mu.Unlock()
}

// ---- harness ----

type implementation struct {
	name  string
	build func(*dataset) store
}

var impls = []implementation{
	{"gridkv", newGridkv},
	{"otter", newOtter},
	{"ristretto", newRistretto},
	{"xsync", newXsync},
	{"syncmap", newSyncMap},
	{"floor", newFloor},
}

// One filled store is kept at a time, for the sub-benchmarks of one
// implementation, and the previous one is dropped and collected before the
// next is built: otherwise the garbage collector's work on pointer-heavy
// stores (millions of pointers for otter, ristretto, sync.Map) would be
// charged to whichever implementation happens to run while it is marking.
var (
	current     store
	currentName string
)

func storeFor(b *testing.B, im implementation) store {
	if currentName != im.name {
		b.StopTimer()
		current, currentName = nil, ""
		runtime.GC()
		current, currentName = im.build(data()), im.name
		runtime.GC()
		runtime.GC()
		b.StartTimer()
	}
	return current
}

// dropStore releases the filled store at the end of a benchmark function
// (the next function starts from a fresh store).
func dropStore() {
	if s, ok := current.(gridkvStore); ok {
		s.s.Close()
	}
	current, currentName = nil, ""
	runtime.GC()
}

// run benchmarks every implementation: every writeEvery-th operation is a
// write (0: reads only, 1: writes only).
func run(b *testing.B, writeEvery int) {
	d := data()
	defer dropStore()
	for _, im := range impls {
		b.Run(im.name, func(b *testing.B) {
			for _, dist := range []string{"uniform", "zipf"} {
				seq := d.uniform
				if dist == "zipf" {
					seq = d.zipf
				}
				b.Run(dist, func(b *testing.B) {
					s := storeFor(b, im)
					var ids, misses atomic.Int64
					gridkvApplied.Store(0)
					b.ReportAllocs()
					b.SetParallelism(1)
					cpu0 := cputime.Process()
					b.ResetTimer()
					b.RunParallel(func(pb *testing.PB) {
						id := int(ids.Add(1))
						w := s.worker(id)
						pos := int(rand.Uint64N(seqLen))
						n, missed := 0, 0
						for pb.Next() {
							k := seq[pos]
							if pos++; pos == seqLen {
								pos = 0
							}
							if writeEvery > 0 && n%writeEvery == 0 {
								w.set(k)
							} else if !w.get(k) {
								missed++
							}
							n++
						}
						misses.Add(int64(missed))
						if d, ok := w.(doner); ok {
							d.done()
						}
					})
					b.StopTimer()
					// CPU time of the whole process (all goroutines, GC
					// included) per operation: much less sensitive than
					// ns/op to other processes competing for the cores.
					if cpu := cputime.Process() - cpu0; cpu > 0 {
						b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
					}
					if writeEvery != 1 {
						b.ReportMetric(float64(misses.Load())/float64(b.N), "misses/op")
					}
					if im.name == "gridkv" && writeEvery > 0 {
						writes := b.N
						if writeEvery > 1 {
							writes = b.N / writeEvery
						}
						if writes > 0 {
							b.ReportMetric(float64(gridkvApplied.Load())/float64(writes), "applied/write")
						}
					}
				})
			}
		})
	}
}

// BenchmarkStorageRead: reads only.
func BenchmarkStorageRead(b *testing.B) { run(b, 0) }

// BenchmarkStorageMixed: 75% reads, 25% writes.
func BenchmarkStorageMixed(b *testing.B) { run(b, 4) }

// BenchmarkStorageWrite: overwrites of existing keys only.
func BenchmarkStorageWrite(b *testing.B) { run(b, 1) }
