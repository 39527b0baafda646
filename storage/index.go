package storage

// The index of a shard is an open-addressing table of uint64 slots with
// linear probing and backward-shift deletion: slot = low 32 bits of the key
// hash << 32 | chunk ref, 0 = empty. The home slot of a hash is
// (h32 * len) >> 32, so the table can grow by 1.5x rather than 2x. It holds no
// pointers. A slot whose hash bits match is confirmed by comparing the full
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
		sh.resize(len(sh.slots) + len(sh.slots)/2)
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
