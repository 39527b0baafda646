package storage

import (
	"bytes"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
)

// Map is the simple backend: one RWMutex around a Go map of heap-allocated
// records. It is easy to check and fine for tests and tiny stores, but every
// entry costs the garbage collector several pointers, and all writers share
// one lock. It implements the same semantics as Sharded (including TTL,
// the memory limit with sampled-LRU eviction, digests and the sweeper), with
// one global memory limit instead of per-shard budgets.
type Map struct {
	cfg   Config
	hash  HashFunc
	clock Clock
	grace int64
	buckets

	mu         sync.RWMutex
	closed     bool
	m          map[string]*mapRecord
	keys       []string // every key in m, for eviction sampling; see mapRecord.idx
	rng        xorshift
	bytes      int64
	tombstones int
	seq        uint64
	digests    []uint64
	due        []mapDue // min-heap by deadline
	deadlines  int
	compactDue int
	evictions  uint64
	expired    uint64
	purged     uint64

	sweeper   *sweeper
	closeFlag atomic.Bool
}

type mapRecord struct {
	e         Entry // Value is owned by the record
	deletedAt int64 // for tombstones
	expired   bool  // a tombstone left by expiry rather than by a delete
	access    atomic.Uint64
	idx       int // the key's position in Map.keys
}

type mapDue struct {
	deadline int64
	key      string
}

var _ Engine = (*Map)(nil)

// NewMap returns a single-lock map engine. It starts a sweeper goroutine when
// c.SweepInterval > 0; Close stops it. c.Shards must be valid but is
// otherwise ignored.
func NewMap(c Config) (*Map, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	m := &Map{
		cfg:        c,
		hash:       c.hashFunc(),
		clock:      c.clock(),
		grace:      int64(c.TombstoneGrace),
		buckets:    buckets{bits: uint(c.DigestBits)},
		m:          make(map[string]*mapRecord),
		digests:    make([]uint64, 1<<c.DigestBits),
		compactDue: 1024,
		rng:        xorshift(mix64(1)),
	}
	if c.SweepInterval > 0 {
		m.sweeper = startSweeper(c.SweepInterval, func() { m.Sweep() })
	}
	return m, nil
}

// Hash implements Engine.
func (m *Map) Hash(key []byte) uint64 { return m.hash(key) }

func (m *Map) recDeadline(r *mapRecord) int64 {
	if r.e.Tombstone {
		if r.deletedAt > math.MaxInt64-m.grace {
			return math.MaxInt64
		}
		return r.deletedAt + m.grace
	}
	return r.e.Expiry
}

func (m *Map) recSize(key string, r *mapRecord) int64 {
	n := int64(len(key) + EntryOverhead)
	if !r.e.Tombstone {
		n += int64(len(r.e.Value))
	}
	return n
}

// Put implements Engine.
func (m *Map) Put(key []byte, e Entry) (bool, error) {
	if err := m.cfg.checkPut(key, &e); err != nil {
		return false, err
	}
	h := m.hash(key)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false, ErrClosed
	}
	old := m.m[string(key)]
	if old != nil && bytes.Compare(e.Version[:], old.e.Version[:]) <= 0 {
		return false, nil
	}
	var now int64
	if e.Tombstone {
		now = m.clock.Now()
	}
	var oldSize int64
	if old != nil {
		oldSize = m.recSize(string(key), old)
	}
	if limit := m.cfg.MemoryLimit; limit > 0 {
		need := AccountedSize(key, e) - oldSize
		for m.bytes+need > limit {
			if m.cfg.LimitPolicy == LimitReject {
				return false, fmt.Errorf("%w: holds %d of %d bytes, write needs %d more", ErrMemoryLimit, m.bytes, limit, need)
			}
			if now == 0 {
				now = m.clock.Now()
			}
			if !m.evictOne(string(key), now) {
				return false, fmt.Errorf("%w: nothing evictable (tombstones within grace period are kept)", ErrMemoryLimit)
			}
		}
	}
	r := &mapRecord{e: Entry{Version: e.Version, Expiry: e.Expiry, Tombstone: e.Tombstone}}
	if e.Tombstone {
		r.deletedAt = now
	} else {
		r.e.Value = bytes.Clone(e.Value)
		if r.e.Value == nil {
			r.e.Value = []byte{}
		}
	}
	m.store(string(key), h, old, r)
	return true, nil
}

// store replaces old (nil if absent) with r under key and updates the
// bookkeeping.
func (m *Map) store(key string, h uint64, old, r *mapRecord) {
	b := m.BucketOf(h)
	var oldDeadline int64
	if old != nil {
		m.bytes -= m.recSize(key, old)
		m.digests[b] -= EntryDigest(h, old.e.Version)
		if old.e.Tombstone {
			m.tombstones--
		}
		if oldDeadline = m.recDeadline(old); oldDeadline != 0 {
			m.deadlines--
		}
	}
	if old != nil {
		r.idx = old.idx
	} else {
		r.idx = len(m.keys)
		m.keys = append(m.keys, key)
	}
	m.m[key] = r
	m.bytes += m.recSize(key, r)
	m.digests[b] += EntryDigest(h, r.e.Version)
	if r.e.Tombstone {
		m.tombstones++
	}
	m.seq++
	r.access.Store(m.seq)
	if d := m.recDeadline(r); d != 0 {
		m.deadlines++
		if d != oldDeadline {
			m.pushDue(mapDue{deadline: d, key: key})
		}
	}
}

func (m *Map) remove(key string, h uint64, r *mapRecord) {
	delete(m.m, key)
	last := len(m.keys) - 1
	if r.idx != last {
		moved := m.keys[last]
		m.keys[r.idx] = moved
		m.m[moved].idx = r.idx
	}
	m.keys[last] = ""
	m.keys = m.keys[:last]
	m.bytes -= m.recSize(key, r)
	m.digests[m.BucketOf(h)] -= EntryDigest(h, r.e.Version)
	if r.e.Tombstone {
		m.tombstones--
	}
	if m.recDeadline(r) != 0 {
		m.deadlines--
	}
}

// expire turns an expired record into a tombstone deleted at its expiry, or
// removes it when that tombstone's grace period is already over.
func (m *Map) expire(key string, r *mapRecord, now int64) {
	h := m.hash([]byte(key))
	if r.e.Expiry <= now-m.grace {
		m.remove(key, h, r)
		return
	}
	t := &mapRecord{e: Entry{Version: r.e.Version, Expiry: r.e.Expiry, Tombstone: true}, deletedAt: r.e.Expiry, expired: true}
	m.store(key, h, r, t)
}

// evictOne applies the same sampled-LRU policy as Sharded.evictOne, drawing
// its samples uniformly from m.keys: map iteration order is unspecified and
// not a random sample (consecutive entries of one iteration let hot keys be
// evicted together).
func (m *Map) evictOne(exclude string, now int64) bool {
	var (
		bestKey string
		best    *mapRecord
		bestAcc uint64
		samples int
	)
	for tries := 0; tries < 4*m.cfg.EvictionSamples && samples < m.cfg.EvictionSamples && len(m.keys) > 0; tries++ {
		k := m.keys[m.rng.next()%uint64(len(m.keys))]
		if k == exclude {
			continue
		}
		r := m.m[k]
		samples++
		if (r.e.Tombstone && (r.expired || m.recDeadline(r) <= now)) || (!r.e.Tombstone && r.e.Expired(now)) {
			m.remove(k, m.hash([]byte(k)), r)
			m.evictions++
			return true
		}
		if r.e.Tombstone {
			continue // a young delete: evicting it could resurrect data
		}
		if a := r.access.Load(); best == nil || a < bestAcc {
			bestKey, best, bestAcc = k, r, a
		}
	}
	if best == nil {
		return false
	}
	m.remove(bestKey, m.hash([]byte(bestKey)), best)
	m.evictions++
	return true
}

// Get implements Engine.
func (m *Map) Get(key, dst []byte) ([]byte, error) {
	if err := m.cfg.checkKey(key); err != nil {
		return dst, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return dst, ErrClosed
	}
	r := m.m[string(key)]
	if r == nil || r.e.Tombstone || (r.e.Expiry != 0 && r.e.Expiry <= m.clock.Now()) {
		return dst, ErrNotFound
	}
	if r.access.Load() != m.seq {
		r.access.Store(m.seq)
	}
	return append(dst, r.e.Value...), nil
}

// GetEntry implements Engine.
func (m *Map) GetEntry(key, dst []byte) (Entry, error) {
	if err := m.cfg.checkKey(key); err != nil {
		return Entry{}, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return Entry{}, ErrClosed
	}
	r := m.m[string(key)]
	if r == nil {
		return Entry{}, ErrNotFound
	}
	e := r.e
	e.Value = nil
	if !e.Tombstone {
		e.Value = append(dst, r.e.Value...)
	}
	return e, nil
}

// Len implements Engine.
func (m *Map) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.m)
}

// Bytes implements Engine.
func (m *Map) Bytes() int64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.bytes
}

// Stats implements Engine.
func (m *Map) Stats() Stats {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return Stats{Entries: len(m.m), Tombstones: m.tombstones, Bytes: m.bytes,
		Evictions: m.evictions, Expired: m.expired, Purged: m.purged}
}

// Range implements Engine. The whole map is copied under the read lock.
func (m *Map) Range(start, end uint64, fn func(key []byte, e Entry) bool) error {
	var rb rangeBuffer
	m.mu.RLock()
	if m.closed {
		m.mu.RUnlock()
		return ErrClosed
	}
	for k, r := range m.m {
		if start != end && !inRange(m.hash([]byte(k)), start, end) {
			continue
		}
		rb.add([]byte(k), r.e.Value, r.e.Version, r.e.Expiry, r.e.Tombstone)
	}
	m.mu.RUnlock()
	rb.emit(fn)
	return nil
}

// Digests implements Engine.
func (m *Map) Digests(dst []uint64) ([]uint64, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return dst, ErrClosed
	}
	return append(dst, m.digests...), nil
}

func (m *Map) pushDue(d mapDue) {
	m.due = append(m.due, d)
	q := m.due
	for i := len(q) - 1; i > 0; {
		p := (i - 1) / 2
		if q[p].deadline <= q[i].deadline {
			break
		}
		q[p], q[i] = q[i], q[p]
		i = p
	}
	if len(m.due) > m.compactDue {
		m.compactDueQueue()
	}
}

func (m *Map) popDue() mapDue {
	q := m.due
	top := q[0]
	last := len(q) - 1
	q[0] = q[last]
	q[last] = mapDue{}
	m.due = q[:last]
	mapSiftDown(m.due, 0)
	return top
}

func mapSiftDown(q []mapDue, i int) {
	for {
		l := 2*i + 1
		if l >= len(q) {
			return
		}
		c := l
		if r := l + 1; r < len(q) && q[r].deadline < q[l].deadline {
			c = r
		}
		if q[i].deadline <= q[c].deadline {
			return
		}
		q[i], q[c] = q[c], q[i]
		i = c
	}
}

func (m *Map) compactDueQueue() {
	kept := m.due[:0]
	for _, d := range m.due {
		if r := m.m[d.key]; r != nil && m.recDeadline(r) == d.deadline {
			kept = append(kept, d)
		}
	}
	clear(m.due[len(kept):])
	m.due = kept
	for i := len(kept)/2 - 1; i >= 0; i-- {
		mapSiftDown(kept, i)
	}
	m.compactDue = max(1024, 2*max(len(kept), m.deadlines))
}

// Sweep implements Engine.
func (m *Map) Sweep() SweepStats {
	var st SweepStats
	now := m.clock.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for !m.closed && len(m.due) > 0 && m.due[0].deadline <= now {
		d := m.popDue()
		r := m.m[d.key]
		if r == nil {
			continue
		}
		if dl := m.recDeadline(r); dl == 0 || dl > now {
			continue // stale item: the entry has no deadline or a later one
		}
		if r.e.Tombstone {
			m.remove(d.key, m.hash([]byte(d.key)), r)
			m.purged++
			st.Purged++
			continue
		}
		m.expire(d.key, r, now)
		m.expired++
		st.Expired++
	}
	return st
}

// PurgeTombstones implements Engine.
func (m *Map) PurgeTombstones() int {
	now := m.clock.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for k, r := range m.m {
		if r.e.Tombstone && m.recDeadline(r) <= now {
			m.remove(k, m.hash([]byte(k)), r)
			m.purged++
			n++
		}
	}
	return n
}

// Close implements Engine.
func (m *Map) Close() error {
	if m.closeFlag.Swap(true) {
		return nil
	}
	m.sweeper.halt()
	m.mu.Lock()
	m.closed = true
	m.m, m.keys, m.due, m.digests = nil, nil, nil, nil
	m.bytes, m.tombstones, m.deadlines = 0, 0, 0
	m.mu.Unlock()
	return nil
}
