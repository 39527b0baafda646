package storage

import "unsafe"

// prefetchBatch is how many keys Prefetch handles per round: their hashes
// stay on the stack.
const prefetchBatch = 32

// Prefetch brings the index slots and the entries of keys into the CPU's
// caches, so that reads and writes of those keys that follow soon do not
// wait for memory one after another. It is a hint: it changes nothing and
// returns nothing, and a key that is absent costs a little time only.
//
// A lookup waits for two memory reads in a row (the index slot, then the
// entry it points to); for a batch of keys at random places that is two
// full memory latencies per key. Prefetch overlaps them: it first asks
// for the slots of every key, then (those having arrived meanwhile) for
// the entries they point to. Both rounds read under each shard's lock.
// Callers that have several keys in hand at once, such as a server that has
// read a pipeline of commands, call it before working through them.
func (s *Sharded) Prefetch(keys [][]byte) {
	if s.closed.Load() {
		return
	}
	var hs [prefetchBatch]uint64
	for len(keys) > 0 {
		batch := keys[:min(len(keys), prefetchBatch)]
		keys = keys[len(batch):]
		for i, k := range batch {
			h := s.hash(k)
			hs[i] = h
			sh := s.shardOf(h)
			sh.mu.Lock()
			if n := len(sh.slots); n > 0 && !sh.closed {
				prefetch(uintptr(unsafe.Pointer(&sh.slots[home(uint32(h), n)])))
			}
			sh.mu.Unlock()
		}
		for i, k := range batch {
			h := hs[i]
			sh := s.shardOf(h)
			sh.mu.Lock()
			if !sh.closed {
				sh.prefetchEntry(uint32(h), len(k))
			}
			sh.mu.Unlock()
		}
	}
}

// prefetchEntry prefetches the chunk of the first slot whose hash bits
// match (the key is not compared: a hint may be wrong) and the line that
// holds the end of a value of typical size after it.
func (sh *shard) prefetchEntry(h32 uint32, klen int) {
	n := len(sh.slots)
	if n == 0 {
		return
	}
	i := home(h32, n)
	for probes := 0; probes < 8; probes++ {
		s := sh.slots[i]
		if s == 0 {
			return
		}
		if uint32(s>>hashBitsTop) == h32 {
			ref := uint32(s)
			idx := int(ref >> 16)
			if idx >= len(sh.pages) {
				return
			}
			p := sh.pages[idx]
			off := int(ref&0xffff) << 3
			if off >= len(p) {
				return
			}
			base := uintptr(unsafe.Pointer(&p[off]))
			prefetch(base)
			prefetch(base + uintptr(hdrSize+klen+63))
			return
		}
		if i++; i == n {
			i = 0
		}
	}
}
