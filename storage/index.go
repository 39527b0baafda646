package storage

// The index of a shard is an open-addressing table of uint64 slots with
// linear probing and backward-shift deletion: slot = low 32 bits of the key
// hash << 32 | chunk ref, 0 = empty. The home slot of a hash is
// (h32 * len) >> 32, so the table can have any size and grows by 1.25x at
// 80% load rather than doubling: the average load stays near 70%, which
// keeps the index near 11 bytes per entry. It holds no pointers. A slot whose hash bits match is confirmed by comparing the full
// key stored in the chunk, so colliding hashes never alias two keys.

const (
	minIndex    = 8
	maxLoadNum  = 4 // grow when count > len * 4/5
	maxLoadDen  = 5
	hashBitsTop = 32
)

func home(h32 uint32, n int) int { return int((uint64(h32) * uint64(n)) >> 32) }

// find returns the slot holding key, or the empty slot where it would go.
func (sh *shard) find(h32 uint32, key []byte) (pos int, ref uint32, found bool) {
	n := len(sh.slots)
	i := home(h32, n)
	for {
		s := sh.slots[i]
		if s == 0 {
			return i, 0, false
		}
		if uint32(s>>hashBitsTop) == h32 {
			r := uint32(s)
			if string(chunkKey(sh.chunk(r))) == string(key) {
				return i, r, true
			}
		}
		if i++; i == n {
			i = 0
		}
	}
}

// insertAt fills the empty slot pos (as returned by find) and grows the
// table if it became too full.
func (sh *shard) insertAt(pos int, h32 uint32, ref uint32) {
	sh.slots[pos] = uint64(h32)<<hashBitsTop | uint64(ref)
	sh.count++
	if sh.count*maxLoadDen > len(sh.slots)*maxLoadNum {
		sh.resize(pageRound(len(sh.slots) + len(sh.slots)/4 + 4))
	}
}

func (sh *shard) resize(n int) {
	old := sh.slots
	sh.slots = make([]uint64, n)
	for _, s := range old {
		if s == 0 {
			continue
		}
		i := home(uint32(s>>hashBitsTop), n)
		for sh.slots[i] != 0 {
			if i++; i == n {
				i = 0
			}
		}
		sh.slots[i] = s
	}
}

// deleteAt empties slot i, shifting back later slots of the same probe run.
func (sh *shard) deleteAt(i int) {
	n := len(sh.slots)
	j := i
	for {
		if j++; j == n {
			j = 0
		}
		s := sh.slots[j]
		if s == 0 {
			break
		}
		k := home(uint32(s>>hashBitsTop), n)
		// Slot j may move to i only if its home is not cyclically in (i, j].
		if i <= j {
			if i < k && k <= j {
				continue
			}
		} else if i < k || k <= j {
			continue
		}
		sh.slots[i] = s
		i = j
	}
	sh.slots[i] = 0
	sh.count--
}

// pageRound rounds a count of 8-byte items up to whole 8 KiB pages once the
// slice is big enough to be allocated in pages: the runtime would round the
// allocation anyway, and the index can use the extra slots.
func pageRound(n int) int {
	if n <= smallItems {
		return n
	}
	return (n + 1023) &^ 1023
}

// smallItems is how many 8-byte items fit the largest small size class of
// the Go allocator (32 KiB); larger slices are allocated in 8 KiB pages.
const smallItems = 4096
