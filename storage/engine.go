package storage

import (
	"sync"
	"time"
)

// Engine is a versioned key-value store for one node. All methods are safe
// for concurrent use. Keys and values passed in are copied; slices handed
// out are either the caller's dst or valid only for the callback that
// receives them, so stored bytes are never aliased.
type Engine interface {
	// Put stores e under key if e.Version is greater than the stored
	// version (or nothing is stored), atomically per key, and reports
	// whether it did. A delete is a Put of a tombstone.
	Put(key []byte, e Entry) (applied bool, err error)

	// Get appends the value stored under key to dst and returns the
	// extended slice (pass dst[:0] to reuse a buffer, nil for a fresh copy).
	// It returns ErrNotFound when the key is absent, a tombstone or
	// expired.
	Get(key, dst []byte) ([]byte, error)

	// GetEntry returns the raw stored entry, tombstones and expired entries
	// included, for replication. Its Value is appended to dst (nil for a
	// tombstone). It returns ErrNotFound only when nothing is stored.
	GetEntry(key, dst []byte) (Entry, error)

	// Len returns the number of stored entries, tombstones and expired
	// entries not yet swept included.
	Len() int

	// Bytes returns the accounted memory usage: the sum of AccountedSize
	// over the stored entries.
	Bytes() int64

	// Range calls fn for every stored entry (raw, as GetEntry would return
	// it) whose key hash h lies in the half-open range [start, end). When
	// start >= end the range wraps around: it is [start, 2^64) plus
	// [0, end), so Range(0, 0, fn) visits everything. Each shard is copied
	// under its lock and fn runs after the lock is released: the view
	// is consistent per shard, not across shards, and writers wait only for
	// the copy of one shard. key and e.Value are valid only during the call.
	// Range stops early when fn returns false.
	Range(start, end uint64, fn func(key []byte, e Entry) bool) error

	// Hash returns the configured hash of key: its position for Range and
	// its digest bucket.
	Hash(key []byte) uint64

	// Buckets returns the number of digest buckets, 1<<Config.DigestBits.
	Buckets() int

	// BucketOf returns the digest bucket of a key hash.
	BucketOf(hash uint64) int

	// BucketRange returns the hash range [start, end) of bucket b, ready to
	// pass to Range (end is 0 for the last bucket, which Range reads as a
	// wrap to the end of the hash space).
	BucketRange(b int) (start, end uint64)

	// Digests appends the digest of every bucket, in bucket order, to dst.
	// A bucket digest is the wrapping sum of EntryDigest(hash, version) over
	// the entries (tombstones included) stored in it.
	Digests(dst []uint64) ([]uint64, error)

	// Sweep does the active-expiry work that is due now: expired entries
	// become tombstones and tombstones whose grace period is over are
	// purged. It only looks at deadlines that are due (it does not scan the
	// store). The background sweeper calls it every Config.SweepInterval.
	Sweep() SweepStats

	// PurgeTombstones scans the whole store and purges every tombstone
	// whose grace period is over, returning how many it removed.
	PurgeTombstones() int

	// Stats returns counters describing the engine.
	Stats() Stats

	// Close stops the sweeper and releases the data. Later calls return
	// ErrClosed. Close is idempotent.
	Close() error
}

// SweepStats reports what one Sweep did.
type SweepStats struct {
	Expired int // live entries turned into tombstones because they expired
	Purged  int // tombstones removed because their grace period was over
}

// Stats describes an engine at one moment.
type Stats struct {
	Entries    int    // stored entries, tombstones included
	Tombstones int    // stored tombstones
	Bytes      int64  // accounted bytes
	Evictions  uint64 // entries removed to honour the memory limit
	Expired    uint64 // expired entries turned into tombstones by sweeping
	Purged     uint64 // tombstones purged
}

// buckets maps hashes to digest buckets.
type buckets struct{ bits uint }

func (b buckets) Buckets() int { return 1 << b.bits }

func (b buckets) BucketOf(hash uint64) int {
	if b.bits == 0 {
		return 0
	}
	return int(hash >> (64 - b.bits))
}

func (b buckets) BucketRange(i int) (start, end uint64) {
	if b.bits == 0 {
		return 0, 0
	}
	start = uint64(i) << (64 - b.bits)
	end = start + 1<<(64-b.bits) // wraps to 0 for the last bucket
	return start, end
}

// inRange reports whether h lies in the (possibly wrapping) range
// [start, end) as documented on Engine.Range.
func inRange(h, start, end uint64) bool {
	if start < end {
		return h >= start && h < end
	}
	return h >= start || h < end
}

// sweeper runs fn every interval until stopped.
type sweeper struct {
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

func startSweeper(interval time.Duration, fn func()) *sweeper {
	s := &sweeper{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				fn()
			}
		}
	}()
	return s
}

// halt stops the goroutine and waits for it to exit. Safe to call on nil and
// more than once.
func (s *sweeper) halt() {
	if s == nil {
		return
	}
	s.once.Do(func() { close(s.stop) })
	<-s.done
}

// rangeRecord is one entry copied out of a shard by Range.
type rangeRecord struct {
	keyEnd, valEnd int // offsets into the copy buffer
	version        Version
	expiry         int64
	tombstone      bool
}

// rangeBuffer holds a per-shard copy made under the shard's lock.
type rangeBuffer struct {
	buf  []byte
	recs []rangeRecord
}

func (r *rangeBuffer) reset() { r.buf, r.recs = r.buf[:0], r.recs[:0] }

func (r *rangeBuffer) add(key, val []byte, v Version, expiry int64, tomb bool) {
	r.buf = append(r.buf, key...)
	ke := len(r.buf)
	r.buf = append(r.buf, val...)
	r.recs = append(r.recs, rangeRecord{keyEnd: ke, valEnd: len(r.buf), version: v, expiry: expiry, tombstone: tomb})
}

// emit calls fn for each copied record; it returns false if fn stopped.
func (r *rangeBuffer) emit(fn func(key []byte, e Entry) bool) bool {
	start := 0
	for i := range r.recs {
		rec := &r.recs[i]
		e := Entry{Version: rec.version, Expiry: rec.expiry, Tombstone: rec.tombstone}
		key := r.buf[start:rec.keyEnd:rec.keyEnd]
		if !rec.tombstone {
			e.Value = r.buf[rec.keyEnd:rec.valEnd:rec.valEnd]
		}
		start = rec.valEnd
		if !fn(key, e) {
			return false
		}
	}
	return true
}
