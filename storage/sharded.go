package storage

import (
	"fmt"
	"math"
	"math/bits"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/cespare/xxhash/v2"
)

// Sharded is the default backend: keys are spread over Config.Shards shards
// by the top bits of their hash; each shard has its own mutex, a
// pointer-free open-addressing index and byte pages that hold the entries.
// The garbage collector therefore sees a handful of pointers per shard (its
// page list and a few slices) however many entries are stored. See the
// package documentation for the layout and the eviction policy.
type Sharded struct {
	cfg       Config
	hash      HashFunc
	xxh       bool // hash is the default, xxhash.Sum64: see hashKey
	clock     Clock
	shift     uint // 64 - log2(Shards); a shift of 64 yields shard 0
	dshift    uint // 64 - DigestBits
	localMask uint64
	limit     int64 // per shard; 0 = none
	grace     int64
	res       int64
	epoch     int64
	buckets
	shards  []shard
	sweeper *sweeper
	closed  atomic.Bool
}

type shard struct {
	// The first cache line holds what every Put and Get writes: the lock
	// and the counters. The second holds what they only read (the index,
	// page and digest slice headers, which change rarely), so it stays
	// cached on every core; a write to the first line moves one line
	// between cores, not two. The free lists and other fields used only
	// when allocating, evicting or sweeping come after. The struct is a
	// whole number of cache lines (TestShardLayout) and a shard array of
	// more than a few shards is a large allocation, hence page aligned, so
	// no two shards share a line.
	//
	// The lock is a plain mutex, taken by reads too (as freecache does per
	// segment). A write then costs two atomic instructions instead of
	// sync.RWMutex's four, and its Lock and Unlock are inlined; measured at
	// a million entries on two cores, writes were about 8% faster and reads
	// within a few percent either way. What readers lose is running side by side in one shard,
	// which with hundreds of shards and critical sections of a few hundred
	// nanoseconds is rarely what they wait for.
	mu         sync.Mutex
	_          [16]byte // pads the written fields to one 64-byte line
	seq        uint32   // write sequence, the LRU clock
	closed     bool
	count      int
	bytes      int64
	tombstones int
	deadlines  int // entries that have a deadline

	slots   []uint64 // index, see index.go
	pages   [][]byte
	digests []uint64         // starts on a cache line of its own, see NewSharded
	_       [128 - 3*24]byte // the next two lines hold nothing else

	due        []uint64 // deadline queue, see duequeue.go
	compactDue int      // compact the due queue when it grows past this
	freePages  []uint16
	tail       int // page being carved
	tailOff    int
	nextPage   int
	pageBytes  int64
	rng        xorshift
	evictions  uint64
	expired    uint64
	purged     uint64
	free       [256]uint32 // free-list heads by size class
	_          [8]byte     // to a whole number of cache lines
}

var _ Engine = (*Sharded)(nil)

// NewSharded returns a sharded engine. It starts a sweeper goroutine when
// c.SweepInterval > 0; Close stops it.
func NewSharded(c Config) (*Sharded, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	s := &Sharded{
		cfg:     c,
		hash:    c.hashFunc(),
		xxh:     c.Hash == nil,
		clock:   c.clock(),
		shift:   uint(64 - c.shardBits()),
		dshift:  uint(64 - c.DigestBits),
		grace:   int64(c.TombstoneGrace),
		res:     int64(c.ExpiryResolution),
		buckets: buckets{bits: uint(c.DigestBits)},
		shards:  make([]shard, c.Shards),
	}
	s.epoch = s.clock.Now()
	s.localMask = uint64(1)<<(c.DigestBits-c.shardBits()) - 1
	if c.MemoryLimit > 0 {
		s.limit = c.MemoryLimit / int64(c.Shards)
	}
	// Every shard's digests start on a cache line of their own: writers
	// of neighbouring shards on other cores would otherwise contend for it.
	nd := int(s.localMask + 1)
	stride := (nd + 7) &^ 7
	digestMem := make([]uint64, stride*c.Shards)
	for i := range s.shards {
		sh := &s.shards[i]
		sh.slots = make([]uint64, minIndex)
		sh.pages = [][]byte{make([]byte, firstPage)}
		sh.pageBytes = firstPage
		sh.tailOff = 8 // ref 0 means "empty"
		sh.nextPage = 2 * firstPage
		sh.rng = xorshift(mix64(uint64(i) + 1))
		sh.digests = digestMem[i*stride : i*stride+nd : i*stride+nd]
		sh.compactDue = 1024
	}
	if c.SweepInterval > 0 {
		s.sweeper = startSweeper(c.SweepInterval, func() { s.Sweep() })
	}
	return s, nil
}

func (s *Sharded) shardOf(h uint64) *shard { return &s.shards[h>>s.shift] }

// Hash implements Engine.
func (s *Sharded) Hash(key []byte) uint64 { return s.hashKey(key) }

// hashKey returns the key's hash. Get and Put write it out: hashKey is too
// big to be inlined. The default hash is called directly: through the func
// value, a call to the assembly xxhash.Sum64 goes through an ABI wrapper, a
// dozen more instructions on every Get and Put.
func (s *Sharded) hashKey(key []byte) uint64 {
	if s.xxh {
		return xxhash.Sum64(key)
	}
	return s.hash(key)
}

// unit converts a deadline to a due-queue unit (rounded up, clamped).
func (s *Sharded) unit(deadline int64) uint32 {
	d := deadline - s.epoch
	if d <= 0 {
		return 0
	}
	u := (d + s.res - 1) / s.res
	if u > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(u)
}

// deadline returns when the entry in c next needs the sweeper: its expiry,
// or for a tombstone the end of its grace period; 0 if never.
func (s *Sharded) deadline(c []byte) int64 {
	if chunkTomb(c) {
		d := chunkDeletedAt(c)
		if d > math.MaxInt64-s.grace {
			return math.MaxInt64
		}
		return d + s.grace
	}
	return chunkExpiry(c)
}

// Put implements Engine.
//
// The lookup (find) is written out here, and so is the common case: a live
// entry overwritten by a live value of the same length whose deadline is
// the same or later (a TTL refresh). That is done in place: the accounting
// and the tombstone and deadline counts do not change, and the due queue
// needs no item (its items may be early, never late). put does the rest.
// At a million entries the index slot and the entry each miss the CPU's
// caches, and the fewer instructions, calls and stores follow those misses,
// the sooner the caller's next operation starts its own: measured (see
// storage/README.md), each call or digest round cut here was worth several
// percent of write throughput.
func (s *Sharded) Put(key []byte, e Entry) (bool, error) {
	// The limits are tested inline; checkPut (a call) makes the error.
	if uint(len(key))-1 >= uint(s.cfg.MaxKeySize) || len(e.Value) > s.cfg.MaxValueSize && !e.Tombstone {
		if err := s.cfg.checkPut(key, &e); err != nil {
			return false, err
		}
	}
	var h uint64
	if s.xxh {
		h = xxhash.Sum64(key)
	} else {
		h = s.hash(key)
	}
	sh := s.shardOf(h)
	h32 := uint32(h)
	sh.mu.Lock()
	if sh.closed {
		sh.mu.Unlock()
		return false, ErrClosed
	}
	n := len(sh.slots)
	pos := home(h32, n)
	var ref uint32
	found := false
	for {
		sl := sh.slots[pos]
		if sl == 0 {
			break
		}
		if uint32(sl>>hashBitsTop) == h32 {
			r := uint32(sl)
			// The chunk is addressed without bounds checks, but only after
			// testing that its header and a key of this length lie inside
			// its page: if not, the chunk holds another (shorter) key.
			page := sh.pages[r>>16]
			off := int(r&0xffff) << 3
			if off+hdrSize+len(key) <= len(page) {
				hd := (*chunkHeader)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(page)), off))
				kp, cp := unsafe.Pointer(unsafe.SliceData(key)), unsafe.Add(unsafe.Pointer(hd), hdrSize)
				var eq bool
				if n := uint(len(key)); n-8 <= 24 {
					x := xorEnds(cp, kp, n, 0)
					if n > 16 {
						x |= xorEnds(cp, kp, n, 8)
					}
					eq = x == 0
				} else {
					eq = unsafe.String((*byte)(cp), n) == string(key)
				}
				if hd.meta&0xffff == uint32(len(key)) && eq {
					ref, found = r, true
					old0, old1 := le64(hd.version[:8]), le64(hd.version[8:])
					new0, new1 := le64(e.Version[:8]), le64(e.Version[8:])
					if !newerWords(new0, new1, old0, old1) {
						sh.mu.Unlock()
						return false, nil
					}
					// Not the common case (a flag in vlen fails the length
					// test), or a value that would not fit the page (a
					// corrupt header): put does it.
					exp := hd.expiry
					if e.Tombstone || hd.vlen != uint32(len(e.Value)) || (exp == 0) != (e.Expiry == 0) || e.Expiry < exp ||
						off+hdrSize+len(key)+len(e.Value) > len(page) {
						break
					}
					sh.digests[(h>>s.dshift)&s.localMask] += digestWords(h, new0, new1) - digestWords(h, old0, old1)
					vp := unsafe.Add(unsafe.Pointer(hd), hdrSize+len(key))
					if n := uint(len(e.Value)); n-16 <= 48 {
						copyShort(vp, unsafe.Pointer(unsafe.SliceData(e.Value)), n)
					} else {
						copy(unsafe.Slice((*byte)(vp), n), e.Value)
					}
					hd.expiry = e.Expiry
					hd.version = e.Version
					sh.seq++
					hd.meta = uint32(len(key)) | uint32(sh.stamp())<<16
					sh.mu.Unlock()
					return true, nil
				}
			}
		}
		if pos++; pos == n {
			pos = 0
		}
	}
	applied, err := s.put(sh, h, key, &e, pos, ref, found)
	sh.mu.Unlock()
	return applied, err
}

// put finishes a Put that is not an in-place overwrite, given find's
// result for the key (pos, ref, found).
func (s *Sharded) put(sh *shard, h uint64, key []byte, e *Entry, pos int, ref uint32, found bool) (bool, error) {
	h32 := uint32(h)
	var now int64
	if e.Tombstone {
		now = s.clock.Now()
	}
	if s.limit > 0 {
		var oldSize int64
		if found {
			oldSize = chunkAccounted(sh.chunk(ref))
		}
		need := AccountedSize(key, *e) - oldSize
		if sh.bytes+need > s.limit {
			if err := s.makeRoom(sh, need, ref, now); err != nil {
				return false, err
			}
			pos, ref, found = sh.find(h32, key) // eviction may have moved slots
		}
	}
	val := e.Value
	if e.Tombstone {
		val = nil
	}
	if _, err := s.write(sh, h, pos, ref, found, key, val, e.Version, e.Expiry, e.Tombstone, now, 0); err != nil {
		return false, err
	}
	return true, nil
}

// write stores an entry in slot pos (holding oldRef if found, else empty),
// reusing the old chunk when the size class is unchanged, updates the
// accounting, digest, tombstone count and due queue, and returns the
// entry's ref.
func (s *Sharded) write(sh *shard, h uint64, pos int, oldRef uint32, found bool,
	key, val []byte, v Version, expiry int64, tomb bool, deletedAt int64, extraFlags byte) (uint32, error) {
	storedLen := len(val)
	if tomb {
		storedLen = tombstoneValueLen
	}
	class, size := sizeClass(hdrSize + len(key) + storedLen)
	var (
		oldDigest           uint64
		oldAcc, oldDeadline int64
		oldTomb             bool
	)
	ref := oldRef
	if found {
		c := sh.chunk(oldRef)
		oldDigest = EntryDigest(h, chunkVersion(c))
		oldAcc = chunkAccounted(c)
		oldDeadline = s.deadline(c)
		oldTomb = chunkTomb(c)
		if oc, osz := chunkClass(c); oc != class || osz != size {
			ref = 0
		}
	}
	if ref == 0 {
		r, err := sh.alloc(class, size)
		if err != nil {
			return 0, err
		}
		ref = r
		copy(sh.chunk(ref)[hdrSize:], key)
	}
	c := sh.chunk(ref)
	flags := uint32(extraFlags)
	if tomb {
		flags |= flagTombstone
		put64(c[hdrSize+len(key):], uint64(deletedAt))
	} else {
		copy(c[hdrSize+len(key):], val)
	}
	hd := header(c)
	hd.vlen = uint32(storedLen) | flags<<vlenBits
	hd.expiry = expiry
	copy(c[hdrVersion:hdrVersion+16], v[:])
	sh.seq++
	hd.meta = uint32(len(key)) | uint32(sh.stamp())<<16

	if ref != oldRef {
		if found {
			sh.release(oldRef)
			sh.slots[pos] = uint64(uint32(h))<<hashBitsTop | uint64(ref)
		} else {
			sh.insertAt(pos, uint32(h), ref)
		}
	}
	sh.bytes += chunkAccounted(c) - oldAcc
	sh.digests[(h>>s.dshift)&s.localMask] += EntryDigest(h, v) - oldDigest
	if tomb != oldTomb || !found {
		if tomb {
			sh.tombstones++
		} else if found {
			sh.tombstones--
		}
	}
	// Due-queue invariant: an entry with a deadline has an item with its ref
	// and a unit no later than its deadline's. Items may be early (the
	// sweeper re-queues them), never late, so a write that keeps the ref and
	// does not bring the deadline forward (a TTL refresh) pushes nothing.
	newDeadline := s.deadline(c)
	if found && oldDeadline != 0 {
		sh.deadlines--
	}
	if newDeadline != 0 {
		sh.deadlines++
		// unit is monotonic: a later deadline (a TTL refresh) needs no
		// division to rule out an earlier unit.
		if ref != oldRef || oldDeadline == 0 || newDeadline < oldDeadline && s.unit(newDeadline) < s.unit(oldDeadline) {
			s.schedule(sh, newDeadline, ref)
		}
	}
	return ref, nil
}

// newerWords reports whether version v is greater than version c, each
// given as its two 8-byte halves loaded little-endian (as le64 does):
// versions compare as big-endian bytes.
func newerWords(v0, v1, c0, c1 uint64) bool {
	vh, ch := bits.ReverseBytes64(v0), bits.ReverseBytes64(c0)
	if vh != ch {
		return vh > ch
	}
	return bits.ReverseBytes64(v1) > bits.ReverseBytes64(c1)
}

// schedule pushes a due item, compacting the queue when stale items pile up.
func (s *Sharded) schedule(sh *shard, deadline int64, ref uint32) {
	sh.pushDue(s.unit(deadline), ref)
	if len(sh.due) > sh.compactDue {
		s.compactDueQueue(sh)
	}
}

// remove deletes the entry in slot pos (holding ref) from the shard.
func (s *Sharded) remove(sh *shard, h uint64, pos int, ref uint32) {
	c := sh.chunk(ref)
	sh.bytes -= chunkAccounted(c)
	sh.digests[(h>>s.dshift)&s.localMask] -= EntryDigest(h, chunkVersion(c))
	if chunkTomb(c) {
		sh.tombstones--
	}
	if s.deadline(c) != 0 {
		sh.deadlines--
	}
	sh.deleteAt(pos)
	sh.release(ref)
}

// expire turns the expired live entry at pos into a tombstone deleted at its
// expiry, keeping its version (so the digest does not change), or removes it
// outright when that tombstone's grace period is already over.
// It reports false only if no chunk could be allocated for the tombstone
// (the shard's address space is exhausted); the entry then stays as it is.
func (s *Sharded) expire(sh *shard, h uint64, pos int, ref uint32, now int64) bool {
	c := sh.chunk(ref)
	exp := chunkExpiry(c)
	if exp <= now-s.grace {
		s.remove(sh, h, pos, ref)
		return true
	}
	key := chunkKey(c)
	// write copies key into a new chunk before releasing this one, or keeps
	// this chunk (and its key) when the size class is unchanged.
	newRef, err := s.write(sh, h, pos, ref, true, key, nil, chunkVersion(c), exp, true, exp, flagExpired)
	if err != nil {
		return false
	}
	if newRef == ref {
		// The item that led here was popped; write saw a later deadline on
		// the same ref and queued nothing.
		s.schedule(sh, s.deadline(sh.chunk(ref)), ref)
	}
	return true
}

// makeRoom evicts until need more bytes fit under the shard's limit. The
// entry at exclude (the key being written) is never chosen.
func (s *Sharded) makeRoom(sh *shard, need int64, exclude uint32, now int64) error {
	for sh.bytes+need > s.limit {
		if s.cfg.LimitPolicy == LimitReject {
			return fmt.Errorf("%w: shard holds %d of %d bytes, write needs %d more", ErrMemoryLimit, sh.bytes, s.limit, need)
		}
		if now == 0 {
			now = s.clock.Now()
		}
		if !s.evictOne(sh, exclude, now) {
			return fmt.Errorf("%w: nothing evictable (tombstones within grace period are kept)", ErrMemoryLimit)
		}
	}
	return nil
}

// evictOne frees one entry by sampled LRU: it samples EvictionSamples
// occupied slots and evicts the least recently used live entry among them,
// except that an expired entry, a tombstone left by expiry, or a tombstone
// past its grace period found on the way is taken at once. Tombstones of
// deletes within their grace period are never taken. It reports false when
// it found nothing to evict.
func (s *Sharded) evictOne(sh *shard, exclude uint32, now int64) bool {
	n := len(sh.slots)
	best, samples := -1, 0
	var bestAge uint16
	for tries := 0; tries < 4*s.cfg.EvictionSamples && samples < s.cfg.EvictionSamples; tries++ {
		i := home(uint32(sh.rng.next()>>32), n)
		for k := 0; sh.slots[i] == 0; k++ {
			if k == n {
				return false
			}
			if i++; i == n {
				i = 0
			}
		}
		ref := uint32(sh.slots[i])
		if ref == exclude {
			continue
		}
		samples++
		c := sh.chunk(ref)
		expired := chunkExpiry(c) != 0 && chunkExpiry(c) <= now
		if chunkTomb(c) {
			if chunkFlags(c)&flagExpired == 0 && s.deadline(c) > now {
				continue // a young delete: evicting it could resurrect data
			}
			expired = true
		}
		if expired {
			s.remove(sh, s.hash(chunkKey(c)), i, ref)
			sh.evictions++
			return true
		}
		if age := sh.stamp() - chunkStamp(c); best < 0 || age > bestAge {
			best, bestAge = i, age
		}
	}
	if best < 0 {
		return false
	}
	ref := uint32(sh.slots[best])
	s.remove(sh, s.hash(chunkKey(sh.chunk(ref))), best, ref)
	sh.evictions++
	return true
}

// stamp is the current LRU stamp: the write sequence at a coarser grain,
// wrapping after 2^(16+stampBits) writes to the shard. Ages are computed
// modulo 2^16, so entries untouched for longer than that look younger than
// they are; sampled LRU is an approximation anyway.
func (sh *shard) stamp() uint16 { return uint16(sh.seq >> stampBits) }

// touch records an access for LRU.
func (sh *shard) touch(c []byte) { header(c).setStamp(sh.stamp()) }

// Get implements Engine. It does not allocate when dst has room.
func (s *Sharded) Get(key, dst []byte) ([]byte, error) {
	// As in Put, the limit test and the lookup are written out here: fewer
	// calls and stores after the cache misses let the caller's next
	// operation start sooner.
	if uint(len(key))-1 >= uint(s.cfg.MaxKeySize) {
		if err := s.cfg.checkKey(key); err != nil {
			return dst, err
		}
	}
	var h uint64
	if s.xxh {
		h = xxhash.Sum64(key)
	} else {
		h = s.hash(key)
	}
	sh := s.shardOf(h)
	h32 := uint32(h)
	sh.mu.Lock()
	if sh.closed {
		sh.mu.Unlock()
		return dst, ErrClosed
	}
	// The clock is read before the lookup's cache misses, and only if the
	// shard holds entries that can expire: reading it (clock_gettime
	// through the vDSO) serializes the CPU, and after the misses it would
	// also hold back the work that follows this Get. Now is the read's
	// instant either way.
	var now int64
	if sh.deadlines > 0 {
		now = s.clock.Now()
	}
	n := len(sh.slots)
	for i := home(h32, n); ; {
		sl := sh.slots[i]
		if sl == 0 {
			break
		}
		if r := uint32(sl); uint32(sl>>hashBitsTop) == h32 {
			// The chunk is found and its key compared as in Put, and
			// written out in both: as a function it is past the inliner's
			// budget, and a call here would cost the registers the inline
			// compare saves (see xorEnds).
			page := sh.pages[r>>16]
			off := int(r&0xffff) << 3
			if off+hdrSize+len(key) <= len(page) {
				hd := (*chunkHeader)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(page)), off))
				kp, cp := unsafe.Pointer(unsafe.SliceData(key)), unsafe.Add(unsafe.Pointer(hd), hdrSize)
				var eq bool
				if n := uint(len(key)); n-8 <= 24 {
					x := xorEnds(cp, kp, n, 0)
					if n > 16 {
						x |= xorEnds(cp, kp, n, 8)
					}
					eq = x == 0
				} else {
					eq = unsafe.String((*byte)(cp), n) == string(key)
				}
				if hd.meta&0xffff == uint32(len(key)) && eq {
					if hd.vlen>>vlenBits&flagTombstone != 0 || hd.expiry != 0 && hd.expiry <= s.nowIfUnset(now) {
						break
					}
					hd.setStamp(sh.stamp()) // touch
					start := off + hdrSize + len(key)
					dst = append(dst, page[start:start+int(hd.vlen&vlenMask)]...)
					sh.mu.Unlock()
					return dst, nil
				}
			}
		}
		if i++; i == n {
			i = 0
		}
	}
	sh.mu.Unlock()
	return dst, ErrNotFound
}

// nowIfUnset returns now, or reads the clock if now is 0 (Get skips the
// read in shards without deadlines, where no entry has an expiry).
func (s *Sharded) nowIfUnset(now int64) int64 {
	if now == 0 {
		return s.clock.Now()
	}
	return now
}

// GetEntry implements Engine.
func (s *Sharded) GetEntry(key, dst []byte) (Entry, error) {
	if err := s.cfg.checkKey(key); err != nil {
		return Entry{}, err
	}
	h := s.hashKey(key)
	sh := s.shardOf(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.closed {
		return Entry{}, ErrClosed
	}
	_, ref, found := sh.find(uint32(h), key)
	if !found {
		return Entry{}, ErrNotFound
	}
	c := sh.chunk(ref)
	e := Entry{Version: chunkVersion(c), Expiry: chunkExpiry(c), Tombstone: chunkTomb(c)}
	if !e.Tombstone {
		e.Value = append(dst, chunkValue(c)...)
		sh.touch(c)
	}
	return e, nil
}

// Len implements Engine.
func (s *Sharded) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += sh.count
		sh.mu.Unlock()
	}
	return n
}

// Bytes implements Engine.
func (s *Sharded) Bytes() int64 {
	var n int64
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += sh.bytes
		sh.mu.Unlock()
	}
	return n
}

// Stats implements Engine.
func (s *Sharded) Stats() Stats {
	var st Stats
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		st.Entries += sh.count
		st.Tombstones += sh.tombstones
		st.Bytes += sh.bytes
		st.Evictions += sh.evictions
		st.Expired += sh.expired
		st.Purged += sh.purged
		sh.mu.Unlock()
	}
	return st
}

// PageBytes returns the bytes of the pages currently allocated for entries
// (the real footprint of the entry data, including free chunks and size
// class rounding), for diagnostics.
func (s *Sharded) PageBytes() int64 {
	var n int64
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += sh.pageBytes
		sh.mu.Unlock()
	}
	return n
}

// Range implements Engine.
func (s *Sharded) Range(start, end uint64, fn func(key []byte, e Entry) bool) error {
	full := start == end
	first, last := int(start>>s.shift), int(end>>s.shift)
	var rb rangeBuffer
	for i := range s.shards {
		boundary := !full && (i == first || i == last)
		if !full && !boundary && !inRange(uint64(i)<<s.shift, start, end) {
			continue
		}
		sh := &s.shards[i]
		rb.reset()
		sh.mu.Lock()
		if sh.closed {
			sh.mu.Unlock()
			return ErrClosed
		}
		for _, slot := range sh.slots {
			if slot == 0 {
				continue
			}
			c := sh.chunk(uint32(slot))
			key := chunkKey(c)
			if boundary && !inRange(s.hash(key), start, end) {
				continue
			}
			tomb := chunkTomb(c)
			var val []byte
			if !tomb {
				val = chunkValue(c)
			}
			rb.add(key, val, chunkVersion(c), chunkExpiry(c), tomb)
		}
		sh.mu.Unlock()
		if !rb.emit(fn) {
			return nil
		}
	}
	return nil
}

// Digests implements Engine.
func (s *Sharded) Digests(dst []uint64) ([]uint64, error) {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		if sh.closed {
			sh.mu.Unlock()
			return dst, ErrClosed
		}
		dst = append(dst, sh.digests...)
		sh.mu.Unlock()
	}
	return dst, nil
}

// sweepBatch bounds the due items handled per lock hold, so that writers of
// a shard with many simultaneous deadlines wait only briefly.
const sweepBatch = 1024

// Sweep implements Engine.
func (s *Sharded) Sweep() SweepStats {
	var st SweepStats
	now := s.clock.Now()
	if now < s.epoch {
		return st
	}
	dueUnit := (now - s.epoch) / s.res // items with unit <= dueUnit are due
	for i := range s.shards {
		sh := &s.shards[i]
		for more := true; more; {
			more = false
			sh.mu.Lock()
			for n := 0; !sh.closed && len(sh.due) > 0 && int64(sh.due[0]>>32) <= dueUnit; n++ {
				if n == sweepBatch {
					more = true
					break
				}
				s.handleDue(sh, uint32(sh.popDue()), now, &st)
			}
			sh.mu.Unlock()
		}
	}
	return st
}

// handleDue acts on a popped due item: it expires or purges the entry at
// ref if its deadline has passed, re-queues it if its deadline is later (the
// item was early), and drops the item if the chunk holds no entry with a
// deadline.
func (s *Sharded) handleDue(sh *shard, ref uint32, now int64, st *SweepStats) {
	if !sh.valid(ref) {
		return
	}
	c := sh.chunk(ref)
	d := s.deadline(c)
	if d == 0 {
		return
	}
	if d > now {
		s.schedule(sh, d, ref)
		return
	}
	key := chunkKey(c)
	h := s.hash(key)
	pos, r, ok := sh.find(uint32(h), key)
	if !ok || r != ref {
		return // unreachable: live chunks are always indexed
	}
	if chunkTomb(c) {
		s.remove(sh, h, pos, ref)
		sh.purged++
		st.Purged++
		return
	}
	if s.expire(sh, h, pos, ref, now) {
		sh.expired++
		st.Expired++
	}
}

// compactDueQueue drops the items that no longer serve the queue invariant
// (chunk free, or holding no deadline, or a deadline earlier than the item's
// unit, which has its own item) and rebuilds the heap. It looks only at
// chunk headers.
func (s *Sharded) compactDueQueue(sh *shard) {
	kept := sh.due[:0]
	for _, it := range sh.due {
		ref := uint32(it)
		if !sh.valid(ref) {
			continue
		}
		if d := s.deadline(sh.chunk(ref)); d == 0 || uint32(it>>32) > s.unit(d) {
			continue
		}
		kept = append(kept, it)
	}
	clear(sh.due[len(kept):])
	sh.due = kept
	heapify(sh.due)
	sh.compactDue = max(1024, 2*max(len(kept), sh.deadlines))
}

// PurgeTombstones implements Engine.
func (s *Sharded) PurgeTombstones() int {
	now := s.clock.Now()
	purged := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for j := 0; !sh.closed && j < len(sh.slots); {
			slot := sh.slots[j]
			if slot != 0 {
				ref := uint32(slot)
				c := sh.chunk(ref)
				if chunkTomb(c) && s.deadline(c) <= now {
					// Backward shift may move a later slot into j: look again.
					s.remove(sh, s.hash(chunkKey(c)), j, ref)
					sh.purged++
					purged++
					continue
				}
			}
			j++
		}
		sh.mu.Unlock()
	}
	return purged
}

// Close implements Engine.
func (s *Sharded) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.sweeper.halt()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		sh.closed = true
		sh.slots, sh.pages, sh.freePages, sh.due, sh.digests = nil, nil, nil, nil, nil
		sh.count, sh.bytes, sh.tombstones, sh.deadlines = 0, 0, 0, 0
		sh.mu.Unlock()
	}
	return nil
}
